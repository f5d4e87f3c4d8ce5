"""Tests of the output formats in ddlguard.report (text, json, sarif, github, markdown)."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ddlguard
from ddlguard.findings import Category, Edit, Finding, Fix, Result, Rule, Severity
from ddlguard.report import FORMATS, render
from ddlguard.report.github import command, escape_data, escape_property, render_github
from ddlguard.report.json import render_json, to_dict
from ddlguard.report.markdown import MARKER, code_span, escape, render_markdown
from ddlguard.report.sarif import fingerprint, pascal_case, render_sarif, to_sarif
from ddlguard.report.text import render_concise, render_text
from ddlguard.rules import registry

SHARED = Path(__file__).resolve().parents[2] / "shared"
SARIF_SCHEMA = SHARED / "schemas" / "sarif-schema-2.1.0.json"

MIG6 = "migrations/0006_connectwise_integration.sql"
MIG7 = "migrations/0007_users.sql"

MIG6_SOURCE = (
    "-- ConnectWise integration\n"
    "\n"
    "CREATE TABLE connectwise_credentials (\n"
    "  id serial PRIMARY KEY,\n"
    "  companyId text NOT NULL\n"
    ");\n"
)
MIG7_SOURCE = "ALTER TABLE users\n\tADD COLUMN email text;\nDROP TABLE legacy;\n"

RULES = [
    Rule(
        code="I101",
        name="create-table-without-if-not-exists",
        category=Category.IDEMPOTENCY,
        severity=Severity.ERROR,
        summary="CREATE TABLE without IF NOT EXISTS",
        why="A second run of the migration fails because the table exists.",
        bad="CREATE TABLE t (id int);",
        good="CREATE TABLE IF NOT EXISTS t (id int);",
        fix_hint="Add IF NOT EXISTS.",
        fixable=True,
    ),
    Rule(
        code="I102",
        name="add-column-without-if-not-exists",
        category=Category.IDEMPOTENCY,
        severity=Severity.ERROR,
        summary="ADD COLUMN without IF NOT EXISTS",
        why="A second run fails because the column exists.",
        bad="ALTER TABLE t ADD COLUMN c int;",
        good="ALTER TABLE t ADD COLUMN IF NOT EXISTS c int;",
        fix_hint="Add IF NOT EXISTS.",
        fixable=True,
    ),
    Rule(
        code="N102",
        name="column-not-snake-case",
        category=Category.NAMING,
        severity=Severity.WARNING,
        summary="Column name is not snake_case",
        why="Mixed-case names must be quoted everywhere.",
        bad="CREATE TABLE t (companyId text);",
        good="CREATE TABLE t (company_id text);",
        fix_hint="Rename the column to snake_case.",
    ),
    Rule(
        code="S201",
        name="drop-table",
        category=Category.SAFETY,
        severity=Severity.INFO,
        summary="DROP TABLE destroys data",
        why="Dropped data cannot be recovered; code that still reads the table breaks.",
        bad="DROP TABLE legacy;",
        good="-- keep the table until no code reads it\n```\nDROP TABLE IF EXISTS legacy;",
        fix_hint="",
    ),
]


@pytest.fixture(autouse=True)
def test_rules(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The registry holds exactly this module's rules while a test runs."""
    monkeypatch.setattr(registry, "RULES", {r.code: r for r in RULES})
    monkeypatch.setattr(registry, "_BY_NAME", {r.name: r for r in RULES})
    monkeypatch.setattr(registry, "_load_all", lambda: None)
    yield


def i101() -> Finding:
    return Finding(
        code="I101",
        rule="create-table-without-if-not-exists",
        category=Category.IDEMPOTENCY,
        severity=Severity.ERROR,
        path=MIG6,
        line=3,
        column=1,
        end_line=3,
        end_column=13,
        message=(
            "CREATE TABLE connectwise_credentials fails when the migration runs again; "
            "add IF NOT EXISTS"
        ),
        object="public.connectwise_credentials",
        fix=Fix(
            description="add IF NOT EXISTS",
            replacement="CREATE TABLE IF NOT EXISTS connectwise_credentials (",
            edits=(Edit(start=40, end=40, text=" IF NOT EXISTS"),),
        ),
    )


def n102() -> Finding:
    return Finding(
        code="N102",
        rule="column-not-snake-case",
        category=Category.NAMING,
        severity=Severity.WARNING,
        path=MIG6,
        line=5,
        column=3,
        end_line=5,
        end_column=12,
        message="column companyId is not snake_case; rename it to company_id",
        object="public.connectwise_credentials.companyId",
        fix=Fix(description="rename to company_id"),
    )


