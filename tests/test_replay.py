"""The static replay: statements applied to a Schema as PostgreSQL applies them."""

from __future__ import annotations

from pathlib import Path

import pytest

from ddlguard.schema.model import Column, Constraint, QName, Schema
from ddlguard.schema.normalize import expression
from ddlguard.schema.replay import Replayed, replay
from ddlguard.sources.sqlfile import read_sql_schema

FIXTURES = Path(__file__).parent / "fixtures" / "replay"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ucr-manager"


def _run(tmp_path: Path, *sqls: str) -> Replayed:
    paths = []
    for i, sql in enumerate(sqls):
        p = tmp_path / f"{i:04d}.sql"
        p.write_text(sql, encoding="utf-8")
        paths.append(p)
    return replay(paths)


def _t(r: Replayed, name: str, schema: str = "public"):  # type: ignore[no-untyped-def]
    t = r.schema.table(QName(schema, name))
    assert t is not None, f"no table {name}"
    return t


def test_create_table_columns_types_defaults(tmp_path: Path) -> None:
    r = _run(
        tmp_path,
        """CREATE TABLE IF NOT EXISTS connectwise_credentials (
            id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
            base_url TEXT NOT NULL,
            default_time_minutes INTEGER DEFAULT 15,
            auto_update_status BOOLEAN DEFAULT false,
            created_at TIMESTAMP DEFAULT NOW(),
            price numeric(10, 2) NULL,
            tags varchar(40)[]
        );""",
    )
    t = _t(r, "connectwise_credentials")
    assert t.columns == (
        Column("id", "uuid", nullable=False, default="gen_random_uuid()"),
        Column("base_url", "text", nullable=False),
        Column("default_time_minutes", "integer", default="15"),
        Column("auto_update_status", "boolean", default=expression("false")),
        Column("created_at", "timestamp without time zone", default="now()"),
        Column("price", "numeric(10,2)"),
        Column("tags", "character varying(40)[]"),
    )
    assert t.constraints == (Constraint("p", ("id",)),)
    assert t.constraints[0].name == "connectwise_credentials_pkey"
    assert r.notes == []


def test_implicit_constraint_and_index_names(tmp_path: Path) -> None:
    r = _run(
        tmp_path,
        """CREATE TABLE t (a int UNIQUE, b int, c int CHECK (c > 0), d int REFERENCES t (a),
                           UNIQUE (a, b), CHECK (b > a));
           CREATE INDEX ON t (b);
           CREATE INDEX ON t (b);
           CREATE INDEX ON t (lower(b::text));""",
    )
    names = sorted(k.name for k in _t(r, "t").constraints)
    assert names == ["t_a_b_key", "t_a_key", "t_b_check", "t_c_check", "t_d_fkey"]
    assert sorted(i.name for i in r.schema.indexes) == ["t_b_idx", "t_b_idx1", "t_expr_idx"]


def test_serial_and_identity(tmp_path: Path) -> None:
    r = _run(
        tmp_path,
        "CREATE TABLE calls (id serial PRIMARY KEY, n bigserial, k int GENERATED ALWAYS AS IDENTITY);",
    )
    t = _t(r, "calls")
    assert t.column("id") == Column(
        "id", "integer", nullable=False, default=expression("nextval('calls_id_seq'::regclass)")
    )
    assert t.column("n") == Column(
        "n", "bigint", nullable=False, default=expression("nextval('calls_n_seq'::regclass)")
    )
    assert t.column("k") == Column("k", "integer", nullable=False, identity="always")


def test_alter_table_commands(tmp_path: Path) -> None:
    r = _run(
        tmp_path,
        "CREATE TABLE p (id int PRIMARY KEY, a text, b text, c int);",
        """ALTER TABLE p ADD COLUMN IF NOT EXISTS d text DEFAULT 'x',
                         ADD COLUMN IF NOT EXISTS a integer,
                         DROP COLUMN IF EXISTS missing,
                         ALTER COLUMN c TYPE bigint,
                         ALTER COLUMN b SET NOT NULL,
                         ALTER COLUMN b SET DEFAULT 'y',
                         ADD CONSTRAINT p_c_check CHECK (c > 0) NOT VALID;
           ALTER TABLE p DROP COLUMN a;
           ALTER TABLE p ALTER COLUMN b DROP DEFAULT, ALTER COLUMN b DROP NOT NULL;
           ALTER TABLE IF EXISTS nothing_here ADD COLUMN x int;""",
    )
    t = _t(r, "p")
    assert t.column_names() == ("id", "b", "c", "d")
    assert t.column("c") == Column("c", "bigint")
    assert t.column("b") == Column("b", "text")
    assert t.column("d") == Column("d", "text", default="'x'")
    assert [k.name for k in t.constraints] == ["p_pkey", "p_c_check"]
    assert r.notes == []


