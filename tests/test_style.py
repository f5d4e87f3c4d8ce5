"""sqlfluff's style rules in ddlguard's report: ``[sqlfluff] enabled = true``.

The CLI is driven in-process (``ddlguard.cli.main``) from a fresh folder, as in test_cli.py; the
user's home folder is a fresh folder too, so no ``~/.sqlfluff`` of the machine running the tests
takes part. Tests about importing (sqlfluff is never imported when it is off, and a missing
sqlfluff is a one-line error) run in a subprocess, where ``sys.modules`` starts clean.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ddlguard.cli import main
from ddlguard.config import Config, Sqlfluff
from ddlguard.configfile import Settings, SqlfluffSettings, load_settings
from helpers import assert_usage_error

SARIF_SCHEMA = Path(__file__).resolve().parents[2] / "shared" / "schemas" / "sarif-schema-2.1.0.json"
HAS_SQLFLUFF = importlib.util.find_spec("sqlfluff") is not None
needs_sqlfluff = pytest.mark.skipif(
    not HAS_SQLFLUFF, reason="sqlfluff is not installed (pip install -e '.[dev]')"
)

ENABLED = "[sqlfluff]\nenabled = true\n"
# LT01 at 1:7-1:9 (two spaces where one belongs); nothing else for sqlfluff's default rules.
DOUBLE_SPACE = "SELECT  1;\n"


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh repository folder as the working directory, and a fresh, empty home folder."""
    for name in ("NO_COLOR", "FORCE_COLOR", "DDLGUARD_DEBUG", "GITHUB_ACTIONS", "TERM"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    repo = tmp_path / "repo"
    repo.mkdir()
    monkeypatch.chdir(repo)
    yield repo


def write(path: Path | str, content: str) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(content.encode("utf-8"))
    return p


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, dict[str, Any]]:
    code, out, err = run(capsys, *args, "--format", "json")
    assert "Traceback" not in err, err
    return code, json.loads(out)


def found(report: dict[str, Any]) -> set[tuple[int, str]]:
    """(line, code) of every finding."""
    return {(f["line"], f["code"]) for f in report["findings"]}


# --- configuration ---------------------------------------------------------------------------


def test_the_sqlfluff_table_matches_the_runtime_settings(tmp_path: Path) -> None:
    assert set(Sqlfluff.model_fields) == {"enabled", "config"}
    assert Config().with_location(tmp_path).to_settings() == Settings(root=tmp_path)
    assert Settings().sqlfluff == SqlfluffSettings(enabled=False, config=None)


def test_sqlfluff_is_off_by_default_and_read_from_both_config_files(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DDLGUARD_NO_CACHE", "1")
    assert load_settings(start=Path.cwd()).sqlfluff.enabled is False
    write("pyproject.toml", '[tool.ddlguard.sqlfluff]\nenabled = true\nconfig = "lint.cfg"\n')
    settings = load_settings(start=Path.cwd())
    assert settings.sqlfluff == SqlfluffSettings(enabled=True, config="lint.cfg")
    assert settings.sqlfluff_config_path() == Path.cwd().resolve() / "lint.cfg"


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ('[sqlfluff]\nenabled = "yes"\n', 'sqlfluff.enabled: expected true or false, got "yes"'),
        ("[sqlfluff]\nenable = true\n", '[sqlfluff] unknown key "enable"'),
        ('[sqlfluff]\nconfig = ""\n', "sqlfluff.config: expected a non-empty string"),
    ],
)
def test_bad_sqlfluff_table_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], toml: str, needle: str
) -> None:
    write("ddlguard.toml", toml)
    write("a.sql", DOUBLE_SPACE)
    assert_usage_error(*run(capsys, "check", "a.sql"), needle)


# --- importing -------------------------------------------------------------------------------


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DDLGUARD_")}
    env["HOME"] = str(cwd.parent / "home")
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


_CHECK_AND_REPORT_IMPORT = (
    "import sys\n"
    "from ddlguard.cli import main\n"
    "code = main(['check', 'a.sql', '--format', 'json', '--output', 'report.json'])\n"
    "print(code, 'sqlfluff' in sys.modules)\n"
)


