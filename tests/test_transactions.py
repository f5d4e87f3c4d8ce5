"""Transaction modes per migration tool (sql/transactions.py) and what parse() makes of them."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ddlguard.sql.source import SqlFile
from ddlguard.sql.statements import Statement, parse
from ddlguard.sql.transactions import DOWN, TOOLS, UP, Layout, layout


def _file(text: str, name: str = "0001_init.sql", folder: Path | None = None) -> SqlFile:
    path = (folder or Path("migrations")) / name
    return SqlFile(path=path, display=path.as_posix(), text=text)


def _top(
    text: str, tool: str, name: str = "0001_init.sql", folder: Path | None = None
) -> list[Statement]:
    return list(parse(_file(text, name, folder), tool=tool).top_level())


def _modes(stmts: list[Statement]) -> list[tuple[str, str, bool]]:
    """(first word, section, in_transaction) of each statement that is not BEGIN/COMMIT."""
    return [
        (s.text.split()[0].upper(), s.section, s.in_transaction)
        for s in stmts
        if s.kind != "TransactionStmt"
    ]


def _partitions(lay: Layout, text: str) -> None:
    assert lay.sections, "a layout has at least one section"
    assert lay.sections[0].start == 0
    assert lay.sections[-1].end == len(text)
    for a, b in zip(lay.sections, lay.sections[1:], strict=False):
        assert a.end == b.start
        assert a.start < a.end
    for s in lay.sections:
        assert s.direction in (UP, DOWN)
        if s.marker is not None:
            assert s.start <= s.marker.start < s.end or s.start == s.marker.start


# --- psql ---------------------------------------------------------------------------------------


def test_psql_no_transaction_unless_the_file_has_one() -> None:
    text = "CREATE TABLE a (id int);\nBEGIN;\nCREATE TABLE b (id int);\nCOMMIT;\nCREATE TABLE c (id int);\n"
    assert _modes(_top(text, "psql")) == [
        ("CREATE", UP, False),
        ("CREATE", UP, True),
        ("CREATE", UP, False),
    ]
    lay = layout("m.sql", text, "psql")
    assert [(s.start, s.end, s.direction, s.transaction) for s in lay.sections] == [
        (0, len(text), UP, False)
    ]
    assert lay.markers == () and lay.batches == ()


def test_unknown_tool_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown migration tool 'liquibase'"):
        layout("m.sql", "SELECT 1;", "liquibase")


# --- goose --------------------------------------------------------------------------------------

GOOSE = """\
-- +goose Up
CREATE TABLE users (id int);
-- +goose StatementBegin
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RETURN NEW;
END $$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION touch();
DROP TABLE users;
"""


def test_goose_up_and_down_sections_in_a_transaction() -> None:
    lay = layout("00001_users.sql", GOOSE, "goose")
    _partitions(lay, GOOSE)
    assert [(s.direction, s.transaction) for s in lay.sections] == [(UP, True), (DOWN, True)]
    down = GOOSE.index("-- +goose Down")
    assert lay.sections[1].start == down
    assert lay.sections[1].marker is not None and lay.sections[1].marker.text == "-- +goose Down"
    assert [m.kind for m in lay.markers] == [UP, "statement-begin", "statement-end", DOWN]
    begin, end = lay.batches[0]
    assert GOOSE[begin:end].strip().startswith("CREATE FUNCTION touch()")
    assert _modes(_top(GOOSE, "goose")) == [
        ("CREATE", UP, True),
        ("CREATE", UP, True),
        ("DROP", DOWN, True),
        ("DROP", DOWN, True),
    ]


def test_goose_no_transaction() -> None:
    text = (
        "-- +goose NO TRANSACTION\n-- +goose Up\n"
        "CREATE INDEX CONCURRENTLY idx_users_email ON users (email);\n"
        "CREATE INDEX CONCURRENTLY idx_users_name ON users (name);\n"
        "-- +goose Down\nDROP INDEX CONCURRENTLY idx_users_email;\n"
    )
    lay = layout("00002_idx.sql", text, "goose")
    assert [(s.direction, s.transaction) for s in lay.sections] == [(UP, False), (DOWN, False)]
    assert lay.reason == "-- +goose NO TRANSACTION"
    # goose sends the statements one by one: no implicit transaction block either.
    assert _modes(_top(text, "goose")) == [
        ("CREATE", UP, False),
        ("CREATE", UP, False),
        ("DROP", DOWN, False),
    ]


def test_goose_annotations_are_case_insensitive_and_start_the_line() -> None:
    text = "-- +goose up\nSELECT 1;\n  -- +goose Down\nSELECT 2;\n--+goose DOWN\nSELECT 3;\n"
    lay = layout("1.sql", text, "goose")
    assert [m.kind for m in lay.markers] == [UP, DOWN]
    assert lay.sections[1].start == text.index("--+goose DOWN")
    assert [s.section for s in _top(text, "goose")] == [UP, UP, DOWN]


def test_goose_statements_in_one_block_share_a_query_string() -> None:
    text = (
        "-- +goose NO TRANSACTION\n-- +goose Up\n-- +goose StatementBegin\n"
        "CREATE TABLE a (id int);\nCREATE INDEX CONCURRENTLY idx_a_id ON a (id);\n"
        "-- +goose StatementEnd\nCREATE INDEX CONCURRENTLY idx_a_id2 ON a (id);\n"
    )
    # Two statements in one StatementBegin/End block reach PostgreSQL as one query string: an
    # implicit transaction block (CREATE INDEX CONCURRENTLY fails there).
    assert _modes(_top(text, "goose")) == [
        ("CREATE", UP, True),
        ("CREATE", UP, True),
        ("CREATE", UP, False),
    ]


def test_goose_explicit_commit_ends_the_tools_transaction() -> None:
    text = (
        "-- +goose Up\nCREATE TABLE a (id int);\nCOMMIT;\n"
        "CREATE INDEX CONCURRENTLY idx_a_id ON a (id);\nBEGIN;\nCREATE TABLE b (id int);\n"
    )
    assert _modes(_top(text, "goose")) == [
        ("CREATE", UP, True),
        ("CREATE", UP, False),
        ("CREATE", UP, True),
    ]


def test_goose_explicit_begin_inside_the_tools_transaction_stays_inside() -> None:
    text = (
        "-- +goose Up\nBEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\n-- +goose Down\nDROP TABLE a;\n"
    )
    assert _modes(_top(text, "goose")) == [("CREATE", UP, True), ("DROP", DOWN, True)]


def test_do_block_statements_share_their_blocks_section() -> None:
    text = (
        "-- +goose Up\nSELECT 1;\n-- +goose Down\n-- +goose StatementBegin\n"
        "DO $$\nBEGIN\n    DROP TABLE IF EXISTS t;\nEND $$;\n-- +goose StatementEnd\n"
    )
    parsed = parse(_file(text), tool="goose")
    inner = [s for s in parsed.statements if s.context == "do"]
    assert inner and all(s.section == DOWN and s.in_transaction for s in inner)


# --- dbmate -------------------------------------------------------------------------------------

DBMATE = """\
-- migrate:up transaction:false
CREATE INDEX CONCURRENTLY idx_users_email ON users (email);