def i102() -> Finding:
    # The source line starts with a tab: ADD is at column 2.
    return Finding(
        code="I102",
        rule="add-column-without-if-not-exists",
        category=Category.IDEMPOTENCY,
        severity=Severity.ERROR,
        path=MIG7,
        line=2,
        column=2,
        end_line=2,
        end_column=12,
        message="ADD COLUMN email fails when the migration runs again; add IF NOT EXISTS",
        object="public.users.email",
        fix=Fix(
            description="add IF NOT EXISTS",
            replacement="ADD COLUMN IF NOT EXISTS email text",
            edits=(Edit(start=29, end=29, text=" IF NOT EXISTS"),),
        ),
    )


def s201() -> Finding:
    # Spans two lines (end_line != line): one caret only.
    return Finding(
        code="S201",
        rule="drop-table",
        category=Category.SAFETY,
        severity=Severity.INFO,
        path=MIG7,
        line=3,
        column=1,
        end_line=4,
        end_column=1,
        message="DROP TABLE legacy destroys its data",
        object="public.legacy",
    )


def sample() -> Result:
    # Deliberately out of order: every report sorts.
    return Result(
        findings=[s201(), n102(), i102(), i101()],
        files=3,
        statements=7,
        sources={MIG6: MIG6_SOURCE, MIG7: MIG7_SOURCE},
    )


def single(finding: Finding, source: str | None = None, **kwargs: Any) -> Result:
    sources = {finding.path: source} if source is not None else {}
    return Result(findings=[finding], files=1, statements=1, sources=sources, **kwargs)


def with_(finding: Finding, **changes: Any) -> Finding:
    fields = {name: getattr(finding, name) for name in Finding.__dataclass_fields__}
    fields.update(changes)
    return Finding(**fields)


# --------------------------------------------------------------------------------------- dispatch


def test_formats_tuple() -> None:
    assert FORMATS == ("text", "json", "sarif", "github", "markdown")


@pytest.mark.parametrize("fmt", FORMATS)
def test_render_dispatches_to_the_format(fmt: str) -> None:
    result = sample()
    direct = {
        "text": render_text(result),
        "json": render_json(result),
        "sarif": render_sarif(result),
        "github": render_github(result),
        "markdown": render_markdown(result),
    }[fmt]
    assert render(result, fmt) == direct


def test_render_concise_color_and_title() -> None:
    result = sample()
    assert render(result, "concise") == render_concise(result)
    assert render(result, "text", color=True) == render_text(result, color=True)
    assert render(result, "markdown", title="Schema check").splitlines()[1] == "## Schema check"


def test_render_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown output format 'xml'"):
        render(sample(), "xml")


