"""Idempotency rules (``I``): statements that fail, or destroy data, when a migration runs again."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ddlguard.findings import Category, Fix, Severity
from ddlguard.rules.base import FileContext, insertion_fix
from ddlguard.rules.registry import RuleMaker, register
from ddlguard.sql import nodes
from ddlguard.sql.statements import Node, Statement

_rule = RuleMaker(Category.IDEMPOTENCY, Severity.ERROR)


_RERUN = (
    "Migrations get run more than once: a deployment script applied by hand again, a "
    "half-failed run retried, a fix file re-applied to be sure. A statement that fails on the "
    "second run stops everything after it (with ON_ERROR_STOP) or leaves the run half-applied."
)

# Down sections (``migration-tool``: goose, dbmate, node-pg-migrate) and down files (golang-migrate,
# sqlx, Flyway's undo migrations) are rollbacks. A down section runs once, after its up section, so
# it is read as the up section's continuation: what the up section creates may be dropped, what it
# drops may be created again, what it renames may be renamed back, and data may be removed; the
# rest is checked like any statement (a rollback that fails half-way outside a transaction is
# retried too). The up section is checked on its own: a DROP in the down section does not make
# the up section's CREATE safe to run again.
_DOWN = (
    " In a down section (a rollback: goose, dbmate, node-pg-migrate) this is not reported for "
    "what the same file's up section creates: the rollback runs after it, so the object is there."
)
_DOWN_DATA = " Not reported in a down section or a down file: a rollback removes data on purpose."

RULES = [
    _rule(
        "I101",
        "create-table-without-if-not-exists",
        "CREATE TABLE without IF NOT EXISTS",
        _RERUN + " CREATE TABLE fails with `relation already exists` once the table exists.",
        "CREATE TABLE connectwise_credentials (id uuid PRIMARY KEY);",
        "CREATE TABLE IF NOT EXISTS connectwise_credentials (id uuid PRIMARY KEY);",
        "Add IF NOT EXISTS (`ddlguard check --fix` does it). Columns that a later version of the "
        "table has must then be added with ALTER TABLE ... ADD COLUMN IF NOT EXISTS.",
        fixable=True,
    ),
    _rule(
        "I102",
        "create-index-without-if-not-exists",
        "CREATE INDEX without IF NOT EXISTS",
        _RERUN + " CREATE INDEX fails with `relation already exists` once the index exists.",
        "CREATE INDEX idx_phone_number_status ON phone_number_inventory (status);",
        "CREATE INDEX IF NOT EXISTS idx_phone_number_status ON phone_number_inventory (status);",
        "Add IF NOT EXISTS after INDEX (and after CONCURRENTLY when present).",
        fixable=True,
    ),
    _rule(
        "I103",
        "create-sequence-without-if-not-exists",
        "CREATE SEQUENCE without IF NOT EXISTS",
        _RERUN + " CREATE SEQUENCE fails once the sequence exists.",
        "CREATE SEQUENCE invoice_number_seq;",
        "CREATE SEQUENCE IF NOT EXISTS invoice_number_seq;",
        "Add IF NOT EXISTS.",
        fixable=True,
    ),
    _rule(
        "I104",
        "create-schema-without-if-not-exists",
        "CREATE SCHEMA without IF NOT EXISTS",
        _RERUN + " CREATE SCHEMA fails once the schema exists.",
        "CREATE SCHEMA billing;",
        "CREATE SCHEMA IF NOT EXISTS billing;",
        "Add IF NOT EXISTS.",
        fixable=True,
    ),
    _rule(
        "I105",
        "create-extension-without-if-not-exists",
        "CREATE EXTENSION without IF NOT EXISTS",
        _RERUN + " CREATE EXTENSION fails once the extension is installed.",
        "CREATE EXTENSION pgcrypto;",
        "CREATE EXTENSION IF NOT EXISTS pgcrypto;",
        "Add IF NOT EXISTS.",
        fixable=True,
    ),
    _rule(
        "I106",
        "create-materialized-view-without-if-not-exists",
        "CREATE MATERIALIZED VIEW without IF NOT EXISTS",
        _RERUN + " CREATE MATERIALIZED VIEW fails once the view exists.",
        "CREATE MATERIALIZED VIEW tenant_stats AS SELECT tenant_id, count(*) FROM calls GROUP BY 1;",
        "CREATE MATERIALIZED VIEW IF NOT EXISTS tenant_stats AS SELECT tenant_id, count(*) FROM calls GROUP BY 1;",
        "Add IF NOT EXISTS.",
        fixable=True,
    ),
    _rule(
        "I107",
        "add-column-without-if-not-exists",
        "ALTER TABLE ... ADD COLUMN without IF NOT EXISTS",
        _RERUN + " ADD COLUMN fails with `column already exists` on the second run: exactly the "
        "kind of hand-applied fix that made the seed's production deployment fragile.",
        "ALTER TABLE tenant_3cx_credentials ADD COLUMN created_by TEXT;",
        "ALTER TABLE tenant_3cx_credentials ADD COLUMN IF NOT EXISTS created_by TEXT;",
        "Use ADD COLUMN IF NOT EXISTS (`--fix` does it).",
        fixable=True,
    ),
    _rule(
        "I201",
        "drop-without-if-exists",
        "DROP of an object without IF EXISTS",
        _RERUN + " A DROP fails with `does not exist` once the first run has dropped the object "
        "(and on a fresh database that never had it)." + _DOWN,
        "DROP TABLE legacy_sessions;",
        "DROP TABLE IF EXISTS legacy_sessions;",
        "Add IF EXISTS (`--fix` does it).",
        fixable=True,
    ),
    _rule(
        "I202",
        "drop-column-without-if-exists",
        "ALTER TABLE ... DROP COLUMN without IF EXISTS",
        _RERUN + " DROP COLUMN fails with `column does not exist` on the second run." + _DOWN,
        "ALTER TABLE tenant_powershell_credentials DROP COLUMN password_hint;",
        "ALTER TABLE tenant_powershell_credentials DROP COLUMN IF EXISTS password_hint;",
        "Use DROP COLUMN IF EXISTS (`--fix` does it).",
        fixable=True,
    ),
    _rule(
        "I203",
        "drop-constraint-without-if-exists",
        "ALTER TABLE ... DROP CONSTRAINT without IF EXISTS",
        _RERUN
        + " DROP CONSTRAINT fails with `constraint does not exist` on the second run."
        + _DOWN,
        "ALTER TABLE connectwise_credentials DROP CONSTRAINT connectwise_credentials_tenant_id_key;",
        "ALTER TABLE connectwise_credentials DROP CONSTRAINT IF EXISTS connectwise_credentials_tenant_id_key;",
        "Use DROP CONSTRAINT IF EXISTS (`--fix` does it).",
        fixable=True,
    ),
    _rule(
        "I301",
        "create-function-without-or-replace",
        "CREATE FUNCTION or PROCEDURE without OR REPLACE",
        _RERUN + " CREATE FUNCTION fails with `function already exists with same argument types`.",
        "CREATE FUNCTION touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN NEW.updated_at := now(); RETURN NEW; END $$;",
        "CREATE OR REPLACE FUNCTION touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN NEW.updated_at := now(); RETURN NEW; END $$;",
        "Use CREATE OR REPLACE (`--fix` does it). If the signature changes, DROP FUNCTION IF "
        "EXISTS the old signature first.",
        fixable=True,
    ),
    _rule(
        "I302",
        "create-view-without-or-replace",
        "CREATE VIEW without OR REPLACE",
        _RERUN + " CREATE VIEW fails with `relation already exists` on the second run.",
        "CREATE VIEW active_numbers AS SELECT * FROM phone_number_inventory WHERE status = 'used';",
        "CREATE OR REPLACE VIEW active_numbers AS SELECT * FROM phone_number_inventory WHERE status = 'used';",
        "Use CREATE OR REPLACE VIEW (`--fix` does it). OR REPLACE cannot drop or reorder "
        "columns; when the view's columns change, DROP VIEW IF EXISTS first.",
        fixable=True,
    ),
    _rule(
        "I303",
        "create-trigger-without-guard",
        "CREATE TRIGGER without OR REPLACE or an earlier DROP TRIGGER IF EXISTS",
        _RERUN + " CREATE TRIGGER fails with `trigger already exists` on the second run.",
        "CREATE TRIGGER trg_touch BEFORE UPDATE ON customer_tenants\n"
        "    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();",
        "DROP TRIGGER IF EXISTS trg_touch ON customer_tenants;\n"
        "CREATE TRIGGER trg_touch BEFORE UPDATE ON customer_tenants\n"
        "    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();\n"
        "-- or, on PostgreSQL 14 and later: CREATE OR REPLACE TRIGGER ...",
        "On PostgreSQL 14+ use CREATE OR REPLACE TRIGGER (`--fix` does it when `pg-version` is "
        "14 or more); otherwise put DROP TRIGGER IF EXISTS ... ON ... before it.",
        fixable=True,
    ),
    _rule(
        "I304",
        "create-policy-without-guard",
        "CREATE POLICY without an earlier DROP POLICY IF EXISTS",
        _RERUN + " CREATE POLICY fails with `policy already exists`; PostgreSQL has no "
        "CREATE OR REPLACE POLICY and no IF NOT EXISTS for policies.",
        "CREATE POLICY tenant_isolation ON phone_number_inventory USING (tenant_id = current_tenant());",
        "DROP POLICY IF EXISTS tenant_isolation ON phone_number_inventory;\n"
        "CREATE POLICY tenant_isolation ON phone_number_inventory USING (tenant_id = current_tenant());",
        "Put DROP POLICY IF EXISTS <name> ON <table> before it, or guard it in a DO block that "
        "checks pg_policies.",
    ),
    _rule(
        "I401",
        "unguarded-add-constraint",
        "ALTER TABLE ... ADD CONSTRAINT without a guard",
        _RERUN + " PostgreSQL has no ADD CONSTRAINT IF NOT EXISTS: the second run fails with "
        "`constraint already exists`, and an unnamed UNIQUE, CHECK or FOREIGN KEY constraint "
        "is added again under a new name on every run.",
        "ALTER TABLE connectwise_credentials\n"
        "    ADD CONSTRAINT connectwise_credentials_tenant_id_key UNIQUE (tenant_id);",
        "DO $$\nBEGIN\n"
        "    IF NOT EXISTS (SELECT 1 FROM pg_constraint\n"
        "                   WHERE conname = 'connectwise_credentials_tenant_id_key') THEN\n"
        "        ALTER TABLE connectwise_credentials\n"
        "            ADD CONSTRAINT connectwise_credentials_tenant_id_key UNIQUE (tenant_id);\n"
        "    END IF;\nEND $$;",
        "Guard it in a DO block that checks pg_constraint (or catches duplicate_object), or "
        "put ALTER TABLE ... DROP CONSTRAINT IF EXISTS <name> before it.",
    ),
    _rule(
        "I402",
        "unguarded-create-type",
        "CREATE TYPE without a guard",
        _RERUN + " PostgreSQL has no CREATE TYPE IF NOT EXISTS: the second run fails with "
        "`type already exists`.",
        "CREATE TYPE number_status AS ENUM ('available', 'reserved', 'used', 'aging');",
        "DO $$\nBEGIN\n"
        "    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'number_status') THEN\n"
        "        CREATE TYPE number_status AS ENUM ('available', 'reserved', 'used', 'aging');\n"
        "    END IF;\nEND $$;",
        "Guard it in a DO block that checks pg_type, or catch duplicate_object.",
    ),
    _rule(
        "I403",
        "unguarded-create-domain",
        "CREATE DOMAIN without a guard",
        _RERUN + " PostgreSQL has no CREATE DOMAIN IF NOT EXISTS: the second run fails with "
        "`type already exists`.",
        "CREATE DOMAIN e164 AS text CHECK (VALUE ~ '^\\+[0-9]+$');",
        "DO $$\nBEGIN\n"
        "    CREATE DOMAIN e164 AS text CHECK (VALUE ~ '^\\+[0-9]+$');\n"
        "EXCEPTION WHEN duplicate_object THEN NULL;\nEND $$;",
        "Guard it in a DO block that checks pg_type, or catch duplicate_object.",
    ),
    _rule(
        "I404",
        "unguarded-rename",
        "RENAME of a table, column, index or constraint without a guard",
        _RERUN + " The second run fails because the old name no longer exists. The seed's "
        "FIX_PRODUCTION_SCHEMA.sql renamed columns only inside conditional blocks for this reason. "
        "In a down section, renaming back what the same file's up section renamed is not "
        "reported.",
        "ALTER TABLE connectwise_credentials RENAME COLUMN server_url TO base_url;",
        "DO $$\nBEGIN\n"
        "    IF EXISTS (SELECT 1 FROM information_schema.columns\n"
        "               WHERE table_name = 'connectwise_credentials' AND column_name = 'server_url') THEN\n"
        "        ALTER TABLE connectwise_credentials RENAME COLUMN server_url TO base_url;\n"
        "    END IF;\nEND $$;",
        "Guard it in a DO block that checks the catalog for the old name "
        "(information_schema.columns, pg_class, pg_constraint).",
    ),
    _rule(
        "I405",
        "add-enum-value-without-if-not-exists",
        "ALTER TYPE ... ADD VALUE without IF NOT EXISTS",
        _RERUN + " ADD VALUE fails with `enum label already exists` on the second run.",
        "ALTER TYPE number_status ADD VALUE 'aging';",
        "ALTER TYPE number_status ADD VALUE IF NOT EXISTS 'aging';",
        "Use ADD VALUE IF NOT EXISTS (`--fix` does it).",
        fixable=True,
    ),
    _rule(
        "I406",
        "unguarded-rename-enum-value",
        "ALTER TYPE ... RENAME VALUE without a guard",
        _RERUN + " RENAME VALUE fails with `is not an existing enum label` once renamed.",
        "ALTER TYPE number_status RENAME VALUE 'used' TO 'assigned';",
        "DO $$\nBEGIN\n"
        "    IF EXISTS (SELECT 1 FROM pg_enum WHERE enumlabel = 'used'\n"
        "               AND enumtypid = 'number_status'::regtype) THEN\n"
        "        ALTER TYPE number_status RENAME VALUE 'used' TO 'assigned';\n"
        "    END IF;\nEND $$;",
        "Guard it in a DO block that checks pg_enum for the old label.",
    ),
    _rule(
        "I407",
        "unguarded-create-role",
        "CREATE ROLE or CREATE USER without a guard",
        _RERUN + " PostgreSQL has no CREATE ROLE IF NOT EXISTS: the second run fails with "
        "`role already exists`.",
        "CREATE ROLE reporting NOLOGIN;",
        "DO $$\nBEGIN\n"
        "    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'reporting') THEN\n"
        "        CREATE ROLE reporting NOLOGIN;\n"
        "    END IF;\nEND $$;",
        "Guard it in a DO block that checks pg_roles, or catch duplicate_object.",
    ),
    _rule(
        "I408",
        "uses-column-renamed-later",
        "Statement that uses a column which a later statement of the same migration renames or drops",
        _RERUN + " On the second run the column no longer exists, and PostgreSQL resolves column "
        "names before it looks at IF NOT EXISTS, so even `CREATE INDEX IF NOT EXISTS` fails with "
        "`column does not exist`. Found by comparing ddlguard's static rules with a real "
        "PostgreSQL running the migrations twice.",
        "CREATE INDEX IF NOT EXISTS idx_cw_server_url ON connectwise_credentials (server_url);\n"
        "ALTER TABLE connectwise_credentials RENAME COLUMN server_url TO base_url;",
        "ALTER TABLE connectwise_credentials RENAME COLUMN server_url TO base_url;  -- guarded\n"
        "CREATE INDEX IF NOT EXISTS idx_cw_base_url ON connectwise_credentials (base_url);",
        "Rename (guarded) first and use the new name afterwards, or guard the statement with a "
        "check that the column exists.",
    ),
    _rule(
        "I501",
        "create-index-without-name",
        "CREATE INDEX without an index name",
        _RERUN + " Without a name PostgreSQL invents a new one on every run (t_col_idx, "
        "t_col_idx1, ...) and builds another copy of the same index each time: no error, just "
        "duplicated indexes that slow every write.",
        "CREATE INDEX ON phone_number_inventory (tenant_id);",
        "CREATE INDEX IF NOT EXISTS idx_phone_number_tenant ON phone_number_inventory (tenant_id);",
        "Name the index and add IF NOT EXISTS.",
    ),
    _rule(
        "I601",
        "insert-without-conflict-handling",
        "INSERT without ON CONFLICT or a NOT EXISTS guard",
        _RERUN + " Seed rows inserted again either fail on a unique constraint or, without "
        "one, are silently duplicated.",
        "INSERT INTO country_codes (code, name) VALUES ('US', 'United States');",
        "INSERT INTO country_codes (code, name) VALUES ('US', 'United States')\n"
        "ON CONFLICT (code) DO NOTHING;",
        "Add ON CONFLICT ... DO NOTHING (or DO UPDATE), or insert from a SELECT with "
        "WHERE NOT EXISTS (...).",
    ),
    _rule(
        "I701",
        "drop-and-recreate-table",
        "DROP TABLE followed by CREATE TABLE of the same table",
        "Both statements succeed on every run, so nothing looks wrong, but every run drops "
        "the table with all its rows and creates it empty. The seed's "
        "ADD_PHONE_NUMBER_INVENTORY.sql rebuilt phone_number_inventory this way: re-running it "
        "in production would erase the whole phone number inventory." + _DOWN_DATA,
        "DROP TABLE IF EXISTS phone_number_inventory CASCADE;\n"
        "CREATE TABLE phone_number_inventory (id uuid PRIMARY KEY, line_uri text NOT NULL);",
        "CREATE TABLE IF NOT EXISTS phone_number_inventory (id uuid PRIMARY KEY, line_uri text NOT NULL);\n"
        "ALTER TABLE phone_number_inventory ADD COLUMN IF NOT EXISTS carrier text;",
        "Create the table with IF NOT EXISTS and bring an existing table up to date with "
        "ALTER TABLE ... ADD COLUMN IF NOT EXISTS instead of dropping it.",
    ),
    _rule(
        "I702",
        "truncate-in-migration",
        "TRUNCATE in a migration",
        "TRUNCATE succeeds on every run and deletes every row each time: a re-run of the "
        "migration wipes data that was written since the first run." + _DOWN_DATA,
        "TRUNCATE country_codes;\nINSERT INTO country_codes VALUES ('US', 'United States');",
        "INSERT INTO country_codes VALUES ('US', 'United States')\n"
        "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name;",
        "Upsert the rows you need instead of emptying the table.",
    ),
    _rule(
        "I703",
        "delete-without-where",
        "DELETE without WHERE in a migration",
        "DELETE without WHERE succeeds on every run and deletes every row each time, including "
        "rows written since the first run." + _DOWN_DATA,
        "DELETE FROM country_codes;",
        "DELETE FROM country_codes WHERE code IN ('XX', 'YY');",
        "Delete only the rows the migration means to remove, or upsert instead.",
    ),
]
_VERIFY = (
    " Reported by `ddlguard verify`, which applies the migrations to a real, throwaway PostgreSQL "
    "twice in a row: PostgreSQL itself is the judge, so this also catches what static rules "
    "cannot see (a guard that does not hold, a function that fails, an object created elsewhere)."
)
RULES += [
    _rule(
        "I801",
        "fails-on-rerun",
        "Statement that PostgreSQL rejects when the migrations run a second time",
        _RERUN + _VERIFY,
        "CREATE TABLE connectwise_credentials (id uuid PRIMARY KEY);  -- ERROR: relation already exists",
        "CREATE TABLE IF NOT EXISTS connectwise_credentials (id uuid PRIMARY KEY);",
        "Make the statement idempotent; `ddlguard check` names the static rule and often the fix.",
    ),
    _rule(
        "I802",
        "rerun-destroys-data",
        "Table dropped and created again (or emptied) by a second run that raised no error",
        "Nothing fails, so nobody notices, but every re-run loses the table's rows: found by "
        "comparing each table's OID and row count between the two runs." + _VERIFY,
        "DROP TABLE IF EXISTS phone_number_inventory CASCADE;\n"
        "CREATE TABLE phone_number_inventory (id uuid PRIMARY KEY);",
        "CREATE TABLE IF NOT EXISTS phone_number_inventory (id uuid PRIMARY KEY);\n"
        "ALTER TABLE phone_number_inventory ADD COLUMN IF NOT EXISTS carrier text;",
        "Create the table with IF NOT EXISTS and change it with ALTER TABLE instead of rebuilding it.",
    ),
    _rule(
        "I803",
        "fails-on-first-run",
        "Statement that fails even on the first run, on an empty database",
        "A migration that fails on a fresh database cannot build a new environment (staging, a "
        "developer's machine, disaster recovery): it only worked where someone fixed things by "
        "hand first." + _VERIFY,
        "ALTER TABLE phone_numbers ADD COLUMN carrier text;  -- before phone_numbers exists",
        "-- create phone_numbers in an earlier migration, or reorder the migrations",
        "Fix the statement or the order of the migrations; the message is PostgreSQL's own.",
    ),
]
register(*RULES)


# --- guards --------------------------------------------------------------------------------

# SQLSTATEs of the condition names a handler may catch (PostgreSQL's errcodes, the ones a
# re-run raises), and the condition classes that cover them.
_STATES = {
    "duplicate_table": "42P07",
    "duplicate_column": "42701",
    "duplicate_object": "42710",
    "duplicate_schema": "42P06",
    "duplicate_function": "42723",
    "undefined_table": "42P01",
    "undefined_column": "42703",
    "undefined_object": "42704",
    "undefined_function": "42883",
    "invalid_schema_name": "3F000",
    "invalid_table_definition": "42P16",
    "invalid_parameter_value": "22023",
    "unique_violation": "23505",
    "wrong_object_type": "42809",
}
_CLASSES = {
    "syntax_error_or_access_rule_violation": "42",
    "integrity_constraint_violation": "23",
    "data_exception": "22",
    "invalid_schema_name": "3F",
}

# What each rule's statement raises when it runs again.
DUPLICATE_TABLE = frozenset({"42P07"})
DUPLICATE_OBJECT = frozenset({"42710"})
UNDEFINED = frozenset({"42P01", "42703", "42704", "42883", "3F000"})
RENAME = UNDEFINED | frozenset({"42P07", "42701", "42710"})
NOTHING = frozenset[str]()  # the statement does not fail: no handler makes it safe


def _catches(condition: str, errors: frozenset[str]) -> bool:
    cond = condition.lower()
    if cond == "others":
        return True
    state = _STATES.get(cond, cond.upper())
    if state in errors:
        return True
    prefix = _CLASSES.get(cond)
    return prefix is not None and any(e.startswith(prefix) for e in errors)


def _mentions(text: str, name: str) -> bool:
    """Whether ``name`` occurs in ``text`` as a whole word (case-insensitive; ``$`` and ``_``
    are word characters, as in SQL identifiers)."""
    if not name:
        return False
    text = text.lower()
    name = name.lower()
    size = len(name)
    i = text.find(name)
    while i != -1:
        before = text[i - 1] if i else " "
        after = text[i + size] if i + size < len(text) else " "
        if not _word_char(before) and not _word_char(after):
            return True
        i = text.find(name, i + 1)
    return False


def _word_char(ch: str) -> bool:
    """A character of an identifier, as PostgreSQL's scanner reads them (any from U+0080 up)."""
    return ch.isalnum() or ch in "_$" or ch >= "\x80"


