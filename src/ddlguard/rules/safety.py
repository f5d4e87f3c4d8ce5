"""Safety rules (``S``): statements that lock or rewrite big tables, or break running code.

Every lock and rewrite rule asks one question first: did this table exist before the migration?
A table created earlier in the same file (also inside a ``DO`` block, also with ``IF NOT
EXISTS``), or by another migration added in the same change (``FileContext.change_created``), is
new and empty: nothing waits on its locks, there is nothing to rewrite, and no deployed code uses
it. Those statements are exempt. The type-choice rules (``S6xx``) are about the definition itself
and apply to new tables too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ddlguard.findings import Category, Severity
from ddlguard.rules.base import FileContext
from ddlguard.rules.registry import RuleMaker, register
from ddlguard.sql import nodes
from ddlguard.sql.statements import Node, Parsed, Statement

_rule = RuleMaker(Category.SAFETY, Severity.WARNING)

_EXISTING = (
    " Only tables that exist before the migration count: a table created earlier in the same "
    "file, or by another migration added in the same change, is empty and unused, so it is exempt."
)
_TYPES_OFF = (
    "A type choice, not a hazard: the canonical schema (Drizzle's `timestamp()`, `varchar()`, "
    "`serial()`, `json()`, ...) usually decides the type, and changing it in the migration alone "
    "only creates drift. Select it (`select = [\"S6\"]`) when your team has made this choice."
)
_RENAME_OFF = (
    "A rename is as often the repair as the breakage: when the deployed code already uses the "
    "new name (the drift `ddlguard drift` reports, and the renames `drift --write-fix` writes), "
    "the rename is what makes production work again. Only the deployment knows whether running "
    "code still uses the old name; select it when code and migrations deploy separately."
)

RULES = [
    # --- indexes and CONCURRENTLY -------------------------------------------------------------
    _rule(
        "S101",
        "create-index-without-concurrently",
        "CREATE INDEX on an existing table without CONCURRENTLY",
        "A plain CREATE INDEX holds a SHARE lock on the table for the whole build: every INSERT, "
        "UPDATE and DELETE waits until the index is finished, minutes on a big table. "
        "CREATE INDEX CONCURRENTLY builds it while writes continue." + _EXISTING,
        "CREATE INDEX IF NOT EXISTS idx_phone_number_upn\n"
        "    ON phone_number_inventory (user_principal_name);",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_phone_number_upn\n"
        "    ON phone_number_inventory (user_principal_name);",
        "Add CONCURRENTLY and run the statement outside a transaction (its own migration file "
        "when the tool wraps files in a transaction). If a concurrent build fails it leaves an "
        "INVALID index: drop it and build again.",
    ),
    _rule(
        "S102",
        "drop-index-without-concurrently",
        "DROP INDEX without CONCURRENTLY",
        "DROP INDEX takes an ACCESS EXCLUSIVE lock on the index's table: while it waits for "
        "running queries to finish, every new query on the table queues behind it, reads "
        "included. DROP INDEX CONCURRENTLY waits for conflicting transactions without blocking "
        "them. An index created earlier in the same file (or in the same change) is exempt.",
        "DROP INDEX IF EXISTS idx_phone_number_upn;",
        "DROP INDEX CONCURRENTLY IF EXISTS idx_phone_number_upn;",
        "Add CONCURRENTLY and run it outside a transaction; it drops one index per statement and "
        "takes no CASCADE.",
    ),
    _rule(
        "S103",
        "reindex-without-concurrently",
        "REINDEX of an existing table or index without CONCURRENTLY",
        "REINDEX blocks writes to the table (and reads that would use the index) until the "
        "rebuild ends. PostgreSQL 12 added REINDEX CONCURRENTLY, which rebuilds alongside the "
        "old index; before 12, build a replacement with CREATE INDEX CONCURRENTLY and drop the "
        "old one (checked against `pg-version`)." + _EXISTING,
        "REINDEX INDEX idx_phone_number_status;",
        "REINDEX INDEX CONCURRENTLY idx_phone_number_status;",
        "Use REINDEX ... CONCURRENTLY outside a transaction (PostgreSQL 12+), or before 12 "
        "CREATE INDEX CONCURRENTLY a copy, DROP INDEX CONCURRENTLY the old one and rename.",
    ),
    _rule(
        "S104",
        "detach-partition-without-concurrently",
        "ALTER TABLE ... DETACH PARTITION without CONCURRENTLY (PostgreSQL 14+)",
        "A plain DETACH PARTITION takes an ACCESS EXCLUSIVE lock on the partitioned table: every "
        "query on any partition waits. From PostgreSQL 14, DETACH PARTITION ... CONCURRENTLY "
        "needs only SHARE UPDATE EXCLUSIVE on the parent. Not reported when `pg-version` is "
        "below 14, where there is no alternative." + _EXISTING,
        "ALTER TABLE call_records DETACH PARTITION call_records_2023;",
        "ALTER TABLE call_records DETACH PARTITION call_records_2023 CONCURRENTLY;",
        "Add CONCURRENTLY and run it outside a transaction. It is not allowed when the "
        "partitioned table has a default partition; if it is interrupted, finish it with "
        "DETACH PARTITION ... FINALIZE.",
    ),
    _rule(
        "S105",
        "concurrently-in-transaction",
        "CONCURRENTLY inside a transaction, a DO block or a function",
        "CREATE INDEX CONCURRENTLY, DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY and DETACH "
        "PARTITION CONCURRENTLY cannot run inside a transaction block: PostgreSQL rejects them "
        "(`cannot run inside a transaction block`), and a DO block or function body is always "
        "inside one. The migration fails, or, in a tool that wraps each file in a transaction, "
        "can never succeed.",
        "BEGIN;\nCREATE INDEX CONCURRENTLY idx_calls_started_at ON calls (started_at);\nCOMMIT;",
        "-- its own file, outside BEGIN ... COMMIT (e.g. `-- +goose NO TRANSACTION`)\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_calls_started_at ON calls (started_at);",
        "Move the statement out of the transaction: its own migration file, with the tool's "
        "no-transaction marker where it has one. Keep it at the top level, not in a DO block.",
        severity=Severity.ERROR,
    ),
    # --- columns and table rewrites ----------------------------------------------------------
    _rule(
        "S201",
        "add-column-rewrites-table",
        "ADD COLUMN whose default rewrites the whole table",
        "Since PostgreSQL 11, ADD COLUMN with a constant or stable default (`false`, `'x'`, "
        "`now()`, CURRENT_TIMESTAMP) only records the default in the catalog. A volatile default "
        "(random(), clock_timestamp(), gen_random_uuid(), uuid_generate_v4(), nextval(), a "
        "serial type), an identity column or a stored generated column still fills every row: "
        "the table and its indexes are rewritten under an ACCESS EXCLUSIVE lock. Before "
        "PostgreSQL 11 (`pg-version`), any non-null default does that." + _EXISTING,
        "ALTER TABLE phone_number_inventory\n"
        "    ADD COLUMN IF NOT EXISTS public_id uuid DEFAULT gen_random_uuid();",
        "ALTER TABLE phone_number_inventory ADD COLUMN IF NOT EXISTS public_id uuid;\n"
        "ALTER TABLE phone_number_inventory ALTER COLUMN public_id SET DEFAULT gen_random_uuid();\n"
        "-- then fill existing rows in batches: UPDATE ... WHERE id IN (...)",
        "Add the column without the default (or with a constant one), set the default in a "
        "second statement so that only new rows get it, and backfill existing rows in batches.",
    ),
    _rule(
        "S202",
        "add-column-not-null-without-default",
        "ADD COLUMN ... NOT NULL without a default on an existing table",
        "Existing rows get NULL in the new column, which NOT NULL (or PRIMARY KEY) forbids: the "
        "statement fails with `column contains null values` as soon as the table has a row. It "
        "passes on an empty development database and fails in production." + _EXISTING,
        "ALTER TABLE tenant_powershell_credentials ADD COLUMN app_id text NOT NULL;",
        "ALTER TABLE tenant_powershell_credentials\n"
        "    ADD COLUMN IF NOT EXISTS app_id text NOT NULL DEFAULT 'PENDING_CERTIFICATE_SETUP';",
        "Give the column a (non-volatile) default, or add it nullable, backfill it, and then set "
        "NOT NULL the safe way (see S303).",
        severity=Severity.ERROR,
    ),
    _rule(
        "S203",
        "alter-column-type-rewrites-table",
        "ALTER COLUMN ... TYPE that rewrites the table",
        "Changing a column's type rewrites the table and rebuilds its indexes under an ACCESS "
        "EXCLUSIVE lock, unless the new type is binary-compatible with the old one. Safe: "
        "varchar(n) to a longer varchar(m), to varchar or to text; text to varchar without a "
        "length; numeric(p,s) to a larger precision with the same scale, or to plain numeric. "
        "When the old type is not in this file, a widening target (text, varchar, numeric) is "
        "given the benefit of the doubt; every other change (int to bigint, anything with USING) "
        "is assumed to rewrite." + _EXISTING,
        "ALTER TABLE calls ALTER COLUMN id TYPE bigint;",
        "-- add the new column, fill it in batches, swap in a short transaction:\n"
        "ALTER TABLE calls ADD COLUMN IF NOT EXISTS id_new bigint;",
        "Add a new column of the new type, keep it in sync with a trigger, backfill in batches, "
        "then swap the columns in one short transaction.",
    ),
    # --- constraints ---------------------------------------------------------------------------
    _rule(
        "S301",
        "add-foreign-key-without-not-valid",
        "FOREIGN KEY added to an existing table without NOT VALID",
        "Adding a foreign key checks every existing row while holding a SHARE ROW EXCLUSIVE lock "
        "on both tables: writes to the table and to the referenced table wait for the whole "
        "scan. With NOT VALID the constraint is enforced for new rows at once, and VALIDATE "
        "CONSTRAINT later checks the old rows under a lock that lets writes through. "
        "ADD COLUMN ... REFERENCES is reported too (it cannot be NOT VALID)." + _EXISTING,
        "ALTER TABLE phone_number_inventory ADD CONSTRAINT phone_number_inventory_tenant_id_fkey\n"
        "    FOREIGN KEY (tenant_id) REFERENCES customer_tenants (id);",
        "ALTER TABLE phone_number_inventory ADD CONSTRAINT phone_number_inventory_tenant_id_fkey\n"
        "    FOREIGN KEY (tenant_id) REFERENCES customer_tenants (id) NOT VALID;\n"
        "ALTER TABLE phone_number_inventory VALIDATE CONSTRAINT phone_number_inventory_tenant_id_fkey;",
        "Add the constraint with NOT VALID, then VALIDATE CONSTRAINT in a separate statement "
        "(ideally a separate transaction). For a new column, add the column first and the "
        "constraint that way.",
    ),
    _rule(
        "S302",
        "add-check-without-not-valid",
        "CHECK constraint added to an existing table without NOT VALID",
        "ADD CONSTRAINT ... CHECK scans the whole table under an ACCESS EXCLUSIVE lock: nothing "
        "can read or write the table until every row is checked. NOT VALID skips the scan (new "
        "rows are checked at once) and VALIDATE CONSTRAINT checks the old rows later with a "
        "lock that lets reads and writes through." + _EXISTING,
        "ALTER TABLE phone_number_inventory ADD CONSTRAINT phone_number_inventory_status_check\n"
        "    CHECK (status IN ('available', 'reserved', 'used', 'aging'));",
        "ALTER TABLE phone_number_inventory ADD CONSTRAINT phone_number_inventory_status_check\n"
        "    CHECK (status IN ('available', 'reserved', 'used', 'aging')) NOT VALID;\n"
        "ALTER TABLE phone_number_inventory VALIDATE CONSTRAINT phone_number_inventory_status_check;",
        "Add the constraint with NOT VALID, then VALIDATE CONSTRAINT in a separate statement.",
    ),
    _rule(
        "S303",
        "set-not-null-without-check",
        "ALTER COLUMN ... SET NOT NULL without a validated CHECK (col IS NOT NULL) first",
        "SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock to prove there is no "
        "NULL. From PostgreSQL 12 the scan is skipped when a valid CHECK constraint already "
        "proves it: add CHECK (col IS NOT NULL) NOT VALID, VALIDATE it (writes go on), then SET "
        "NOT NULL is instant. Before 12 (`pg-version`) the scan cannot be avoided. Accepted as "
        "the path: earlier in the file, a CHECK (col IS NOT NULL) that is valid or validated, or "
        "a VALIDATE CONSTRAINT of a constraint whose name contains the column's name." + _EXISTING,
        "ALTER TABLE tenant_powershell_credentials ALTER COLUMN app_id SET NOT NULL;",
        "ALTER TABLE tenant_powershell_credentials\n"
        "    ADD CONSTRAINT tenant_powershell_credentials_app_id_not_null\n"
        "    CHECK (app_id IS NOT NULL) NOT VALID;\n"
        "ALTER TABLE tenant_powershell_credentials\n"
        "    VALIDATE CONSTRAINT tenant_powershell_credentials_app_id_not_null;\n"
        "ALTER TABLE tenant_powershell_credentials ALTER COLUMN app_id SET NOT NULL;\n"
        "ALTER TABLE tenant_powershell_credentials\n"
        "    DROP CONSTRAINT IF EXISTS tenant_powershell_credentials_app_id_not_null;",
        "Add CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT, SET NOT NULL, then drop the "
        "CHECK. On PostgreSQL before 12, consider keeping the validated CHECK instead of NOT NULL.",
    ),
    _rule(
        "S304",
        "add-unique-without-using-index",
        "UNIQUE or PRIMARY KEY added to an existing table without USING INDEX",
        "ADD CONSTRAINT ... UNIQUE / PRIMARY KEY builds its index while holding an ACCESS "
        "EXCLUSIVE lock: the table is unreadable for the whole build. Building the unique index "
        "CONCURRENTLY first and attaching it with USING INDEX takes the lock only for a moment. "
        "ADD COLUMN ... UNIQUE / PRIMARY KEY is reported too." + _EXISTING,
        "ALTER TABLE connectwise_credentials\n"
        "    ADD CONSTRAINT connectwise_credentials_tenant_id_key UNIQUE (tenant_id);",
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS connectwise_credentials_tenant_id_key\n"
        "    ON connectwise_credentials (tenant_id);\n"
        "ALTER TABLE connectwise_credentials ADD CONSTRAINT connectwise_credentials_tenant_id_key\n"
        "    UNIQUE USING INDEX connectwise_credentials_tenant_id_key;",
        "CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... UNIQUE (or PRIMARY KEY) "
        "USING INDEX.",
    ),
    # --- changes that break running code -----------------------------------------------------
    _rule(
        "S401",
        "rename-column",
        "Renaming a column of an existing table",
        "The application that is running while the migration deploys still uses the old name: "
        "every query that names it fails (`column does not exist`) until the new code is "
        "everywhere, and a rollback of the code fails the same way." + _EXISTING,
        "ALTER TABLE connectwise_credentials RENAME COLUMN server_url TO base_url;",
        "ALTER TABLE connectwise_credentials ADD COLUMN IF NOT EXISTS base_url text;\n"
        "-- write both columns from the code, backfill, switch reads, drop server_url later",
        "Expand and contract: add the new column, write both, backfill, move the reads, and drop "
        "the old column in a later release. Suppress it when no deployed code uses the old name.",
        default=False,
        off_reason=_RENAME_OFF,
    ),
    _rule(
        "S402",
        "rename-table",
        "Renaming an existing table or view",
        "Deployed code still queries the old name and fails (`relation does not exist`) from the "
        "moment the rename commits until every instance runs the new code." + _EXISTING,
        "ALTER TABLE phone_numbers RENAME TO phone_number_inventory;",
        "ALTER TABLE phone_numbers RENAME TO phone_number_inventory;\n"
        "CREATE OR REPLACE VIEW phone_numbers AS SELECT * FROM phone_number_inventory;\n"
        "-- drop the view once no deployed code uses the old name",
        "Rename, and keep the old name as a simple (updatable) view until the code has moved; or "
        "suppress it when nothing uses the old name.",
        default=False,
        off_reason=_RENAME_OFF,
    ),
    _rule(
        "S403",
        "drop-column",
        "Dropping a column of an existing table",
        "Deployed code that still reads or writes the column fails as soon as the migration "
        "commits, and the data is gone: a rollback of the code cannot bring it back." + _EXISTING,
        "ALTER TABLE tenant_powershell_credentials DROP COLUMN IF EXISTS username_deprecated;",
        "-- release 1: stop using the column in the code (and in ORM models)\n"
        "-- release 2, once no deployed code uses it:\n"
        "ALTER TABLE tenant_powershell_credentials DROP COLUMN IF EXISTS username_deprecated;  "
        "-- ddlguard: ignore[S403]",
        "Remove every use of the column from the code first, deploy, and drop it in a later "
        "migration with a suppression comment that records the decision.",
    ),
    _rule(
        "S404",
        "drop-table",
        "Dropping an existing table",
        "Every row of the table is lost, and deployed code that uses the table fails at once. "
        "The seed's ADD_PHONE_NUMBER_INVENTORY.sql dropped phone_number_inventory to rebuild it: "
        "run in production, it erases the inventory." + _EXISTING,
        "DROP TABLE IF EXISTS phone_number_inventory CASCADE;",
        "ALTER TABLE phone_number_inventory ADD COLUMN IF NOT EXISTS carrier text;",
        "Change the table in place instead of rebuilding it; drop a table only after the code "
        "has stopped using it, with a suppression comment that records the decision.",
    ),
    _rule(
        "S405",
        "truncate-cascade",
        "TRUNCATE ... CASCADE",
        "CASCADE also empties every table that references the truncated one through a foreign "
        "key, and every table that references those: tables the statement does not name lose all "
        "their rows, under an ACCESS EXCLUSIVE lock on each.",
        "TRUNCATE customer_tenants CASCADE;",
        "DELETE FROM phone_number_inventory WHERE tenant_id IN (SELECT id FROM customer_tenants "
        "WHERE is_active = false);",
        "Name the tables to empty explicitly (TRUNCATE fails if another table still references "
        "them), or delete the rows you mean to delete.",
    ),
    # --- lock timeout --------------------------------------------------------------------------
    _rule(
        "S501",
        "require-lock-timeout",
        "Lock-taking statement on an existing table with no SET lock_timeout before it",
        "ALTER TABLE and friends wait for their lock behind any long-running query, and while "
        "they wait every other query on the table queues behind them: a one-millisecond ALTER "
        "becomes an outage. `SET lock_timeout = '5s'` makes the migration give up (and be "
        "retried) instead. Reported once, at the first such statement of each stretch without a "
        "timeout; `SET LOCAL lock_timeout` and `set_config('lock_timeout', ...)` count too, a "
        "value of 0 (no timeout) does not." + _EXISTING,
        "ALTER TABLE tenant_3cx_credentials ADD COLUMN IF NOT EXISTS created_by text;",
        "SET lock_timeout = '5s';\n"
        "ALTER TABLE tenant_3cx_credentials ADD COLUMN IF NOT EXISTS created_by text;",
        "Start the migration with `SET lock_timeout = '5s';` (or SET LOCAL inside the "
        "transaction), and retry the migration when it times out.",
        default=False,
        off_reason="Many teams set lock_timeout once for every migration outside the files (in "
        "the migration tool's connection settings, PGOPTIONS, or ALTER ROLE ... SET "
        "lock_timeout), which a file cannot show. Select it when each migration must set it "
        "itself.",
    ),
    # --- type choices --------------------------------------------------------------------------
    _rule(
        "S601",
        "prefer-text-over-char",
        "char(n) column",
        "char(n) pads values with spaces to n characters, compares ignoring the padding and "
        "stores the padding: surprises in equality, LIKE and concatenation, and no speed or "
        "space advantage over text in PostgreSQL.",
        "CREATE TABLE IF NOT EXISTS country_codes (iso2 char(2) PRIMARY KEY);",
        "CREATE TABLE IF NOT EXISTS country_codes (iso2 text PRIMARY KEY CHECK (length(iso2) = 2));",
        "Use text (with a CHECK on the length when it matters).",
        default=False,
        off_reason=_TYPES_OFF,
    ),
    _rule(
        "S602",
        "prefer-text-over-varchar",
        "varchar(n) column",
        "varchar(n) is text with a length check that is expensive to change later: raising "
        "the limit is cheap, but lowering it, or moving the check, rewrites or scans the table. "
        "text with a CHECK constraint (added NOT VALID) is as fast and easier to change.",
        "ALTER TABLE customer_tenants ADD COLUMN IF NOT EXISTS domain varchar(255);",
        "ALTER TABLE customer_tenants ADD COLUMN IF NOT EXISTS domain text;",
        "Use text, with a CHECK (length(col) <= n) when the limit is a real rule.",
        default=False,
        off_reason=_TYPES_OFF,
    ),
    _rule(
        "S603",
        "prefer-timestamptz",
        "timestamp without time zone column",
        "timestamp without time zone stores a wall-clock reading with no zone: values written by "
        "servers or sessions in different time zones cannot be compared, and daylight-saving "
        "changes make them ambiguous. timestamptz stores an instant (in UTC) and converts on "
        "output.",
        "ALTER TABLE phone_number_inventory ADD COLUMN IF NOT EXISTS reserved_at timestamp;",
        "ALTER TABLE phone_number_inventory ADD COLUMN IF NOT EXISTS reserved_at timestamptz;",
        "Use timestamptz (timestamp with time zone).",
        default=False,
        off_reason=_TYPES_OFF,
    ),
    _rule(
        "S604",
        "prefer-bigint-primary-key",
        "integer or smallint primary key",
        "An int4 key runs out after about 2.1 billion values (smallint after 32,767), counting "
        "every value a sequence ever handed out, including rolled-back inserts. Changing the "
        "type of a primary key later rewrites the table and every table that references it.",
        "CREATE TABLE IF NOT EXISTS call_records (id integer PRIMARY KEY, started_at timestamptz);",
        "CREATE TABLE IF NOT EXISTS call_records (\n"
        "    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, started_at timestamptz);",
        "Use bigint (or uuid) for single-column primary keys.",
        default=False,
        off_reason=_TYPES_OFF,
    ),
    _rule(
        "S605",
        "prefer-identity",
        "serial, bigserial or smallserial column",
        "serial types create a sequence that is only loosely tied to the column: permissions, "
        "ownership and copying the table (CREATE TABLE ... LIKE) need extra care, and explicit "
        "inserts silently bypass it. Identity columns (SQL standard, PostgreSQL 10+) own their "
        "sequence and can refuse explicit values.",
        "CREATE TABLE IF NOT EXISTS call_records (id bigserial PRIMARY KEY);",
        "CREATE TABLE IF NOT EXISTS call_records (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);",
        "Use `bigint GENERATED ALWAYS AS IDENTITY` (or BY DEFAULT).",
        default=False,
        off_reason=_TYPES_OFF,
    ),
    _rule(
        "S606",
        "prefer-jsonb",
        "json column",
        "json stores the text as given and parses it on every access; it has no equality "
        "operator and no GIN indexing. jsonb is parsed once, indexable and what the JSON "
        "operators are optimised for. Keep json only to preserve key order or duplicate keys.",
        "ALTER TABLE customer_tenants ADD COLUMN IF NOT EXISTS settings json;",
        "ALTER TABLE customer_tenants ADD COLUMN IF NOT EXISTS settings jsonb;",
        "Use jsonb.",
        default=False,
        off_reason=_TYPES_OFF,
    ),
]
register(*RULES)


# --- facts about PostgreSQL ------------------------------------------------------------------

# Functions whose default makes ADD COLUMN rewrite the table: VOLATILE in pg_proc, built in or
# from the common extensions (pgcrypto, uuid-ossp). Functions not listed are taken as
# non-volatile, since ddlguard cannot see their declarations; now(), CURRENT_TIMESTAMP and
# statement_timestamp() are STABLE.
_VOLATILE = frozenset(
    {
        "random",
        "random_normal",
        "setseed",
        "gen_random_uuid",
        "gen_random_bytes",
        "uuid_generate_v1",
        "uuid_generate_v1mc",
        "uuid_generate_v4",
        "uuidv4",
        "uuidv7",
        "clock_timestamp",
        "timeofday",
        "nextval",
        "currval",
        "lastval",
        "setval",
    }
)
_SERIAL = {
    "serial": "int4",
    "serial4": "int4",
    "bigserial": "int8",
    "serial8": "int8",
    "smallserial": "int2",
    "serial2": "int2",
}
_SMALL_INTS = frozenset({"int4", "int2", "integer", "int", "smallint"})
_DETACH_PG = 14
_REINDEX_PG = 12
_FAST_DEFAULT_PG = 11
_NOT_NULL_CHECK_PG = 12

# Statements PostgreSQL refuses inside a transaction block when CONCURRENTLY.
_CONCURRENT_WHAT = {
    "IndexStmt": "CREATE INDEX CONCURRENTLY",
    "DropStmt": "DROP INDEX CONCURRENTLY",
    "ReindexStmt": "REINDEX CONCURRENTLY",
    "AlterTableStmt": "DETACH PARTITION CONCURRENTLY",
}


# --- small readers -----------------------------------------------------------------------------


# How PostgreSQL's internal type names are written in SQL.
_SHOWN = {"int4": "integer", "int2": "smallint", "int8": "bigint", "bpchar": "char"}


@dataclass(frozen=True, slots=True)
class TypeInfo:
    """A column type as written: its last name part (``int4``, ``varchar``), its modifiers and
    whether it is an array."""

    name: str
    mods: tuple[int, ...] = ()
    array: bool = False
    node: Node = field(default_factory=dict, compare=False)

    @property
    def display(self) -> str:
        shown = _SHOWN.get(self.name, self.name)
        if self.mods:
            shown += "(" + ",".join(str(m) for m in self.mods) + ")"
        return shown + ("[]" if self.array else "")


def type_info(type_name: Node | None) -> TypeInfo | None:
    """The TypeInfo of a TypeName node."""
    if not type_name:
        return None
    names = nodes.strings(type_name.get("names"))
    if not names:
        return None
    mods: list[int] = []
    for m in type_name.get("typmods") or []:
        const = m.get("A_Const", {}) if isinstance(m, dict) else {}
        ival = const.get("ival")
        if isinstance(ival, dict):
            mods.append(int(ival.get("ival", 0)))
    return TypeInfo(names[-1].lower(), tuple(mods), bool(type_name.get("arrayBounds")), type_name)


def volatile_call(expr: Any) -> str | None:
    """The first volatile function an expression calls, or None."""
    for name in nodes.function_names(expr):
        if name in _VOLATILE:
            return name
    return None


def _is_null_const(expr: Any) -> bool:
    if not isinstance(expr, dict):
        return False
    const = expr.get("A_Const")
    if isinstance(const, dict) and const.get("isnull"):
        return True
    cast = expr.get("TypeCast")
    return isinstance(cast, dict) and _is_null_const(cast.get("arg"))


def not_null_columns(expr: Any) -> set[str]:
    """Columns a CHECK expression proves NOT NULL: ``col IS NOT NULL``, also inside AND."""
    out: set[str] = set()
    if not isinstance(expr, dict):
        return out
    test = expr.get("NullTest")
    if isinstance(test, dict) and test.get("nulltesttype") == "IS_NOT_NULL":
        ref = (test.get("arg") or {}).get("ColumnRef", {})
        fields = nodes.strings(ref.get("fields"))
        if fields:
            out.add(fields[-1].lower())
    boolean = expr.get("BoolExpr")
    if isinstance(boolean, dict) and boolean.get("boolop") == "AND_EXPR":
        for arg in boolean.get("args") or []:
            out |= not_null_columns(arg)
    return out


def _constraints(coldef: Node) -> list[Node]:
    return [
        c["Constraint"]
        for c in coldef.get("constraints") or []
        if isinstance(c, dict) and "Constraint" in c
    ]


def _qualify(schema: str | None, name: str, default_schema: str) -> str:
    """nodes.qualify, lower-cased: the key of a relation in this module's state."""
    return nodes.qualify(schema, name, default_schema).lower()