def test_render_imports_only_the_chosen_format() -> None:
    code = (
        "import sys\n"
        "from ddlguard.findings import Result\n"
        "from ddlguard.report import render\n"
        "render(Result([]), 'json')\n"
        "print(sorted(m for m in sys.modules if m.startswith('ddlguard.')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = json.loads(out.replace("'", '"'))
    assert loaded == [
        "ddlguard.findings",
        "ddlguard.report",
        "ddlguard.report._common",
        "ddlguard.report.json",
    ]


# ------------------------------------------------------------------------------------------- text

EXPECTED_TEXT = """\
migrations/0006_connectwise_integration.sql:3:1: I101 [*] CREATE TABLE connectwise_credentials fails when the migration runs again; add IF NOT EXISTS
  |
3 | CREATE TABLE connectwise_credentials (
  | ^^^^^^^^^^^^
  |

migrations/0006_connectwise_integration.sql:5:3: N102 column companyId is not snake_case; rename it to company_id
  |
5 |   companyId text NOT NULL
  |   ^^^^^^^^^
  |

migrations/0007_users.sql:2:2: I102 [*] ADD COLUMN email fails when the migration runs again; add IF NOT EXISTS
  |
2 |     ADD COLUMN email text;
  |     ^^^^^^^^^^
  |

migrations/0007_users.sql:3:1: S201 DROP TABLE legacy destroys its data
  |
3 | DROP TABLE legacy;
  | ^^^^^^^^^^^^^^^^^^
  |

Found 4 problems (2 errors, 1 warning, 1 info) in 2 files.
[*] 2 fixable with `ddlguard check --fix`.
"""


def test_text_exact() -> None:
    out = render_text(sample())
    assert out == EXPECTED_TEXT
    assert "\x1b" not in out


def test_text_concise_exact() -> None:
    assert render_concise(sample()) == (
        "migrations/0006_connectwise_integration.sql:3:1: I101 [*] CREATE TABLE "
        "connectwise_credentials fails when the migration runs again; add IF NOT EXISTS\n"
        "migrations/0006_connectwise_integration.sql:5:3: N102 column companyId is not "
        "snake_case; rename it to company_id\n"
        "migrations/0007_users.sql:2:2: I102 [*] ADD COLUMN email fails when the migration "
        "runs again; add IF NOT EXISTS\n"
        "migrations/0007_users.sql:3:1: S201 DROP TABLE legacy destroys its data\n"
        "Found 4 problems (2 errors, 1 warning, 1 info) in 2 files.\n"
        "[*] 2 fixable with `ddlguard check --fix`.\n"
    )
    assert render_text(sample(), show_source=False) == render_concise(sample())


def test_text_color() -> None:
    out = render_text(sample(), color=True)
    bold, red, yellow, blue, reset = "\x1b[1m", "\x1b[31m", "\x1b[33m", "\x1b[34m", "\x1b[0m"
    assert f"{bold}{MIG6}{reset}:3:1: {bold}{red}I101{reset}" in out
    assert f"{bold}{yellow}N102{reset}" in out
    assert f"{bold}{blue}S201{reset}" in out
    # The caret takes the colour of the finding's severity.
    assert f"  | {bold}{red}^^^^^^^^^^^^{reset}\n" in out
    assert f"  |   {bold}{yellow}^^^^^^^^^{reset}\n" in out
    assert f"  | {bold}{blue}{'^' * 18}{reset}\n" in out
    # Stripped of escapes, the coloured report is the plain one.
    assert re.sub(r"\x1b\[[0-9;]*m", "", out) == render_text(sample())


def test_text_tabs_expand_consistently() -> None:
    source = "SELECT 1;\n\tALTER\tTABLE x\tADD y int;\n"
    # "TABLE" is characters 8..12 of line 2 (after "\tALTER\t"): "\tALTER" fills 9 cells, the
    # second tab pads to cell 12.
    finding = with_(i102(), path="t.sql", line=2, column=8, end_column=13, fix=None)
    lines = render_text(single(finding, source)).splitlines()
    assert lines[1:5] == [
        "  |",
        "2 |     ALTER   TABLE x ADD y int;",
        "  |             ^^^^^",
        "  |",
    ]
    assert "\t" not in render_text(single(finding, source))


def test_text_tab_inside_the_span() -> None:
    source = "a\tb\n"
    finding = with_(i102(), path="t.sql", line=1, column=1, end_line=1, end_column=4, fix=None)
    lines = render_text(single(finding, source)).splitlines()
    assert lines[2:4] == ["1 | a   b", "  | ^^^^^"]


def test_text_wide_characters_and_unicode_message() -> None:
    source = "CREATE TABLE 顧客 (名前 text);\n"
    finding = with_(
        n102(),
        path="u.sql",
        line=1,
        column=18,
        end_line=1,
        end_column=20,
        message="列 名前 は snake_case ではない",
    )
    out = render_text(single(finding, source))
    lines = out.splitlines()
    assert lines[0] == "u.sql:1:18: N102 列 名前 は snake_case ではない"
    assert lines[2] == "1 | CREATE TABLE 顧客 (名前 text);"
    # "CREATE TABLE " is 13 cells, 顧客 4, " (" 2: the caret starts at cell 19 and covers 4 cells.
    assert lines[3] == "  | " + " " * 19 + "^^^^"


def test_text_multiline_span_underlines_the_rest_of_its_first_line() -> None:
    finding = with_(i101(), end_line=6, end_column=3)
    lines = render_text(single(finding, MIG6_SOURCE)).splitlines()
    assert lines[3] == "  | " + "^" * len("CREATE TABLE connectwise_credentials (")


def test_text_span_past_end_of_line() -> None:
    finding = with_(i101(), column=39, end_column=41)
    lines = render_text(single(finding, MIG6_SOURCE)).splitlines()
    assert lines[2] == "3 | CREATE TABLE connectwise_credentials ("
    assert lines[3] == "  | " + " " * 38 + "^^"


def test_text_gutter_width_follows_line_number() -> None:
    source = "\n" * 119 + "CREATE TABLE t ();\n"
    finding = with_(i101(), path="big.sql", line=120, end_line=120)
    lines = render_text(single(finding, source)).splitlines()
    assert lines[1:5] == [
        "    |",
        "120 | CREATE TABLE t ();",
        "    | ^^^^^^^^^^^^",
        "    |",
    ]


def test_text_crlf_source() -> None:
    source = MIG6_SOURCE.replace("\n", "\r\n")
    lines = render_text(single(i101(), source)).splitlines()
    assert lines[2] == "3 | CREATE TABLE connectwise_credentials ("
    assert "\r" not in render_text(single(i101(), source))


def test_text_without_source_or_line_out_of_range() -> None:
    header = (
        f"{MIG6}:3:1: I101 [*] CREATE TABLE connectwise_credentials fails when the migration "
        "runs again; add IF NOT EXISTS"
    )
    summary = "Found 1 problem (1 error) in 1 file.\n[*] 1 fixable with `ddlguard check --fix`.\n"
    assert render_text(single(i101())) == f"{header}\n\n{summary}"
    assert render_text(single(i101(), "one line only\n")) == f"{header}\n\n{summary}"


def test_text_control_characters_never_reach_the_terminal() -> None:
    finding = with_(n102(), message="bad \x1b[31mname\x07", fix=None)
    source = "\n\n\n\n  \x1b[2Jx text\n"
    out = render_text(single(finding, source))
    assert "\x1b" not in out
    assert "\x07" not in out
    assert "bad \u241b[31mname\u2407" in out


def test_text_summaries() -> None:
    assert render_text(Result(findings=[])) == "All checks passed!\n"
    assert render_text(Result(findings=[], fixed=2)) == "Fixed 2 problems.\nAll checks passed!\n"
    assert render_concise(single(n102(), fixed=1)).splitlines()[1:] == [
        "Fixed 1 problem.",
        "Found 1 problem (1 warning) in 1 file.",
    ]
    two_info = Result(findings=[s201(), with_(s201(), line=1, end_line=1)])
    assert render_concise(two_info).splitlines()[-1] == "Found 2 problems (2 info) in 1 file."


# ------------------------------------------------------------------------------------------- json

FINDING_KEYS = [
    "code",
    "rule",
    "category",
    "severity",
    "path",
    "line",
    "column",
    "end_line",
    "end_column",
    "object",
    "message",
    "fix",
]


def test_json_shape_and_key_order() -> None:
    out = render_json(sample())
    assert out.endswith("}\n")
    assert out.startswith('{\n  "tool": "ddlguard",\n  "version": ')
    data = json.loads(out)
    assert list(data) == ["tool", "version", "findings", "summary"]
    assert data["tool"] == "ddlguard"
    assert data["version"] == ddlguard.__version__
    assert [f["code"] for f in data["findings"]] == ["I101", "N102", "I102", "S201"]
    assert list(data["findings"][0]) == FINDING_KEYS
    assert data["summary"] == {
        "files": 3,
        "statements": 7,
        "findings": 4,
        "by_severity": {"error": 2, "warning": 1, "info": 1},
        "fixed": 0,
    }
    assert list(data["summary"]) == ["files", "statements", "findings", "by_severity", "fixed"]


def test_json_finding_fields() -> None:
    data = json.loads(render_json(sample()))
    first, second, _, last = data["findings"]
    assert first == {
        "code": "I101",
        "rule": "create-table-without-if-not-exists",
        "category": "idempotency",
        "severity": "error",
        "path": MIG6,
        "line": 3,
        "column": 1,
        "end_line": 3,
        "end_column": 13,
        "object": "public.connectwise_credentials",
        "message": (
            "CREATE TABLE connectwise_credentials fails when the migration runs again; "
            "add IF NOT EXISTS"
        ),
        "fix": {
            "description": "add IF NOT EXISTS",
            "replacement": "CREATE TABLE IF NOT EXISTS connectwise_credentials (",
            "edits": [{"start": 40, "end": 40, "text": " IF NOT EXISTS"}],
        },
    }
    assert list(first["fix"]) == ["description", "replacement", "edits"]
    # A fix without edits has no "edits" key; a missing replacement is null.
    assert second["fix"] == {"description": "rename to company_id", "replacement": None}
    # No fix: no "fix" key.
    assert "fix" not in last
    assert list(last) == [k for k in FINDING_KEYS if k != "fix"]


def test_json_object_omitted_when_none() -> None:
    finding = with_(s201(), object=None)
    [entry] = json.loads(render_json(single(finding)))["findings"]
    assert "object" not in entry
    assert list(entry) == [k for k in FINDING_KEYS if k not in ("object", "fix")]


def test_json_matches_the_spec_example() -> None:
    # The SPEC's example finding, built by hand: the output must be exactly the SPEC's object.
    finding = with_(
        i101(),
        end_line=18,
        end_column=3,
        fix=Fix("add IF NOT EXISTS", "CREATE TABLE IF NOT EXISTS ..."),
    )
    data = to_dict(Result(findings=[finding], files=4, statements=57))
    assert data["findings"] == [
        {
            "code": "I101",
            "rule": "create-table-without-if-not-exists",
            "category": "idempotency",
            "severity": "error",
            "path": "migrations/0006_connectwise_integration.sql",
            "line": 3,
            "column": 1,
            "end_line": 18,
            "end_column": 3,
            "object": "public.connectwise_credentials",
            "message": "CREATE TABLE connectwise_credentials fails when the migration runs again; add IF NOT EXISTS",
            "fix": {
                "description": "add IF NOT EXISTS",
                "replacement": "CREATE TABLE IF NOT EXISTS ...",
            },
        }
    ]
    assert {k: data["summary"][k] for k in ("files", "statements", "findings")} == {
        "files": 4,
        "statements": 57,
        "findings": 1,
    }


def test_json_unicode_is_written_as_text_and_empty_result() -> None:
    finding = with_(n102(), message="列 名前 は snake_case ではない")
    out = render_json(single(finding))
    assert "列 名前 は snake_case ではない" in out
    assert json.loads(out)["findings"][0]["message"] == "列 名前 は snake_case ではない"
    empty = json.loads(render_json(Result(findings=[], files=2, statements=9, fixed=3)))
    assert empty["findings"] == []
    assert empty["summary"] == {
        "files": 2,
        "statements": 9,
        "findings": 0,
        "by_severity": {"error": 0, "warning": 0, "info": 0},
        "fixed": 3,
    }


# ------------------------------------------------------------------------------------------ sarif


def unknown_style() -> Finding:
    return Finding(
        code="LT01",
        rule="layout.spacing",
        category=Category.STYLE,
        severity=Severity.WARNING,
        path="db\\schema with space.sql",
        line=7,
        column=4,
        end_line=7,
        end_column=6,
        message="Expected single whitespace between 'text' and '('.",
    )


def sarif_cases() -> dict[str, Result]:
    return {
        "sample-with-fixes": sample(),
        "without-object": single(with_(s201(), object=None)),
        "unicode-message": single(
            with_(n102(), message="列 名前 は snake_case ではない — “quoted”")
        ),
        "empty": Result(findings=[]),
        "unknown-code": single(unknown_style()),
        "file-level": single(with_(s201(), line=0, column=0, end_line=0, end_column=0)),
        "absolute-path": single(with_(s201(), path="/srv/app/migrations/0001 init.sql")),
        "edit-replacing-text": single(
            with_(i101(), fix=Fix("quote it", None, (Edit(10, 3, "x"), Edit(0, 6, "create"))))
        ),
    }


@pytest.fixture(scope="module")
def sarif_validator() -> Any:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (it sits beside the repository in CI)")
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


@pytest.mark.parametrize("case", list(sarif_cases()))
def test_sarif_validates_against_the_schema(case: str, sarif_validator: Any) -> None:
    log = json.loads(render_sarif(sarif_cases()[case]))
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in sarif_validator.iter_errors(log)
    ]
    assert errors == []