def guarded(
    stmt: Statement,
    names: Iterable[str],
    errors: frozenset[str],
    *,
    also: Iterable[str] = (),
    catalog: tuple[str, ...] = (),
) -> bool:
    """Whether a statement in a PL/pgSQL body is protected.

    Either an enclosing exception handler catches ``errors`` (the SQLSTATEs the statement raises
    when it runs again), or an enclosing IF (with the SQL run before it in its block) checks the
    catalog for one of ``names``, for every name in ``also`` (the table of a column), and, when
    ``catalog`` is given, reads one of those catalog relations.
    """
    if stmt.context == "top":
        return False
    if errors and any(_catches(c, errors) for c in stmt.guard.caught):
        return True
    names = [n for n in names if n]
    required = [n for n in also if n]
    for cond in stmt.guard.conditions:
        if not any(_mentions(cond, n) for n in names):
            continue
        if not all(_mentions(cond, n) for n in required):
            continue
        if catalog and not any(c in cond.lower() for c in catalog):
            continue
        return True
    return False


# --- the check -----------------------------------------------------------------------------


@dataclass(slots=True)
class _State:
    # Objects dropped earlier in the file: (kind, name[, table]) keys, lower case.
    dropped: set[tuple[str, ...]] = field(default_factory=set)
    # Tables dropped earlier: name -> the DROP statement.
    dropped_tables: dict[str, Statement] = field(default_factory=dict)
    reported_recreate: set[str] = field(default_factory=set)
    # Tables dropped and created again earlier in the file: brand-new on every run, so what is
    # done to them afterwards (indexes, columns, constraints, triggers) cannot fail on a re-run.
    fresh: set[str] = field(default_factory=set)
    # Temporary tables created in the file: session data, nothing persists between runs.
    temp: set[str] = field(default_factory=set)
    # Where in the file each object is dropped or renamed away: key -> statement positions.
    gone_at: dict[tuple[str, ...], list[int]] = field(default_factory=dict)
    # Objects created (with or without IF NOT EXISTS) earlier in the file.
    created: set[tuple[str, ...]] = field(default_factory=set)
    # Renames earlier in the file: (renameType, table, old name, new name), lower case.
    renamed: set[tuple[str, str, str, str]] = field(default_factory=set)
    position: int = 0
    # Where the current statement's section (up or down) ends: a down section does not run when
    # its up section runs, so what it drops does not make the up section's creations safe.
    section_end: int = 0

    def is_fresh(self, table: str) -> bool:
        return table.lower() in self.fresh

    def gone_later(self, key: tuple[str, ...]) -> bool:
        """Whether a later statement of the file (and of the same section) drops or renames this
        object away: then it does not exist when the file starts again, and creating it cannot
        fail."""
        return any(self.position < i < self.section_end for i in self.gone_at.get(key, ()))