def _rel(rv: Node | None, default_schema: str) -> str:
    schema, name = nodes.rangevar(rv)
    return _qualify(schema, name, default_schema) if name else ""


def _list_name(names: list[str], default_schema: str) -> str:
    return nodes.qualified_list(names, default_schema).lower()


def created_relations(stmt: Statement, default_schema: str) -> list[str]:
    """Qualified, lower-cased relations a statement creates: tables (also CREATE TABLE AS and
    materialized views) and indexes, which share one namespace per schema in PostgreSQL."""
    n = stmt.node
    if stmt.kind == "CreateStmt":
        return [_rel(n.get("relation"), default_schema)]
    if stmt.kind == "CreateTableAsStmt":
        into_node: Node = n.get("into") or {}
        into: Node = into_node.get("IntoClause", into_node)
        return [_rel(into.get("rel"), default_schema)]
    if stmt.kind == "IndexStmt" and n.get("idxname"):
        schema, _ = nodes.rangevar(n.get("relation"))
        return [_qualify(schema, str(n["idxname"]), default_schema)]
    return []


def relations_created_in(parsed: Parsed, default_schema: str) -> frozenset[str]:
    """Every relation a file creates (top level and DO blocks; not function bodies or down
    sections), for the same-change exemption of other files."""
    out: set[str] = set()
    for stmt in parsed.statements:
        if stmt.context != "function" and stmt.section != "down":
            out.update(r for r in created_relations(stmt, default_schema) if r)
    return frozenset(out)