-- migrate:down
DROP INDEX idx_users_email;
"""


def test_dbmate_sections_and_transaction_false() -> None:
    lay = layout("20240101000000_idx.sql", DBMATE, "dbmate")
    _partitions(lay, DBMATE)
    assert [(s.direction, s.transaction) for s in lay.sections] == [(UP, False), (DOWN, True)]
    assert [m.text for m in lay.markers] == ["-- migrate:up transaction:false", "-- migrate:down"]
    assert lay.reason == "-- migrate:up transaction:false"
    assert _modes(_top(DBMATE, "dbmate")) == [("CREATE", UP, False), ("DROP", DOWN, True)]


def test_dbmate_section_is_one_query_string() -> None:
    text = (
        "-- migrate:up transaction:false\n"
        "CREATE INDEX CONCURRENTLY idx_a ON t (a);\nCREATE INDEX CONCURRENTLY idx_b ON t (b);\n"
        "-- migrate:down transaction:false\nDROP INDEX CONCURRENTLY idx_a;\n"
    )
    # dbmate sends the whole section at once: two statements are one implicit transaction block
    # (dbmate issue #126), a single one is not.
    assert _modes(_top(text, "dbmate")) == [
        ("CREATE", UP, True),
        ("CREATE", UP, True),
        ("DROP", DOWN, False),
    ]


def test_dbmate_without_markers_is_one_up_section() -> None:
    lay = layout("x.sql", "CREATE TABLE t (id int);\n", "dbmate")
    assert [(s.direction, s.transaction) for s in lay.sections] == [(UP, True)]


# --- flyway -------------------------------------------------------------------------------------


def test_flyway_runs_each_migration_in_a_transaction(tmp_path: Path) -> None:
    text = "CREATE TABLE t (id int);\nCREATE INDEX idx_t_id ON t (id);\n"
    lay = layout(tmp_path / "V1__init.sql", text, "flyway")
    assert [(s.direction, s.transaction) for s in lay.sections] == [(UP, True)]
    assert lay.reopens and lay.reason == ""
    assert _modes(_top(text, "flyway", "V1__init.sql", tmp_path)) == [
        ("CREATE", UP, True),
        ("CREATE", UP, True),
    ]


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE INDEX CONCURRENTLY idx_t_id ON t (id)",
        "create unique index\n  concurrently idx_t_id on t (id)",
        "DROP INDEX CONCURRENTLY idx_t_id",
        "/* online */ CREATE INDEX CONCURRENTLY idx_t_id ON t (id)",
        "VACUUM ANALYZE t",
        "REINDEX DATABASE app",
        "ALTER SYSTEM SET work_mem = '64MB'",
        "CREATE DATABASE other",
        "DISCARD ALL",
    ],
)
def test_flyway_detects_statements_that_cannot_run_in_a_transaction(
    tmp_path: Path, statement: str
) -> None:
    text = f"-- an index\n{statement};\n"
    lay = layout(tmp_path / "V2__idx.sql", text, "flyway")
    assert [s.transaction for s in lay.sections] == [False]
    assert "cannot run in a transaction" in lay.reason


def test_flyway_transactional_lookalikes(tmp_path: Path) -> None:
    text = (
        "CREATE INDEX idx_concurrently ON t (concurrently);\n"
        "REINDEX TABLE t;\nANALYZE t;\n-- VACUUM in a comment\nSELECT 'VACUUM';\n"
    )
    assert [s.transaction for s in layout(tmp_path / "V3__x.sql", text, "flyway").sections] == [
        True
    ]


def test_flyway_script_configuration_file(tmp_path: Path) -> None:
    text = "UPDATE t SET a = 1;\nUPDATE t SET b = 2;\n"
    (tmp_path / "V4__backfill.sql.conf").write_text(
        "# run it in batches\nencoding=UTF-8\nexecuteInTransaction = false\n"
    )
    lay = layout(tmp_path / "V4__backfill.sql", text, "flyway")
    assert [s.transaction for s in lay.sections] == [False]
    assert lay.reason == "executeInTransaction=false in V4__backfill.sql.conf"
    assert _modes(_top(text, "flyway", "V4__backfill.sql", tmp_path)) == [
        ("UPDATE", UP, False),
        ("UPDATE", UP, False),
    ]
    # The script configuration wins over Flyway's own detection, both ways.
    idx = "CREATE INDEX CONCURRENTLY idx_t_a ON t (a);\n"
    (tmp_path / "V5__idx.sql.conf").write_text("executeInTransaction=true\n")
    assert [s.transaction for s in layout(tmp_path / "V5__idx.sql", idx, "flyway").sections] == [
        True
    ]


def test_flyway_undo_migration_is_a_down_migration(tmp_path: Path) -> None:
    lay = layout(tmp_path / "U4__backfill.sql", "DROP TABLE t;\n", "flyway")
    assert [(s.direction, s.transaction) for s in lay.sections] == [(DOWN, True)]
    assert layout(tmp_path / "V4__u.sql", "SELECT 1;", "flyway").sections[0].direction == UP


def test_flyway_starts_a_new_transaction_after_an_explicit_commit(tmp_path: Path) -> None:
    text = "UPDATE t SET a = 1;\nCOMMIT;\nUPDATE t SET b = 2;\n"
    assert _modes(_top(text, "flyway", "V6__x.sql", tmp_path)) == [
        ("UPDATE", UP, True),
        ("UPDATE", UP, True),
    ]


# --- golang-migrate -----------------------------------------------------------------------------


def test_golang_migrate_down_file() -> None:
    for name, direction in (("000001_users.up.sql", UP), ("000001_users.down.sql", DOWN)):
        lay = layout(name, "DROP TABLE users;\n", "golang-migrate")
        assert [(s.direction, s.transaction) for s in lay.sections] == [(direction, False)]
    assert _modes(_top("DROP TABLE users;\n", "golang-migrate", "000001_users.down.sql")) == [
        ("DROP", DOWN, False)
    ]


def test_golang_migrate_sends_the_file_as_one_query_string() -> None:
    one = "CREATE INDEX CONCURRENTLY idx_users_email ON users (email);\n"
    assert _modes(_top(one, "golang-migrate", "2_idx.up.sql")) == [("CREATE", UP, False)]
    # Two statements in one query string: PostgreSQL's implicit transaction block, where
    # CREATE INDEX CONCURRENTLY fails (golang-migrate issue #284).
    two = one + "CREATE INDEX CONCURRENTLY idx_users_name ON users (name);\n"
    assert _modes(_top(two, "golang-migrate", "2_idx.up.sql")) == [
        ("CREATE", UP, True),
        ("CREATE", UP, True),
    ]


# --- sqlx ---------------------------------------------------------------------------------------


def test_sqlx_transaction_and_no_transaction() -> None:
    text = "CREATE TABLE t (id int);\n"
    assert _modes(_top(text, "sqlx", "20240101_t.sql")) == [("CREATE", UP, True)]
    no_tx = "-- no-transaction\nCREATE INDEX CONCURRENTLY idx_t_id ON t (id);\n"
    lay = layout("20240102_idx.sql", no_tx, "sqlx")
    assert [s.transaction for s in lay.sections] == [False]
    assert [(m.kind, m.start, m.text) for m in lay.markers] == [
        ("no-transaction", 0, "-- no-transaction")
    ]
    assert _modes(_top(no_tx, "sqlx", "20240102_idx.sql")) == [("CREATE", UP, False)]


def test_sqlx_no_transaction_must_start_the_file() -> None:
    text = "\n-- no-transaction\nCREATE INDEX CONCURRENTLY idx_t_id ON t (id);\n"
    assert [s.transaction for s in layout("1_idx.sql", text, "sqlx").sections] == [True]


def test_sqlx_reversible_migrations() -> None:
    assert layout("1_t.up.sql", "SELECT 1;", "sqlx").sections[0].direction == UP
    down = layout("1_t.down.sql", "-- no-transaction\nDROP INDEX CONCURRENTLY i;", "sqlx")
    assert [(s.direction, s.transaction) for s in down.sections] == [(DOWN, False)]


# --- node-pg-migrate ----------------------------------------------------------------------------

NPM = """\
-- Up Migration
CREATE TABLE users (id int);
CREATE INDEX idx_users_id ON users (id);