def test_sarif_validator_rejects_a_broken_log(sarif_validator: Any) -> None:
    # The schema check has teeth: a result without a message is invalid.
    log = to_sarif(sample())
    del log["runs"][0]["results"][0]["message"]
    assert list(sarif_validator.iter_errors(log)) != []


def test_sarif_top_level_and_driver() -> None:
    log = to_sarif(sample())
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert log["version"] == "2.1.0"
    [run] = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "ddlguard"
    assert driver["version"] == ddlguard.__version__
    assert driver["informationUri"] == "https://github.com/ddlguard/ddlguard"
    assert [r["id"] for r in driver["rules"]] == ["I101", "I102", "N102", "S201"]
    assert run["columnKind"] == "unicodeCodePoints"
    assert render_sarif(sample()).endswith("}\n")


def test_sarif_rule_descriptor_from_registry() -> None:
    rules = {r["id"]: r for r in to_sarif(sample())["runs"][0]["tool"]["driver"]["rules"]}
    rule = rules["I101"]
    assert rule["name"] == "CreateTableWithoutIfNotExists"
    assert rule["shortDescription"] == {"text": "CREATE TABLE without IF NOT EXISTS"}
    assert rule["fullDescription"] == {
        "text": "A second run of the migration fails because the table exists."
    }
    assert rule["defaultConfiguration"] == {"level": "error"}
    assert rule["properties"] == {"tags": ["idempotency"]}
    assert "helpUri" not in rule
    assert rule["help"]["text"] == (
        "A second run of the migration fails because the table exists.\n\n"
        "Bad:\nCREATE TABLE t (id int);\n\n"
        "Good:\nCREATE TABLE IF NOT EXISTS t (id int);\n\n"
        "Fix: Add IF NOT EXISTS."
    )
    assert rule["help"]["markdown"] == (
        "A second run of the migration fails because the table exists.\n\n"
        "**Bad**\n\n```sql\nCREATE TABLE t (id int);\n```\n\n"
        "**Good**\n\n```sql\nCREATE TABLE IF NOT EXISTS t (id int);\n```\n\n"
        "**Fix:** Add IF NOT EXISTS."
    )
    assert rules["N102"]["defaultConfiguration"] == {"level": "warning"}
    assert rules["S201"]["defaultConfiguration"] == {"level": "note"}
    # An example holding ``` gets a longer fence; an empty fix hint adds no "Fix" part.
    s201_md = rules["S201"]["help"]["markdown"]
    assert (
        "````sql\n-- keep the table until no code reads it\n```\nDROP TABLE IF EXISTS legacy;\n````"
        in s201_md
    )
    assert "Fix" not in s201_md