def _short(qualified: str, default_schema: str) -> str:
    """A qualified name as the message shows it: without the default schema."""
    prefix = default_schema.lower() + "."
    return qualified[len(prefix) :] if qualified.startswith(prefix) else qualified


_ZERO = re.compile(r"^\s*0+\s*(ms|s|min|h|d)?\s*$", re.IGNORECASE)
_SET_CONFIG_TEXT = re.compile(r"set_config\s*\(\s*'lock_timeout'\s*,\s*'([^']*)'", re.IGNORECASE)


def _timeout_value(args: list[Any] | None) -> str | None:
    """The value of ``SET lock_timeout = ...`` as text."""
    for a in args or []:
        const = a.get("A_Const", {}) if isinstance(a, dict) else {}
        if "sval" in const:
            return str(const["sval"].get("sval", ""))
        if "ival" in const:
            return str(const["ival"].get("ival", 0))
        if "fval" in const:
            return str(const["fval"].get("fval", "0"))
    return None


def lock_timeout_change(stmt: Statement) -> tuple[bool, bool] | None:
    """How a statement changes lock_timeout: (set to a non-zero value, SET LOCAL), or None when
    it does not touch it. RESET, SET ... TO DEFAULT and a value of 0 count as no timeout."""
    n = stmt.node
    if stmt.kind == "VariableSetStmt" and str(n.get("name", "")).lower() == "lock_timeout":
        local = bool(n.get("is_local"))
        if n.get("kind") != "VAR_SET_VALUE":
            return False, local
        value = _timeout_value(n.get("args"))
        return (value is not None and not _ZERO.match(value)), local
    if stmt.kind == "SelectStmt" or stmt.kind == "DoStmt":
        # set_config('lock_timeout', '5s', is_local), in a SELECT or a DO block's PERFORM.
        m = _SET_CONFIG_TEXT.search(stmt.text)
        if m:
            local = bool(re.search(r",\s*true\s*\)", stmt.text[m.end() : m.end() + 40], re.I))
            return not _ZERO.match(m.group(1)), local
    return None


