"""The symbolic second run, judged by PostgreSQL: each file runs twice in a row on a real
database (after a setup that makes what it expects to exist), and the statements that fail the
second time must be exactly those that ``check`` reports as failing on a re-run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ddlguard.cli import main
from ddlguard.engine.rerun import second_run
from ddlguard.sql.source import SqlFile, blank_meta_commands
from ddlguard.sql.statements import parse
from helpers import fresh_database

# The codes whose message is "fails when the migration runs again".
FAILS = {f"I{n}" for n in (101, 102, 103, 104, 105, 106, 107, 201, 202, 203, 301, 302, 303, 304)} | {
    f"I{n}" for n in range(401, 409)
}

SETUP = """\
CREATE TABLE t (id int PRIMARY KEY, a int, b text);
CREATE UNIQUE INDEX old ON t (a);
CREATE TABLE vendors (id int PRIMARY KEY, name text);
CREATE TABLE docs (id int PRIMARY KEY, owner text);
ALTER TABLE docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY p ON docs USING (owner = current_user);
CREATE VIEW v AS SELECT 1 AS x;
CREATE TABLE w (id int PRIMARY KEY, d int, e int, CONSTRAINT w_e_uq UNIQUE (e));
"""

# (name, migration): each is a whole file, run twice.
CASES = [
    ("drop-then-create view", "DROP VIEW v;\nCREATE VIEW v AS SELECT 2 AS x;\n"),
    (
        "swap rename of an index",
        "CREATE UNIQUE INDEX tmp ON t (a, b);\nDROP INDEX old;\nALTER INDEX tmp RENAME TO old;\n",
    ),
    (
        "policy swap",
        "CREATE POLICY p2 ON docs USING (owner = session_user);\nDROP POLICY p ON docs;\n"
        "ALTER POLICY p2 ON docs RENAME TO p;\n",
    ),
    (
        "column-guarded DO block",
        "DO $$ BEGIN\n"
        "  IF NOT EXISTS (SELECT 1 FROM information_schema.columns\n"
        "                 WHERE table_name = 'vendors' AND column_name = 'slug') THEN\n"
        "    ALTER TABLE vendors ADD COLUMN slug text;\n"
        "    ALTER TABLE vendors ADD CONSTRAINT vendors_slug_unique UNIQUE (slug);\n"
        "  END IF;\n"
        "END $$;\n",
    ),
    (
        "plain creates fail",
        "CREATE TABLE n1 (id int);\nCREATE INDEX n1_id ON n1 (id);\nALTER TABLE t ADD COLUMN c int;\n",
    ),
    ("drop of what is gone", "DROP TABLE vendors;\n"),
    (
        "a guard on another column does not protect",
        "DO $$ BEGIN\n"
        "  IF NOT EXISTS (SELECT 1 FROM information_schema.columns\n"
        "                 WHERE table_name = 'vendors' AND column_name = 'title') THEN\n"
        "    ALTER TABLE vendors ADD COLUMN name2 text;\n"
        "  END IF;\n"
        "END $$;\n"
        "ALTER TABLE vendors ADD COLUMN extra text;\n",
    ),
    (
        "drop and re-add in one statement",
        "ALTER TABLE w DROP CONSTRAINT w_e_uq, ADD CONSTRAINT w_e_uq UNIQUE (e);\n"
        "ALTER TABLE w DROP COLUMN d, ADD COLUMN d int;\n",
    ),
    (
        "a dropped column takes its index and constraint along",
        "ALTER TABLE w ADD COLUMN z int;\nCREATE UNIQUE INDEX w_z ON w (z);\n"
        "ALTER TABLE w ADD CONSTRAINT w_z_uq UNIQUE (z);\nALTER TABLE w DROP COLUMN IF EXISTS z;\n",
    ),
    (
        "rename then re-add",
        "ALTER TABLE t ADD COLUMN tmp int;\nALTER TABLE t RENAME COLUMN tmp TO kept;\n",
    ),
]


def _file(text: str) -> SqlFile:
    blanked, metas = blank_meta_commands(text)
    return SqlFile(path=Path("m.sql"), display="m.sql", text=text, parse_text=blanked, meta_commands=metas)


def _checked(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> set[int]:
    """The lines of the top-level statements that ``check`` says fail on a re-run."""
    path = tmp_path / "0001_m.sql"
    path.write_text(text)
    main(["check", "--no-cache", "--format", "json", "--select", "idempotency", str(path)])
    findings = json.loads(capsys.readouterr().out)["findings"]
    file = _file(text)
    spans = [
        (file.index.position(s.start)[0], file.index.position(s.end)[0]) for s in parse(file).top_level()
    ]
    return {
        first
        for f in findings
        if f["code"] in FAILS
        for first, last in spans
        if first <= f["line"] <= last
    }


def test_swap_cases_are_safe_statically() -> None:
    for name, text in CASES[:4]:
        parsed = parse(_file(text))
        verdicts = second_run(parsed.statements)
        assert verdicts and all(v is True for v in verdicts.values()), name


def _postgres_second_run_failures(cluster: Any, text: str) -> set[int]:
    import psycopg

    conn = fresh_database(cluster, "rerun")
    file = _file(text)
    statements = list(parse(file).top_level())
    try:
        conn.execute(SETUP)
        for run in (1, 2):
            failed: set[int] = set()
            for stmt in statements:
                try:
                    conn.execute(file.parse_text[stmt.start : stmt.end], prepare=False)
                except psycopg.Error:
                    failed.add(file.index.position(stmt.start)[0])
            if run == 1:
                assert failed == set(), "the case itself must succeed on its first run"
    finally:
        conn.close()
    return failed


@pytest.mark.parametrize(("name", "text"), CASES, ids=[c[0] for c in CASES])
def test_check_equals_postgresql_on_the_second_run(
    cluster: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str
) -> None:
    expected = _postgres_second_run_failures(cluster, text)
    assert _checked(tmp_path, text, capsys) == expected