def test_renames_follow_through(tmp_path: Path) -> None:
    r = _run(
        tmp_path,
        """CREATE TABLE a (id int PRIMARY KEY, server_url text);
           CREATE TABLE b (a_id int REFERENCES a (id));
           CREATE INDEX idx_a_url ON a (server_url);
           ALTER TABLE a RENAME COLUMN server_url TO base_url;
           ALTER TABLE a RENAME COLUMN id TO a_id;
           ALTER TABLE a RENAME TO accounts;
           ALTER INDEX idx_a_url RENAME TO idx_accounts_base_url;""",
    )
    acc = _t(r, "accounts")
    assert acc.column_names() == ("a_id", "base_url")
    assert r.schema.table(QName("public", "a")) is None
    (idx,) = r.schema.indexes
    assert (idx.name, idx.table.name, idx.keys) == (
        "idx_accounts_base_url",
        "accounts",
        ("base_url",),
    )
    fk = _t(r, "b").constraints[0]
    assert (fk.ref_table, fk.ref_columns) == (QName("public", "accounts"), ("a_id",))


def test_enums(tmp_path: Path) -> None:
    r = _run(
        tmp_path,
        """CREATE TYPE s AS ENUM ('available', 'used');
           ALTER TYPE s ADD VALUE 'reserved' BEFORE 'used';
           ALTER TYPE s ADD VALUE IF NOT EXISTS 'used';
           ALTER TYPE s ADD VALUE 'aging' AFTER 'used';
           ALTER TYPE s RENAME VALUE 'used' TO 'assigned';""",
    )
    (e,) = r.schema.enums
    assert e.values == ("available", "reserved", "assigned", "aging")
    assert r.notes == []


def test_drop_table_cascade_and_recreate(tmp_path: Path) -> None:
    r = _run(
        tmp_path,
        """CREATE TABLE t (id int PRIMARY KEY, x text);
           CREATE TABLE u (t_id int REFERENCES t (id));
           CREATE INDEX idx_t_x ON t (x);
           DROP TABLE IF EXISTS t CASCADE;
           CREATE TABLE t (id uuid);""",
    )
    assert _t(r, "t").columns == (Column("id", "uuid"),)
    assert _t(r, "u").constraints == ()
    assert r.schema.indexes == ()


@pytest.mark.parametrize(
    ("setup", "applies"),
    [
        ("CREATE TABLE c (server_url text);", True),
        ("CREATE TABLE c (base_url text);", False),
        ("CREATE TABLE c (server_url text, base_url text);", False),
    ],
)
def test_guarded_rename_applies_exactly_when_postgres_would(
    tmp_path: Path, setup: str, applies: bool
) -> None:
    r = _run(
        tmp_path,
        setup,
        """DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM information_schema.columns
                       WHERE table_name = 'c' AND column_name = 'server_url')
               AND NOT EXISTS (SELECT 1 FROM information_schema.columns
                       WHERE table_name = 'c' AND column_name = 'base_url') THEN
                ALTER TABLE c RENAME COLUMN server_url TO base_url;
            END IF;
        END $$;""",
    )
    names = _t(r, "c").column_names()
    if applies:
        assert names == ("base_url",)
    else:
        assert "base_url" in names
    assert r.notes == []


@pytest.mark.parametrize(
    ("condition", "expected_added"),
    [
        ("NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'mood')", False),
        ("NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'other')", True),
        ("to_regclass('public.t') IS NOT NULL", True),
        ("to_regclass('public.nope') IS NULL", True),
        ("to_regclass('nope') IS NOT NULL", False),
        ("NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 't_pkey')", False),
        ("NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'x_pkey')", True),
        ("EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'idx_t')", True),
        (
            "(SELECT count(*) FROM information_schema.columns WHERE table_name = 't' AND column_name = 'id') = 0",
            False,
        ),
        (
            "EXISTS (SELECT 1 FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid WHERE t.typname = 'mood' AND e.enumlabel = 'sad')",
            True,
        ),
        (
            "EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'id')",
            True,
        ),
        ("true", True),
    ],
)
def test_conditions(tmp_path: Path, condition: str, expected_added: bool) -> None:
    r = _run(
        tmp_path,
        """CREATE TYPE mood AS ENUM ('sad');
           CREATE TABLE t (id int PRIMARY KEY);
           CREATE INDEX idx_t ON t (id);""",
        f"""DO $$ BEGIN
            IF {condition} THEN
                ALTER TABLE t ADD COLUMN flag boolean;
            END IF;
        END $$;""",
    )
    assert (_t(r, "t").column("flag") is not None) == expected_added
    assert r.notes == []