def _has_concurrently(params: list[Any] | None) -> bool:
    for p in params or []:
        de = p.get("DefElem", {}) if isinstance(p, dict) else {}
        if str(de.get("defname", "")).lower() == "concurrently":
            return True
    return False


# --- the check -----------------------------------------------------------------------------


@dataclass(slots=True)
class _State:
    schema: str
    change: frozenset[str]
    # Relations (tables, indexes) created earlier in this file.
    created: set[str] = field(default_factory=set)
    # Column types of tables seen in this file: (table, column) -> its TypeName node, turned
    # into a TypeInfo only when a later statement asks (type_of).
    types: dict[tuple[str, str], Node] = field(default_factory=dict)
    # Columns proven NOT NULL by a valid CHECK: (table, column).
    proven: set[tuple[str, str]] = field(default_factory=set)
    # NOT VALID checks waiting for VALIDATE CONSTRAINT: (table, name) -> columns.
    pending: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    # Constraints validated in this file without their ADD here: (table, name).
    validated: set[tuple[str, str]] = field(default_factory=set)
    timeout: bool = False
    timeout_local: bool = False
    timeout_reported: bool = False

    def type_of(self, table: str, column: str) -> TypeInfo | None:
        return type_info(self.types.get((table, column)))

    def existing(self, qualified: str) -> bool:
        return bool(qualified) and qualified not in self.created and qualified not in self.change