def check(ctx: FileContext) -> None:
    mode = ctx.config.idempotency
    if mode == "off":
        return
    state = _State()
    statements = ctx.parsed.statements
    for i, stmt in enumerate(statements):
        if stmt.context != "function" and stmt.kind in _GONE_KINDS:
            for key in _gone_keys(stmt):
                state.gone_at.setdefault(key, []).append(i)
    # I408 looks for columns used before a later rename or drop: most files have none.
    columns_vanish = any(key[0] == "column" for key in state.gone_at)
    ends = _section_ends(statements)
    state.section_end = len(statements)
    first = len(ctx.findings)
    owners: list[int] = []  # per finding from ``first`` on: the statement that raised it
    for i, stmt in enumerate(statements):
        state.position = i
        if ends:
            state.section_end = ends[i]
        handler = _HANDLERS.get(stmt.kind)
        if handler is not None:
            exempt = mode == "outside-transaction" and stmt.in_transaction
            handler(ctx, stmt, state, exempt)
            if columns_vanish and stmt.context != "function" and not exempt:
                _uses_vanishing_column(ctx, stmt, state)
            owners += [i] * (len(ctx.findings) - first - len(owners))
        if stmt.context != "function" and stmt.kind in _CREATED_KINDS:
            state.created |= _created_keys(stmt)
    if owners:
        _second_run_judges(ctx, statements, first, owners)


