"""PostgreSQL's acceptance checks in the engine: a statement that PostgreSQL rejects changes
nothing in the static replay and is reported with PostgreSQL's SQLSTATE; a real PostgreSQL is
the judge (the same statements, one by one, on a throwaway database)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ddlguard.cli import main
from ddlguard.engine import accept, names
from ddlguard.schema.diff import diff
from ddlguard.schema.replay import replay
from ddlguard.sources.database import introspect
from ddlguard.sql.source import SqlFile, blank_meta_commands
from ddlguard.sql.statements import parse
from helpers import fresh_database

# The minimal case: four statements PostgreSQL rejects.
REJECTED = """\
CREATE TABLE IF NOT EXISTS users (id uuid PRIMARY KEY DEFAULT gen_random_uuid());
CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY, author_id uuid, body text);
ALTER TABLE notes ALTER COLUMN author_id SET DATA TYPE integer;
CREATE TABLE IF NOT EXISTS tags (id serial PRIMARY KEY, note_id integer REFERENCES posts(id));
CREATE INDEX IF NOT EXISTS idx_notes_title ON notes (title);
ALTER TABLE notes ADD CONSTRAINT notes_body_check CHECK ((SELECT count(*) FROM users) > 0);
"""
REJECTED_LINES = {3: "42804", 4: "42P01", 5: "42703", 6: "0A000"}

SCHEMA_TS = """\
import { pgTable, uuid, serial, integer, text } from "drizzle-orm/pg-core";

export const users = pgTable("users", {
  id: uuid("id").primaryKey().defaultRandom(),
});

export const notes = pgTable("notes", {
  id: serial("id").primaryKey(),
  authorId: integer("author_id"),
  body: text("body"),
});