def check(ctx: FileContext) -> None:
    if not any(code.startswith("S") for code in ctx.enabled):
        return
    state = _State(ctx.config.default_schema, ctx.change_created)
    lock_rule = ctx.on("S501")
    for stmt in ctx.parsed.statements:
        if stmt.kind == "TransactionStmt":
            if state.timeout_local and stmt.node.get("kind") in (
                "TRANS_STMT_COMMIT",
                "TRANS_STMT_ROLLBACK",
            ):
                state.timeout = state.timeout_local = False
                state.timeout_reported = False
            continue
        kind = stmt.kind
        if kind in _CONCURRENT_WHAT:
            _concurrently_in_transaction(ctx, stmt)
        if stmt.context == "function" or stmt.section == "down":
            # A function body runs when the function is called, a down section on rollback
            # (where dropping what the up section added is the point), not with the migration.
            continue
        if kind in _SETS_TIMEOUT:
            change = lock_timeout_change(stmt)
            if change is not None:
                state.timeout, state.timeout_local = change
                state.timeout_reported = False
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(ctx, stmt, state)
        if lock_rule and _takes_lock(stmt, state):
            _require_lock_timeout(ctx, stmt, state)
        if kind in _TRACKED:
            _track(stmt, state)


# The statement kinds lock_timeout_change and _track look at.
_SETS_TIMEOUT = frozenset({"VariableSetStmt", "SelectStmt", "DoStmt"})
_TRACKED = frozenset({"CreateStmt", "CreateTableAsStmt", "IndexStmt", "RenameStmt"})


def _track(stmt: Statement, state: _State) -> None:
    """Remember what this statement creates, for the statements after it."""
    for rel in created_relations(stmt, state.schema):
        if rel:
            state.created.add(rel)
    n = stmt.node
    if stmt.kind == "CreateStmt":
        table = _rel(n.get("relation"), state.schema)
        for elt in n.get("tableElts") or []:
            col = elt.get("ColumnDef") if isinstance(elt, dict) else None
            if col and col.get("typeName"):
                state.types[(table, str(col.get("colname", "")).lower())] = col["typeName"]
    elif stmt.kind == "RenameStmt" and n.get("renameType") == "OBJECT_TABLE":
        old = _rel(n.get("relation"), state.schema)
        if old in state.created and n.get("newname"):
            schema, _ = nodes.rangevar(n.get("relation"))
            state.created.add(_qualify(schema, str(n["newname"]), state.schema))


# --- S105 ------------------------------------------------------------------------------------


def _concurrent(stmt: Statement) -> bool:
    n = stmt.node
    if stmt.kind in ("IndexStmt", "DropStmt"):
        return bool(n.get("concurrent"))
    if stmt.kind == "ReindexStmt":
        return _has_concurrently(n.get("params"))
    if stmt.kind == "AlterTableStmt":
        for item in n.get("cmds") or []:
            cmd = item.get("AlterTableCmd", {})
            part = (cmd.get("def") or {}).get("PartitionCmd", {})
            if cmd.get("subtype") == "AT_DetachPartition" and part.get("concurrent"):
                return True
    return False


def _concurrently_in_transaction(ctx: FileContext, stmt: Statement) -> None:
    if not ctx.on("S105") or stmt.kind not in _CONCURRENT_WHAT or not _concurrent(stmt):
        return
    what = _CONCURRENT_WHAT[stmt.kind]
    if stmt.context == "do":
        where = "inside a DO block, which always runs in a transaction"
    elif stmt.context == "function":
        where = "inside a function body, which always runs in a transaction"
    elif stmt.in_transaction:
        where = "inside a transaction"
    else:
        return
    ctx.report(
        "S105",
        stmt,
        stmt.start,
        stmt.end,
        f"{what} {where}: PostgreSQL refuses it (`cannot run inside a transaction block`); run "
        f"it at the top level, outside any transaction",
    )


# --- handlers ------------------------------------------------------------------------------


def _create_index(ctx: FileContext, stmt: Statement, state: _State) -> None:
    n = stmt.node
    table = _rel(n.get("relation"), state.schema)
    if n.get("concurrent") or not state.existing(table):
        return
    name = str(n.get("idxname") or "")
    label = f"CREATE INDEX {name}" if name else "CREATE INDEX"
    ctx.report(
        "S101",
        stmt,
        stmt.start,
        stmt.end,
        f"{label} on {_short(table, state.schema)} without CONCURRENTLY blocks every write to "
        f"the table while the index builds; use CREATE INDEX CONCURRENTLY outside a transaction",
        obj=table,
    )


def _drop(ctx: FileContext, stmt: Statement, state: _State) -> None:
    n = stmt.node
    kind = n.get("removeType")
    for obj in n.get("objects") or []:
        name = _list_name(nodes.object_names(obj), state.schema)
        if not state.existing(name):
            continue
        short = _short(name, state.schema)
        if kind == "OBJECT_INDEX" and not n.get("concurrent"):
            ctx.report(
                "S102",
                stmt,
                stmt.start,
                stmt.end,
                f"DROP INDEX {short} without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on its "
                f"table, queueing every query behind it; use DROP INDEX CONCURRENTLY",
                obj=name,
            )
        elif kind == "OBJECT_TABLE":
            ctx.report(
                "S404",
                stmt,
                stmt.start,
                stmt.end,
                f"DROP TABLE {short} deletes every row of an existing table and breaks deployed "
                f"code that uses it",
                obj=name,
            )


def _reindex(ctx: FileContext, stmt: Statement, state: _State) -> None:
    n = stmt.node
    if _has_concurrently(n.get("params")):
        return
    kind = str(n.get("kind", ""))
    if kind in ("REINDEX_OBJECT_INDEX", "REINDEX_OBJECT_TABLE"):
        target = _rel(n.get("relation"), state.schema)
        if not state.existing(target):
            return
        what = ("INDEX " if kind == "REINDEX_OBJECT_INDEX" else "TABLE ") + _short(
            target, state.schema
        )
        obj: str | None = target
    elif kind in ("REINDEX_OBJECT_SCHEMA", "REINDEX_OBJECT_DATABASE"):
        what = ("SCHEMA " if kind == "REINDEX_OBJECT_SCHEMA" else "DATABASE ") + str(
            n.get("name") or ""
        )
        obj = None
    else:
        return  # REINDEX SYSTEM cannot run concurrently
    if ctx.config.pg_version >= _REINDEX_PG:
        advice = "use REINDEX ... CONCURRENTLY outside a transaction"
    else:
        advice = (
            f"PostgreSQL {ctx.config.pg_version} has no REINDEX CONCURRENTLY (12+): build a "
            f"copy with CREATE INDEX CONCURRENTLY and drop the old index"
        )
    ctx.report(
        "S103",
        stmt,
        stmt.start,
        stmt.end,
        f"REINDEX {what.strip()} blocks writes while the indexes are rebuilt; {advice}",
        obj=obj,
    )


def _rename(ctx: FileContext, stmt: Statement, state: _State) -> None:
    n = stmt.node
    rtype = n.get("renameType")
    rel = _rel(n.get("relation"), state.schema)
    if not state.existing(rel):
        return
    short = _short(rel, state.schema)
    if rtype == "OBJECT_COLUMN":
        old = str(n.get("subname", ""))
        ctx.report(
            "S401",
            stmt,
            stmt.start,
            stmt.end,
            f"RENAME COLUMN {old} of {short} to {n.get('newname', '')} breaks deployed code "
            f"that still uses {old}; add the new column and migrate in steps, or suppress if "
            f"nothing uses the old name",
            obj=f"{rel}.{old.lower()}",
        )
    elif rtype in ("OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW", "OBJECT_FOREIGN_TABLE"):
        what = {"OBJECT_TABLE": "table", "OBJECT_FOREIGN_TABLE": "foreign table"}.get(
            str(rtype), "view"
        )
        ctx.report(
            "S402",
            stmt,
            stmt.start,
            stmt.end,
            f"renaming {what} {short} to {n.get('newname', '')} breaks deployed code that still "
            f"uses {short}; keep the old name as a view until the code has moved",
            obj=rel,
        )