# Findings that claim "this statement fails when the migration runs again": the engine's second
# run is the judge of that claim. (I501, I601 and I7xx are about copies and lost rows, not
# failures.)
_FAILS_ON_RERUN = frozenset(
    {
        "I101", "I102", "I103", "I104", "I105", "I106", "I107",
        "I201", "I202", "I203",
        "I301", "I302", "I303", "I304",
        "I401", "I402", "I403", "I404", "I405", "I406", "I407", "I408",
    }
)


def _second_run_judges(
    ctx: FileContext, statements: list[Statement], first: int, owners: list[int]
) -> None:
    """Drop the failure findings of statements that the symbolic second run proves succeed:
    the file as a whole is safe to run again there (a drop of what the file itself re-creates,
    a swap rename, a branch that its own IF skips the second time)."""
    found = ctx.findings[first:]
    if not any(f.code in _FAILS_ON_RERUN for f in found):
        return
    from ddlguard.engine.rerun import second_run

    verdicts = second_run(statements, ctx.config.default_schema)
    kept = [
        f
        for f, i in zip(found, owners, strict=True)
        if not (f.code in _FAILS_ON_RERUN and verdicts.get(i) is True)
    ]
    if len(kept) != len(found):
        del ctx.findings[first:]
        ctx.findings.extend(kept)


# The statement kinds _gone_keys and _created_keys look at.
_GONE_KINDS = frozenset({"DropStmt", "AlterTableStmt", "RenameStmt"})
_CREATED_KINDS = frozenset(
    {
        "CreateStmt",
        "IndexStmt",
        "CreateSeqStmt",
        "ViewStmt",
        "CreateEnumStmt",
        "CreateRangeStmt",
        "CompositeTypeStmt",
        "CreateDomainStmt",
        "CreateFunctionStmt",
        "CreateTrigStmt",
        "CreatePolicyStmt",
        "CreateSchemaStmt",
        "CreateExtensionStmt",
        "CreateTableAsStmt",
        "AlterTableStmt",
    }
)


def _section_ends(statements: list[Statement]) -> list[int]:
    """Per statement, the index where its run of statements of the same section (up or down)
    ends; empty when the file has no down section."""
    if all(s.section == "up" for s in statements):
        return []
    ends = [len(statements)] * len(statements)
    for i in range(len(statements) - 2, -1, -1):
        same = statements[i + 1].section == statements[i].section
        ends[i] = ends[i + 1] if same else i + 1
    return ends


def _gone_keys(stmt: Statement) -> list[tuple[str, ...]]:
    """Objects a statement drops or renames away."""
    n = stmt.node
    out: list[tuple[str, ...]] = []
    if stmt.kind == "DropStmt":
        kind = _DROP_KINDS.get(str(n.get("removeType", "")), ("", "", 1))[0]
        for obj in n.get("objects") or []:
            names = nodes.object_names(obj)
            if names and kind:
                out.append((kind, names[-1].lower()))
    elif stmt.kind == "AlterTableStmt":
        _, table = nodes.rangevar(n.get("relation"))
        for item in n.get("cmds") or []:
            cmd = item.get("AlterTableCmd", {})
            if cmd.get("subtype") == "AT_DropColumn" and cmd.get("name"):
                out.append(("column", table.lower(), str(cmd["name"]).lower()))
            elif cmd.get("subtype") == "AT_DropConstraint" and cmd.get("name"):
                out.append(("constraint", table.lower(), str(cmd["name"]).lower()))
    elif stmt.kind == "RenameStmt":
        rtype = n.get("renameType")
        _, rel = nodes.rangevar(n.get("relation"))
        if rtype == "OBJECT_COLUMN" and rel:
            out.append(("column", rel.lower(), str(n.get("subname", "")).lower()))
        elif rtype == "OBJECT_TABCONSTRAINT" and rel:
            out.append(("constraint", rel.lower(), str(n.get("subname", "")).lower()))
        elif rtype in ("OBJECT_TABLE", "OBJECT_INDEX", "OBJECT_SEQUENCE", "OBJECT_VIEW") and rel:
            kind = {
                "OBJECT_TABLE": "table",
                "OBJECT_INDEX": "index",
                "OBJECT_SEQUENCE": "sequence",
                "OBJECT_VIEW": "view",
            }[str(rtype)]
            out.append((kind, rel.lower()))
    return out


def _created_keys(stmt: Statement) -> set[tuple[str, ...]]:
    """Objects a statement creates (so that a later DROP of them cannot fail)."""
    n = stmt.node
    out: set[tuple[str, ...]] = set()
    if stmt.kind == "CreateStmt":
        _, table = nodes.rangevar(n.get("relation"))
        out.add(("table", table.lower()))
    elif stmt.kind == "IndexStmt" and n.get("idxname"):
        out.add(("index", str(n["idxname"]).lower()))
    elif stmt.kind == "CreateSeqStmt":
        out.add(("sequence", nodes.rangevar(n.get("sequence"))[1].lower()))
    elif stmt.kind == "ViewStmt":
        out.add(("view", nodes.rangevar(n.get("view"))[1].lower()))
    elif stmt.kind in ("CreateEnumStmt", "CreateRangeStmt"):
        names = nodes.strings(n.get("typeName"))
        if names:
            out.add(("type", names[-1].lower()))
    elif stmt.kind == "CompositeTypeStmt":
        out.add(("type", nodes.rangevar(n.get("typevar"))[1].lower()))
    elif stmt.kind == "CreateDomainStmt":
        names = nodes.strings(n.get("domainname"))
        if names:
            out.add(("domain", names[-1].lower()))
    elif stmt.kind == "CreateFunctionStmt":
        names = nodes.strings(n.get("funcname"))
        if names:
            out.add(("procedure" if n.get("is_procedure") else "function", names[-1].lower()))
    elif stmt.kind == "CreateTrigStmt":
        out.add(("trigger", str(n.get("trigname", "")).lower()))
    elif stmt.kind == "CreatePolicyStmt":
        out.add(("policy", str(n.get("policy_name", "")).lower()))
    elif stmt.kind == "CreateSchemaStmt" and n.get("schemaname"):
        out.add(("schema", str(n["schemaname"]).lower()))
    elif stmt.kind == "CreateExtensionStmt":
        out.add(("extension", str(n.get("extname", "")).lower()))
    elif stmt.kind == "CreateTableAsStmt":
        into_node: Node = n.get("into") or {}
        into: Node = into_node.get("IntoClause", into_node)
        kind = "materialized view" if n.get("objtype") == "OBJECT_MATVIEW" else "table"
        out.add((kind, nodes.rangevar(into.get("rel"))[1].lower()))
    elif stmt.kind == "AlterTableStmt":
        _, table = nodes.rangevar(n.get("relation"))
        for item in n.get("cmds") or []:
            cmd = item.get("AlterTableCmd", {})
            if cmd.get("subtype") == "AT_AddColumn":
                col = cmd.get("def", {}).get("ColumnDef", {}).get("colname", "")
                out.add(("column", table.lower(), str(col).lower()))
            elif cmd.get("subtype") == "AT_AddConstraint":
                name = cmd.get("def", {}).get("Constraint", {}).get("conname")
                if name:
                    out.add(("constraint", table.lower(), str(name).lower()))
    return out