def test_sarif_unknown_code_gets_minimal_descriptor() -> None:
    log = to_sarif(single(unknown_style()))
    [rule] = log["runs"][0]["tool"]["driver"]["rules"]
    uri = "https://docs.sqlfluff.com/en/stable/reference/rules.html#rule-LT01"
    assert rule == {
        "id": "LT01",
        "name": "LayoutSpacing",
        "shortDescription": {"text": "layout.spacing"},
        "helpUri": uri,
        "help": {
            "text": f"sqlfluff rule LT01 (layout.spacing): {uri}",
            "markdown": f"sqlfluff rule `LT01` (`layout.spacing`): [documentation]({uri})",
        },
        "defaultConfiguration": {"level": "warning"},
        "properties": {"tags": ["style"]},
    }
    [res] = log["runs"][0]["results"]
    assert res["ruleId"] == "LT01"
    assert res["ruleIndex"] == 0
    location = res["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "db/schema%20with%20space.sql", "uriBaseId": "%SRCROOT%"}


def test_sarif_results() -> None:
    log = to_sarif(sample())
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    results = run["results"]
    assert [r["ruleId"] for r in results] == ["I101", "N102", "I102", "S201"]
    assert [r["level"] for r in results] == ["error", "warning", "error", "note"]
    for res in results:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        assert re.fullmatch(r"[0-9a-f]{32}", res["partialFingerprints"]["ddlguard/v1"])
    first = results[0]
    assert first["message"] == {
        "text": "CREATE TABLE connectwise_credentials fails when the migration runs again; "
        "add IF NOT EXISTS"
    }
    assert first["locations"] == [
        {
            "physicalLocation": {
                "artifactLocation": {"uri": MIG6, "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": 3, "startColumn": 1, "endLine": 3, "endColumn": 13},
            }
        }
    ]
    assert first["fixes"] == [
        {
            "description": {"text": "add IF NOT EXISTS"},
            "artifactChanges": [
                {
                    "artifactLocation": {"uri": MIG6, "uriBaseId": "%SRCROOT%"},
                    "replacements": [
                        {
                            "deletedRegion": {"charOffset": 40, "charLength": 0},
                            "insertedContent": {"text": " IF NOT EXISTS"},
                        }
                    ],
                }
            ],
        }
    ]
    # A fix without edits is not a SARIF fix; no fix at all neither.
    assert "fixes" not in results[1]
    assert "fixes" not in results[3]
    assert results[3]["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 3,
        "startColumn": 1,
        "endLine": 4,
        "endColumn": 1,
    }


def test_sarif_fingerprint_is_stable_across_line_moves() -> None:
    moved = with_(i101(), line=30, end_line=30)
    assert fingerprint(moved) == fingerprint(i101())
    expected = hashlib.sha256(
        "\0".join(["I101", MIG6, "public.connectwise_credentials", i101().message]).encode()
    ).hexdigest()[:32]
    assert fingerprint(i101()) == expected
    assert fingerprint(with_(i101(), message="other")) != fingerprint(i101())
    assert fingerprint(with_(i101(), object=None)) != fingerprint(i101())
    assert fingerprint(with_(i101(), path="migrations\\0006_connectwise_integration.sql")) == (
        fingerprint(i101())
    )


def test_sarif_identical_findings_get_distinct_fingerprints() -> None:
    twice = Result(findings=[i101(), with_(i101(), line=20, end_line=20)])
    prints = [
        r["partialFingerprints"]["ddlguard/v1"] for r in to_sarif(twice)["runs"][0]["results"]
    ]
    assert prints[0] == fingerprint(i101())
    assert prints[1] == fingerprint(i101(), 2)
    assert prints[0] != prints[1]


def test_sarif_paths_and_regions() -> None:
    absolute = to_sarif(single(with_(s201(), path="/srv/app/0001 init.sql")))
    loc = absolute["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "file:///srv/app/0001%20init.sql"}
    dotted = to_sarif(single(with_(s201(), path="./migrations/x.sql")))
    loc = dotted["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "migrations/x.sql", "uriBaseId": "%SRCROOT%"}
    whole_file = to_sarif(single(with_(s201(), line=0, column=0, end_line=0, end_column=0)))
    loc = whole_file["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert loc["region"] == {"startLine": 1}


def test_sarif_empty_has_no_rules_and_no_results() -> None:
    run = to_sarif(Result(findings=[]))["runs"][0]
    assert run["tool"]["driver"]["rules"] == []
    assert run["results"] == []


def test_pascal_case() -> None:
    assert pascal_case("create-table-without-if-not-exists") == "CreateTableWithoutIfNotExists"
    assert pascal_case("layout.spacing") == "LayoutSpacing"
    assert pascal_case("") == ""


# ----------------------------------------------------------------------------------------- github


def test_github_commands_exact() -> None:
    assert render_github(sample()) == (
        f"::error file={MIG6},line=3,col=1,endLine=3,endColumn=13,"
        "title=I101 create-table-without-if-not-exists::CREATE TABLE connectwise_credentials "
        "fails when the migration runs again; add IF NOT EXISTS\n"
        f"::warning file={MIG6},line=5,col=3,endLine=5,endColumn=12,"
        "title=N102 column-not-snake-case::column companyId is not snake_case; rename it to "
        "company_id\n"
        f"::error file={MIG7},line=2,col=2,endLine=2,endColumn=12,"
        "title=I102 add-column-without-if-not-exists::ADD COLUMN email fails when the migration "
        "runs again; add IF NOT EXISTS\n"
        # A span over two lines: GitHub takes columns only within one line.
        f"::notice file={MIG7},line=3,endLine=4,title=S201 drop-table::DROP TABLE legacy "
        "destroys its data\n"
    )


def test_github_escaping() -> None:
    finding = with_(
        n102(),
        path="db/a,b:c%.sql",
        message="100% wrong:\r\nsee, here: x",
        rule="odd:name,here",
    )
    assert command(finding) == (
        "::warning file=db/a%2Cb%3Ac%25.sql,line=5,col=3,endLine=5,endColumn=12,"
        "title=N102 odd%3Aname%2Chere::100%25 wrong:%0D%0Asee, here: x"
    )
    assert escape_data("a%b\nc\rd:e,f") == "a%25b%0Ac%0Dd:e,f"
    assert escape_property("a%b\nc\rd:e,f") == "a%25b%0Ac%0Dd%3Ae%2Cf"
    # %-escaping comes first, so an escape already in the text is not decoded by GitHub.
    assert escape_data("%0A") == "%250A"


def test_github_file_level_and_backslashes_and_empty() -> None:
    finding = with_(
        s201(), path="migrations\\bad name.sql", line=0, column=0, end_line=0, end_column=0
    )
    assert (
        command(finding)
        == "::notice file=migrations/bad name.sql,title=S201 drop-table::DROP TABLE legacy destroys its data"
    )
    assert render_github(Result(findings=[])) == ""


# --------------------------------------------------------------------------------------- markdown

EXPECTED_MARKDOWN = """\
<!-- ddlguard-report -->
## ddlguard

:x: 4 problems in 2 files (2 errors, 1 warning, 1 info). 2 fixable with `ddlguard check --fix`.

| Category | Errors | Warnings | Info |
| --- | ---: | ---: | ---: |
| idempotency | 2 | 0 | 0 |
| naming | 0 | 1 | 0 |
| safety | 0 | 0 | 1 |

### `migrations/0006_connectwise_integration.sql` (2 problems)

| Line | Code | Message |
| ---: | --- | --- |
| 3 | :x: `I101` | CREATE TABLE connectwise_credentials fails when the migration runs again; add IF NOT EXISTS<br>**Fix:** add IF NOT EXISTS |
| 5 | :warning: `N102` | column companyId is not snake_case; rename it to company_id<br>**Fix:** rename to company_id |

### `migrations/0007_users.sql` (2 problems)

| Line | Code | Message |
| ---: | --- | --- |
| 2 | :x: `I102` | ADD COLUMN email fails when the migration runs again; add IF NOT EXISTS<br>**Fix:** add IF NOT EXISTS |
| 3 | :information_source: `S201` | DROP TABLE legacy destroys its data |

<sub>Checked 3 files, 7 statements.</sub>
"""


def test_markdown_exact() -> None:
    assert render_markdown(sample()) == EXPECTED_MARKDOWN


def test_markdown_marker_title_and_clean_status() -> None:
    out = render_markdown(Result(findings=[], files=5, statements=40), title="Migrations")
    assert out == (
        "<!-- ddlguard-report -->\n"
        "## Migrations\n"
        "\n"
        ":white_check_mark: No problems found.\n"
        "\n"
        "<sub>Checked 5 files, 40 statements.</sub>\n"
    )
    assert out.splitlines()[0] == MARKER == "<!-- ddlguard-report -->"


def test_markdown_status_icons() -> None:
    assert render_markdown(single(n102())).splitlines()[3] == (
        ":warning: 1 problem in 1 file (1 warning)."
    )
    assert render_markdown(single(s201(), fixed=2)).splitlines()[3] == (
        ":information_source: 1 problem in 1 file (1 info). Fixed 2 problems."
    )


def test_markdown_escaping() -> None:
    finding = with_(
        n102(),
        message="col `a|b` <script>alert(1)</script> *bold* _x_ [link](http://x)\nnext line",
        fix=Fix(description="use `a_b` | not this"),
    )
    out = render_markdown(single(finding))
    [row] = [line for line in out.splitlines() if line.startswith("| 5 |")]
    assert row == (
        "| 5 | :warning: `N102` | col \\`a\\|b\\` &lt;script&gt;alert(1)&lt;/script&gt; "
        "\\*bold\\* \\_x\\_ \\[link\\](http://x)<br>next line"
        "<br>**Fix:** use \\`a_b\\` \\| not this |"
    )
    # Exactly three cells: four unescaped pipes.
    assert len(re.findall(r"(?<!\\)\|", row)) == 4
    assert "<script>" not in out


def test_markdown_helpers() -> None:
    assert escape("snake_case_name") == "snake_case_name"
    assert escape("a & b") == "a &amp; b"
    assert code_span("plain.sql") == "`plain.sql`"
    assert code_span("we`ird.sql") == "``we`ird.sql``"
    assert code_span("`x`") == "`` `x` ``"
    assert code_span("a|b.sql") == "`a\\|b.sql`"


def test_markdown_unknown_category_and_file_level_finding() -> None:
    finding = with_(unknown_style(), line=0)
    out = render_markdown(single(finding))
    assert "| style | 0 | 1 | 0 |" in out
    assert "### `db\\schema with space.sql` (1 problem)" in out
    assert "|  | :warning: `LT01` | Expected single whitespace between 'text' and '('. |" in out


def test_markdown_stays_under_the_size_limit() -> None:
    findings = [
        with_(i101(), path=f"migrations/{n // 50:04d}.sql", line=n + 1, end_line=n + 1)
        for n in range(2000)
    ]
    out = render_markdown(Result(findings=findings), max_chars=20_000)
    assert len(out) <= 20_000
    assert out.startswith(MARKER + "\n")
    rows = [line for line in out.splitlines() if line.startswith("| ") and "`I101`" in line]
    assert 0 < len(rows) < 2000
    assert (
        f"_… and {2000 - len(rows)} more problems not shown here; run `ddlguard check` for the full list._"
        in out
    )
    assert out.endswith("<sub>Checked 0 files, 0 statements.</sub>\n")
    default = render_markdown(Result(findings=findings))
    assert 20_000 < len(default) <= 60_000
    assert "more problems not shown here" in default
    small = render_markdown(Result(findings=findings[:10]))
    assert small.count("`I101`") == 10
    assert "not shown here" not in small


def test_markdown_links_nothing_external() -> None:
    out = render_markdown(sample())
    assert "http" not in out
    assert "](" not in out