def _truncate(ctx: FileContext, stmt: Statement, state: _State) -> None:
    n = stmt.node
    if n.get("behavior") != "DROP_CASCADE":
        return
    names = [
        _short(_rel(r.get("RangeVar"), state.schema), state.schema)
        for r in n.get("relations") or []
        if isinstance(r, dict)
    ]
    ctx.report(
        "S405",
        stmt,
        stmt.start,
        stmt.end,
        f"TRUNCATE {', '.join(names)} CASCADE also empties every table that references "
        f"{'it' if len(names) == 1 else 'them'} through a foreign key; name the tables instead",
        obj=_rel((n.get("relations") or [{}])[0].get("RangeVar"), state.schema) or None,
    )


def _create_table(ctx: FileContext, stmt: Statement, state: _State) -> None:
    n = stmt.node
    table = _rel(n.get("relation"), state.schema)
    coldefs: dict[str, Node] = {}
    for elt in n.get("tableElts") or []:
        col = elt.get("ColumnDef") if isinstance(elt, dict) else None
        if col:
            name = str(col.get("colname", ""))
            coldefs[name.lower()] = col
            _column_types(ctx, stmt, table, name, col, new_column=True)
    # A table-level single-column PRIMARY KEY (col).
    for elt in n.get("tableElts") or []:
        con = elt.get("Constraint") if isinstance(elt, dict) else None
        if con and con.get("contype") == "CONSTR_PRIMARY":
            keys = nodes.strings(con.get("keys"))
            if len(keys) == 1 and keys[0].lower() in coldefs:
                col = coldefs[keys[0].lower()]
                _small_primary_key(
                    ctx, stmt, table, str(col.get("colname", "")), col.get("typeName")
                )


@dataclass(frozen=True, slots=True)
class _Span:
    """Where one command of an ALTER TABLE stands (computed on first use)."""

    spans: nodes.CmdSpans
    index: int

    @property
    def start(self) -> int:
        return self.spans[self.index][0]

    @property
    def end(self) -> int:
        return self.spans[self.index][1]


def _alter_table(ctx: FileContext, stmt: Statement, state: _State) -> None:
    n = stmt.node
    if n.get("objtype") not in (None, "OBJECT_TABLE", "OBJECT_FOREIGN_TABLE"):
        return
    table = _rel(n.get("relation"), state.schema)
    existing = state.existing(table)
    spans = nodes.CmdSpans(stmt)
    short = _short(table, state.schema)
    for i, item in enumerate(n.get("cmds") or []):
        cmd = item.get("AlterTableCmd", {})
        at = _Span(spans, i)
        sub = cmd.get("subtype")
        definition: Node = cmd.get("def") or {}
        if sub == "AT_AddColumn":
            col = definition.get("ColumnDef", {})
            _column_types(ctx, stmt, table, str(col.get("colname", "")), col, new_column=True)
            if col.get("typeName"):
                state.types[(table, str(col.get("colname", "")).lower())] = col["typeName"]
            if existing:
                _add_column(ctx, stmt, state, table, col, at)
        elif sub == "AT_AlterColumnType":
            col = definition.get("ColumnDef", {})
            name = str(cmd.get("name", ""))
            _column_types(ctx, stmt, table, name, col, new_column=False)
            new = type_info(col.get("typeName"))
            old = state.type_of(table, name.lower())
            if new:
                state.types[(table, name.lower())] = new.node
            if existing and new and _rewrites(old, new, col.get("raw_default")):
                was = f" from {old.display}" if old else ""
                ctx.report(
                    "S203",
                    stmt,
                    at.start,
                    at.end,
                    f"changing the type of {short}.{name}{was} to {new.display} rewrites the "
                    f"table and its indexes under an ACCESS EXCLUSIVE lock",
                    obj=f"{table}.{name.lower()}",
                )
        elif sub == "AT_AddConstraint":
            con = definition.get("Constraint", {})
            _add_constraint(ctx, stmt, state, table, con, existing, at)
        elif sub == "AT_ValidateConstraint":
            key = (table, str(cmd.get("name", "")).lower())
            if key in state.pending:
                for col_name in state.pending.pop(key):
                    state.proven.add((table, col_name))
            else:
                state.validated.add(key)
        elif sub == "AT_SetNotNull" and existing:
            _set_not_null(ctx, stmt, state, table, str(cmd.get("name", "")), at)
        elif sub == "AT_DropColumn" and existing:
            col_name = str(cmd.get("name", ""))
            ctx.report(
                "S403",
                stmt,
                at.start,
                at.end,
                f"DROP COLUMN {col_name} of {short} breaks deployed code that still uses it, and "
                f"its data is gone; stop using it in the code first",
                obj=f"{table}.{col_name.lower()}",
            )
        elif sub == "AT_DetachPartition" and existing:
            part = definition.get("PartitionCmd", {})
            if not part.get("concurrent") and ctx.config.pg_version >= _DETACH_PG:
                child = _short(_rel(part.get("name"), state.schema), state.schema)
                ctx.report(
                    "S104",
                    stmt,
                    at.start,
                    at.end,
                    f"DETACH PARTITION {child} without CONCURRENTLY locks all of {short} (ACCESS "
                    f"EXCLUSIVE); use DETACH PARTITION ... CONCURRENTLY outside a transaction",
                    obj=table,
                )


def _add_column(
    ctx: FileContext,
    stmt: Statement,
    state: _State,
    table: str,
    col: Node,
    at: _Span,
) -> None:
    """S201, S202, and the inline forms of S301 and S304, for ADD COLUMN on an existing table."""
    name = str(col.get("colname", ""))
    short = f"{_short(table, state.schema)}.{name}"
    obj = f"{table}.{name.lower()}"
    cons = _constraints(col)
    info = type_info(col.get("typeName"))
    default = next((c.get("raw_expr") for c in cons if c.get("contype") == "CONSTR_DEFAULT"), None)
    if default is None and col.get("raw_default") is not None:
        default = col.get("raw_default")
    has_default = default is not None and not _is_null_const(default)
    serial = info is not None and info.name in _SERIAL
    identity = any(c.get("contype") == "CONSTR_IDENTITY" for c in cons) or bool(
        col.get("identity")
    )
    generated = next((c for c in cons if c.get("contype") == "CONSTR_GENERATED"), None)
    stored = generated is not None and generated.get("generated_kind", "s") == "s"
    # S201: what fills every existing row.
    why: str | None = None
    if serial and info is not None:
        why = f"the {info.name} type's nextval() default"
    elif identity:
        why = "an identity column's sequence values"
    elif stored:
        why = "a stored generated column's values"
    elif has_default:
        volatile = volatile_call(default)
        if volatile:
            why = f"the volatile default {volatile}()"
        elif ctx.config.pg_version < _FAST_DEFAULT_PG:
            why = f"a default on PostgreSQL {ctx.config.pg_version} (before 11 every default does)"
    if why:
        ctx.report(
            "S201",
            stmt,
            at.start,
            at.end,
            f"ADD COLUMN {short} with {why} rewrites the whole table under an ACCESS EXCLUSIVE "
            f"lock; add the column without it, set the default separately and backfill in batches",
            obj=obj,
        )
    # S202: NOT NULL (or PRIMARY KEY) and nothing to fill existing rows with.
    required = next(
        (c.get("contype") for c in cons if c.get("contype") in ("CONSTR_NOTNULL", "CONSTR_PRIMARY")),
        None,
    )
    if required and not (has_default or serial or identity or stored):
        what = "NOT NULL" if required == "CONSTR_NOTNULL" else "PRIMARY KEY (NOT NULL)"
        ctx.report(
            "S202",
            stmt,
            at.start,
            at.end,
            f"ADD COLUMN {short} {what} without a default fails (`column contains null values`) "
            f"as soon as {_short(table, state.schema)} has a row; add a default, or add it "
            f"nullable and backfill",
            obj=obj,
        )
    for con in cons:
        contype = con.get("contype")
        if contype == "CONSTR_FOREIGN":
            target = _short(_rel(con.get("pktable"), state.schema), state.schema)
            ctx.report(
                "S301",
                stmt,
                at.start,
                at.end,
                f"ADD COLUMN {short} REFERENCES {target} validates every row while writes to both "
                f"tables wait; add the column, then the constraint NOT VALID, then VALIDATE it",
                obj=obj,
            )
        elif contype in ("CONSTR_UNIQUE", "CONSTR_PRIMARY"):
            what = "UNIQUE" if contype == "CONSTR_UNIQUE" else "PRIMARY KEY"
            ctx.report(
                "S304",
                stmt,
                at.start,
                at.end,
                f"ADD COLUMN {short} {what} builds an index under an ACCESS EXCLUSIVE lock; add "
                f"the column, CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... USING "
                f"INDEX",
                obj=obj,
            )


