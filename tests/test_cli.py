"""End-to-end tests of the command line.

Most tests call ``ddlguard.cli.main([...])`` in-process, the way pre-commit's own test-suite drives
its CLI: the working directory is a fresh ``tmp_path`` (``monkeypatch.chdir``), output is read with
``capsys``, and the return value is the exit status. A few tests run the installed ``ddlguard``
console script in a subprocess, to cover the entry point, ``sys.exit`` and real stdout/stderr.

The reference for every expectation is SPEC.md and examples/ucr-manager/README.md, not the current
behaviour of the code.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ddlguard
from ddlguard.cli import main
from ddlguard.rules.registry import all_rules
from helpers import assert_usage_error

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "ucr-manager"
SARIF_SCHEMA = Path(__file__).resolve().parents[2] / "shared" / "schemas" / "sarif-schema-2.1.0.json"

SPEC_FINDING_KEYS = {
    "code", "rule", "category", "severity", "path", "line", "column", "end_line", "end_column",
    "message",
}
MIGRATION_FILE_PATTERN = r"^\d{4}_[a-z0-9_]+\.sql$"


# --- helpers ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test starts in its own empty folder, with no colour or debug switches inherited."""
    for name in ("NO_COLOR", "FORCE_COLOR", "DDLGUARD_DEBUG", "GITHUB_ACTIONS", "TERM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def write(path: Path | str, content: str | bytes) -> Path:
    """Write a file (creating its folders); ``str`` content is written as UTF-8, byte for byte."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return p


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """Call ``main`` and return (exit status, stdout, stderr)."""
    capsys.readouterr()  # drop anything printed before
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, dict[str, Any]]:
    """Call ``main`` with ``--format json`` and return (exit status, parsed report)."""
    code, out, err = run(capsys, *args, "--format", "json")
    assert "Traceback" not in err
    return code, json.loads(out)


def found(report: dict[str, Any]) -> set[tuple[str, int, str]]:
    """(path, line, code) of every finding."""
    return {(f["path"], f["line"], f["code"]) for f in report["findings"]}


def positions(report: dict[str, Any]) -> set[tuple[int, int, str]]:
    """(line, column, code) of every finding."""
    return {(f["line"], f["column"], f["code"]) for f in report["findings"]}


def codes(report: dict[str, Any]) -> set[str]:
    return {f["code"] for f in report["findings"]}


def ddlguard_script() -> str:
    """The installed console script, next to the interpreter or on PATH."""
    beside = Path(sys.executable).parent / "ddlguard"
    if beside.exists():
        return str(beside)
    which = shutil.which("ddlguard")
    if which is None:
        pytest.skip("the ddlguard console script is not installed")
    return which


CLEAN_SQL = "CREATE TABLE IF NOT EXISTS customer_tenants (id uuid PRIMARY KEY, tenant_name text);\n"
DIRTY_SQL = "CREATE TABLE customer_tenants (id uuid PRIMARY KEY);\n"


# --- exit status -----------------------------------------------------------------------------


def test_clean_file_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    write("0001_init.sql", CLEAN_SQL)
    code, out, err = run(capsys, "check", "0001_init.sql")
    assert code == 0
    assert err == ""
    assert "0001_init.sql:" not in out  # no finding line
    assert "Traceback" not in err
    code, report = run_json(capsys, "check", "0001_init.sql")
    assert code == 0
    assert report["findings"] == []
    assert report["summary"]["files"] == 1
    assert report["summary"]["statements"] == 1
    assert report["summary"]["findings"] == 0


def test_non_idempotent_statement_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    write("0001_init.sql", "-- tenants\n" + DIRTY_SQL)
    code, out, err = run(capsys, "check", "0001_init.sql")
    assert code == 1
    assert "Traceback" not in err
    assert "0001_init.sql:2:1: I101" in out
    code, report = run_json(capsys, "check", "0001_init.sql")
    assert code == 1
    assert found(report) == {("0001_init.sql", 2, "I101")}


@pytest.mark.parametrize(
    ("files", "args", "needles"),
    [
        pytest.param({}, ["check", "missing.sql"], ["missing.sql"], id="missing-file"),
        pytest.param(
            {"empty_dir/notes.txt": "not sql"}, ["check", "empty_dir"], ["empty_dir"],
            id="directory-without-sql",
        ),
        pytest.param(
            {"a.sql": CLEAN_SQL}, ["check", "a.sql", "--select", "X999"], ["X999"],
            id="unknown-select-code",
        ),
        pytest.param(
            {"a.sql": CLEAN_SQL}, ["check", "a.sql", "--ignore", "I101,Q12"], ["Q12"],
            id="unknown-ignore-code",
        ),
        pytest.param(
            {"a.sql": CLEAN_SQL, "ddlguard.toml": 'idempotency = "always"\nbogus-key = 1\n'},
            ["check", "a.sql"], ["ddlguard.toml", "bogus-key"], id="config-unknown-key",
        ),
        pytest.param(
            {"a.sql": CLEAN_SQL, "ddlguard.toml": "[naming]\nindx = \"^idx_\"\n"},
            ["check", "a.sql"], ["ddlguard.toml", "indx"], id="config-unknown-nested-key",
        ),
        pytest.param(
            {"a.sql": CLEAN_SQL, "ddlguard.toml": 'pg-version = "15"\n'},
            ["check", "a.sql"], ["ddlguard.toml", "pg-version"], id="config-wrong-type",
        ),
        pytest.param(
            {"a.sql": CLEAN_SQL, "ddlguard.toml": "[naming]\nindex = 5\n"},
            ["check", "a.sql"], ["ddlguard.toml", "index"], id="config-wrong-nested-type",
        ),
        pytest.param(
            {"a.sql": CLEAN_SQL, "ddlguard.toml": 'idempotency = "sometimes"\n'},
            ["check", "a.sql"], ["ddlguard.toml", "idempotency"], id="config-bad-choice",
        ),
        pytest.param(
            {"a.sql": CLEAN_SQL, "ddlguard.toml": 'idempotency = "always"\n\npg-version = \n'},
            ["check", "a.sql"], ["ddlguard.toml"], id="config-invalid-toml",
        ),
        pytest.param(
            {"a.sql": CLEAN_SQL, "pyproject.toml": "[tool.ddlguard]\nbogus = 1\n"},
            ["check", "a.sql"], ["pyproject.toml", "bogus"], id="pyproject-unknown-key",
        ),
        pytest.param(
            {"a.sql": CLEAN_SQL, "conf/custom.toml": "wrong-key = true\n"},
            ["check", "a.sql", "--config", "conf/custom.toml"], ["custom.toml", "wrong-key"],
            id="explicit-config-unknown-key",
        ),
        pytest.param(
            {"a.sql": CLEAN_SQL}, ["check", "a.sql", "--config", "nope.toml"], ["nope.toml"],
            id="explicit-config-missing",
        ),
        pytest.param({}, ["rules", "X999"], ["X999"], id="rules-unknown-code"),
        pytest.param({}, ["audit", "no_such_repo"], ["no_such_repo"], id="audit-missing-root"),
        pytest.param(
            {"repo/README.md": "nothing"}, ["audit", "repo"], ["repo"], id="audit-no-sql",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str],
    files: dict[str, str],
    args: list[str],
    needles: list[str],
) -> None:
    for name, content in files.items():
        write(name, content)
    code, out, err = run(capsys, *args)
    assert_usage_error(code, out, err, *needles)


def test_invalid_toml_names_the_line(capsys: pytest.CaptureFixture[str]) -> None:
    write("a.sql", CLEAN_SQL)
    write("ddlguard.toml", 'idempotency = "always"\n\npg-version = \n')
    code, out, err = run(capsys, "check", "a.sql")
    assert_usage_error(code, out, err, "ddlguard.toml")
    assert re.search(r"(:3\b|line 3\b)", err), err


def test_no_config_and_no_paths_exits_2_with_help(capsys: pytest.CaptureFixture[str]) -> None:
    write("stray.sql", DIRTY_SQL)
    code, out, err = run(capsys, "check")
    assert_usage_error(code, out, err, "ddlguard.toml")
    # The message says what to do: pass files, or configure migrations.
    assert "migrations" in err
    assert re.search(r"\bPATH\b|\bpaths?\b|\bfiles?\b", err)


def test_no_subcommand_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys)
    assert code == 2
    assert "Traceback" not in err
    assert "check" in out + err


# --- files that are not plain SQL ------------------------------------------------------------


def test_binary_file_is_e002_with_byte_offset(capsys: pytest.CaptureFixture[str]) -> None:
    write("blob.sql", b"SELECT 1;\nSELECT 2;\n\x00\x01\x02\xff")
    code, report = run_json(capsys, "check", "blob.sql")
    assert code == 1
    assert found(report) == {("blob.sql", 3, "E002")}
    [finding] = report["findings"]
    assert finding["column"] == 1
    assert finding["severity"] == "error"
    assert finding["category"] == "syntax"
    assert re.search(r"\b20\b", finding["message"]), finding["message"]


def test_invalid_utf8_is_e002_with_line_and_column(capsys: pytest.CaptureFixture[str]) -> None:
    write("latin1.sql", b"SELECT 1;\nSELECT '\xff';\n")
    code, out, err = run(capsys, "check", "latin1.sql")
    assert code == 1
    assert "Traceback" not in err
    assert "latin1.sql:2:9: E002" in out
    code, report = run_json(capsys, "check", "latin1.sql")
    assert positions(report) == {(2, 9, "E002")}
    # The byte offset of the bad byte (18) is named too.
    assert re.search(r"\b18\b", report["findings"][0]["message"])


def test_bad_file_does_not_stop_the_other_files(capsys: pytest.CaptureFixture[str]) -> None:
    write("a_blob.sql", b"\x00")
    write("b_dirty.sql", DIRTY_SQL)
    code, report = run_json(capsys, "check", "a_blob.sql", "b_dirty.sql")
    assert code == 1
    assert found(report) == {("a_blob.sql", 1, "E002"), ("b_dirty.sql", 1, "I101")}
    assert report["summary"]["files"] == 2


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\n\n   \n", id="blank-lines"),
        pytest.param(b"-- 0007_add_tags.sql\n-- TODO\n/* nothing\n   here */\n", id="comments-only"),
    ],
)
def test_empty_or_comment_only_file_is_e003_warning(
    capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    write("0007_add_tags.sql", content)
    code, report = run_json(capsys, "check", "0007_add_tags.sql")
    assert code == 1  # default fail-on is warning
    assert found(report) == {("0007_add_tags.sql", 1, "E003")}
    assert report["findings"][0]["severity"] == "warning"
    code, out, err = run(capsys, "check", "0007_add_tags.sql", "--fail-on", "error")
    assert code == 0
    assert "E003" in out
    assert "Traceback" not in err


def test_fail_on_from_config(capsys: pytest.CaptureFixture[str]) -> None:
    write("0007_add_tags.sql", "-- TODO\n")
    write("ddlguard.toml", 'fail-on = "error"\n')
    code, out, err = run(capsys, "check", "0007_add_tags.sql")
    assert code == 0
    assert "E003" in out
    # The flag overrides the config.
    code, out, err = run(capsys, "check", "0007_add_tags.sql", "--fail-on", "warning")
    assert code == 1
    assert err == ""


def test_five_megabyte_file(capsys: pytest.CaptureFixture[str]) -> None:
    line = "INSERT INTO t (a) VALUES (1) ON CONFLICT DO NOTHING;\n"
    count = 5 * 1024 * 1024 // len(line) + 1
    path = write("big.sql", line * count)
    assert path.stat().st_size >= 5 * 1024 * 1024
    code, out, err = run(capsys, "check", "big.sql", "--format", "json")
    assert code == 0
    assert err == ""
    report = json.loads(out)
    assert report["findings"] == []
    assert report["summary"]["statements"] == count


def test_crlf_and_bom_positions(capsys: pytest.CaptureFixture[str]) -> None:
    lines = [
        "-- header: café ☕",  # non-ASCII before the statements must not shift columns
        "SELECT 'naïve';",
        "",
        "  CREATE TABLE t1 (id int);",
        "ALTER TABLE t1",
        "    ADD COLUMN c int;",
    ]
    crlf = "\ufeff" + "\r\n".join(lines) + "\r\n"
    lf = "\n".join(lines) + "\n"
    write("crlf.sql", crlf)
    write("lf.sql", lf)
    expected = {(4, 3, "I101"), (6, 5, "I107")}
    for name in ("crlf.sql", "lf.sql"):
        code, report = run_json(capsys, "check", name)
        assert code == 1
        assert positions(report) == expected, name
        by_code = {f["code"]: f for f in report["findings"]}
        # The CREATE TABLE statement ends on its own line, at the ")" or the ";", not the CR.
        assert by_code["I101"]["end_line"] == 4
        assert by_code["I101"]["end_column"] in (27, 28)
    # Text output shows the same positions.
    code, out, err = run(capsys, "check", "crlf.sql")
    assert code == 1
    assert err == ""
    assert "crlf.sql:4:3: I101" in out
    assert "crlf.sql:6:5: I107" in out
    assert "\r" not in out


def test_syntax_error_is_a_finding_and_checking_goes_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    write(
        "0001_broken.sql",
        "CREATE TABLE IF NOT EXISTS fine (id int);\n"
        "CREATE TABLE broken (\n"
        "  id int\n"
        "  name text\n"
        ");\n"
        "CREATE TABLE later (id int);\n",
    )
    write("0002_other.sql", "\n\nCREATE INDEX idx_other ON other (id);\n")
    code, report = run_json(capsys, "check", "0001_broken.sql", "0002_other.sql")
    assert code == 1
    # PostgreSQL: syntax error at or near "name", at line 4 column 3.
    assert found(report) == {
        ("0001_broken.sql", 4, "E001"),
        ("0001_broken.sql", 6, "I101"),
        ("0002_other.sql", 3, "I102"),
        ("0002_other.sql", 3, "S101"),  # other exists already: the index blocks its writes
    }
    syntax = next(f for f in report["findings"] if f["code"] == "E001")
    assert syntax["column"] == 3
    assert syntax["category"] == "syntax"
    assert syntax["severity"] == "error"
    assert '"name"' in syntax["message"]


def test_syntax_error_same_line_column(capsys: pytest.CaptureFixture[str]) -> None:
    text = "SELECT 1;\nCREATE TABLE broken (id int,);\n"
    write("a.sql", text)
    code, report = run_json(capsys, "check", "a.sql")
    assert code == 1
    # PostgreSQL reports the ")" after the trailing comma.
    column = text.splitlines()[1].index(",)") + 2
    assert positions(report) == {(2, column, "E001")}


# --- psql meta-commands ----------------------------------------------------------------------


def test_psql_meta_commands_are_skipped(capsys: pytest.CaptureFixture[str]) -> None:
    write(
        "0001_psql.sql",
        "\\set ON_ERROR_STOP on\n"
        "\\connect ucrmanager\n"
        "\\i other.sql\n"
        "CREATE TABLE a (id int);\n"
        "  \\echo 'half way'\n"
        "CREATE TABLE b (id int);\n",
    )
    code, report = run_json(capsys, "check", "0001_psql.sql")
    assert code == 1
    assert positions(report) == {(4, 1, "I101"), (6, 1, "I101")}


def test_backslash_in_literals_is_not_a_meta_command(capsys: pytest.CaptureFixture[str]) -> None:
    # If the lines starting with a backslash inside the literals were blanked as meta-commands,
    # the string and the dollar-quoted body would lose their closing quotes: E001.
    write(
        "0001_literals.sql",
        "SELECT 'first line\n"
        "\\set not_a_command';\n"
        "SELECT $body$\n"
        "\\connect nowhere $body$;\n"
        "DO $$\n"
        "BEGIN\n"
        "  RAISE NOTICE 'path:\n"
        "\\i never.sql';\n"
        "END $$;\n"
        "CREATE TABLE c (id int);\n",
    )
    code, report = run_json(capsys, "check", "0001_literals.sql")
    assert code == 1
    assert positions(report) == {(10, 1, "I101")}


# --- the idempotency rules, one statement each -----------------------------------------------

# (code, statement, the text the finding starts at). One statement per line.
STATEMENT_KINDS: list[tuple[str, str, str]] = [
    ("I101", "CREATE TABLE t1 (id int);", "CREATE"),
    ("I102", "CREATE INDEX i1 ON t1 (id);", "CREATE"),
    ("I103", "CREATE SEQUENCE s1;", "CREATE"),
    ("I104", "CREATE SCHEMA sc1;", "CREATE"),
    ("I105", "CREATE EXTENSION pgcrypto;", "CREATE"),
    ("I106", "CREATE MATERIALIZED VIEW mv1 AS SELECT 1 AS x;", "CREATE"),
    ("I107", "ALTER TABLE t1 ADD COLUMN c1 int;", "ADD COLUMN"),
    ("I201", "DROP TABLE t0;", "DROP"),
    ("I202", "ALTER TABLE t1 DROP COLUMN c0;", "DROP COLUMN"),
    ("I203", "ALTER TABLE t1 DROP CONSTRAINT k0;", "DROP CONSTRAINT"),
    ("I301", "CREATE FUNCTION f1() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;", "CREATE"),
    ("I302", "CREATE VIEW v1 AS SELECT 1 AS x;", "CREATE"),
    ("I303", "CREATE TRIGGER tr1 BEFORE UPDATE ON t1 FOR EACH ROW EXECUTE FUNCTION f1();", "CREATE"),
    ("I304", "CREATE POLICY p1 ON t1 USING (true);", "CREATE"),
    ("I401", "ALTER TABLE t1 ADD CONSTRAINT t1_id_key UNIQUE (id);", "ADD CONSTRAINT"),
    ("I402", "CREATE TYPE e1 AS ENUM ('a');", "CREATE"),
    ("I403", "CREATE DOMAIN d1 AS text;", "CREATE"),
    ("I404", "ALTER TABLE t1 RENAME COLUMN c5 TO c6;", "ALTER"),
    ("I405", "ALTER TYPE e1 ADD VALUE 'b';", "ALTER"),
    ("I406", "ALTER TYPE e1 RENAME VALUE 'a' TO 'z';", "ALTER"),
    ("I407", "CREATE ROLE r1 NOLOGIN;", "CREATE"),
    ("I408", "CREATE INDEX IF NOT EXISTS i9 ON t1 (c7);", "CREATE"),
    ("I404", "ALTER TABLE t1 RENAME COLUMN c7 TO c8;", "ALTER"),
    ("I501", "CREATE INDEX ON t2 (id);", "CREATE"),
    ("I601", "INSERT INTO t1 (id) VALUES (1);", "INSERT"),
    ("I701", "DROP TABLE IF EXISTS t3 CASCADE;", "DROP"),
    # The CREATE TABLE after the DROP is part of I701 (README: a judgment call, not an I101).
    ("", "CREATE TABLE t3 (id int);", ""),
    ("I702", "TRUNCATE t1;", "TRUNCATE"),
    ("I703", "DELETE FROM t1;", "DELETE"),
]

GUARDED_FORMS = """\
CREATE TABLE IF NOT EXISTS t1 (id int);
CREATE INDEX IF NOT EXISTS i1 ON t1 (id);
CREATE SEQUENCE IF NOT EXISTS s1;
CREATE SCHEMA IF NOT EXISTS sc1;
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE MATERIALIZED VIEW IF NOT EXISTS mv1 AS SELECT 1 AS x;
ALTER TABLE t1 ADD COLUMN IF NOT EXISTS c1 int;
DROP TABLE IF EXISTS t0;
ALTER TABLE t1 DROP COLUMN IF EXISTS c0;
ALTER TABLE t1 DROP CONSTRAINT IF EXISTS k0;
CREATE OR REPLACE FUNCTION f1() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;
CREATE OR REPLACE VIEW v1 AS SELECT 1 AS x;
CREATE OR REPLACE TRIGGER tr1 BEFORE UPDATE ON t1 FOR EACH ROW EXECUTE FUNCTION f1();
DROP TRIGGER IF EXISTS tr2 ON t1;
CREATE TRIGGER tr2 BEFORE UPDATE ON t1 FOR EACH ROW EXECUTE FUNCTION f1();
DROP POLICY IF EXISTS p1 ON t1;
CREATE POLICY p1 ON t1 USING (true);
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 't1_id_key') THEN
        ALTER TABLE t1 ADD CONSTRAINT t1_id_key UNIQUE (id);
    END IF;