def _uses_vanishing_column(ctx: FileContext, stmt: Statement, state: _State) -> None:
    """I408: a statement that uses a column which a later statement of the file renames or drops.
    On the second run the column is gone, and PostgreSQL resolves column names before it honours
    IF NOT EXISTS, so the statement fails."""
    n = stmt.node
    uses: list[tuple[str, str, int | None]] = []  # table, column, command index
    spans = nodes.CmdSpans(stmt)
    if stmt.kind == "IndexStmt":
        _, table = nodes.rangevar(n.get("relation"))
        for col in nodes.index_columns(n.get("indexParams")):
            uses.append((table, col, None))
    elif stmt.kind == "AlterTableStmt":
        _, table = nodes.rangevar(n.get("relation"))
        for i, item in enumerate(n.get("cmds") or []):
            cmd = item.get("AlterTableCmd", {})
            sub = cmd.get("subtype")
            if sub in (
                "AT_ColumnDefault",
                "AT_SetNotNull",
                "AT_DropNotNull",
                "AT_AlterColumnType",
            ) and cmd.get("name"):
                uses.append((table, str(cmd["name"]), i))
            elif sub == "AT_AddConstraint":
                con = cmd.get("def", {}).get("Constraint", {})
                for col in nodes.strings(con.get("keys")) or nodes.strings(con.get("fk_attrs")):
                    uses.append((table, col, i))
    seen: set[tuple[str, str]] = set()
    for table, col, cmd_index in uses:
        key = ("column", table.lower(), col.lower())
        if (table, col) in seen or not state.gone_later(key):
            continue
        if key in state.created or state.is_fresh(table):
            continue  # the column is added again earlier in the same file each run
        seen.add((table, col))
        start, end = (stmt.start, stmt.end) if cmd_index is None else spans[cmd_index]
        ctx.report(
            "I408",
            stmt,
            start,
            end,
            f"uses column {col} of {table}, which a later statement of this migration renames or "
            f"drops: on the second run the column is gone and this statement fails (PostgreSQL "
            f"resolves columns before IF NOT EXISTS)",
            obj=_obj(ctx, None, table) + f".{col}",
        )


Handler = Callable[[FileContext, Statement, _State, bool], None]


def _schema(ctx: FileContext) -> str:
    return ctx.config.default_schema


def _obj(ctx: FileContext, schema: str | None, name: str) -> str:
    return nodes.qualify(schema, name, _schema(ctx))


def _whole(stmt: Statement) -> tuple[int, int]:
    return stmt.start, stmt.end


def _after(stmt: Statement, words: tuple[str, ...]) -> int | None:
    tok = nodes.token_after_sequence(stmt, words, stmt.start)
    return tok.end if tok else None


_CREATE_KIND = {
    "I101": ("table", DUPLICATE_TABLE),
    "I103": ("sequence", DUPLICATE_TABLE),
    "I104": ("schema", frozenset({"42P06"})),
    "I105": ("extension", DUPLICATE_OBJECT),
    "I106": ("materialized view", DUPLICATE_TABLE),
}


def _create_if_not_exists(code: str, what: str, keyword: tuple[str, ...]) -> Handler:
    kind, errors = _CREATE_KIND[code]

    def handle(ctx: FileContext, stmt: Statement, state: _State, exempt: bool) -> None:
        n = stmt.node
        if stmt.kind == "CreateStmt":
            schema, name = nodes.rangevar(n.get("relation"))
            if n.get("relation", {}).get("relpersistence") == "t":
                state.temp.add(name.lower())
                return
        elif stmt.kind == "CreateTableAsStmt":
            into_node: Node = n.get("into") or {}
            into: Node = into_node.get("IntoClause", into_node)
            schema, name = nodes.rangevar(into.get("rel"))
            is_matview = n.get("objtype") == "OBJECT_MATVIEW"
            if (code == "I106") != is_matview:
                return
            if (into.get("rel") or {}).get("relpersistence") == "t":
                return
        elif stmt.kind == "CreateSeqStmt":
            schema, name = nodes.rangevar(n.get("sequence"))
            if n.get("sequence", {}).get("relpersistence") == "t":
                return
        elif stmt.kind == "CreateSchemaStmt":
            auth: Node = n.get("authrole") or {}
            role: Node = auth.get("RoleSpec", auth)
            schema, name = None, str(n.get("schemaname") or role.get("rolename", ""))
        elif stmt.kind == "CreateExtensionStmt":
            schema, name = None, str(n.get("extname", ""))
        else:  # pragma: no cover - registered kinds only
            return
        if code == "I101" and not exempt:
            _maybe_recreate(ctx, stmt, state, name)
        if n.get("if_not_exists") or exempt:
            return
        if (kind, name.lower()) in state.dropped or guarded(stmt, [name], errors):
            return
        if state.gone_later((kind, name.lower())):
            return
        keyword_tok = nodes.find_tokens(stmt, keyword, stmt.start)
        at = keyword_tok.end if keyword_tok else None
        fix = insertion_fix(stmt, at, " IF NOT EXISTS", "add IF NOT EXISTS")
        obj = (
            name
            if stmt.kind in ("CreateSchemaStmt", "CreateExtensionStmt")
            else _obj(ctx, schema, name)
        )
        shown = nodes.display_name(schema, name)
        ctx.report(
            code,
            stmt,
            *_whole(stmt),
            f"{what} {shown} fails when the migration runs again; add IF NOT EXISTS",
            obj=obj,
            fix=fix,
        )

    return handle


def _maybe_recreate(ctx: FileContext, stmt: Statement, state: _State, name: str) -> None:
    if stmt.context == "function":
        return
    drop = state.dropped_tables.get(name.lower())
    if drop is None:
        return
    state.fresh.add(name.lower())
    if stmt.section == "down":
        return  # a rollback that puts the old table back: losing its rows is what it is for
    if name.lower() in state.reported_recreate:
        return
    state.reported_recreate.add(name.lower())
    create_line = ctx.file.index.position(stmt.start)[0]
    schema, _ = nodes.rangevar(stmt.node.get("relation"))
    ctx.report(
        "I701",
        drop,
        *_whole(drop),
        f"DROP TABLE {name} followed by CREATE TABLE {name} (line {create_line}) destroys all "
        f"of the table's rows every time the migration runs; use CREATE TABLE IF NOT EXISTS and "
        f"ALTER TABLE ... ADD COLUMN IF NOT EXISTS instead",
        obj=_obj(ctx, schema, name),
    )


def _create_index(ctx: FileContext, stmt: Statement, state: _State, exempt: bool) -> None:
    n = stmt.node
    schema, table = nodes.rangevar(n.get("relation"))
    idxname = n.get("idxname")
    if state.is_fresh(table):
        return
    if not idxname:
        if exempt or guarded(
            stmt, [table], NOTHING, catalog=("pg_indexes", "pg_index", "pg_class", "to_regclass")
        ):
            return
        cols = ", ".join(nodes.index_columns(n.get("indexParams")))
        ctx.report(
            "I501",
            stmt,
            *_whole(stmt),
            f"CREATE INDEX without a name on {table} ({cols}) builds another copy of the index "
            f"every time the migration runs; name it and add IF NOT EXISTS",
            obj=_obj(ctx, schema, table),
        )
        return
    if n.get("if_not_exists") or exempt:
        return
    if ("index", idxname.lower()) in state.dropped or guarded(stmt, [idxname], DUPLICATE_TABLE):
        return
    if state.gone_later(("index", idxname.lower())):
        return
    tok = nodes.find_tokens(stmt, ("INDEX",), stmt.start)
    at = None
    if tok is not None:
        at = tok.end
        if n.get("concurrent"):
            conc = nodes.find_tokens(stmt, ("CONCURRENTLY",), tok.start)
            at = conc.end if conc else at
    unique = "UNIQUE " if n.get("unique") else ""
    ctx.report(
        "I102",
        stmt,
        *_whole(stmt),
        f"CREATE {unique}INDEX {idxname} fails when the migration runs again; add IF NOT EXISTS",
        obj=_obj(ctx, schema, idxname),
        fix=insertion_fix(stmt, at, " IF NOT EXISTS", "add IF NOT EXISTS"),
    )


# DropStmt removeType -> (kind used for matching, words, how many keyword tokens follow DROP)
_DROP_KINDS: dict[str, tuple[str, str, int]] = {
    "OBJECT_TABLE": ("table", "TABLE", 1),
    "OBJECT_VIEW": ("view", "VIEW", 1),
    "OBJECT_MATVIEW": ("materialized view", "MATERIALIZED VIEW", 2),
    "OBJECT_INDEX": ("index", "INDEX", 1),
    "OBJECT_SEQUENCE": ("sequence", "SEQUENCE", 1),
    "OBJECT_SCHEMA": ("schema", "SCHEMA", 1),
    "OBJECT_TYPE": ("type", "TYPE", 1),
    "OBJECT_DOMAIN": ("domain", "DOMAIN", 1),
    "OBJECT_FUNCTION": ("function", "FUNCTION", 1),
    "OBJECT_PROCEDURE": ("procedure", "PROCEDURE", 1),
    "OBJECT_ROUTINE": ("routine", "ROUTINE", 1),
    "OBJECT_AGGREGATE": ("aggregate", "AGGREGATE", 1),
    "OBJECT_TRIGGER": ("trigger", "TRIGGER", 1),
    "OBJECT_POLICY": ("policy", "POLICY", 1),
    "OBJECT_RULE": ("rule", "RULE", 1),
    "OBJECT_EXTENSION": ("extension", "EXTENSION", 1),
    "OBJECT_FOREIGN_TABLE": ("foreign table", "FOREIGN TABLE", 2),
    "OBJECT_EVENT_TRIGGER": ("event trigger", "EVENT TRIGGER", 2),
    "OBJECT_COLLATION": ("collation", "COLLATION", 1),
    "OBJECT_STATISTIC_EXT": ("statistics", "STATISTICS", 1),
    "OBJECT_PUBLICATION": ("publication", "PUBLICATION", 1),
}