def _rewrites(old: TypeInfo | None, new: TypeInfo, using: Any) -> bool:
    """Whether ALTER COLUMN ... TYPE old -> new rewrites the table (see S203's documentation)."""
    if using is not None:
        return True
    if new.array or (old is not None and old.array):
        return not (old is not None and old == new)
    if old is None:
        # The old type is not in this file: a widening target gets the benefit of the doubt.
        return new.name not in ("text", "varchar", "numeric")
    if old.name == new.name and old.mods == new.mods:
        return False
    if old.name == "varchar" and new.name == "text":
        return False
    if old.name == "text" and new.name == "varchar" and not new.mods:
        return False
    if old.name == "varchar" and new.name == "varchar":
        return bool(new.mods) and (not old.mods or new.mods[0] < old.mods[0])
    if old.name == "numeric" and new.name == "numeric":
        if not new.mods:
            return False
        if not old.mods:
            return True
        old_scale = old.mods[1] if len(old.mods) > 1 else 0
        new_scale = new.mods[1] if len(new.mods) > 1 else 0
        return not (new_scale == old_scale and new.mods[0] >= old.mods[0])
    return True


def _add_constraint(
    ctx: FileContext,
    stmt: Statement,
    state: _State,
    table: str,
    con: Node,
    existing: bool,
    at: _Span,
) -> None:
    contype = con.get("contype")
    name = str(con.get("conname") or "")
    short = _short(table, state.schema)
    label = f"CONSTRAINT {name}" if name else "an unnamed"
    not_valid = bool(con.get("skip_validation"))
    if contype == "CONSTR_CHECK":
        cols = not_null_columns(con.get("raw_expr"))
        if not_valid and name:
            state.pending[(table, name.lower())] = cols
        elif not not_valid:
            state.proven |= {(table, c) for c in cols}
        if existing and not not_valid:
            ctx.report(
                "S302",
                stmt,
                at.start,
                at.end,
                f"ADD {label} CHECK on {short} scans every row under an ACCESS EXCLUSIVE lock; add "
                f"it NOT VALID, then VALIDATE CONSTRAINT separately",
                obj=f"{table}.{name.lower()}" if name else table,
            )
    elif contype == "CONSTR_FOREIGN" and existing and not not_valid:
        target = _short(_rel(con.get("pktable"), state.schema), state.schema)
        ctx.report(
            "S301",
            stmt,
            at.start,
            at.end,
            f"ADD {label} FOREIGN KEY on {short} validates every row while writes to {short} and "
            f"{target} wait; add it NOT VALID, then VALIDATE CONSTRAINT separately",
            obj=f"{table}.{name.lower()}" if name else table,
        )
    elif contype in ("CONSTR_UNIQUE", "CONSTR_PRIMARY"):
        if contype == "CONSTR_PRIMARY":
            keys = nodes.strings(con.get("keys"))
            if len(keys) == 1:
                col_type = state.type_of(table, keys[0].lower())
                if col_type is not None:
                    _small_primary_key(ctx, stmt, table, keys[0], col_type.node, at)
        if existing and not con.get("indexname"):
            what = "UNIQUE" if contype == "CONSTR_UNIQUE" else "PRIMARY KEY"
            ctx.report(
                "S304",
                stmt,
                at.start,
                at.end,
                f"ADD {what} on {short} builds its index under an ACCESS EXCLUSIVE lock; CREATE "
                f"UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT ... {what} USING INDEX",
                obj=f"{table}.{name.lower()}" if name else table,
            )


def _set_not_null(
    ctx: FileContext,
    stmt: Statement,
    state: _State,
    table: str,
    column: str,
    at: _Span,
) -> None:
    col = column.lower()
    short = f"{_short(table, state.schema)}.{column}"
    if ctx.config.pg_version < _NOT_NULL_CHECK_PG:
        message = (
            f"SET NOT NULL on {short} scans the whole table under an ACCESS EXCLUSIVE lock, and "
            f"on PostgreSQL {ctx.config.pg_version} (before 12) a CHECK constraint cannot spare "
            f"the scan; keep a validated CHECK ({column} IS NOT NULL) instead"
        )
    else:
        proven = (table, col) in state.proven or any(
            t == table and col in name for t, name in state.validated
        )
        if proven:
            return
        message = (
            f"SET NOT NULL on {short} scans the whole table under an ACCESS EXCLUSIVE lock; add "
            f"CHECK ({column} IS NOT NULL) NOT VALID and VALIDATE it first, so that the scan is "
            f"skipped"
        )
    ctx.report("S303", stmt, at.start, at.end, message, obj=f"{table}.{col}")


# --- types -----------------------------------------------------------------------------------


def _type_span(stmt: Statement, type_name: Node) -> tuple[int, int]:
    """Where a type is written: from its first token to the end of its modifiers and words."""
    start = stmt.loc(type_name.get("location"))
    if start is None:
        return stmt.start, stmt.end
    toks = [t for t in stmt.tokens() if t.start >= start]
    if not toks:
        return start, start
    words = {"varying", "without", "with", "time", "zone", "precision", "double"}
    end = toks[0].end
    i = 1
    while i < len(toks):
        tok = toks[i]
        text = stmt.token_text(tok).lower()
        if tok.name in ("ASCII_40", "ASCII_91"):  # ( [
            close = "ASCII_41" if tok.name == "ASCII_40" else "ASCII_93"
            depth = 0
            while i < len(toks):
                if toks[i].name == tok.name:
                    depth += 1
                elif toks[i].name == close:
                    depth -= 1
                    if depth == 0:
                        break
                i += 1
            if i < len(toks):
                end = toks[i].end
            i += 1
        elif tok.name == "ASCII_46" and i + 1 < len(toks):  # schema.type
            end = toks[i + 1].end
            i += 2
        elif text in words:
            end = tok.end
            i += 1
        else:
            break
    return start, end


def _column_types(
    ctx: FileContext, stmt: Statement, table: str, name: str, col: Node, *, new_column: bool
) -> None:
    """S601, S602, S603, S605, S606 on a column definition; S604 for an inline PRIMARY KEY."""
    if ctx.enabled.isdisjoint(_TYPE_RULES):
        return  # all off by default: skip the work
    type_name = col.get("typeName")
    info = type_info(type_name)
    if info is None or type_name is None:
        return
    obj = f"{table}.{name.lower()}" if name else table
    label = f"column {name}" if name else "the column"
    message: tuple[str, str] | None = None
    if info.name == "bpchar":
        length = info.mods[0] if info.mods else 1
        message = "S601", f"{label} is char({length}), which pads values with spaces; use text"
    elif info.name == "varchar" and info.mods:
        message = "S602", (
            f"{label} is varchar({info.mods[0]}); use text (with a CHECK on the length if the "
            f"limit is a real rule)"
        )
    elif info.name == "timestamp":
        message = "S603", f"{label} is timestamp without time zone; use timestamptz"
    elif info.name == "json":
        message = "S606", f"{label} is json; use jsonb"
    elif info.name in _SERIAL and new_column:
        base = _SHOWN[_SERIAL[info.name]]
        message = "S605", f"{label} is {info.name}; use {base} GENERATED ALWAYS AS IDENTITY"
    if message is not None and ctx.on(message[0]):
        start, end = _type_span(stmt, type_name)
        ctx.report(message[0], stmt, start, end, message[1], obj=obj)
    if any(c.get("contype") == "CONSTR_PRIMARY" for c in _constraints(col)):
        _small_primary_key(ctx, stmt, table, name, type_name)


_TYPE_RULES = frozenset({"S601", "S602", "S603", "S604", "S605", "S606"})