@pytest.mark.parametrize("toml", [None, "[sqlfluff]\nenabled = false\n"])
def test_sqlfluff_is_not_imported_when_off(toml: str | None) -> None:
    repo = Path.cwd()
    if toml is not None:
        write("ddlguard.toml", toml)
    write("a.sql", DOUBLE_SPACE + "-- ddlguard: ignore[style]\nCREATE TABLE t (id int);\n")
    for _ in range(2):  # a cold and a warm (cached) run
        proc = _python(_CHECK_AND_REPORT_IMPORT, repo)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split() == ["1", "False"]
    report = json.loads((repo / "report.json").read_text(encoding="utf-8"))
    assert {f["code"] for f in report["findings"]} == {"I101"}


@needs_sqlfluff
def test_a_warm_cache_needs_no_sqlfluff_import() -> None:
    repo = Path.cwd()
    write("ddlguard.toml", ENABLED)
    write("a.sql", DOUBLE_SPACE)
    cold = _python(_CHECK_AND_REPORT_IMPORT, repo)
    assert cold.stdout.split() == ["1", "True"], cold.stderr
    warm = _python(_CHECK_AND_REPORT_IMPORT, repo)
    assert warm.stdout.split() == ["1", "False"], warm.stderr
    report = json.loads((repo / "report.json").read_text(encoding="utf-8"))
    assert {(f["code"], f["line"], f["column"]) for f in report["findings"]} == {("LT01", 1, 7)}


def test_enabled_but_not_installed_is_a_one_line_error() -> None:
    repo = Path.cwd()
    write("ddlguard.toml", ENABLED)
    write("a.sql", DOUBLE_SPACE)
    proc = _python(
        "import sys\n"
        "sys.modules['sqlfluff'] = None  # as if it were not installed\n"
        "from ddlguard.cli import main\n"
        "raise SystemExit(main(['check', 'a.sql']))\n",
        repo,
    )
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "sqlfluff" in lines[0] and "not installed" in lines[0]
    assert "pip install 'ddlguard[sqlfluff]'" in lines[0]


# --- findings in every format ----------------------------------------------------------------


@needs_sqlfluff
def test_style_finding_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    write("ddlguard.toml", ENABLED)
    write("migrations/0001_init.sql", "CREATE TABLE IF NOT EXISTS t (id int);\n" + DOUBLE_SPACE)
    code, report = run_json(capsys, "check", "migrations")
    assert code == 1  # a warning fails at the default fail-on
    [f] = report["findings"]
    assert f == {
        "code": "LT01",
        "rule": "layout.spacing",
        "category": "style",
        "severity": "warning",
        "path": "migrations/0001_init.sql",
        "line": 2,
        "column": 7,
        "end_line": 2,
        "end_column": 9,
        "message": f["message"],
    }
    assert "single space" in f["message"] and "'  '" in f["message"]
    assert run(capsys, "check", "migrations", "--fail-on", "error")[0] == 0