export const tags = pgTable("tags", {
  id: serial("id").primaryKey(),
  noteId: integer("note_id"),
});
"""

# More statements PostgreSQL rejects, each after a valid setup: (setup, statement, SQLSTATE).
CASES = [
    ("CREATE TABLE a (id uuid PRIMARY KEY);", "CREATE TABLE b (a_id integer REFERENCES a(id));", "42804"),
    ("CREATE TABLE a (id int PRIMARY KEY, v int);", "CREATE TABLE b (a_v int REFERENCES a(v));", "42830"),
    ("CREATE TABLE a (v int);", "CREATE TABLE b (a_v int REFERENCES a);", "42704"),
    ("CREATE TABLE a (id int PRIMARY KEY);", "CREATE TABLE b (a_id int REFERENCES a(nope));", "42703"),
    ("CREATE TABLE a (id int PRIMARY KEY);", "CREATE TABLE b (x int, FOREIGN KEY (y) REFERENCES a(id));", "42703"),
    ("CREATE TABLE a (id int);", "CREATE TABLE b (x int, x text);", "42701"),
    ("CREATE TABLE a (id int);", "ALTER TABLE a ADD CONSTRAINT a_pk PRIMARY KEY (nope);", "42703"),
    ("CREATE TABLE a (id int);", "ALTER TABLE a ADD CONSTRAINT a_c CHECK (nope > 0);", "42703"),
    ("CREATE TABLE a (s text);", "ALTER TABLE a ALTER COLUMN s TYPE integer;", "42804"),
    ("CREATE TABLE a (s text);", "ALTER TABLE a ALTER COLUMN s TYPE boolean;", "42804"),
    ("CREATE TABLE a (n integer);", "ALTER TABLE a ALTER COLUMN n TYPE boolean;", "42804"),
    ("CREATE TABLE a (n integer);", "ALTER TABLE a ALTER COLUMN n TYPE timestamp;", "42804"),
    ("CREATE TYPE mood AS ENUM ('a'); CREATE TABLE a (m text);", "ALTER TABLE a ALTER COLUMN m TYPE mood;", "42804"),
    (
        "CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (a_id int REFERENCES a(id));",
        "ALTER TABLE a ALTER COLUMN id TYPE uuid USING gen_random_uuid();",
        "42804",
    ),
    ("CREATE TABLE a (id int);", "ALTER TABLE a ADD CONSTRAINT a_pk PRIMARY KEY USING INDEX nope;", "42704"),
]

# Statements PostgreSQL accepts: no rejection, and the replay equals the catalog.
ACCEPTED = [
    "CREATE TABLE a (id bigint PRIMARY KEY); CREATE TABLE b (a_id integer REFERENCES a(id));",
    "CREATE TABLE a (id text PRIMARY KEY); CREATE TABLE b (a_id varchar(20) REFERENCES a(id));",
    "CREATE TABLE a (id int, CONSTRAINT a_u UNIQUE (id)); CREATE TABLE b (a_id int REFERENCES a(id));",
    "CREATE TABLE a (id int); CREATE UNIQUE INDEX a_id_idx ON a (id); CREATE TABLE b (a_id int REFERENCES a(id));",
    "CREATE TABLE t (parent int REFERENCES t(id), id int PRIMARY KEY);",
    "CREATE TABLE a (n integer); ALTER TABLE a ALTER COLUMN n TYPE text;",
    "CREATE TABLE a (n integer); ALTER TABLE a ALTER COLUMN n TYPE bigint;",
    "CREATE TABLE a (n bigint); ALTER TABLE a ALTER COLUMN n TYPE numeric(10,2);",
    "CREATE TABLE a (s text); ALTER TABLE a ALTER COLUMN s TYPE integer USING s::integer;",
    "CREATE TABLE a (t timestamp); ALTER TABLE a ALTER COLUMN t TYPE timestamptz;",
    "CREATE TABLE a (j json); ALTER TABLE a ALTER COLUMN j TYPE jsonb;",
    "CREATE TABLE a (v varchar(10)); ALTER TABLE a ALTER COLUMN v TYPE varchar(50);",
    "CREATE TYPE mood AS ENUM ('a'); CREATE TABLE a (m mood); ALTER TABLE a ALTER COLUMN m TYPE text;",
    "CREATE TABLE a (id int); CREATE TABLE c AS SELECT id, 1 AS extra FROM a; CREATE INDEX c_extra ON c (extra);",
    "CREATE TABLE a (id int, v int); ALTER TABLE a ADD CONSTRAINT a_v CHECK (v > 0 AND id IS NOT NULL);",
]


def _file(text: str, name: str = "m.sql") -> SqlFile:
    blanked, metas = blank_meta_commands(text)
    return SqlFile(path=Path(name), display=name, text=text, parse_text=blanked, meta_commands=metas)


def test_names_follow_postgresql() -> None:
    taken: set[str] = set()
    assert names.constraint_name("t", "u", ["a", "b"], taken.__contains__) == "t_a_b_key"
    assert names.constraint_name("t", "p", [], taken.__contains__) == "t_pkey"
    assert names.index_name("t", ["a", None, None], taken.__contains__) == "t_a_expr_expr1_idx"
    assert names.choose_name("t", "a", "key", {"t_a_key", "t_a_key1"}.__contains__) == "t_a_key2"
    long_table, long_col = "t" * 40, "c" * 40
    name = names.constraint_name(long_table, "f", [long_col], taken.__contains__)
    assert len(name.encode()) == 63 and name.endswith("_fkey")
    assert name == "t" * 29 + "_" + "c" * 28 + "_fkey"
    assert names.truncate("é" * 40) == "é" * 31  # 62 bytes: a character is never cut in half


def test_casts() -> None:
    assert accept.assignment_cast("uuid", "integer") is False
    assert accept.assignment_cast("integer", "text") is True
    assert accept.assignment_cast("text", "integer") is False
    assert accept.assignment_cast("integer", "bigint") is True
    assert accept.assignment_cast("my_domain", "integer") is None
    assert accept.assignment_cast("text", "mood", frozenset({"mood"})) is False
    assert accept.comparable("integer", "uuid") is False
    assert accept.comparable("integer", "bigint") is True
    assert accept.comparable("character varying(20)", "text") is True


def test_rejected_statements_change_nothing() -> None:
    replayed = replay([_file(REJECTED)])
    notes = {n.line: n.message for n in replayed.notes}
    assert set(notes) == set(REJECTED_LINES)
    for line, sqlstate in REJECTED_LINES.items():
        assert f"SQLSTATE {sqlstate}" in notes[line]
    schema = replayed.schema
    author = schema.table(_q("notes")).column("author_id")  # type: ignore[union-attr]
    assert author is not None and author.type == "uuid"
    assert schema.table(_q("tags")) is None
    assert schema.index("public", "idx_notes_title") is None
    assert schema.table(_q("notes")).constraint_named("notes_body_check") is None  # type: ignore[union-attr]


def _q(name: str) -> Any:
    from ddlguard.schema.model import QName

    return QName("public", name)


def test_drift_reports_what_postgresql_produces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "0001_init.sql").write_text(REJECTED)
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "schema.ts").write_text(SCHEMA_TS)
    (tmp_path / "ddlguard.toml").write_text(
        'migrations = ["migrations/*.sql"]\ncanonical = "shared/schema.ts"\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DDLGUARD_NO_CACHE", "1")
    status = main(["drift", "--format", "json"])
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert status == 1
    got = {(f["code"], f.get("object")) for f in findings if f["code"] != "D901"}
    assert ("D204", "public.notes.author_id") in got
    assert any(code == "D101" and obj == "public.tags" for code, obj in got)
    assert not any(code in ("D303", "D402", "D304") for code, _ in got), got
    rejected = {f["line"]: f["message"] for f in findings if f["code"] == "D901"}
    assert set(rejected) == set(REJECTED_LINES), rejected


def _run_on_postgres(cluster: Any, text: str) -> tuple[dict[int, str], Any]:
    """Each statement on its own, as verify runs them: line -> SQLSTATE of those that fail,
    and the catalog afterwards."""
    import psycopg

    conn = fresh_database(cluster, "accept")
    file = _file(text)
    failed: dict[int, str] = {}
    try:
        for stmt in parse(file).top_level():
            try:
                conn.execute(file.parse_text[stmt.start : stmt.end], prepare=False)
            except psycopg.Error as exc:
                failed[file.index.position(stmt.start)[0]] = str(exc.sqlstate)
        live = introspect(conn)
    finally:
        conn.close()
    return failed, live


def _assert_replay_equals(text: str, live: Any) -> None:
    replayed = replay([_file(text)]).schema
    differences = [(d.kind.value, d.object_name, d.detail) for d in diff(replayed, live)]
    assert differences == []


def test_postgresql_rejects_the_same_statements(cluster: Any) -> None:
    failed, live = _run_on_postgres(cluster, REJECTED)
    assert failed == REJECTED_LINES
    _assert_replay_equals(REJECTED, live)


@pytest.mark.parametrize(("setup", "statement", "sqlstate"), CASES)
def test_rejections_match_postgresql(cluster: Any, setup: str, statement: str, sqlstate: str) -> None:
    text = f"{setup}\n{statement}\n"
    failed, live = _run_on_postgres(cluster, text)
    line = text.count("\n")
    assert failed == {line: sqlstate}, "PostgreSQL disagrees with the case itself"
    notes = [n for n in replay([_file(text)]).notes if "rejects" in n.message]
    assert [(n.line, sqlstate) for n in notes] == [(line, sqlstate)]
    assert f"SQLSTATE {sqlstate}" in notes[0].message
    _assert_replay_equals(text, live)


@pytest.mark.parametrize("text", ACCEPTED)
def test_accepted_statements_are_not_rejected(cluster: Any, text: str) -> None:
    failed, live = _run_on_postgres(cluster, text)
    assert failed == {}, "PostgreSQL disagrees with the case itself"
    notes = [n.message for n in replay([_file(text)]).notes if "rejects" in n.message]
    assert notes == []
    if "AS SELECT" not in text:
        _assert_replay_equals(text, live)


def test_drift_and_verify_agree_on_rejected_statements(
    cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The static replay and a real PostgreSQL (verify) report the same drift, and the same
    rejected statements: D901 where verify says I803."""
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "0001_init.sql").write_text(REJECTED)
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "schema.ts").write_text(SCHEMA_TS)
    (tmp_path / "ddlguard.toml").write_text(
        'migrations = ["migrations/*.sql"]\ncanonical = "shared/schema.ts"\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DDLGUARD_NO_CACHE", "1")
    main(["drift", "--format", "json"])
    static = json.loads(capsys.readouterr().out)["findings"]
    url = f"postgresql://{cluster.user}@/postgres?host={cluster.socket_dir}&port={cluster.port}"
    main(["verify", "--format", "json", "--database-url", url])
    live = json.loads(capsys.readouterr().out)["findings"]

    def drift_of(findings: list[dict[str, Any]]) -> set[tuple[str, str]]:
        return {(f["code"], f["object"]) for f in findings if f["code"].startswith("D") and f["code"] != "D901"}

    assert drift_of(static) == drift_of(live) == {("D204", "public.notes.author_id"), ("D101", "public.tags")}
    assert {f["line"] for f in static if f["code"] == "D901"} == {
        f["line"] for f in live if f["code"] == "I803"
    } == set(REJECTED_LINES)


@pytest.mark.parametrize(
    "text",
    [
        'CREATE TABLE "Account" (id serial PRIMARY KEY, "userId" text DEFAULT NULL);',
        "CREATE SEQUENCE t_id_seq; CREATE TABLE t (id serial, n int DEFAULT NULL);",
        "CREATE TABLE " + "x" * 40 + " (" + "y" * 40 + " serial);",
    ],
)
def test_replay_names_sequences_and_drops_default_null_as_postgresql(cluster: Any, text: str) -> None:
    failed, live = _run_on_postgres(cluster, text)
    assert failed == {}
    _assert_replay_equals(text, live)