def _drop(ctx: FileContext, stmt: Statement, state: _State, exempt: bool) -> None:
    n = stmt.node
    remove = str(n.get("removeType", ""))
    kind, words, nwords = _DROP_KINDS.get(remove, (remove.removeprefix("OBJECT_").lower(), "", 1))
    names_all: list[list[str]] = [nodes.object_names(o) for o in n.get("objects") or []]
    for names in names_all:
        if not names:
            continue
        if kind in ("trigger", "policy", "rule"):
            # objects: [table..., name]
            key: tuple[str, ...] = (
                kind,
                names[-1].lower(),
                names[-2].lower() if len(names) > 1 else "",
            )
        else:
            key = (kind, names[-1].lower())
        # A drop inside an IF that tests this object (say, its old shape) happens once, not on
        # every run: it neither guards a later CREATE nor makes the table new on each run.
        conditional = any(_mentions(c, names[-1]) for c in stmt.guard.conditions)
        if conditional:
            continue
        state.dropped.add(key)
        if kind == "table" and stmt.context != "function":
            state.dropped_tables.setdefault(names[-1].lower(), stmt)
    if n.get("missing_ok") or exempt:
        return
    if names_all and all(x and (kind, x[-1].lower()) in state.created for x in names_all):
        return  # created earlier in this file: it is there to drop on every run
    shown = ", ".join(".".join(x) for x in names_all if x)
    if guarded(stmt, [x[-1] for x in names_all if x], UNDEFINED):
        return
    at = None
    toks = stmt.tokens()
    if toks and words:
        skip = nwords + (1 if n.get("concurrent") else 0)
        if len(toks) > skip:
            at = toks[skip].end
    if kind in ("trigger", "policy", "rule"):
        first = names_all[0] if names_all else []
        obj = _obj(ctx, None, f"{first[-1]}") if first else None
        if first and len(first) > 1:
            obj = nodes.qualified_list(first[:-1], _schema(ctx)) + "." + first[-1]
    else:
        first = names_all[0] if names_all else []
        obj = nodes.qualified_list(first, _schema(ctx)) if first else None
    label = words or kind.upper()
    ctx.report(
        "I201",
        stmt,
        *_whole(stmt),
        f"DROP {label} {shown} fails when the migration runs again (the {kind} is already "
        f"gone); add IF EXISTS",
        obj=obj,
        fix=insertion_fix(stmt, at, " IF EXISTS", "add IF EXISTS"),
    )


def _drop_database(ctx: FileContext, stmt: Statement, state: _State, exempt: bool) -> None:
    """DROP DATABASE, a node of its own (DropdbStmt), without IF EXISTS."""
    n = stmt.node
    if n.get("missing_ok") or exempt:
        return
    name = str(n.get("dbname", ""))
    toks = stmt.tokens()
    at = toks[1].end if len(toks) > 1 and toks[1].name == "DATABASE" else None
    ctx.report(
        "I201",
        stmt,
        *_whole(stmt),
        f"DROP DATABASE {name} fails when the migration runs again (the database is already "
        "gone); add IF EXISTS",
        obj=name or None,
        fix=insertion_fix(stmt, at, " IF EXISTS", "add IF EXISTS"),
    )


def _alter_table(ctx: FileContext, stmt: Statement, state: _State, exempt: bool) -> None:
    n = stmt.node
    if n.get("objtype", "OBJECT_TABLE") not in ("OBJECT_TABLE", "OBJECT_FOREIGN_TABLE"):
        return
    schema, table = nodes.rangevar(n.get("relation"))
    if state.is_fresh(table):
        return
    cmds = n.get("cmds") or []
    spans = nodes.CmdSpans(stmt)
    for i, item in enumerate(cmds):
        cmd = item.get("AlterTableCmd", {})
        sub = cmd.get("subtype")
        if sub == "AT_DropConstraint" and cmd.get("name"):
            state.dropped.add(("constraint", table.lower(), str(cmd["name"]).lower()))
        elif sub == "AT_DropColumn" and cmd.get("name"):
            state.dropped.add(("column", table.lower(), str(cmd["name"]).lower()))
        if exempt:
            continue
        if sub == "AT_AddColumn":
            col = cmd.get("def", {}).get("ColumnDef", {})
            colname = str(col.get("colname", ""))
            if cmd.get("missing_ok") or guarded(
                stmt, [colname], frozenset({"42701"}), also=[table]
            ):
                continue
            if ("column", table.lower(), colname.lower()) in state.dropped:
                continue
            if state.gone_later(("column", table.lower(), colname.lower())):
                continue
            at = stmt.loc(col.get("location"))
            start, end = spans[i]
            ctx.report(
                "I107",
                stmt,
                start,
                end,
                f"ADD COLUMN {colname} to {table} fails when the migration runs again; use "
                f"ADD COLUMN IF NOT EXISTS",
                obj=_obj(ctx, schema, table) + f".{colname}",
                fix=insertion_fix(stmt, at, "IF NOT EXISTS ", "add IF NOT EXISTS"),
            )
        elif sub == "AT_DropColumn":
            colname = str(cmd.get("name", ""))
            if cmd.get("missing_ok") or guarded(
                stmt, [colname], frozenset({"42703"}), also=[table]
            ):
                continue
            if ("column", table.lower(), colname.lower()) in state.created:
                continue  # added earlier in this file: there to drop on every run
            start, end = spans[i]
            tok = nodes.find_tokens(stmt, ("DROP",), start)
            at = None
            if tok is not None:
                nxt = nodes.find_tokens(stmt, ("COLUMN",), tok.end)
                at = nxt.end if nxt is not None and nxt.start < end else tok.end
            ctx.report(
                "I202",
                stmt,
                start,
                end,
                f"DROP COLUMN {colname} from {table} fails when the migration runs again; use "
                f"DROP COLUMN IF EXISTS",
                obj=_obj(ctx, schema, table) + f".{colname}",
                fix=insertion_fix(stmt, at, " IF EXISTS", "add IF EXISTS"),
            )
        elif sub == "AT_DropConstraint":
            conname = str(cmd.get("name", ""))
            if cmd.get("missing_ok") or guarded(stmt, [conname], frozenset({"42704"})):
                continue
            if ("constraint", table.lower(), conname.lower()) in state.created:
                continue  # added earlier in this file: there to drop on every run
            start, end = spans[i]
            tok = nodes.find_tokens(stmt, ("CONSTRAINT",), start)
            ctx.report(
                "I203",
                stmt,
                start,
                end,
                f"DROP CONSTRAINT {conname} on {table} fails when the migration runs again; use "
                f"DROP CONSTRAINT IF EXISTS",
                obj=_obj(ctx, schema, conname),
                fix=insertion_fix(stmt, tok.end if tok else None, " IF EXISTS", "add IF EXISTS"),
            )
        elif sub == "AT_AddConstraint":
            con = cmd.get("def", {}).get("Constraint", {})
            _add_constraint(ctx, stmt, state, con, schema, table, spans, i)


_CONTYPE = {
    "CONSTR_PRIMARY": "PRIMARY KEY",
    "CONSTR_UNIQUE": "UNIQUE",
    "CONSTR_FOREIGN": "FOREIGN KEY",
    "CONSTR_CHECK": "CHECK",
    "CONSTR_EXCLUSION": "EXCLUDE",
    "CONSTR_NOTNULL": "NOT NULL",
}


def _add_constraint(
    ctx: FileContext,
    stmt: Statement,
    state: _State,
    con: Node,
    schema: str | None,
    table: str,
    spans: nodes.CmdSpans,
    i: int,
) -> None:
    contype = _CONTYPE.get(str(con.get("contype")), str(con.get("contype", "")))
    conname = con.get("conname")
    cols = nodes.strings(con.get("keys")) or nodes.strings(con.get("fk_attrs"))
    # A constraint backed by an index fails like a relation (42P07), a second primary key with
    # 42P16; the others with duplicate_object. An unnamed one other than a primary key does not
    # fail at all: it is added again.
    index_backed = contype in ("PRIMARY KEY", "UNIQUE", "EXCLUDE")
    errors = frozenset({"42P07", "42P16"}) if index_backed else DUPLICATE_OBJECT
    if not conname and contype != "PRIMARY KEY":
        errors = NOTHING
    if conname:
        if ("constraint", table.lower(), str(conname).lower()) in state.dropped:
            return
        if state.gone_later(("constraint", table.lower(), str(conname).lower())):
            return
        if guarded(stmt, [conname], errors):
            return
        start, end = spans[i]
        ctx.report(
            "I401",
            stmt,
            start,
            end,
            f"ADD CONSTRAINT {conname} ({contype}) on {table} fails when the migration runs "
            f"again (PostgreSQL has no IF NOT EXISTS for constraints); guard it in a DO block or "
            f"drop it first with DROP CONSTRAINT IF EXISTS",
            obj=_obj(ctx, schema, conname),
        )
        return
    if guarded(stmt, cols or [table], errors, also=[table]):
        return
    colnote = f" ({', '.join(cols)})" if cols else ""
    if contype == "PRIMARY KEY":
        effect = "fails when the migration runs again (the table already has a primary key)"
    else:
        effect = "adds another copy of the constraint every time the migration runs"
    start, end = spans[i]
    ctx.report(
        "I401",
        stmt,
        start,
        end,
        f"ADD {contype}{colnote} on {table} without a constraint name {effect}; name it and "
        f"guard it in a DO block",
        obj=_obj(ctx, schema, table),
    )