END $$;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'e1') THEN
        CREATE TYPE e1 AS ENUM ('a');
    END IF;
END $$;
DO $$
BEGIN
    CREATE DOMAIN d1 AS text;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_name = 't1' AND column_name = 'c1') THEN
        ALTER TABLE t1 RENAME COLUMN c1 TO c2;
    END IF;
END $$;
ALTER TYPE e1 ADD VALUE IF NOT EXISTS 'b';
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_enum WHERE enumlabel = 'a' AND enumtypid = 'e1'::regtype) THEN
        ALTER TYPE e1 RENAME VALUE 'a' TO 'z';
    END IF;
END $$;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'r1') THEN
        CREATE ROLE r1 NOLOGIN;
    END IF;
END $$;
CREATE INDEX IF NOT EXISTS i2 ON t2 (id);
INSERT INTO t1 (id) VALUES (1) ON CONFLICT DO NOTHING;
INSERT INTO t1 (id) SELECT 2 WHERE NOT EXISTS (SELECT 1 FROM t1 WHERE id = 2);
DELETE FROM t1 WHERE id = 3;
"""


def test_every_idempotency_statement_kind_at_its_position(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A leading indentation varies per line so that a wrong column cannot pass by accident.
    lines = ["-- every kind of statement the idempotency rules know"]
    expected: set[tuple[int, int, str]] = set()
    for i, (code, sql, anchor) in enumerate(STATEMENT_KINDS):
        indent = " " * (i % 3)
        lines.append(indent + sql)
        if code:
            expected.add((len(lines), len(indent) + sql.index(anchor) + 1, code))
    write("0001_kinds.sql", "\n".join(lines) + "\n")
    # Only the idempotency rules here (the safety rules have their own fixtures).
    code, report = run_json(capsys, "check", "0001_kinds.sql", "--ignore", "safety")
    assert code == 1
    assert positions(report) == expected
    # Every idempotency rule that is on by default is covered by this file.
    # I801-I803 are found by `ddlguard verify` on a real PostgreSQL, not by `check`.
    defaults = {
        r.code
        for r in all_rules()
        if r.code.startswith("I") and r.enabled_by_default and not r.code.startswith("I8")
    }
    assert defaults <= {c for c, _, _ in STATEMENT_KINDS if c}
    for finding in report["findings"]:
        assert finding["category"] == "idempotency"
        assert finding["path"] == "0001_kinds.sql"
        assert finding["end_line"] >= finding["line"]


def test_guarded_forms_report_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    write("0001_guarded.sql", GUARDED_FORMS)
    code, report = run_json(capsys, "check", "0001_guarded.sql", "--ignore", "safety")
    assert report["findings"] == []
    assert code == 0


# --- output formats --------------------------------------------------------------------------

TWO_FILES = {
    "db/migrations/0001_init.sql": (
        "-- init\n"
        "CREATE TABLE IF NOT EXISTS customer_tenants (id uuid PRIMARY KEY);\n"
        "CREATE TABLE phone_number_inventory (\n"
        "  id uuid PRIMARY KEY\n"
        ");\n"
    ),
    "db/migrations/0002_more.sql": (
        "ALTER TABLE customer_tenants ADD COLUMN created_by text;\n"
        "INSERT INTO customer_tenants (id) VALUES (gen_random_uuid());\n"
    ),
}


def _write_two_files() -> None:
    for name, content in TWO_FILES.items():
        write(name, content)


def test_json_report_shape(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _write_two_files()
    # One path relative, one absolute: both are reported relative to the working directory.
    code, out, err = run(
        capsys, "check", "db/migrations/0001_init.sql",
        tmp_path / "db" / "migrations" / "0002_more.sql", "--format", "json",
    )
    assert code == 1
    assert err == ""
    report = json.loads(out)
    assert {"tool", "version", "findings", "summary"} <= report.keys()
    assert report["tool"] == "ddlguard"
    assert report["version"] == ddlguard.__version__
    assert found(report) == {
        ("db/migrations/0001_init.sql", 3, "I101"),
        ("db/migrations/0002_more.sql", 1, "I107"),
        ("db/migrations/0002_more.sql", 2, "I601"),
    }
    for f in report["findings"]:
        assert f.keys() >= SPEC_FINDING_KEYS, f
        assert isinstance(f["line"], int)
        assert isinstance(f["column"], int)
        assert f["line"] >= 1
        assert f["column"] >= 1
        assert f["message"]
    by_code = {f["code"]: f for f in report["findings"]}
    i101 = by_code["I101"]
    assert i101 == {
        **i101,
        "rule": "create-table-without-if-not-exists",
        "category": "idempotency",
        "severity": "error",
        "line": 3,
        "column": 1,
        "end_line": 5,
        "object": "public.phone_number_inventory",
    }
    assert "phone_number_inventory" in i101["message"]
    assert i101["fix"]["description"]
    assert "IF NOT EXISTS" in i101["fix"]["replacement"]
    i107 = by_code["I107"]
    assert i107["object"] == "public.customer_tenants.created_by"
    assert i107["column"] == len("ALTER TABLE customer_tenants ") + 1
    assert report["summary"]["files"] == 2
    assert report["summary"]["statements"] == 4
    assert report["summary"]["findings"] == 3


def test_sarif_report_validates(capsys: pytest.CaptureFixture[str]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    if not SARIF_SCHEMA.is_file():
        pytest.skip(f"{SARIF_SCHEMA} is absent")
    _write_two_files()
    write("db/migrations/0003_blob.sql", b"\x00")
    code, out, err = run(capsys, "check", "db", "--format", "sarif")
    assert code == 1
    assert err == ""
    sarif = json.loads(out)
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema).validate(sarif)
    assert sarif["version"] == "2.1.0"
    [run_] = sarif["runs"]
    assert run_["tool"]["driver"]["name"] == "ddlguard"
    results = {
        (
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
            r["ruleId"],
        )
        for r in run_["results"]
    }
    assert results == {
        ("db/migrations/0001_init.sql", 3, "I101"),
        ("db/migrations/0002_more.sql", 1, "I107"),
        ("db/migrations/0002_more.sql", 2, "I601"),
        ("db/migrations/0003_blob.sql", 1, "E002"),
    }
    rule_ids = {r["id"] for r in run_["tool"]["driver"]["rules"]}
    assert {"I101", "I107", "I601", "E002"} <= rule_ids


def test_github_format(capsys: pytest.CaptureFixture[str]) -> None:
    _write_two_files()
    code, out, err = run(capsys, "check", "db", "--format", "github")
    assert code == 1
    assert err == ""
    lines = out.splitlines()
    assert len(lines) == 3
    for line in lines:
        assert line.startswith("::error file=db/migrations/"), line
    assert any(
        line.startswith("::error file=db/migrations/0001_init.sql,line=3,") and "I101" in line
        for line in lines
    )
    assert any(",line=1,col=30," in line and "I107" in line for line in lines)


def test_markdown_format(capsys: pytest.CaptureFixture[str]) -> None:
    _write_two_files()
    code, out, err = run(capsys, "check", "db", "--format", "markdown")
    assert code == 1
    assert err == ""
    assert "<!-- ddlguard-report -->" in out
    for c in ("I101", "I107", "I601"):
        assert c in out
    assert "db/migrations/0001_init.sql" in out


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github", "markdown"])
def test_output_file(capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str) -> None:
    _write_two_files()
    code, out, err = run(capsys, "check", "db", "--format", fmt, "--output", "out.txt")
    assert code == 1
    assert out == ""
    assert "Traceback" not in err
    written = (tmp_path / "out.txt").read_text(encoding="utf-8")
    assert "I101" in written
    assert "\x1b[" not in written
    if fmt == "json":
        assert found(json.loads(written)) == {
            ("db/migrations/0001_init.sql", 3, "I101"),
            ("db/migrations/0002_more.sql", 1, "I107"),
            ("db/migrations/0002_more.sql", 2, "I601"),
        }


def test_output_file_in_existing_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _write_two_files()
    code, out, err = run(capsys, "check", "db", "--format", "json", "-o", "report.json")
    assert code == 1
    assert err == ""
    assert out == ""
    assert len(json.loads((tmp_path / "report.json").read_text())["findings"]) == 3
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["report.json"]


def test_text_output_colour(capsys: pytest.CaptureFixture[str]) -> None:
    _write_two_files()
    code, out, err = run(capsys, "check", "db")
    assert code == 1
    assert "\x1b[" not in out  # capsys is not a terminal
    assert "db/migrations/0001_init.sql:3:1: I101" in out
    assert "db/migrations/0002_more.sql:1:30: I107" in out
    code, out, err = run(capsys, "check", "db", "--color", "always")
    assert code == 1
    assert "\x1b[" in out
    code, out, err = run(capsys, "check", "db", "--color", "never")
    assert code == 1
    assert err == ""
    assert "\x1b[" not in out


def test_no_color_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_two_files()
    monkeypatch.setenv("FORCE_COLOR", "1")
    code, out, err = run(capsys, "check", "db")
    assert "\x1b[" in out
    monkeypatch.delenv("FORCE_COLOR")
    monkeypatch.setenv("NO_COLOR", "1")
    code, out, err = run(capsys, "check", "db")
    assert code == 1
    assert err == ""
    assert "\x1b[" not in out


def test_quiet_prints_one_line_per_finding(capsys: pytest.CaptureFixture[str]) -> None:
    _write_two_files()
    code, out, err = run(capsys, "check", "db", "--quiet")
    assert code == 1
    assert err == ""
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 3, out
    assert [line.split(": ")[0] for line in lines] == [
        "db/migrations/0001_init.sql:3:1",
        "db/migrations/0002_more.sql:1:30",
        "db/migrations/0002_more.sql:2:1",
    ]
    assert [line.split()[1] for line in lines] == ["I101", "I107", "I601"]


# --- --fix -----------------------------------------------------------------------------------

FIXABLE_LINES = [
    "-- Migration: café ☕, naïve façade, 日本語",
    "CREATE TABLE   customer_tenants (id int, name text DEFAULT 'Zürich');",
    "create table public.t2(id int);",
    "CREATE UNIQUE INDEX idx_a ON customer_tenants (id);",
    "CREATE INDEX CONCURRENTLY idx_b ON customer_tenants (name);",
    "CREATE SEQUENCE s1;",
    "CREATE SCHEMA billing;",
    "CREATE EXTENSION pgcrypto;",
    "CREATE MATERIALIZED VIEW mv AS SELECT 1 AS x;",
    "ALTER TABLE customer_tenants ADD COLUMN note text; -- «note» ✓",
    "ALTER TABLE customer_tenants ADD email text;",
    "ALTER TABLE customer_tenants\tADD COLUMN a1 int,\r\n    ADD COLUMN a2 int;",
    "DROP TABLE old_t;",
    "DROP INDEX old_i;",
    "DROP VIEW old_v;",
    "DROP SEQUENCE old_s;",
    "ALTER TABLE customer_tenants DROP COLUMN old_c;",
    "ALTER TABLE customer_tenants DROP old_d;",
    "ALTER TABLE customer_tenants DROP CONSTRAINT old_k;",
    "/* a block comment — with an em dash */",
    "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;",
    "CREATE VIEW v AS SELECT 'ü' AS u;",
    "CREATE TRIGGER trg BEFORE UPDATE ON customer_tenants FOR EACH ROW EXECUTE FUNCTION f();",
    "CREATE TYPE mood AS ENUM ('a'); -- ddlguard: ignore[I402]",
    "ALTER TYPE mood ADD VALUE 'b';",
    "-- trailing comment ✓",
]
FIXED_CODES = {
    "I101", "I102", "I103", "I104", "I105", "I106", "I107", "I201", "I202", "I203", "I301",
    "I302", "I303", "I405",
}
INSERTED = [b" IF NOT EXISTS", b" IF EXISTS", b" OR REPLACE", b"IF NOT EXISTS "]


def _strip_inserted(data: bytes) -> bytes:
    for word in INSERTED:
        data = data.replace(word, b"")
    return data


def test_fix_round_trip(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    original = ("\ufeff" + "\r\n".join(FIXABLE_LINES) + "\r\n").encode("utf-8")
    for word in INSERTED:
        assert word not in original  # else the comparison below would prove nothing
    path = write("migrations/0001_fixable.sql", original)
    path.chmod(0o640)

    # The idempotency fixes; DROP TABLE, DROP INDEX, DROP COLUMN also have safety findings that
    # no mechanical fix can remove.
    code, before = run_json(capsys, "check", path, "--ignore", "safety")
    assert code == 1
    assert codes(before) == FIXED_CODES
    assert len(before["findings"]) == 23  # two ADD COLUMN on line 12

    code, out, err = run(capsys, "check", "--fix", path, "--ignore", "safety")
    assert "Traceback" not in err
    assert code == 0, out  # everything found was fixable

    fixed = path.read_bytes()
    assert fixed != original
    assert fixed.startswith(b"\xef\xbb\xbf")
    assert fixed.count(b"\r\n") == original.count(b"\r\n")
    assert _strip_inserted(fixed) == original
    assert fixed.count(b"IF NOT EXISTS") == 13
    assert fixed.count(b"IF EXISTS") == 7  # "IF NOT EXISTS" does not contain it
    assert fixed.count(b"OR REPLACE") == 3
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in path.parent.iterdir()) == ["0001_fixable.sql"]

    code, after = run_json(capsys, "check", path, "--ignore", "safety")
    assert code == 0
    assert after["findings"] == []


def test_fix_leaves_unfixable_findings_and_reports_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write(
        "0001_mixed.sql",
        "CREATE TABLE t (id int);\nINSERT INTO t (id) VALUES (1);\n",
    )
    code, report = run_json(capsys, "check", "--fix", "0001_mixed.sql")
    assert code == 1
    assert found(report) == {("0001_mixed.sql", 2, "I601")}
    assert path.read_text() == (
        "CREATE TABLE IF NOT EXISTS t (id int);\nINSERT INTO t (id) VALUES (1);\n"
    )


@pytest.mark.parametrize(
    ("content", "status"),
    [
        pytest.param(CLEAN_SQL, 0, id="clean"),
        pytest.param("INSERT INTO t (id) VALUES (1);\r\n", 1, id="only-unfixable"),
    ],
)
def test_fix_does_not_rewrite_a_file_with_nothing_to_fix(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, status: int
) -> None:
    path = write("0001_nothing.sql", content)
    old = path.stat()
    os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns - 10_000_000_000))
    old = path.stat()
    code, _out, err = run(capsys, "check", "--fix", "0001_nothing.sql")
    assert code == status
    assert "Traceback" not in err
    new = path.stat()
    assert new.st_ino == old.st_ino
    assert new.st_mtime_ns == old.st_mtime_ns
    assert path.read_bytes() == content.encode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0001_nothing.sql"]


# --- suppressions ----------------------------------------------------------------------------


def test_suppression_comments(capsys: pytest.CaptureFixture[str]) -> None:
    write(
        "0001_sup.sql",
        "-- ddlguard: ignore[I101]\n"                        # 1: above line 2
        "CREATE TABLE a (id int);\n"                          # 2: suppressed
        "CREATE TABLE b (\n"                                  # 3: suppressed by its end comment
        "  id int); -- ddlguard: ignore[I101]\n"              # 4: not the first line: no effect
        "CREATE TABLE c (id int); -- ddlguard: ignore[I101]\n"  # 5: suppressed
        "SELECT '-- ddlguard: ignore[I101]';\n"               # 6: inside a string: nothing
        "CREATE TABLE d (id int);\n"                          # 7: reported
        "-- ddlguard: ignore[I102]\n"                         # 8: unused: E901
        "CREATE TABLE e (id int);\n"                          # 9: reported
        "CREATE TABLE f (id int); -- ddlguard: ignore[I9999]\n"  # 10: E902, and I101
        "CREATE TABLE g (id int); -- ddlguard: ignore[I1]\n"   # 11: a prefix suppresses
        "CREATE TABLE h (id int); -- ddlguard: ignore[idempotency]\n",  # 12: a category
    )
    code, report = run_json(capsys, "check", "0001_sup.sql")
    assert code == 1
    got = {(line, c) for _, line, c in found(report)}
    assert (2, "I101") not in got
    assert (5, "I101") not in got
    assert (6, "E901") not in got and (6, "E902") not in got
    assert (7, "I101") in got
    assert (8, "E901") in got
    assert (9, "I101") in got
    assert (10, "E902") in got
    assert (10, "I101") in got
    assert (11, "I101") not in got
    assert (12, "I101") not in got
    # Line 3's statement: the comment at the end of its *last* line is not the first line.
    assert got == {
        (3, "I101"), (4, "E901"), (7, "I101"), (8, "E901"), (9, "I101"), (10, "E902"),
        (10, "I101"),
    }
    e902 = next(f for f in report["findings"] if f["code"] == "E902")
    assert "I9999" in e902["message"]


@pytest.mark.parametrize("selector", ["I", "idempotency", "I101,I102", "I1"])
def test_ignore_file(capsys: pytest.CaptureFixture[str], selector: str) -> None:
    write(
        "0001_file.sql",
        "CREATE TABLE a (id int);\n"
        f"-- ddlguard: ignore-file[{selector}]\n"
        "CREATE INDEX i ON a (id);\n"
        "CREATE TABLE b (\n  id int,\n);\n",
    )
    code, report = run_json(capsys, "check", "0001_file.sql")
    # Only the syntax error is left: ignore-file covers the whole file, above and below.
    assert {c for _, _, c in found(report)} == {"E001"}
    assert code == 1


def test_ignore_file_that_suppresses_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    write(
        "0001_file.sql",
        "CREATE TABLE IF NOT EXISTS a (id int);\n-- ddlguard: ignore-file[I201]\n",
    )
    code, report = run_json(capsys, "check", "0001_file.sql")
    assert found(report) == {("0001_file.sql", 2, "E901")}
    assert code == 1


def test_ignore_inside_a_string_does_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    write(
        "0001_str.sql",
        "SELECT '-- ddlguard: ignore-file[I]';\n"
        "SELECT $$ -- ddlguard: ignore-file[I] $$;\n"
        "CREATE TABLE a (id int);\n",
    )
    code, report = run_json(capsys, "check", "0001_str.sql")
    assert found(report) == {("0001_str.sql", 3, "I101")}
    assert code == 1


# --- --select / --ignore ---------------------------------------------------------------------

SELECT_SQL = (
    "CREATE TABLE a (id int);\n"          # I101
    "CREATE INDEX i ON a (id);\n"         # I102
    "DROP VIEW old;\n"                    # I201
    "CREATE TABLE IF NOT EXISTS \"Tab\" (id int);\n"  # N202 (quoted identifier)
)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        pytest.param([], {"I101", "I102", "I201", "N202"}, id="defaults"),
        pytest.param(["--ignore", "I101"], {"I102", "I201", "N202"}, id="ignore-code"),
        pytest.param(["--ignore", "I1"], {"I201", "N202"}, id="ignore-prefix"),
        pytest.param(["--ignore", "idempotency"], {"N202"}, id="ignore-category"),
        pytest.param(["--ignore", "naming,I2"], {"I101", "I102"}, id="ignore-list"),
        pytest.param(
            ["--ignore", "I101", "--ignore", "I102"], {"I201", "N202"}, id="ignore-repeated",
        ),
        pytest.param(
            ["--ignore", "create-table-without-if-not-exists"], {"I102", "I201", "N202"},
            id="ignore-rule-name",
        ),
        pytest.param(["--select", "I101"], {"I101", "I102", "I201", "N202"}, id="select-code"),
        pytest.param(
            ["--select", "I", "--ignore", "I102"], {"I101", "I201", "N202"},
            id="ignore-wins-over-select",
        ),
        pytest.param(
            ["--select", "naming", "--ignore", "I"], {"N202"}, id="select-category",
        ),
    ],
)
def test_select_and_ignore(
    capsys: pytest.CaptureFixture[str], flags: list[str], expected: set[str]
) -> None:
    write("0001_sel.sql", SELECT_SQL)
    code, report = run_json(capsys, "check", "0001_sel.sql", *flags)
    assert codes(report) == expected
    assert code == 1


def test_ignore_in_config(capsys: pytest.CaptureFixture[str]) -> None:
    write("0001_sel.sql", SELECT_SQL)
    write("ddlguard.toml", 'ignore = ["I1", "naming"]\n')
    code, report = run_json(capsys, "check", "0001_sel.sql")
    assert codes(report) == {"I201"}
    code, report = run_json(capsys, "check", "0001_sel.sql", "--ignore", "I2")
    assert codes(report) == set()
    assert code == 0


INDEX_SQL = (
    "CREATE TABLE IF NOT EXISTS phone_number_inventory (id int, status text, tenant_id int);\n"
    "CREATE INDEX IF NOT EXISTS idx_phone_number_inventory_status\n"
    "    ON phone_number_inventory (status);\n"
    "CREATE INDEX IF NOT EXISTS idx_phone_number_tenant ON phone_number_inventory (tenant_id);\n"
)


def test_index_name_template_off_until_configured(capsys: pytest.CaptureFixture[str]) -> None:
    write("0001_idx.sql", INDEX_SQL)
    code, report = run_json(capsys, "check", "0001_idx.sql")
    assert report["findings"] == []
    assert code == 0
    code, report = run_json(capsys, "check", "0001_idx.sql", "--select", "N103")
    assert report["findings"] == []
    assert code == 0


def test_index_name_template_fires_when_configured(capsys: pytest.CaptureFixture[str]) -> None:
    write("0001_idx.sql", INDEX_SQL)
    write("ddlguard.toml", '[naming]\nindex = "^idx_{table}_{columns}$"\n')
    code, report = run_json(capsys, "check", "0001_idx.sql")
    assert found(report) == {("0001_idx.sql", 4, "N103")}
    [finding] = report["findings"]
    assert finding["column"] == len("CREATE INDEX IF NOT EXISTS ") + 1
    assert finding["object"] == "public.idx_phone_number_tenant"
    assert finding["category"] == "naming"
    assert code == 1
    code, report = run_json(capsys, "check", "0001_idx.sql", "--ignore", "N103")
    assert report["findings"] == []


MIGRATION_NAMES = {
    "0001_init.sql": True,
    "0002_add_users.sql": True,
    "0010_tenant_3cx.sql": True,
    "FIX_PRODUCTION_SCHEMA.sql": False,
    "add_country_codes.sql": False,
    "0003-add-tags.sql": False,
    "12_short.sql": False,
    "0004_CamelCase.sql": False,
}


def _write_named_migrations(with_file_rule: bool) -> None:
    config = 'migrations = ["migrations/*.sql"]\n'
    if with_file_rule:
        config += f"[naming]\nmigration-file = '{MIGRATION_FILE_PATTERN}'\n"
    write("ddlguard.toml", config)
    for name in MIGRATION_NAMES:
        write(f"migrations/{name}", "SELECT 1;\n")
    write("scripts/Adhoc-Report.sql", "SELECT 1;\n")


def test_migration_file_name(capsys: pytest.CaptureFixture[str]) -> None:
    _write_named_migrations(with_file_rule=True)
    bad = {(f"migrations/{n}", 1, "N301") for n, ok in MIGRATION_NAMES.items() if not ok}
    code, report = run_json(capsys, "check", "migrations", "scripts")
    assert found(report) == bad  # scripts/Adhoc-Report.sql is not a migration
    assert code == 1
    # No paths: the configured migrations, same result.
    code, report = run_json(capsys, "check")
    assert found(report) == bad
    code, report = run_json(capsys, "check", "scripts/Adhoc-Report.sql")
    assert report["findings"] == []
    assert code == 0


def test_migration_file_name_off_without_pattern(capsys: pytest.CaptureFixture[str]) -> None:
    _write_named_migrations(with_file_rule=False)
    code, report = run_json(capsys, "check", "migrations", "scripts")
    assert report["findings"] == []
    assert code == 0


# --- configuration discovery -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("ddlguard.toml", '[naming]\nindex = "^idx_{table}_{columns}$"\n'),
        (".ddlguard.toml", '[naming]\nindex = "^idx_{table}_{columns}$"\n'),
        (
            "pyproject.toml",
            '[project]\nname = "x"\n\n[tool.ddlguard.naming]\nindex = "^idx_{table}_{columns}$"\n',
        ),
    ],
)
def test_config_found_from_a_subfolder(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    name: str,
    content: str,
) -> None:
    write(name, content)
    sub = tmp_path / "db" / "migrations"
    write(sub / "0001_idx.sql", INDEX_SQL)
    monkeypatch.chdir(sub)
    code, report = run_json(capsys, "check", "0001_idx.sql")
    assert found(report) == {("0001_idx.sql", 4, "N103")}
    assert code == 1


def test_pyproject_without_section_is_not_a_config(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write("ddlguard.toml", '[naming]\nindex = "^idx_{table}_{columns}$"\n')
    write("pkg/pyproject.toml", '[project]\nname = "pkg"\n')
    write("pkg/0001_idx.sql", INDEX_SQL)
    monkeypatch.chdir(tmp_path / "pkg")
    code, report = run_json(capsys, "check", "0001_idx.sql")
    assert codes(report) == {"N103"}
    assert code == 1


def test_explicit_config_overrides_discovery(capsys: pytest.CaptureFixture[str]) -> None:
    write("ddlguard.toml", 'ignore = ["I"]\n')
    write("other/strict.toml", "ignore = []\n")
    write("0001.sql", DIRTY_SQL)
    code, report = run_json(capsys, "check", "0001.sql")
    assert report["findings"] == []
    code, report = run_json(capsys, "check", "0001.sql", "--config", "other/strict.toml")
    assert codes(report) == {"I101"}
    assert code == 1


def test_check_without_paths_uses_migrations_and_snapshots(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write(
        "ddlguard.toml",
        'migrations = ["db/migrations/*.sql"]\nsnapshots = ["db/PRODUCTION_DEPLOYMENT.sql"]\n',
    )
    write("db/migrations/0001_a.sql", "CREATE TABLE a (id int);\n")
    write("db/migrations/0010_b.sql", "\nCREATE TABLE b (id int);\n")
    write("db/migrations/0002_ok.sql", CLEAN_SQL)
    write("db/PRODUCTION_DEPLOYMENT.sql", "\\set ON_ERROR_STOP on\nCREATE TABLE s (id int);\n")
    write("db/scratch/not_configured.sql", "CREATE TABLE x (id int);\n")
    code, report = run_json(capsys, "check")
    assert code == 1
    assert found(report) == {
        ("db/migrations/0001_a.sql", 1, "I101"),
        ("db/migrations/0010_b.sql", 2, "I101"),
        ("db/PRODUCTION_DEPLOYMENT.sql", 2, "I101"),
    }
    assert report["summary"]["files"] == 4
    # From a subfolder: the same files, paths relative to the working directory.
    monkeypatch.chdir(tmp_path / "db")
    code, report = run_json(capsys, "check")
    assert found(report) == {
        ("migrations/0001_a.sql", 1, "I101"),
        ("migrations/0010_b.sql", 2, "I101"),
        ("PRODUCTION_DEPLOYMENT.sql", 2, "I101"),
    }


# --- ddlguard rules --------------------------------------------------------------------------


def _squash(text: str) -> str:
    return "".join(text.split())


def test_rules_lists_every_rule(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "rules")
    assert code == 0
    assert err == ""
    rules = all_rules()
    assert len(rules) >= 30
    for rule in rules:
        assert re.search(rf"\b{rule.code}\b", out), rule.code
        assert rule.name in out, rule.name


@pytest.mark.parametrize("name", ["I101", "i101", "create-table-without-if-not-exists"])
def test_rules_explains_one(capsys: pytest.CaptureFixture[str], name: str) -> None:
    code, out, err = run(capsys, "rules", name)
    assert code == 0
    assert err == ""
    [rule] = [r for r in all_rules() if r.code == "I101"]
    assert "I101" in out
    assert rule.name in out
    for part in (rule.summary, rule.why, rule.bad, rule.good, rule.fix_hint):
        assert _squash(part) in _squash(out), part


def test_every_rule_is_documented() -> None:
    for rule in all_rules():
        assert re.fullmatch(r"[A-Z]\d{3}", rule.code), rule.code
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.name), rule.name
        for field in ("summary", "why", "bad", "good", "fix_hint"):
            assert getattr(rule, field).strip(), f"{rule.code}.{field} is empty"


# Naming templates so that the template rules (N103-N107) have something to compare with.
DOC_EXAMPLE_CONFIG = f"""\
migrations = ["migrations/*.sql"]
[naming]
index = "^idx_{{table}}_{{columns}}$"
unique = "^{{table}}_{{columns}}_key$"
foreign-key = "^{{table}}_{{columns}}_fkey$"
primary-key = "^{{table}}_pkey$"
check = "^{{table}}_{{columns}}_check$"
migration-file = '{MIGRATION_FILE_PATTERN}'
"""


@pytest.mark.parametrize(
    "rule",
    # I801-I803 come from `ddlguard verify` on a real PostgreSQL: test_verify.py checks their
    # examples there.
    [r for r in all_rules() if r.code[0] in "IN" and not r.code.startswith("I8")],
    ids=lambda r: r.code,
)
def test_rule_examples(capsys: pytest.CaptureFixture[str], rule: Any) -> None:
    """Each rule's documented bad example is flagged by it, its good example is not.

    E rules are left out: E002's example is about bytes on disk and E003/E901/E902 examples are
    about whole files and comments; they are covered by the tests above.
    """
    write("ddlguard.toml", DOC_EXAMPLE_CONFIG)
    if rule.code == "N301":
        # The examples are migration file names, not SQL.
        bad = write(rule.bad, CLEAN_SQL)
        good = write(rule.good, CLEAN_SQL)
    else:
        bad = write("migrations/0001_bad.sql", rule.bad + "\n")
        good = write("migrations/0002_good.sql", rule.good + "\n")
    code, report = run_json(capsys, "check", "--select", rule.code, bad)
    assert rule.code in codes(report), (rule.code, report["findings"])
    assert "E001" not in codes(report), "the bad example is not valid SQL"
    assert code == 1
    _, report = run_json(capsys, "check", "--select", rule.code, good)
    assert rule.code not in codes(report), (rule.code, report["findings"])
    assert "E001" not in codes(report), "the good example is not valid SQL"


# --- the UCR Manager example -----------------------------------------------------------------

UCR_EXPECTED = {
    ("0002_tenant_3cx_credentials.sql", 5, "I101"),
    ("0004_phone_number_inventory.sql", 32, "I102"),
    ("0006_connectwise_integration.sql", 11, "I101"),
    ("0006_connectwise_integration.sql", 29, "I102"),
    ("0006_connectwise_integration.sql", 33, "I107"),
    ("0006_connectwise_integration.sql", 34, "I107"),
    ("FIX_PRODUCTION_SCHEMA.sql", 88, "I107"),
    ("ADD_PHONE_NUMBER_INVENTORY.sql", 15, "I701"),
    ("add_country_codes.sql", 13, "I601"),
    ("FIX_PRODUCTION_SCHEMA.sql", 1, "N301"),
    ("ADD_PHONE_NUMBER_INVENTORY.sql", 1, "N301"),
    ("add_country_codes.sql", 1, "N301"),
    # Safety: the rebuild drops the production inventory; indexes and SET NOT NULL lock tables
    # that exist in production (created by earlier migrations or PRODUCTION_DEPLOYMENT.sql).
    ("ADD_PHONE_NUMBER_INVENTORY.sql", 15, "S404"),
    ("FIX_PRODUCTION_SCHEMA.sql", 53, "S101"),
    ("FIX_PRODUCTION_SCHEMA.sql", 99, "S303"),
    ("FIX_PRODUCTION_SCHEMA.sql", 100, "S303"),
    ("add_country_codes.sql", 29, "S101"),
}


def _by_file_name(report: dict[str, Any]) -> set[tuple[str, int, str]]:
    return {(Path(p).name, line, c) for p, line, c in found(report)}


def test_audit_ucr_manager(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    code, report = run_json(capsys, "audit", EXAMPLE)
    assert code == 1
    # Everything at once: the statement rules and integrity on every file...
    checked = {"findings": [f for f in report["findings"] if f["category"] != "drift"]}
    assert _by_file_name(checked) == UCR_EXPECTED
    for f in checked["findings"]:
        assert f["path"].startswith("examples/ucr-manager/migrations/"), f["path"]
    # ...and the snapshot's drift against shared/schema.ts (the seed's list: 5 renames, 17
    # missing columns, the CHECK of the missing number_type).
    drift = [f["code"] for f in report["findings"] if f["category"] == "drift"]
    assert sorted(drift) == ["D201"] * 17 + ["D203"] * 5 + ["D304"]
    assert {f["path"] for f in report["findings"] if f["category"] == "drift"} == {
        "examples/ucr-manager/migrations/PRODUCTION_DEPLOYMENT.sql",
        "examples/ucr-manager/shared/schema.ts",
    }
    assert report["summary"]["files"] == 10
    # The text report a person reads, and the markdown one, name the same problems.
    code, out, err = run(capsys, "audit", EXAMPLE)
    assert code == 1
    assert "Traceback" not in err
    assert "examples/ucr-manager/migrations/FIX_PRODUCTION_SCHEMA.sql:88:" in out
    code, out, err = run(capsys, "audit", EXAMPLE, "--format", "markdown")
    assert code == 1
    assert "<!-- ddlguard-report -->" in out
    assert "FIX_PRODUCTION_SCHEMA.sql" in out


def test_check_inside_ucr_manager(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(EXAMPLE)
    code, out, err = run(capsys, "check", "--format", "json")
    assert "Traceback" not in err
    assert code == 1
    report = json.loads(out)
    assert _by_file_name(report) == UCR_EXPECTED
    for f in report["findings"]:
        assert f["path"].startswith("migrations/"), f["path"]
    # The snapshot is checked too (it has meta-commands and nothing to find).
    assert report["summary"]["files"] == 10


def test_check_ucr_manager_file_names_as_pre_commit_passes_them(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(EXAMPLE)
    code, report = run_json(
        capsys, "check", "migrations/0006_connectwise_integration.sql",
        "migrations/PRODUCTION_DEPLOYMENT.sql",
    )
    assert code == 1
    assert found(report) == {
        ("migrations/0006_connectwise_integration.sql", 11, "I101"),
        ("migrations/0006_connectwise_integration.sql", 29, "I102"),
        ("migrations/0006_connectwise_integration.sql", 33, "I107"),
        ("migrations/0006_connectwise_integration.sql", 34, "I107"),
    }


# --- the installed console script ------------------------------------------------------------


def _script_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"NO_COLOR", "FORCE_COLOR"}}
    env.pop("DDLGUARD_DEBUG", None)
    return env


def test_console_script_check(tmp_path: Path) -> None:
    script = ddlguard_script()
    write(tmp_path / "migrations" / "0001_init.sql", "-- init\n" + DIRTY_SQL)
    write(tmp_path / "migrations" / "0002_ok.sql", CLEAN_SQL)
    proc = subprocess.run(
        [script, "check", "migrations/0001_init.sql", "migrations/0002_ok.sql"],
        cwd=tmp_path, capture_output=True, text=True, env=_script_env(), timeout=120,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""
    assert "migrations/0001_init.sql:2:1: I101" in proc.stdout
    assert "\x1b[" not in proc.stdout  # a pipe is not a terminal

    proc = subprocess.run(
        [script, "check", "migrations/0002_ok.sql"],
        cwd=tmp_path, capture_output=True, text=True, env=_script_env(), timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_console_script_bad_input(tmp_path: Path) -> None:
    script = ddlguard_script()
    write(tmp_path / "ddlguard.toml", "pg-version = [15]\n")
    write(tmp_path / "a.sql", CLEAN_SQL)
    proc = subprocess.run(
        [script, "check", "a.sql"],
        cwd=tmp_path, capture_output=True, text=True, env=_script_env(), timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    [line] = proc.stderr.strip().splitlines()
    assert "ddlguard.toml" in line
    assert "pg-version" in line

    (tmp_path / "ddlguard.toml").unlink()
    proc = subprocess.run(
        [script, "check", "does_not_exist.sql"],
        cwd=tmp_path, capture_output=True, text=True, env=_script_env(), timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "does_not_exist.sql" in proc.stderr


def test_console_script_version(tmp_path: Path) -> None:
    proc = subprocess.run(
        [ddlguard_script(), "--version"],
        cwd=tmp_path, capture_output=True, text=True, env=_script_env(), timeout=120,
        check=False,
    )
    assert proc.returncode == 0
    assert ddlguard.__version__ in proc.stdout


def test_no_cache_does_not_leak_into_the_callers_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DDLGUARD_NO_CACHE", raising=False)
    write("0001_a.sql", "CREATE TABLE IF NOT EXISTS a (id int);\n")
    assert main(["check", "--no-cache", "0001_a.sql"]) == 0
    capsys.readouterr()
    assert "DDLGUARD_NO_CACHE" not in os.environ