-- Down Migration
DROP TABLE users;
"""


def test_node_pg_migrate_sections_always_in_a_transaction() -> None:
    lay = layout("1700000000000_users.sql", NPM, "node-pg-migrate")
    _partitions(lay, NPM)
    assert [(s.direction, s.transaction) for s in lay.sections] == [(UP, True), (DOWN, True)]
    assert [m.text for m in lay.markers] == ["-- Up Migration", "-- Down Migration"]
    assert _modes(_top(NPM, "node-pg-migrate")) == [
        ("CREATE", UP, True),
        ("CREATE", UP, True),
        ("DROP", DOWN, True),
    ]


def test_node_pg_migrate_markers_are_case_insensitive() -> None:
    text = "--- up migration\nSELECT 1;\n  -- DOWN MIGRATION\nSELECT 2;\n"
    assert [s.section for s in _top(text, "node-pg-migrate")] == [UP, DOWN]


# --- drizzle ------------------------------------------------------------------------------------


def test_drizzle_one_transaction_and_breakpoints() -> None:
    text = (
        'CREATE TABLE "users" ("id" serial PRIMARY KEY);\n--> statement-breakpoint\n'
        'CREATE INDEX "users_id_idx" ON "users" ("id");'
    )
    lay = layout("drizzle/0000_init.sql", text, "drizzle")
    assert [(s.direction, s.transaction) for s in lay.sections] == [(UP, True)]
    assert [(m.kind, text[m.start : m.end]) for m in lay.markers] == [
        ("breakpoint", "--> statement-breakpoint")
    ]
    assert len(lay.batches) == 2
    assert _modes(_top(text, "drizzle")) == [("CREATE", UP, True), ("CREATE", UP, True)]


# --- properties ---------------------------------------------------------------------------------

_PIECES = [
    "CREATE TABLE t (id int);\n",
    "DROP TABLE t;\n",
    "\n",
    "-- a comment\n",
    "-- +goose Up\n",
    "-- +goose Down\n",
    "-- +goose NO TRANSACTION\n",
    "-- +goose StatementBegin\n",
    "-- +goose StatementEnd\n",
    "-- migrate:up\n",
    "-- migrate:down transaction:false\n",
    "-- Up Migration\n",
    "-- Down Migration\n",
    "--> statement-breakpoint\n",
    "-- no-transaction\n",
    "BEGIN;\n",
    "COMMIT;\n",
]


@given(
    st.lists(st.sampled_from(_PIECES), max_size=14),
    st.sampled_from(TOOLS),
    st.sampled_from(["0001_x.sql", "0001_x.down.sql", "U1__x.sql", "V1__x.sql"]),
)
def test_sections_partition_the_file(pieces: list[str], tool: str, name: str) -> None:
    text = "".join(pieces)
    lay = layout(Path("/nonexistent") / name, text, tool)
    if text:
        _partitions(lay, text)
    else:
        assert [(s.start, s.end) for s in lay.sections] == [(0, 0)]
    for m in lay.markers:
        assert 0 <= m.start <= m.end <= len(text) and text[m.start : m.end] == m.text
    for start, end in lay.batches:
        assert 0 <= start <= end <= len(text)
    assert list(lay.batches) == sorted(lay.batches)
    # parse() agrees with the layout: every statement takes its section's direction.
    for s in parse(_file(text, name, Path("/nonexistent")), tool=tool).statements:
        assert s.section == lay.section_at(s.start).direction
        if tool == "psql":
            assert s.section == UP


# --- drift and verify: down sections are not replayed -------------------------------------------

GOOSE_USERS = """\
-- +goose Up
CREATE TABLE IF NOT EXISTS users (id bigint PRIMARY KEY, email text NOT NULL);
ALTER TABLE users ADD COLUMN IF NOT EXISTS name text;