def test_else_branch_and_found(tmp_path: Path) -> None:
    r = _run(
        tmp_path,
        "CREATE TABLE t (id int);",
        """DO $$ BEGIN
            PERFORM 1 FROM information_schema.columns WHERE table_name = 't' AND column_name = 'x';
            IF NOT FOUND THEN
                ALTER TABLE t ADD COLUMN x int;
            ELSE
                ALTER TABLE t ADD COLUMN y int;
            END IF;
        END $$;""",
    )
    assert _t(r, "t").column_names() == ("id", "x")


def test_exception_handler_swallows_the_failure(tmp_path: Path) -> None:
    r = _run(
        tmp_path,
        "CREATE TABLE t (id int, x int);",
        """DO $$ BEGIN
            ALTER TABLE t ADD COLUMN x int;
        EXCEPTION WHEN duplicate_column THEN NULL;
        END $$;""",
    )
    assert r.notes == []
    assert _t(r, "t").column_names() == ("id", "x")


def test_what_cannot_be_modelled_is_noted(tmp_path: Path) -> None:
    r = _run(
        tmp_path,
        "CREATE TABLE t (id int);",
        """DO $$ BEGIN
            EXECUTE format('ALTER TABLE %I ADD COLUMN x int', 't');
            IF current_setting('app.flag') = 'on' THEN ALTER TABLE t ADD COLUMN y int; END IF;
        END $$;
        CREATE TABLE t (id int);""",
    )
    messages = [n.message for n in r.notes]
    assert any(m.startswith("cannot model EXECUTE") for m in messages)
    assert any(m.startswith("cannot evaluate the condition") for m in messages)
    assert any("fails when the migrations run in order" in m for m in messages)
    assert all(n.path.endswith(".sql") and n.line >= 1 for n in r.notes)


def test_function_bodies_and_dml_do_not_change_the_schema(tmp_path: Path) -> None:
    r = _run(
        tmp_path,
        """CREATE TABLE t (id int);
           CREATE OR REPLACE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$
           BEGIN ALTER TABLE t ADD COLUMN x int; END $$;
           INSERT INTO t VALUES (1);
           UPDATE t SET id = 2;
           GRANT SELECT ON t TO PUBLIC;
           COMMENT ON TABLE t IS 'x';""",
    )
    assert _t(r, "t").column_names() == ("id",)


def test_pg_dump_schema(tmp_path: Path) -> None:
    r = read_sql_schema(FIXTURES / "pg_dump.sql")
    assert r.notes == []
    calls = _t(r, "calls")
    assert calls.column("id") == Column(
        "id",
        "integer",
        nullable=False,
        default=expression("nextval('public.calls_id_seq'::regclass)"),
    )
    assert calls.column("status") == Column(
        "status", "number_status", nullable=False, default="'available'"
    )
    assert {k.kind for k in calls.constraints} == {"p", "c", "f"}
    fk = next(k for k in calls.constraints if k.kind == "f")
    assert (fk.ref_table, fk.on_delete) == (QName("public", "customer_tenants"), "c")
    (idx,) = r.schema.indexes
    assert idx.where == expression("status <> 'aging'")
    assert r.schema.enums[0].values == ("available", "reserved", "used", "aging")


def test_example_migrations_and_snapshot() -> None:
    import tomllib

    from ddlguard.configfile import expand

    config = tomllib.loads((EXAMPLE / "ddlguard.toml").read_text())
    files, missing = expand(config["migrations"], EXAMPLE)
    assert not missing
    r = replay(files)
    assert r.notes == []
    pwsh = r.schema.table(QName("public", "tenant_powershell_credentials"))
    assert pwsh is not None
    assert "username_deprecated" in pwsh.column_names() and "username" not in pwsh.column_names()
    cw = r.schema.table(QName("public", "connectwise_credentials"))
    assert cw is not None and cw.column_names()[:3] == ("id", "tenant_id", "base_url")
    pni = r.schema.table(QName("public", "phone_number_inventory"))
    assert pni is not None and len(pni.columns) == 31
    snap = replay([EXAMPLE / "migrations" / "PRODUCTION_DEPLOYMENT.sql"])
    old = snap.schema.table(QName("public", "connectwise_credentials"))
    assert old is not None and "server_url" in old.column_names()
    assert isinstance(snap.schema, Schema)