def _small_primary_key(
    ctx: FileContext,
    stmt: Statement,
    table: str,
    name: str,
    type_name: Node | None,
    at: _Span | None = None,
) -> None:
    """S604: a single-column primary key of type integer or smallint (also serial)."""
    info = type_info(type_name)
    if info is None or info.array or type_name is None or not ctx.on("S604"):
        return
    base = _SERIAL.get(info.name, info.name)
    if base not in _SMALL_INTS:
        return
    small = base in ("int2", "smallint")
    start, end = (at.start, at.end) if at is not None else _type_span(stmt, type_name)
    shown = info.name if info.name in _SERIAL else ("smallint" if small else "integer")
    limit = "32,767" if small else "about 2.1 billion"
    ctx.report(
        "S604",
        stmt,
        start,
        end,
        f"primary key {name} of {_short(table, ctx.config.default_schema)} is {shown}, which "
        f"runs out after {limit} values; use bigint",
        obj=f"{table}.{name.lower()}" if name else table,
    )


# --- S501 ------------------------------------------------------------------------------------


def _takes_lock(stmt: Statement, state: _State) -> bool:
    """Whether a statement takes a lock that blocks other sessions on an existing relation."""
    n = stmt.node
    kind = stmt.kind
    if kind == "AlterTableStmt":
        return state.existing(_rel(n.get("relation"), state.schema))
    if kind == "IndexStmt":
        return not n.get("concurrent") and state.existing(_rel(n.get("relation"), state.schema))
    if kind == "DropStmt":
        if n.get("removeType") not in ("OBJECT_TABLE", "OBJECT_INDEX") or n.get("concurrent"):
            return False
        return any(
            state.existing(_list_name(nodes.object_names(o), state.schema))
            for o in n.get("objects") or []
        )
    if kind == "ReindexStmt":
        if _has_concurrently(n.get("params")):
            return False
        rel = n.get("relation")
        return state.existing(_rel(rel, state.schema)) if rel else True
    if kind == "RenameStmt":
        rel = n.get("relation")
        return bool(rel) and state.existing(_rel(rel, state.schema))
    if kind == "CreateTrigStmt":
        return state.existing(_rel(n.get("relation"), state.schema))
    if kind == "TruncateStmt":
        return any(
            state.existing(_rel(r.get("RangeVar"), state.schema))
            for r in n.get("relations") or []
            if isinstance(r, dict)
        )
    return False


def _require_lock_timeout(ctx: FileContext, stmt: Statement, state: _State) -> None:
    if state.timeout or state.timeout_reported or not ctx.on("S501"):
        return
    state.timeout_reported = True
    ctx.report(
        "S501",
        stmt,
        stmt.start,
        stmt.end,
        "this statement locks an existing table with no lock_timeout set before it in the "
        "migration: waiting for its lock, it blocks every query on the table; start with "
        "SET lock_timeout = '5s'",
    )


_HANDLERS = {
    "IndexStmt": _create_index,
    "DropStmt": _drop,
    "ReindexStmt": _reindex,
    "RenameStmt": _rename,
    "TruncateStmt": _truncate,
    "CreateStmt": _create_table,
    "AlterTableStmt": _alter_table,
}


# --- the server beyond the migration's database (S7xx) -----------------------------------------

_SERVER_WIDE = (
    " `ddlguard verify --database-url` refuses to run it (see `ddlguard verify --help`)."
)
SERVER_RULES = [
    _rule(
        "S701",
        "drop-database",
        "DROP DATABASE in a migration",
        "A migration runs in one database; DROP DATABASE removes another one with all its data, "
        "for every application using it, and cannot be rolled back (it refuses to run inside a "
        "transaction block, so the migration tool's transaction does not protect it). Run "
        "against the wrong server, or again, it destroys whatever has that name then."
        + _SERVER_WIDE,
        "DROP DATABASE IF EXISTS ucr_manager_staging;",
        "-- a migration changes its own database only:\n"
        "DROP SCHEMA IF EXISTS import_staging CASCADE;",
        "Take DROP DATABASE out of the migrations: databases are created and dropped by the "
        "deployment (or by hand), not by a schema migration.",
        severity=Severity.ERROR,
    ),
    _rule(
        "S702",
        "alter-system",
        "ALTER SYSTEM in a migration",
        "ALTER SYSTEM writes postgresql.auto.conf: it changes the configuration of the whole "
        "server, for every database on it, survives the migration's rollback (it cannot run in a "
        "transaction block) and takes effect on the next reload or restart, long after the "
        "migration, where nobody looks for it. It needs superuser rights the application's "
        "role should not have." + _SERVER_WIDE,
        "ALTER SYSTEM SET statement_timeout = '30s';",
        "SET statement_timeout = '30s';  -- this session only",
        "Configure the server where it is managed (postgresql.conf, the provider's settings), "
        "outside the migrations; what one migration needs, SET in its own session.",
        severity=Severity.ERROR,
    ),
    _rule(
        "S703",
        "copy-program",
        "COPY ... FROM PROGRAM or TO PROGRAM in a migration",
        "COPY ... PROGRAM runs a shell command on the database server as its operating-system "
        "user (postgres): whatever the command does happens outside the database, on every "
        "server the migration runs on, with no rollback. It needs superuser or "
        "pg_execute_server_program. `ddlguard verify` never runs it, not even on its temporary "
        "cluster.",
        "COPY country_codes FROM PROGRAM 'curl -s https://example.com/countries.csv' WITH (FORMAT csv);",
        "INSERT INTO country_codes (code, name) VALUES ('DE', 'Germany')\n"
        "ON CONFLICT (code) DO NOTHING;",
        "Load data with INSERT ... ON CONFLICT in the migration, or from the client (psql's "
        "\\copy, COPY ... FROM STDIN) as a separate deployment step.",
        severity=Severity.ERROR,
    ),
]
register(*SERVER_RULES)


def _drop_database(ctx: FileContext, stmt: Statement, state: _State) -> None:
    name = str(stmt.node.get("dbname", ""))
    ctx.report(
        "S701",
        stmt,
        stmt.start,
        stmt.end,
        f"DROP DATABASE {name} deletes a whole database and all its data, outside the "
        f"migration's own database and beyond any rollback; take it out of the migrations",
    )


def _alter_system(ctx: FileContext, stmt: Statement, state: _State) -> None:
    setting = (stmt.node.get("setstmt") or {}).get("name")
    what = f"ALTER SYSTEM {'SET ' + str(setting) if setting else 'RESET'}"
    ctx.report(
        "S702",
        stmt,
        stmt.start,
        stmt.end,
        f"{what} changes the configuration of the whole server (postgresql.auto.conf), for "
        f"every database on it; configure the server outside the migrations, or SET it for "
        f"the session",
    )


def _copy_program(ctx: FileContext, stmt: Statement, state: _State) -> None:
    n = stmt.node
    if not n.get("is_program"):
        return
    direction = "FROM" if n.get("is_from") else "TO"
    ctx.report(
        "S703",
        stmt,
        stmt.start,
        stmt.end,
        f"COPY ... {direction} PROGRAM runs a shell command on the database server as its "
        f"operating-system user; load the data with INSERT, or from the client",
    )


_HANDLERS.update(
    {
        "DropdbStmt": _drop_database,
        "AlterSystemStmt": _alter_system,
        "CopyStmt": _copy_program,
    }
)


# --- verify's timeout (I804) ---------------------------------------------------------------------
# Found by `ddlguard verify` (ddlguard.postgres.verify), like I801-I803; registered here, with the
# other rules about what a migration does to the server, so that it is documented and selectable.

_verify_rule = RuleMaker(Category.IDEMPOTENCY, Severity.ERROR)
register(
    _verify_rule(
        "I804",
        "statement-timeout",
        "Statement cancelled by verify's statement timeout or lock timeout",
        "A migration statement that runs for a minute on an empty database, or waits for a "
        "lock nobody else holds, hangs the deployment on a real one: a `pg_sleep`, a loop that "
        "never ends, a lock the migration waits for itself. `ddlguard verify` runs every "
        "statement with statement_timeout (--statement-timeout, 60 s) and lock_timeout "
        "(--lock-timeout, 10 s), cancels it itself if a migration turned the timeout off, "
        "reports it here and goes on with the rest. Reported by `ddlguard verify`, which "
        "applies the migrations to a real, throwaway PostgreSQL twice in a row.",
        "SELECT pg_sleep(1000);  -- cancelled after 60 s",
        "UPDATE phone_number_inventory SET status = 'active' WHERE status IS NULL;",
        "Find out why the statement takes so long on an empty database; when it is expected "
        "(a big data load in the migrations), raise --statement-timeout.",
    )
)