-- +goose Down
ALTER TABLE users DROP COLUMN IF EXISTS name;
DROP TABLE IF EXISTS users;
"""
CANONICAL_USERS = "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, name text);\n"


def _project(root: Path, tool: str, migrations: dict[str, str]) -> None:
    (root / "db").mkdir()
    (root / "migrations").mkdir()
    (root / "db" / "schema.sql").write_text(CANONICAL_USERS)
    for name, text in migrations.items():
        (root / "migrations" / name).write_text(text)
    (root / "ddlguard.toml").write_text(
        f'migrations = ["migrations/*.sql"]\ncanonical = {{ sql = "db/schema.sql" }}\n'
        f'migration-tool = "{tool}"\n'
    )


def _drift(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, object]]]:
    import json

    from ddlguard.cli import main

    status = main([*args, "--format", "json"])
    out = capsys.readouterr().out
    return status, json.loads(out)["findings"] if out else []


def test_drift_does_not_replay_down_sections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DDLGUARD_NO_CACHE", "1")
    _project(tmp_path, "goose", {"00001_users.sql": GOOSE_USERS})
    assert _drift(capsys, "drift") == (0, [])
    # Read as a psql script, the same file drops everything again: the table is missing.
    (tmp_path / "ddlguard.toml").write_text(
        'migrations = ["migrations/*.sql"]\ncanonical = { sql = "db/schema.sql" }\n'
    )
    status, findings = _drift(capsys, "drift")
    assert status == 1 and {f["object"] for f in findings} == {"public.users"}


def test_drift_skips_down_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DDLGUARD_NO_CACHE", "1")
    up = "CREATE TABLE IF NOT EXISTS users (id bigint PRIMARY KEY, email text NOT NULL, name text);\n"
    files = {"000001_users.up.sql": up, "000001_users.down.sql": "DROP TABLE IF EXISTS users;\n"}
    for tool in ("golang-migrate", "sqlx"):
        root = tmp_path / tool
        root.mkdir()
        monkeypatch.chdir(root)
        _project(root, tool, files)
        # The glob sorts 000001_users.down.sql before 000001_users.up.sql: replayed, it would
        # not matter here, but a down file is never part of the schema.
        assert _drift(capsys, "drift") == (0, []), tool


def test_replay_skips_down_sections() -> None:
    from ddlguard.schema.model import QName
    from ddlguard.schema.replay import replay

    file = _file(GOOSE_USERS, "00001_users.sql")
    users = QName("public", "users")
    assert [t.name for t in replay([file], tool="goose").schema.tables] == [users]
    assert [t.name for t in replay([file]).schema.tables] == []


def test_check_reads_snapshots_as_psql_scripts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The tool's transaction modes apply to the migrations, not to other checked files."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DDLGUARD_NO_CACHE", "1")
    (tmp_path / "migrations").mkdir()
    text = "-- +goose Up\nCREATE TABLE t (id int);\n-- +goose Down\nDROP TABLE t;\n"
    (tmp_path / "migrations" / "00001_t.sql").write_text(text)
    (tmp_path / "snapshot.sql").write_text(text)
    (tmp_path / "ddlguard.toml").write_text(
        'migrations = ["migrations/*.sql"]\nsnapshots = ["snapshot.sql"]\n'
        'migration-tool = "goose"\nidempotency = "outside-transaction"\n'
    )
    status, findings = _drift(capsys, "check", "--select", "I")
    # The migration runs in goose's transaction: exempt. The snapshot is a psql script: its
    # CREATE TABLE runs outside any transaction, and its DROP makes a re-run start clean.
    assert (status, findings) == (0, [])
    (tmp_path / "snapshot.sql").write_text("CREATE TABLE t (id int);\n")
    status, findings = _drift(capsys, "check", "--select", "I")
    assert status == 1
    assert [(f["path"], f["code"]) for f in findings] == [("snapshot.sql", "I101")]


def test_verify_does_not_apply_down_sections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ddlguard.postgres.server import find_binary

    if not (find_binary("initdb") and find_binary("pg_ctl")):
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DDLGUARD_NO_CACHE", "1")
    _project(tmp_path, "goose", {"00001_users.sql": GOOSE_USERS})
    assert _drift(capsys, "verify") == (0, [])


def test_flyway_script_configuration_invalidates_cached_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DDLGUARD_NO_CACHE", raising=False)
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "V1__t.sql").write_text("CREATE TABLE t (id int);\n")
    (tmp_path / "ddlguard.toml").write_text(
        'migrations = ["sql/*.sql"]\nmigration-tool = "flyway"\nidempotency = "outside-transaction"\n'
    )
    assert _drift(capsys, "check", "--select", "I") == (0, [])
    (tmp_path / "sql" / "V1__t.sql.conf").write_text("executeInTransaction=false\n")
    status, findings = _drift(capsys, "check", "--select", "I")
    assert status == 1 and [f["code"] for f in findings] == ["I101"]