def _create_or_replace(code: str, what: str) -> Handler:
    def handle(ctx: FileContext, stmt: Statement, state: _State, exempt: bool) -> None:
        n = stmt.node
        if n.get("replace") or exempt:
            return
        if stmt.kind == "ViewStmt":
            schema, name = nodes.rangevar(n.get("view"))
            if n.get("view", {}).get("relpersistence") == "t":
                return
            kind = "view"
            label = what
            obj = _obj(ctx, schema, name)
        else:
            names = nodes.strings(n.get("funcname"))
            name = names[-1] if names else ""
            kind = "procedure" if n.get("is_procedure") else "function"
            label = "CREATE PROCEDURE" if n.get("is_procedure") else what
            obj = nodes.qualified_list(names, _schema(ctx))
        errors = DUPLICATE_TABLE if kind == "view" else frozenset({"42723"})
        if (kind, name.lower()) in state.dropped or guarded(stmt, [name], errors):
            return
        tok = nodes.find_tokens(stmt, ("CREATE",), stmt.start)
        ctx.report(
            code,
            stmt,
            *_whole(stmt),
            f"{label} {name} fails when the migration runs again; use "
            f"{label.replace('CREATE', 'CREATE OR REPLACE')}",
            obj=obj,
            fix=insertion_fix(stmt, tok.end if tok else None, " OR REPLACE", "add OR REPLACE"),
        )

    return handle


def _create_trigger(ctx: FileContext, stmt: Statement, state: _State, exempt: bool) -> None:
    n = stmt.node
    if n.get("replace") or exempt:
        return
    name = str(n.get("trigname", ""))
    schema, table = nodes.rangevar(n.get("relation"))
    if state.is_fresh(table):
        return
    if ("trigger", name.lower(), table.lower()) in state.dropped or guarded(
        stmt, [name], DUPLICATE_OBJECT
    ):
        return
    fix: Fix | None = None
    if ctx.config.pg_version >= 14 and not n.get("isconstraint"):
        tok = nodes.find_tokens(stmt, ("CREATE",), stmt.start)
        fix = insertion_fix(stmt, tok.end if tok else None, " OR REPLACE", "add OR REPLACE")
    hint = (
        "use CREATE OR REPLACE TRIGGER or put DROP TRIGGER IF EXISTS "
        if ctx.config.pg_version >= 14 and not n.get("isconstraint")
        else "put DROP TRIGGER IF EXISTS "
    )
    ctx.report(
        "I303",
        stmt,
        *_whole(stmt),
        f"CREATE TRIGGER {name} on {table} fails when the migration runs again; {hint}"
        f"{name} ON {table} before it",
        obj=_obj(ctx, schema, table) + f".{name}",
        fix=fix,
    )


def _create_policy(ctx: FileContext, stmt: Statement, state: _State, exempt: bool) -> None:
    n = stmt.node
    if exempt:
        return
    name = str(n.get("policy_name", ""))
    schema, table = nodes.rangevar(n.get("table"))
    if state.is_fresh(table):
        return
    if ("policy", name.lower(), table.lower()) in state.dropped or guarded(
        stmt, [name], DUPLICATE_OBJECT
    ):
        return
    ctx.report(
        "I304",
        stmt,
        *_whole(stmt),
        f"CREATE POLICY {name} on {table} fails when the migration runs again; put "
        f"DROP POLICY IF EXISTS {name} ON {table} before it",
        obj=_obj(ctx, schema, table) + f".{name}",
    )


def _create_type(ctx: FileContext, stmt: Statement, state: _State, exempt: bool) -> None:
    n = stmt.node
    if exempt:
        return
    if stmt.kind == "CompositeTypeStmt":
        schema, name = nodes.rangevar(n.get("typevar"))
        names = [schema, name] if schema else [name]
    elif stmt.kind == "DefineStmt":
        if n.get("kind") != "OBJECT_TYPE" or not n.get("definition"):
            return
        names = nodes.strings(n.get("defnames"))
    else:
        names = nodes.strings(n.get("typeName"))
    names = [x for x in names if x]
    if not names:
        return
    name = names[-1]
    if ("type", name.lower()) in state.dropped or guarded(stmt, [name], DUPLICATE_OBJECT):
        return
    if n.get("if_not_exists"):
        return
    ctx.report(
        "I402",
        stmt,
        *_whole(stmt),
        f"CREATE TYPE {'.'.join(names)} fails when the migration runs again (PostgreSQL has no "
        f"IF NOT EXISTS for types); guard it in a DO block that checks pg_type",
        obj=nodes.qualified_list(names, _schema(ctx)),
    )


def _create_domain(ctx: FileContext, stmt: Statement, state: _State, exempt: bool) -> None:
    if exempt:
        return
    names = nodes.strings(stmt.node.get("domainname"))
    if not names:
        return
    name = names[-1]
    if ("domain", name.lower()) in state.dropped or ("type", name.lower()) in state.dropped:
        return
    if guarded(stmt, [name], DUPLICATE_OBJECT):
        return
    ctx.report(
        "I403",
        stmt,
        *_whole(stmt),
        f"CREATE DOMAIN {'.'.join(names)} fails when the migration runs again (PostgreSQL has no "
        f"IF NOT EXISTS for domains); guard it in a DO block that checks pg_type",
        obj=nodes.qualified_list(names, _schema(ctx)),
    )


def _create_role(ctx: FileContext, stmt: Statement, state: _State, exempt: bool) -> None:
    if exempt:
        return
    name = str(stmt.node.get("role", ""))
    if guarded(stmt, [name], DUPLICATE_OBJECT):
        return
    ctx.report(
        "I407",
        stmt,
        *_whole(stmt),
        f"CREATE ROLE {name} fails when the migration runs again (PostgreSQL has no IF NOT "
        f"EXISTS for roles); guard it in a DO block that checks pg_roles",
        obj=name,
    )


_RENAME_KIND = {
    "OBJECT_TABLE": "TABLE",
    "OBJECT_COLUMN": "COLUMN",
    "OBJECT_INDEX": "INDEX",
    "OBJECT_TABCONSTRAINT": "CONSTRAINT",
    "OBJECT_VIEW": "VIEW",
    "OBJECT_MATVIEW": "MATERIALIZED VIEW",
    "OBJECT_SEQUENCE": "SEQUENCE",
    "OBJECT_TYPE": "TYPE",
    "OBJECT_DOMAIN": "DOMAIN",
    "OBJECT_SCHEMA": "SCHEMA",
    "OBJECT_FUNCTION": "FUNCTION",
    "OBJECT_PROCEDURE": "PROCEDURE",
    "OBJECT_TRIGGER": "TRIGGER",
    "OBJECT_POLICY": "POLICY",
    "OBJECT_ATTRIBUTE": "ATTRIBUTE",
    "OBJECT_DOMCONSTRAINT": "CONSTRAINT",
    "OBJECT_ROLE": "ROLE",
}


def _rename(ctx: FileContext, stmt: Statement, state: _State, exempt: bool) -> None:
    key = _rename_key(stmt.node)
    undoes = False
    if stmt.context != "function":
        # A down section that renames back what its up section renamed: the new name is there.
        undoes = stmt.section == "down" and (key[0], key[1], key[3], key[2]) in state.renamed
        state.renamed.add(key)
    if exempt or undoes:
        return
    n = stmt.node
    rtype = str(n.get("renameType", ""))
    label = _RENAME_KIND.get(rtype, rtype.removeprefix("OBJECT_"))
    newname = str(n.get("newname", ""))
    schema, rel = nodes.rangevar(n.get("relation"))
    obj: str | None
    if rtype in (
        "OBJECT_COLUMN",
        "OBJECT_TABCONSTRAINT",
        "OBJECT_TRIGGER",
        "OBJECT_POLICY",
        "OBJECT_ATTRIBUTE",
        "OBJECT_DOMCONSTRAINT",
    ):
        old = str(n.get("subname", ""))
        where = f" on {rel}" if rel else ""
        obj = _obj(ctx, schema, rel) + f".{old}" if rel else old
    elif rel:
        old = rel
        where = ""
        obj = _obj(ctx, schema, rel)
    else:
        names = nodes.object_names(n.get("object"))
        if not names and n.get("subname"):
            names = [str(n["subname"])]
        old = names[-1] if names else ""
        where = ""
        obj = nodes.qualified_list(names, _schema(ctx)) if names else None
    table_names = [rel] if rel and rtype == "OBJECT_COLUMN" else []
    if guarded(stmt, [old, newname], RENAME, also=table_names):
        return
    ctx.report(
        "I404",
        stmt,
        *_whole(stmt),
        f"RENAME {label} {old} TO {newname}{where} fails when the migration runs again ({old} no "
        f"longer exists); guard it in a DO block that checks the catalog for {old}",
        obj=obj,
    )