@needs_sqlfluff
def test_style_finding_in_sarif_validates(capsys: pytest.CaptureFixture[str]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    if not SARIF_SCHEMA.is_file():
        pytest.skip(f"{SARIF_SCHEMA} is absent")
    write("ddlguard.toml", ENABLED)
    write("a.sql", DOUBLE_SPACE + "CREATE TABLE t (id int);\n")
    code, out, err = run(capsys, "check", "a.sql", "--format", "sarif")
    assert code == 1, err
    sarif = json.loads(out)
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema).validate(sarif)
    [run_] = sarif["runs"]
    rules = {r["id"]: r for r in run_["tool"]["driver"]["rules"]}
    assert set(rules) == {"I101", "LT01"}
    assert rules["LT01"]["name"] == "LayoutSpacing"
    assert rules["LT01"]["properties"] == {"tags": ["style"]}
    assert rules["LT01"]["helpUri"].endswith("#rule-LT01")
    [lt01] = [r for r in run_["results"] if r["ruleId"] == "LT01"]
    assert lt01["level"] == "warning"
    assert run_["tool"]["driver"]["rules"][lt01["ruleIndex"]]["id"] == "LT01"
    region = lt01["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 1, "startColumn": 7, "endLine": 1, "endColumn": 9}


@needs_sqlfluff
def test_style_finding_in_github_markdown_and_text(capsys: pytest.CaptureFixture[str]) -> None:
    write("ddlguard.toml", ENABLED)
    write("a.sql", DOUBLE_SPACE)
    code, out, _ = run(capsys, "check", "a.sql", "--format", "github")
    assert code == 1
    assert out.startswith(
        "::warning file=a.sql,line=1,col=7,endLine=1,endColumn=9,title=LT01 layout.spacing::"
    )
    code, out, _ = run(capsys, "check", "a.sql", "--format", "markdown")
    assert "| style | 0 | 1 | 0 |" in out
    assert "`LT01`" in out
    code, out, _ = run(capsys, "check", "a.sql", "--color", "never")
    assert "a.sql:1:7: LT01 " in out
    assert "1 | SELECT  1;\n  |       ^^\n" in out


@needs_sqlfluff
def test_columns_are_characters_and_line_ends_are_kept(capsys: pytest.CaptureFixture[str]) -> None:
    write("ddlguard.toml", ENABLED)
    write("a.sql", "-- héllo wörld ✓\r\nSELECT 'é' AS a,  2 AS b;\r\n")
    _, report = run_json(capsys, "check", "a.sql")
    lt01 = [f for f in report["findings"] if f["code"] == "LT01"]
    assert [(f["line"], f["column"], f["end_column"]) for f in lt01] == [
        (2, len("SELECT 'é' AS a,") + 1, len("SELECT 'é' AS a,  ") + 1)
    ]


@needs_sqlfluff
def test_psql_meta_commands_are_not_style_findings(capsys: pytest.CaptureFixture[str]) -> None:
    write("ddlguard.toml", ENABLED)
    write("a.sql", "\\set ON_ERROR_STOP on\nSELECT 1;\n")
    code, report = run_json(capsys, "check", "a.sql")
    assert report["findings"] == []
    assert code == 0


# --- sqlfluff's own configuration ------------------------------------------------------------


@needs_sqlfluff
def test_the_repositorys_sqlfluff_config_is_honoured(capsys: pytest.CaptureFixture[str]) -> None:
    write("ddlguard.toml", ENABLED)
    write("a.sql", "select  1;\n")
    assert found(run_json(capsys, "check", "a.sql")[1]) == {(1, "LT01")}  # lower case is fine
    write(
        ".sqlfluff",
        "[sqlfluff]\nexclude_rules = LT01\n\n"
        "[sqlfluff:rules:capitalisation.keywords]\ncapitalisation_policy = upper\n",
    )
    _, report = run_json(capsys, "check", "a.sql")
    assert found(report) == {(1, "CP01")}
    assert report["findings"][0]["rule"] == "capitalisation.keywords"


@needs_sqlfluff
def test_nested_sqlfluff_config_applies_to_its_folder(capsys: pytest.CaptureFixture[str]) -> None:
    write("ddlguard.toml", ENABLED)
    write("a/one.sql", DOUBLE_SPACE)
    write("b/two.sql", DOUBLE_SPACE)
    write("b/.sqlfluff", "[sqlfluff]\nexclude_rules = layout.spacing\n")
    _, report = run_json(capsys, "check", "a", "b")
    assert {(f["path"], f["code"]) for f in report["findings"]} == {("a/one.sql", "LT01")}


@needs_sqlfluff
def test_editing_sqlfluff_config_invalidates_cached_results(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DDLGUARD_NO_CACHE", raising=False)
    write("ddlguard.toml", ENABLED)
    write("a.sql", DOUBLE_SPACE)
    assert found(run_json(capsys, "check", "a.sql")[1]) == {(1, "LT01")}
    written = [p for p in Path(".ddlguard_cache").rglob("*") if p.is_file()]
    assert any(p.name != ".gitignore" and not p.name.startswith("config-") for p in written)
    assert found(run_json(capsys, "check", "a.sql")[1]) == {(1, "LT01")}  # from the cache
    write("setup.cfg", "[sqlfluff]\nexclude_rules = LT01\n")
    assert found(run_json(capsys, "check", "a.sql")[1]) == set()
    write("setup.cfg", "[metadata]\nname = x\n")
    assert found(run_json(capsys, "check", "a.sql")[1]) == {(1, "LT01")}


@needs_sqlfluff
def test_dialect_is_postgres_unless_the_user_names_one(tmp_path: Path) -> None:
    from ddlguard.checker import Checker
    from ddlguard.style import StyleLinter

    repo = Path.cwd()
    write("ddlguard.toml", ENABLED)
    write("pg/a.sql", DOUBLE_SPACE)
    write("bq/a.sql", DOUBLE_SPACE)
    write("bq/.sqlfluff", "[sqlfluff]\ndialect = bigquery\n")
    checker = Checker(load_settings(start=repo), cwd=repo)
    style = checker._style
    assert isinstance(style, StyleLinter)
    assert style._folder(repo / "pg" / "a.sql").linter.config.get("dialect") == "postgres"
    assert style._folder(repo / "bq" / "a.sql").linter.config.get("dialect") == "bigquery"


@needs_sqlfluff
def test_extra_sqlfluff_config_file(capsys: pytest.CaptureFixture[str]) -> None:
    write("ddlguard.toml", ENABLED + 'config = "lint/sqlfluff.cfg"\n')
    write("lint/sqlfluff.cfg", "[sqlfluff]\nexclude_rules = LT01\n")
    write("a.sql", DOUBLE_SPACE)
    code, report = run_json(capsys, "check", "a.sql")
    assert report["findings"] == []
    assert code == 0
    Path("lint/sqlfluff.cfg").unlink()
    assert_usage_error(*run(capsys, "check", "a.sql"), "config: no such file", "sqlfluff.cfg")


@needs_sqlfluff
def test_broken_sqlfluff_config_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    write("ddlguard.toml", ENABLED)
    write(".sqlfluff", "[sqlfluff]\ndialect = no_such_dialect\n")
    write("a.sql", DOUBLE_SPACE)
    assert_usage_error(*run(capsys, "check", "a.sql"), "sqlfluff configuration", "no_such_dialect")


@needs_sqlfluff
def test_sqlfluffignore_and_noqa_are_honoured(capsys: pytest.CaptureFixture[str]) -> None:
    write("ddlguard.toml", ENABLED)
    write("vendor/a.sql", DOUBLE_SPACE)
    write(".sqlfluffignore", "vendor/\n")
    write("b.sql", "SELECT  1;  -- noqa: LT01\n")
    code, report = run_json(capsys, "check", "vendor/a.sql", "b.sql")
    assert report["findings"] == []
    assert code == 0


# --- what is not a style finding -------------------------------------------------------------


@needs_sqlfluff
def test_sql_that_only_sqlfluff_cannot_parse_gives_no_style_finding(
    capsys: pytest.CaptureFixture[str],
) -> None:
    write("ddlguard.toml", ENABLED)
    # PostgreSQL parses CREATE CONVERSION; sqlfluff's postgres dialect does not (an unparsable
    # section, PRS), even with a double space and lower-case keywords in it.
    write("a.sql", "create conversion  my_conv for 'UTF8' to 'LATIN1' from my_func;\n")
    code, report = run_json(capsys, "check", "a.sql")
    assert report["findings"] == []
    assert code == 0
    # What sqlfluff parses around it is still checked.
    write("b.sql", DOUBLE_SPACE + "create conversion  my_conv for 'UTF8' to 'LATIN1' from f;\n")
    _, report = run_json(capsys, "check", "b.sql")
    assert found(report) == {(1, "LT01")}


@needs_sqlfluff
def test_a_syntax_error_is_e001_not_a_sqlfluff_parse_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    write("ddlguard.toml", ENABLED)
    write("a.sql", "CREATE TABLE IF NOT EXISTS t (id int,);\n")
    _, report = run_json(capsys, "check", "a.sql")
    assert {f["code"] for f in report["findings"]} == {"E001"}


@needs_sqlfluff
def test_templating_errors_are_not_findings(capsys: pytest.CaptureFixture[str]) -> None:
    write("ddlguard.toml", ENABLED)
    write("a.sql", "SELECT '{{ unclosed' AS a;\n")
    code, report = run_json(capsys, "check", "a.sql")
    assert all(f["category"] == "style" for f in report["findings"])
    assert not any(f["code"] in ("TMP", "PRS", "LXR") for f in report["findings"])
    assert code in (0, 1)


# --- suppressions, --select/--ignore, baselines ----------------------------------------------


@needs_sqlfluff
def test_suppression_comments_cover_style_findings(capsys: pytest.CaptureFixture[str]) -> None:
    write("ddlguard.toml", ENABLED)
    write(
        "a.sql",
        "-- ddlguard: ignore[LT01]\n"  # 1: suppresses line 2
        "SELECT  1;\n"  # 2
        "SELECT  2;  -- ddlguard: ignore[style]\n"  # 3: suppressed
        "SELECT  3;  -- ddlguard: ignore[layout.spacing]\n"  # 4: suppressed, by rule name
        "SELECT  4;\n"  # 5: reported
        "-- ddlguard: ignore[CP01]\n"  # 6: unused (and CP01 runs): E901
        "SELECT 6;\n"  # 7
        "-- ddlguard: ignore[LT99]\n"  # 8: no such sqlfluff rule: E902
        "SELECT 8;\n",  # 9
    )
    _, report = run_json(capsys, "check", "a.sql")
    assert found(report) == {(5, "LT01"), (6, "E901"), (8, "E902")}
    e902 = next(f for f in report["findings"] if f["code"] == "E902")
    assert "LT99" in e902["message"] and "sqlfluff" in e902["message"]


@needs_sqlfluff
def test_suppression_inside_a_statement_covers_its_own_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    write("ddlguard.toml", ENABLED)
    write(
        "a.sql",
        "CREATE TABLE IF NOT EXISTS t (\n"
        "    id  int,  -- ddlguard: ignore[LT01]\n"
        "    -- ddlguard: ignore[LT01]\n"
        "    b  int,\n"
        "    c  int\n"
        ");\n",
    )
    _, report = run_json(capsys, "check", "a.sql")
    assert found(report) == {(5, "LT01")}


@needs_sqlfluff
def test_ignore_file_covers_style_findings(capsys: pytest.CaptureFixture[str]) -> None:
    write("ddlguard.toml", ENABLED)
    write("a.sql", DOUBLE_SPACE + "select 2;\n-- ddlguard: ignore-file[LT01]\n")
    write(".sqlfluff", "[sqlfluff:rules:capitalisation.keywords]\ncapitalisation_policy = upper\n")
    _, report = run_json(capsys, "check", "a.sql")
    assert found(report) == {(2, "CP01")}


@needs_sqlfluff
def test_unused_suppression_of_an_excluded_rule_is_not_reported(
    capsys: pytest.CaptureFixture[str],
) -> None:
    write("ddlguard.toml", ENABLED)
    write(".sqlfluff", "[sqlfluff]\nexclude_rules = CP01\n")
    write("a.sql", "-- ddlguard: ignore[CP01]\nSELECT 1;\n-- ddlguard: ignore[LT01]\nSELECT 2;\n")
    _, report = run_json(capsys, "check", "a.sql")
    assert found(report) == {(3, "E901")}  # LT01 runs and suppressed nothing; CP01 does not run


def test_style_codes_in_suppressions_with_sqlfluff_off(capsys: pytest.CaptureFixture[str]) -> None:
    write("a.sql", "-- ddlguard: ignore[LT01]\nSELECT 1;\n-- ddlguard: ignore[style]\nSELECT 2;\n")
    _, report = run_json(capsys, "check", "a.sql")
    # ignore[style] is a category, so never unknown; LT01 is not a code while sqlfluff is off.
    assert found(report) == {(1, "E902")}
    assert "[sqlfluff] enabled = true" in report["findings"][0]["message"]


@needs_sqlfluff
@pytest.mark.parametrize(
    ("args", "toml_extra", "expected"),
    [
        ([], "", {(1, "LT01"), (2, "CP01")}),
        (["--ignore", "style"], "", set()),
        (["--ignore", "LT01"], "", {(2, "CP01")}),
        (["--ignore", "LT"], "", {(2, "CP01")}),
        (["--ignore", "capitalisation.keywords"], "", {(1, "LT01")}),
        ([], 'ignore = ["CP01"]\n', {(1, "LT01")}),
        (["--select", "ALL", "--ignore", "idempotency,naming,safety,style"], "", set()),
    ],
)
def test_select_and_ignore(
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    toml_extra: str,
    expected: set[tuple[int, str]],
) -> None:
    write("ddlguard.toml", toml_extra + ENABLED)
    write(".sqlfluff", "[sqlfluff:rules:capitalisation.keywords]\ncapitalisation_policy = upper\n")
    write("a.sql", "SELECT  1;\nselect 2;\n")
    _, report = run_json(capsys, "check", "a.sql", *args)
    assert found(report) == expected


def test_style_selectors_need_sqlfluff_enabled(capsys: pytest.CaptureFixture[str]) -> None:
    write("a.sql", DOUBLE_SPACE)
    assert_usage_error(
        *run(capsys, "check", "a.sql", "--ignore", "LT01"), "'LT01'", "[sqlfluff] enabled = true"
    )
    code, report = run_json(capsys, "check", "a.sql", "--ignore", "style")  # a category: fine
    assert code == 0 and report["findings"] == []


@needs_sqlfluff
def test_baseline_covers_style_findings(capsys: pytest.CaptureFixture[str]) -> None:
    write("ddlguard.toml", ENABLED)
    write("a.sql", "SELECT  1;\n\nSELECT a  AS b\nFROM t;\n")
    code, report = run_json(capsys, "check", "a.sql")
    assert found(report) == {(1, "LT01"), (3, "LT01")}
    code, _, err = run(capsys, "check", "a.sql", "--write-baseline", "baseline.json")
    assert code == 0, err
    code, report = run_json(capsys, "check", "a.sql", "--baseline", "baseline.json")
    assert report["findings"] == []
    assert code == 0
    # Lines moved down: still known. A new violation: reported alone.
    write("a.sql", "-- moved\n\nSELECT  1;\n\nSELECT a  AS b\nFROM t;\nSELECT  3;\n")
    code, report = run_json(capsys, "check", "a.sql", "--baseline", "baseline.json")
    assert found(report) == {(7, "LT01")}
    assert code == 1


# --- workers and the cache give the same findings --------------------------------------------


@needs_sqlfluff
def test_workers_and_cache_give_the_same_style_findings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ddlguard.checker import Checker
    from ddlguard.report import render

    repo = Path.cwd()
    write("ddlguard.toml", ENABLED)
    write("sub/.sqlfluff", "[sqlfluff]\nexclude_rules = LT01\n")
    paths = []
    for i in range(70):
        folder = "sub" if i % 3 == 0 else "main"
        # Every fifth file: a suppression with nothing to suppress (E901 where LT01 runs).
        body = f"-- ddlguard: ignore[LT01]\nSELECT {i};\n" if i % 5 == 0 else f"select  {i};\n"
        paths.append(write(f"{folder}/{i:03d}.sql", body))
    settings = load_settings(start=repo)

    def report(workers: int) -> str:
        result = Checker(settings, cwd=repo).run(paths, workers=workers)
        return render(result, "json")

    monkeypatch.setenv("DDLGUARD_NO_CACHE", "1")
    one = report(1)
    assert '"code": "LT01"' in one and '"code": "E901"' in one
    assert report(2) == one
    monkeypatch.delenv("DDLGUARD_NO_CACHE")
    assert report(2) == one  # cold cache, written by the workers
    assert report(1) == one  # warm


# --- ddlguard rules --------------------------------------------------------------------------


def test_rules_listing_mentions_style(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "rules")
    assert code == 0
    assert "Style: sqlfluff's layout and convention rules" in out
    assert "[sqlfluff] enabled = true" in out
    code, out, _ = run(capsys, "rules", "--format", "markdown")
    assert "## Style: sqlfluff's layout and convention rules" in out


@needs_sqlfluff
def test_rules_explains_a_sqlfluff_rule(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "rules", "LT01")
    assert code == 0, err
    assert out.startswith("LT01 layout.spacing (style, warning")
    assert "#rule-LT01" in out
    code, out, _ = run(capsys, "rules", "capitalisation.keywords", "--format", "json")
    assert json.loads(out)["code"] == "CP01"
    code, out, err = run(capsys, "rules", "XX01")
    assert code == 2 and "unknown rule" in err
