"""Drift rules (``D``): differences between the schema the migrations (or a snapshot, or a live
database) produce and the canonical schema.

The comparison itself is :func:`ddlguard.schema.diff.diff`; this module declares the rules and
turns each :class:`~ddlguard.schema.diff.Difference` into a :class:`~ddlguard.findings.Finding`
that points at the place a person fixes: the migration or snapshot that is wrong, or, when the
migrations lack something entirely, the canonical schema's definition of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ddlguard.findings import Category, Finding, Fix, Severity
from ddlguard.rules.registry import RuleMaker, register

if TYPE_CHECKING:
    # Imported when used: the rule registry (and so every `ddlguard check`) loads this module.
    from ddlguard.schema.diff import Difference
    from ddlguard.schema.model import Origin


_rule = RuleMaker(Category.DRIFT, Severity.ERROR)


_STORY = (
    "In the seed's deployment, PRODUCTION_DEPLOYMENT.sql had drifted from shared/schema.ts and "
    "from the feature migrations, and nobody knew until production answered with 500 errors. "
)
_WRITE_FIX = (
    " `ddlguard drift --write-fix FILE` writes an idempotent migration that does it; append it "
    "to the migrations (or fix the snapshot) and run `ddlguard drift` again."
)

RULES = [
    _rule(
        "D101",
        "missing-table",
        "A table of the canonical schema is missing from the migrations or a snapshot",
        _STORY + "A table that the code uses but the migrations never create fails every "
        'query against it: `relation "..." does not exist`.',
        "-- shared/schema.ts defines phone_number_inventory; no migration creates it.",
        "CREATE TABLE IF NOT EXISTS phone_number_inventory (\n"
        "    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),\n"
        "    line_uri text NOT NULL\n"
        ");",
        "Add a migration that creates the table as the canonical schema defines it (the finding "
        "points at that definition)." + _WRITE_FIX,
    ),
    _rule(
        "D102",
        "extra-table",
        "The migrations or a snapshot create a table the canonical schema does not have",
        _STORY + "A table that exists only in the SQL is either a leftover nobody maintains or "
        "a part of the schema the code's source of truth forgot; either way the two disagree.",
        "-- PRODUCTION_DEPLOYMENT.sql\nCREATE TABLE IF NOT EXISTS legacy_sessions (id uuid PRIMARY KEY);",
        "-- add legacy_sessions to shared/schema.ts, or drop it in a migration:\n"
        "DROP TABLE IF EXISTS legacy_sessions;",
        "Add the table to the canonical schema, or drop it in a migration after checking nothing "
        "uses its data (the generated fix writes the DROP commented out).",
        severity=Severity.WARNING,
    ),
    _rule(
        "D201",
        "missing-column",
        "A column of the canonical schema is missing from the migrations or a snapshot",
        _STORY + "PRODUCTION_DEPLOYMENT.sql never added connectwise_credentials."
        "auto_update_status or default_status_id, so saving credentials failed with `column "
        '"auto_update_status" does not exist`.',
        "CREATE TABLE IF NOT EXISTS connectwise_credentials (\n"
        "    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),\n"
        "    base_url text NOT NULL\n"
        ");",
        "ALTER TABLE connectwise_credentials\n"
        "    ADD COLUMN IF NOT EXISTS auto_update_status boolean DEFAULT false;",
        "Add the column with ALTER TABLE ... ADD COLUMN IF NOT EXISTS, typed and defaulted as "
        "the canonical schema says (the finding points at its definition)." + _WRITE_FIX,
    ),
    _rule(
        "D202",
        "extra-column",
        "The migrations or a snapshot create a column the canonical schema does not have",
        _STORY + "A column the code does not know is dead weight at best; when it is NOT NULL "
        "without a default, every INSERT from the application fails.",
        "CREATE TABLE IF NOT EXISTS tenant_3cx_credentials (\n"
        "    id uuid PRIMARY KEY,\n    password_hint text\n);",
        "-- add password_hint to shared/schema.ts, or drop it:\n"
        "ALTER TABLE tenant_3cx_credentials DROP COLUMN IF EXISTS password_hint;",
        "Add the column to the canonical schema, or drop it in a migration once its data is not "
        "needed (the generated fix writes the DROP commented out).",
        severity=Severity.WARNING,
    ),
    _rule(
        "D203",
        "renamed-column",
        "A column has an old name: the migrations create one name, the canonical schema has another",
        _STORY + "PRODUCTION_DEPLOYMENT.sql still created connectwise_credentials.server_url, "
        "encrypted_public_key and encrypted_private_key, which shared/schema.ts calls base_url, "
        'public_key and private_key: `column "base_url" does not exist`. ddlguard reports a '
        "missing and an extra column of compatible types with alike names as one rename, so "
        "that the fix keeps the data.",
        "CREATE TABLE IF NOT EXISTS connectwise_credentials (\n"
        "    id uuid PRIMARY KEY,\n    server_url text NOT NULL\n);",
        "DO $$\nBEGIN\n"
        "    IF EXISTS (SELECT 1 FROM information_schema.columns\n"
        "               WHERE table_name = 'connectwise_credentials' AND column_name = 'server_url')\n"
        "       AND NOT EXISTS (SELECT 1 FROM information_schema.columns\n"
        "               WHERE table_name = 'connectwise_credentials' AND column_name = 'base_url') THEN\n"
        "        ALTER TABLE connectwise_credentials RENAME COLUMN server_url TO base_url;\n"
        "    END IF;\nEND $$;",
        "Rename the column in a guarded DO block (as FIX_PRODUCTION_SCHEMA.sql does), or fix the "
        "snapshot's CREATE TABLE to use the new name." + _WRITE_FIX,
    ),
    _rule(
        "D204",
        "column-type",
        "A column's type differs from the canonical schema",
        _STORY + "A column of the wrong type makes the application's writes fail (`invalid input "
        "syntax`), silently truncates (varchar(50) for a 255-character value) or compares "
        "wrongly (text where a timestamp is meant).",
        "CREATE TABLE IF NOT EXISTS connectwise_credentials (default_status_id text);",
        "ALTER TABLE connectwise_credentials\n"
        "    ALTER COLUMN default_status_id TYPE integer USING default_status_id::integer;",
        "Change the type with ALTER COLUMN ... TYPE ... USING ..., after checking that every "
        "value converts." + _WRITE_FIX,
    ),
    _rule(
        "D205",
        "column-nullability",
        "A column is NULL-able in one schema and NOT NULL in the other",
        _STORY + "NOT NULL in the SQL but not in the canonical schema breaks the inserts that "
        "leave the column out; NULL-able where the canonical schema says NOT NULL lets rows in "
        "that the code does not expect.",
        "CREATE TABLE IF NOT EXISTS tenant_powershell_credentials (app_id text);",
        "ALTER TABLE tenant_powershell_credentials ALTER COLUMN app_id SET NOT NULL;",
        "SET NOT NULL (after filling the NULLs) or DROP NOT NULL, as the canonical schema "
        "says." + _WRITE_FIX,
    ),
    _rule(
        "D206",
        "column-default",
        "A column's DEFAULT differs from the canonical schema",
        _STORY + "A missing default makes inserts that rely on it store NULL or fail on NOT "
        "NULL; a different default stores values the code does not expect.",
        "CREATE TABLE IF NOT EXISTS connectwise_credentials (auto_update_status boolean);",
        "ALTER TABLE connectwise_credentials ALTER COLUMN auto_update_status SET DEFAULT false;",
        "SET DEFAULT or DROP DEFAULT as the canonical schema says. Defaults are compared the way "
        "PostgreSQL stores them, so `now()` and `CURRENT_TIMESTAMP` are the same." + _WRITE_FIX,
        severity=Severity.WARNING,
    ),
    _rule(
        "D207",
        "column-identity",
        "A column's identity or generated expression differs from the canonical schema",
        _STORY + "An identity column in one schema and a plain column in the other makes inserts "
        "without an id fail (or ids collide); a generated column that is not generated holds "
        "stale values.",
        "CREATE TABLE IF NOT EXISTS country_codes (id integer PRIMARY KEY, code text);",
        "CREATE TABLE IF NOT EXISTS country_codes (\n"
        "    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n    code text\n);",
        "Add or drop the identity (ALTER COLUMN ... ADD GENERATED ... AS IDENTITY / DROP "
        "IDENTITY IF EXISTS), or the generation expression, as the canonical schema says. "
        "Turning a plain column into a generated one needs the column dropped and added again: "
        "the generated fix writes that commented out.",
    ),
    _rule(
        "D301",
        "primary-key",
        "A table's primary key is missing, extra or different",
        _STORY + "Without the primary key the canonical schema declares, duplicate rows get in, "
        "ON CONFLICT (id) fails, and foreign keys to the table cannot be created.",
        "CREATE TABLE IF NOT EXISTS country_codes (code text NOT NULL, name text);",
        "DO $$\nBEGIN\n"
        "    IF NOT EXISTS (SELECT 1 FROM pg_constraint\n"
        "                   WHERE conrelid = 'country_codes'::regclass AND conname = 'country_codes_pkey') THEN\n"
        "        ALTER TABLE country_codes ADD CONSTRAINT country_codes_pkey PRIMARY KEY (code);\n"
        "    END IF;\nEND $$;",
        "Add the primary key inside a DO block that checks pg_constraint. Constraints are "
        "compared by what they do, not by name: `t_pkey` and `pk_t` on the same columns are "
        "the same key." + _WRITE_FIX,
    ),
    _rule(
        "D302",
        "unique-constraint",
        "A UNIQUE constraint is missing, extra or different",
        _STORY + "connectwise_credentials allows one row per tenant through UNIQUE (tenant_id); "
        "without it a second save inserts a duplicate instead of failing or upserting, and "
        "ON CONFLICT (tenant_id) fails outright.",
        "CREATE TABLE IF NOT EXISTS connectwise_credentials (tenant_id uuid);",
        "DO $$\nBEGIN\n"
        "    IF NOT EXISTS (SELECT 1 FROM pg_constraint\n"
        "                   WHERE conname = 'connectwise_credentials_tenant_id_key') THEN\n"
        "        ALTER TABLE connectwise_credentials\n"
        "            ADD CONSTRAINT connectwise_credentials_tenant_id_key UNIQUE (tenant_id);\n"
        "    END IF;\nEND $$;",
        "Add the constraint inside a guard. A plain unique index on the same columns counts as "
        "the same constraint; names never matter." + _WRITE_FIX,
    ),
    _rule(
        "D303",
        "foreign-key",
        "A FOREIGN KEY is missing, extra or different (columns, referenced table, ON DELETE/UPDATE)",
        _STORY + "Every credentials table references customer_tenants ON DELETE CASCADE; without "
        "the cascade, deleting a tenant fails, and without the key, orphaned credentials stay "
        "behind.",
        "CREATE TABLE IF NOT EXISTS tenant_3cx_credentials (\n"
        "    tenant_id uuid REFERENCES customer_tenants (id)\n);",
        "CREATE TABLE IF NOT EXISTS tenant_3cx_credentials (\n"
        "    tenant_id uuid REFERENCES customer_tenants (id) ON DELETE CASCADE\n);",
        "Add (or replace) the foreign key inside a guard, with the referenced columns and the "
        "ON DELETE / ON UPDATE actions the canonical schema declares." + _WRITE_FIX,
    ),
    _rule(
        "D304",
        "check-constraint",
        "A CHECK constraint is missing, extra or different",
        _STORY + "phone_number_inventory.status is checked against ('available', 'reserved', "
        "'used', 'aging'); a schema without the check accepts any text, one with an older list "
        "rejects the values the code writes today.",
        "CREATE TABLE IF NOT EXISTS phone_number_inventory (status text);",
        "CREATE TABLE IF NOT EXISTS phone_number_inventory (\n"
        "    status text CHECK (status IN ('available', 'reserved', 'used', 'aging'))\n);",
        "Add or replace the check inside a guard. Expressions are compared as PostgreSQL stores "
        "them (`IN (...)` is `= ANY (ARRAY[...])`)." + _WRITE_FIX,
    ),
    _rule(
        "D401",
        "missing-index",
        "An index of the canonical schema is missing",
        _STORY + "The seed's phone_number_inventory needs its indexes on status, tenant_id and "
        "line_uri: without them the inventory pages scan the whole table, and a missing unique "
        "index lets duplicates in.",
        "-- shared/schema.ts: index('idx_phone_number_status').on(table.status)\n"
        "-- no migration creates it",
        "CREATE INDEX IF NOT EXISTS idx_phone_number_status ON phone_number_inventory (status);",
        "Create the index with CREATE INDEX IF NOT EXISTS (CONCURRENTLY on a big table, outside "
        "a transaction). Indexes are matched by definition first: the same index under another "
        "name is not reported." + _WRITE_FIX,
        severity=Severity.WARNING,
    ),
    _rule(
        "D402",
        "extra-index",
        "The migrations or a snapshot create an index the canonical schema does not have",
        _STORY + "An index nobody declared costs every write and disk space, and the next "
        "deployment built from the canonical schema will not have it.",
        "CREATE INDEX IF NOT EXISTS idx_phone_number_notes ON phone_number_inventory (notes);",
        "-- declare it in shared/schema.ts, or:\nDROP INDEX IF EXISTS idx_phone_number_notes;",
        "Declare the index in the canonical schema, or drop it (the generated fix writes the "
        "DROP commented out).",
        severity=Severity.WARNING,
    ),
    _rule(
        "D403",
        "index-definition",
        "An index of the same name has a different definition (columns, unique, method, predicate)",
        _STORY + "An index of the right name on the wrong columns, or not unique where it "
        "should be, looks right in a listing and does not do its job.",
        "CREATE INDEX IF NOT EXISTS idx_phone_number_tenant ON phone_number_inventory (line_uri);",
        "CREATE INDEX IF NOT EXISTS idx_phone_number_tenant ON phone_number_inventory (tenant_id);",
        "Drop the index and create it again as the canonical schema defines it." + _WRITE_FIX,
        severity=Severity.WARNING,
    ),
    _rule(
        "D501",
        "enum-type",
        "An enum type is missing from the migrations, or exists only there",
        _STORY + "A column of an enum type cannot be created, or written, until the type exists.",
        "-- shared/schema.ts: pgEnum('number_status', ['available', 'reserved', 'used', 'aging'])\n"
        "-- no migration creates the type",
        "DO $$\nBEGIN\n"
        "    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'number_status') THEN\n"
        "        CREATE TYPE number_status AS ENUM ('available', 'reserved', 'used', 'aging');\n"
        "    END IF;\nEND $$;",
        "Create the type inside a guard that checks pg_type, or declare it in the canonical "
        "schema." + _WRITE_FIX,
    ),
    _rule(
        "D502",
        "enum-values",
        "An enum type's values are missing, extra or in another order",
        _STORY + "Writing a value the type does not have fails with `invalid input value for "
        "enum`; values in another order sort differently (ORDER BY, <, >).",
        "CREATE TYPE number_status AS ENUM ('available', 'reserved', 'used');",
        "ALTER TYPE number_status ADD VALUE IF NOT EXISTS 'aging' AFTER 'used';",
        "Add missing values with ALTER TYPE ... ADD VALUE IF NOT EXISTS ... BEFORE/AFTER. "
        "PostgreSQL cannot drop or reorder enum values: that needs a new type and the columns "
        "moved to it, by hand.",
    ),
    _rule(
        "D601",
        "missing-view",
        "A view of the canonical schema is missing from the migrations or a snapshot",
        _STORY + "Queries against a view the migrations never create fail with `relation does "
        "not exist`.",
        "-- shared/schema.ts: pgView('active_numbers').as(...)\n-- no migration creates it",
        "CREATE OR REPLACE VIEW active_numbers AS\n"
        "    SELECT * FROM phone_number_inventory WHERE status = 'used';",
        "Create the view with CREATE OR REPLACE VIEW from the canonical definition (the "
        "generated fix cannot write a view's query and leaves a note).",
    ),
    _rule(
        "D602",
        "extra-view",
        "The migrations or a snapshot create a view the canonical schema does not have",
        _STORY + "A view only the SQL knows is a leftover or an undeclared dependency of "
        "something.",
        "CREATE OR REPLACE VIEW legacy_numbers AS SELECT * FROM phone_number_inventory;",
        "-- declare it in the canonical schema, or:\nDROP VIEW IF EXISTS legacy_numbers;",
        "Declare the view in the canonical schema, or drop it (commented out in the generated "
        "fix).",
        severity=Severity.WARNING,
    ),
    _rule(
        "D901",
        "cannot-model",
        "A statement changes the schema in a way ddlguard cannot follow statically",
        "Drift is found by replaying the migrations statement by statement. A dynamic EXECUTE, "
        "or a function call that changes the schema, cannot be replayed, so the tables it "
        "touches may be reported wrongly; ddlguard says so instead of passing silently.",
        "DO $$\nBEGIN\n"
        "    EXECUTE 'ALTER TABLE ' || quote_ident(tbl) || ' ADD COLUMN IF NOT EXISTS notes text';\n"
        "END $$;",
        "ALTER TABLE phone_number_inventory ADD COLUMN IF NOT EXISTS notes text;",
        "Write the DDL statically where you can. Otherwise check the tables this statement "
        "touches with `ddlguard verify` (a real database), and suppress the finding with "
        "`-- ddlguard: ignore[D901]` above the statement.",
        severity=Severity.WARNING,
    ),
    _rule(
        "D902",
        "drizzle-kit-disagrees",
        "ddlguard's reading of a Drizzle schema differs from what drizzle-kit generates",
        "With `ddlguard drift --drizzle-kit`, the schema.ts that ddlguard reads statically is also "
        "exported with the repository's own drizzle-kit (0.30.1 or later), and the two readings "
        "are compared. A difference means one of them misreads the schema (a computed default, a "
        "custom type, a helper ddlguard cannot evaluate), so drift findings for that object may "
        "be wrong.",
        "export const t = pgTable('t', { n: integer('n').default(computeDefault()) });",
        "export const t = pgTable('t', { n: integer('n').default(15) });",
        "Make the definition static where you can, or check that object by hand; report a "
        "misreading by ddlguard with the schema snippet.",
        severity=Severity.WARNING,
    ),
]
register(*RULES)


#: The rule of each kind of difference (:class:`~ddlguard.schema.diff.DiffKind` values).
RULE_OF: dict[str, str] = {
    "missing-table": "D101",
    "extra-table": "D102",
    "missing-column": "D201",
    "extra-column": "D202",
    "renamed-column": "D203",
    "column-type": "D204",
    "column-nullability": "D205",
    "column-default": "D206",
    "column-identity": "D207",
    "column-generated": "D207",
    "missing-primary-key": "D301",
    "extra-primary-key": "D301",
    "primary-key": "D301",
    "missing-unique": "D302",
    "extra-unique": "D302",
    "unique": "D302",
    "missing-foreign-key": "D303",
    "extra-foreign-key": "D303",
    "foreign-key": "D303",
    "missing-check": "D304",
    "extra-check": "D304",
    "check": "D304",
    "missing-index": "D401",
    "extra-index": "D402",
    "index": "D403",
    "missing-enum": "D501",
    "extra-enum": "D501",
    "enum-values-missing": "D502",
    "enum-values-order": "D502",
    "enum-values-extra": "D502",
    "missing-view": "D601",
    "extra-view": "D602",
    "cannot-model": "D901",
}

_BY_CODE = {r.code: r for r in RULES}


class NoteLike(Protocol):
    """What the replay reports for a statement it cannot model (``ReplayNote``), or a canonical
    reader for something it cannot verify: a message and, where known, an origin (or ``path`` and
    ``line``) and the ``table`` (or ``tables``) it affects."""

    @property
    def message(self) -> str: ...


def _note_origin(note: object) -> Origin | None:
    from ddlguard.schema.model import Origin

    origin = getattr(note, "origin", None)
    if isinstance(origin, Origin):
        return origin
    path, line = getattr(note, "path", None), getattr(note, "line", None)
    if path is not None and isinstance(line, int):
        column = getattr(note, "column", 1)
        return Origin(str(path), line, column if isinstance(column, int) else 1)
    return None


def note_difference(note: object) -> Difference:
    """A replay note (or a reader's warning) as a cannot-model Difference."""
    from ddlguard.schema.model import QName

    table = getattr(note, "table", None)
    if not isinstance(table, QName):
        tables = getattr(note, "tables", None)
        table = next(iter(tables), None) if tables else None
    from ddlguard.schema.diff import cannot_model

    qtable = table if isinstance(table, QName) else None
    message = str(getattr(note, "message", note))
    if not message.lower().startswith("cannot "):
        message = f"cannot model {message}"
    if qtable is not None and "may be incomplete" not in message:
        message += f"; drift results for table {qtable} may be incomplete"
    return cannot_model(message, _note_origin(note), qtable)


def cannot_verify_findings(
    notes: Iterable[object],
    *,
    cwd: Path | None = None,
    fallback: str | Path | None = None,
) -> list[Finding]:
    """D901 findings for replay notes and canonical readers' warnings."""
    return drift_findings(
        [note_difference(n) for n in notes],
        source_label="the migrations",
        cwd=cwd or Path.cwd(),
        fallback=fallback,
    )


def _display(path: str | Path, cwd: Path) -> str:
    from ddlguard.sql.source import display_path

    return display_path(Path(path), cwd)


def drift_findings(
    differences: Iterable[Difference],
    *,
    source_label: str,
    cwd: Path,
    canonical_label: str | None = None,
    fallback: str | Path | None = None,
    default_schema: str = "public",
    notes: Iterable[object] = (),
    with_fix: bool = True,
) -> list[Finding]:
    """Findings for ``differences`` (and replay ``notes``), sorted.

    ``notes`` are replay notes (see :func:`note_difference`). ``source_label`` names the actual side in messages ("the migrations",
    "PRODUCTION_DEPLOYMENT.sql", "the database"); ``canonical_label`` the canonical side (by
    default the canonical definition's file, else "the canonical schema"). A finding's path and
    line are where a person fixes the difference (see :attr:`Difference.origin`); a difference
    without any origin gets line 1 of ``fallback`` (or of ``source_label``). ``with_fix`` attaches
    the SQL that closes each difference as the finding's fix text.
    """
    from ddlguard.schema.render import render_statements

    out: list[Finding] = []
    all_diffs = [*differences, *(note_difference(n) for n in notes)]
    for d in all_diffs:
        code = RULE_OF[d.kind]
        rule = _BY_CODE[code]
        origin = d.origin
        if origin is not None:
            path = _display(origin.path, cwd)
            line, column = max(origin.line, 1), max(origin.column, 1)
            end_line = origin.end_line or line
            end_column = origin.end_column or column
        else:
            path = _display(fallback, cwd) if fallback is not None else source_label
            line = column = end_line = end_column = 1
        c_label = canonical_label
        location = None
        if d.canonical_origin is not None:
            c_file = _display(d.canonical_origin.path, cwd)
            c_label = c_label or c_file
            location = f"{c_file}:{d.canonical_origin.line}"
        message = d.describe(
            source_label,
            c_label or "the canonical schema",
            canonical_location=location,
            default_schema=default_schema,
        )
        fix = None
        if with_fix and d.kind != "cannot-model":
            sql = render_statements([d]).strip()
            if sql:
                fix = Fix(_FIX_DESCRIPTIONS.get(code, "apply the SQL"), sql)
        out.append(
            Finding(
                code=code,
                rule=rule.name,
                category=rule.category,
                severity=rule.severity,
                path=path,
                line=line,
                column=column,
                end_line=max(end_line, line),
                end_column=end_column,
                message=message,
                object=d.object_name if d.qname.name else None,
                fix=fix,
                anchor_lines=(line,),
            )
        )
    out.sort(key=Finding.sort_key)
    return out


_FIX_DESCRIPTIONS = {
    "D101": "create the table",
    "D102": "drop the table (review: destroys data)",
    "D201": "add the column",
    "D202": "drop the column (review: destroys data)",
    "D203": "rename the column",
    "D204": "change the column's type",
    "D205": "change the column's nullability",
    "D206": "change the column's default",
    "D207": "change the column's identity or expression",
    "D301": "add or replace the primary key",
    "D302": "add or replace the unique constraint",
    "D303": "add or replace the foreign key",
    "D304": "add or replace the check constraint",
    "D401": "create the index",
    "D402": "drop the index (review)",
    "D403": "recreate the index",
    "D501": "create or drop the enum type",
    "D502": "add the enum values",
    "D601": "create the view",
    "D602": "drop the view (review)",
}