def _rename_key(n: Node) -> tuple[str, str, str, str]:
    """(renameType, table, old name, new name) of a RenameStmt, lower case."""
    rtype = str(n.get("renameType", ""))
    _, rel = nodes.rangevar(n.get("relation"))
    if n.get("subname") and rel:
        owner, old = rel, str(n["subname"])
    elif rel:
        owner, old = "", rel
    else:
        names = nodes.object_names(n.get("object"))
        owner, old = "", names[-1] if names else str(n.get("subname") or "")
    return rtype, owner.lower(), old.lower(), str(n.get("newname", "")).lower()


def _alter_enum(ctx: FileContext, stmt: Statement, state: _State, exempt: bool) -> None:
    if exempt:
        return
    n = stmt.node
    names = nodes.strings(n.get("typeName"))
    tname = ".".join(names)
    obj = nodes.qualified_list(names, _schema(ctx))
    if n.get("oldVal"):
        old, new = str(n["oldVal"]), str(n.get("newVal", ""))
        if guarded(stmt, [old, new], frozenset({"22023"})):
            return
        ctx.report(
            "I406",
            stmt,
            *_whole(stmt),
            f"ALTER TYPE {tname} RENAME VALUE '{old}' TO '{new}' fails when the migration runs "
            f"again; guard it in a DO block that checks pg_enum",
            obj=obj,
        )
        return
    if n.get("skipIfNewValExists"):
        return
    value = str(n.get("newVal", ""))
    if guarded(stmt, [value], DUPLICATE_OBJECT):
        return
    tok = nodes.token_after_sequence(stmt, ("ADD", "VALUE"), stmt.start)
    ctx.report(
        "I405",
        stmt,
        *_whole(stmt),
        f"ALTER TYPE {tname} ADD VALUE '{value}' fails when the migration runs again; use "
        f"ADD VALUE IF NOT EXISTS",
        obj=obj,
        fix=insertion_fix(stmt, tok.end if tok else None, " IF NOT EXISTS", "add IF NOT EXISTS"),
    )


def _has_not_exists_guard(select: Node) -> bool:
    """Whether a SELECT feeding an INSERT filters out rows that exist already: NOT EXISTS or
    NOT IN (subquery), <> ALL (subquery), EXCEPT, or a LEFT JOIN whose IS NULL test keeps only
    the unmatched rows."""
    if select.get("op") == "SETOP_EXCEPT":
        return True
    where = select.get("whereClause")
    if _contains(where, _is_negated_sublink):
        return True
    return _contains(select.get("fromClause"), _is_outer_join) and _contains(where, _is_null_test)


def _contains(node: object, pred: Callable[[Node], bool]) -> bool:
    if isinstance(node, dict):
        return pred(node) or any(_contains(v, pred) for v in node.values())
    if isinstance(node, list):
        return any(_contains(v, pred) for v in node)
    return False


def _is_negated_sublink(node: Node) -> bool:
    if "BoolExpr" in node and node["BoolExpr"].get("boolop") == "NOT_EXPR":
        return any("SubLink" in arg for arg in node["BoolExpr"].get("args") or [])
    return "SubLink" in node and node["SubLink"].get("subLinkType") == "ALL_SUBLINK"


def _is_outer_join(node: Node) -> bool:
    return "JoinExpr" in node and node["JoinExpr"].get("jointype") in ("JOIN_LEFT", "JOIN_RIGHT")


def _is_null_test(node: Node) -> bool:
    return "NullTest" in node and node["NullTest"].get("nulltesttype") == "IS_NULL"


def _rows_from_delete(n: Node) -> bool:
    """``WITH moved AS (DELETE ... RETURNING *) INSERT ... SELECT FROM moved``: the rows are moved,
    so a second run finds nothing left to move."""
    with_node: Node = n.get("withClause") or {}
    clause: Node = with_node.get("WithClause", with_node)
    ctes = clause.get("ctes")
    for cte in ctes or []:
        query = cte.get("CommonTableExpr", {}).get("ctequery", {})
        if "DeleteStmt" in query:
            return True
    return False


def _insert(ctx: FileContext, stmt: Statement, state: _State, exempt: bool) -> None:
    if exempt or stmt.context == "function":
        return
    n = stmt.node
    if n.get("onConflictClause"):
        return
    schema, table = nodes.rangevar(n.get("relation"))
    select = n.get("selectStmt")
    if select and "SelectStmt" in select and _has_not_exists_guard(select["SelectStmt"]):
        return
    if _rows_from_delete(n):
        return
    if table.lower() in state.dropped_tables or table.lower() in state.temp:
        return
    if ("table", table.lower()) in state.created and state.gone_later(("table", table.lower())):
        return  # created and dropped again by this file: empty at every start
    if guarded(stmt, [table], frozenset({"23505"})):
        return
    ctx.report(
        "I601",
        stmt,
        *_whole(stmt),
        f"INSERT INTO {table} without ON CONFLICT inserts its rows again (or fails on a unique "
        f"constraint) when the migration runs again; add ON CONFLICT DO NOTHING or a "
        f"WHERE NOT EXISTS guard",
        obj=_obj(ctx, schema, table),
    )


def _truncate(ctx: FileContext, stmt: Statement, state: _State, exempt: bool) -> None:
    if stmt.context == "function" or stmt.section == "down":
        return  # a rollback removes the rows its up section added
    rels = [nodes.rangevar(r.get("RangeVar")) for r in stmt.node.get("relations") or []]
    if rels and all(t.lower() in state.temp for _, t in rels):
        return
    names = ", ".join(nodes.display_name(s, t) for s, t in rels)
    first = rels[0] if rels else (None, "")
    ctx.report(
        "I702",
        stmt,
        *_whole(stmt),
        f"TRUNCATE {names} deletes every row each time the migration runs; upsert the rows you "
        f"need instead",
        obj=_obj(ctx, *first) if first[1] else None,
    )


def _delete(ctx: FileContext, stmt: Statement, state: _State, exempt: bool) -> None:
    if stmt.context == "function" or stmt.section == "down" or stmt.node.get("whereClause"):
        return
    schema, table = nodes.rangevar(stmt.node.get("relation"))
    if table.lower() in state.temp:
        return
    ctx.report(
        "I703",
        stmt,
        *_whole(stmt),
        f"DELETE FROM {table} without WHERE deletes every row each time the migration runs",
        obj=_obj(ctx, schema, table),
    )


_HANDLERS: dict[str, Handler] = {
    "CreateStmt": _create_if_not_exists("I101", "CREATE TABLE", ("TABLE",)),
    "CreateTableAsStmt": lambda ctx, s, st, ex: (
        _create_if_not_exists("I106", "CREATE MATERIALIZED VIEW", ("VIEW",))
        if s.node.get("objtype") == "OBJECT_MATVIEW"
        else _create_if_not_exists("I101", "CREATE TABLE", ("TABLE",))
    )(ctx, s, st, ex),
    "CreateSeqStmt": _create_if_not_exists("I103", "CREATE SEQUENCE", ("SEQUENCE",)),
    "CreateSchemaStmt": _create_if_not_exists("I104", "CREATE SCHEMA", ("SCHEMA",)),
    "CreateExtensionStmt": _create_if_not_exists("I105", "CREATE EXTENSION", ("EXTENSION",)),
    "IndexStmt": _create_index,
    "DropStmt": _drop,
    "DropdbStmt": _drop_database,
    "AlterTableStmt": _alter_table,
    "CreateFunctionStmt": _create_or_replace("I301", "CREATE FUNCTION"),
    "ViewStmt": _create_or_replace("I302", "CREATE VIEW"),
    "CreateTrigStmt": _create_trigger,
    "CreatePolicyStmt": _create_policy,
    "CompositeTypeStmt": _create_type,
    "CreateEnumStmt": _create_type,
    "CreateRangeStmt": _create_type,
    "DefineStmt": _create_type,
    "CreateDomainStmt": _create_domain,
    "CreateRoleStmt": _create_role,
    "RenameStmt": _rename,
    "AlterEnumStmt": _alter_enum,
    "InsertStmt": _insert,
    "TruncateStmt": _truncate,
    "DeleteStmt": _delete,
}
