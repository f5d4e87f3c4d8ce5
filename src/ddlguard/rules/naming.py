"""Naming rules (``N``): names that statements create or rename, and migration file names."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import lru_cache

from ddlguard.configfile import NamePattern, NamingSettings, naming_regex
from ddlguard.findings import Category, Severity
from ddlguard.rules.base import FileContext
from ddlguard.rules.registry import RuleMaker, register
from ddlguard.sql import nodes
from ddlguard.sql.statements import Node, Statement

# What PostgreSQL reads unquoted: lower-case ASCII letters, digits, _ and $, and any non-ASCII
# character (which the scanner accepts as an identifier character and does not fold in UTF-8).
# Any character from U+0080 up, written as a negated ASCII class: a class spelled as the range
# \u0080-\U0010ffff costs 3 ms to compile, on every start.
_PLAIN_IDENT = re.compile(r"^(?:[a-z_]|[^\x00-\x7f])(?:[a-z0-9_$]|[^\x00-\x7f])*$")
MAX_IDENTIFIER_BYTES = 63


_rule = RuleMaker(Category.NAMING, Severity.WARNING)


_TEMPLATE_NOTE = (
    " Active only when the template is configured under [naming]; {table} and {columns} in the "
    "regular expression stand for the table name and the column names joined by `_`."
)

RULES = [
    _rule(
        "N101",
        "table-name",
        "Table or view name that does not match the naming convention",
        "Consistent table names let people and tools guess names right; a table created as "
        "`PhoneNumbers` next to `customer_tenants` must be quoted everywhere. Checked against "
        "`naming.table` (default `snake_case`).",
        "CREATE TABLE IF NOT EXISTS phone_numbers__v2_ (id uuid);",
        "CREATE TABLE IF NOT EXISTS phone_numbers_v2 (id uuid);",
        "Rename the table to match the convention.",
    ),
    _rule(
        "N102",
        "column-name",
        "Column name that does not match the naming convention",
        "Column names are what application code and the canonical schema refer to; a column that "
        "breaks the convention is a column someone will misspell. Checked against "
        "`naming.column` (default `snake_case`: lower-case words joined by single underscores). "
        "Mixed-case names only survive quoted, which N202 reports instead.",
        "ALTER TABLE connectwise_credentials ADD COLUMN IF NOT EXISTS _base_url text;",
        "ALTER TABLE connectwise_credentials ADD COLUMN IF NOT EXISTS base_url text;",
        "Rename the column to match the convention.",
    ),
    _rule(
        "N103",
        "index-name",
        "Index name that does not follow the configured template",
        "Index names that follow one template (`idx_{table}_{columns}`) tell a reader what an "
        "index covers and make duplicates visible in review." + _TEMPLATE_NOTE,
        "CREATE INDEX IF NOT EXISTS status_index ON phone_number_inventory (status);",
        "CREATE INDEX IF NOT EXISTS idx_phone_number_inventory_status ON phone_number_inventory (status);",
        "Rename the index to follow `naming.index`.",
    ),
    _rule(
        "N104",
        "unique-constraint-name",
        "Unique constraint name that does not follow the configured template",
        "Constraint names appear in error messages the application shows and logs; a template "
        "(PostgreSQL's own default is `{table}_{columns}_key`) makes them predictable, and "
        "predictable names are what idempotent guards check." + _TEMPLATE_NOTE,
        "ALTER TABLE phone_number_inventory ADD CONSTRAINT uq1 UNIQUE (tenant_id, line_uri);",
        "ALTER TABLE phone_number_inventory\n"
        "    ADD CONSTRAINT phone_number_inventory_tenant_id_line_uri_key UNIQUE (tenant_id, line_uri);",
        "Rename the constraint to follow `naming.unique`.",
    ),
    _rule(
        "N105",
        "foreign-key-name",
        "Foreign key name that does not follow the configured template",
        "A predictable foreign key name (PostgreSQL's default is `{table}_{columns}_fkey`) is "
        "what guards and later migrations refer to." + _TEMPLATE_NOTE,
        "ALTER TABLE connectwise_credentials\n"
        "    ADD CONSTRAINT fk_1 FOREIGN KEY (tenant_id) REFERENCES customer_tenants (id);",
        "ALTER TABLE connectwise_credentials\n"
        "    ADD CONSTRAINT connectwise_credentials_tenant_id_fkey\n"
        "    FOREIGN KEY (tenant_id) REFERENCES customer_tenants (id);",
        "Rename the constraint to follow `naming.foreign-key`.",
    ),
    _rule(
        "N106",
        "primary-key-name",
        "Primary key name that does not follow the configured template",
        "A predictable primary key name (PostgreSQL's default is `{table}_pkey`) is what "
        "guards and later migrations refer to." + _TEMPLATE_NOTE,
        "CREATE TABLE IF NOT EXISTS tags (id int, CONSTRAINT pk PRIMARY KEY (id));",
        "CREATE TABLE IF NOT EXISTS tags (id int, CONSTRAINT tags_pkey PRIMARY KEY (id));",
        "Rename the constraint to follow `naming.primary-key`.",
    ),
    _rule(
        "N107",
        "check-constraint-name",
        "Check constraint name that does not follow the configured template",
        "A predictable check constraint name (PostgreSQL's default is `{table}_{columns}_check`) "
        "is what guards and later migrations refer to; {columns} are the columns the "
        "expression uses." + _TEMPLATE_NOTE,
        "ALTER TABLE phone_number_inventory ADD CONSTRAINT chk CHECK (status IN ('available', 'used'));",
        "ALTER TABLE phone_number_inventory\n"
        "    ADD CONSTRAINT phone_number_inventory_status_check CHECK (status IN ('available', 'used'));",
        "Rename the constraint to follow `naming.check`.",
    ),
    _rule(
        "N201",
        "identifier-too-long",
        "Identifier longer than PostgreSQL's 63-byte limit",
        "PostgreSQL silently truncates identifiers to 63 bytes (NAMEDATALEN - 1): the object is "
        "created under a shorter name than the migration says, so later statements and guards "
        "that use the full name miss it, and two long names can collide.",
        "CREATE INDEX IF NOT EXISTS idx_phone_number_inventory_tenant_id_line_uri_status_country_code\n"
        "    ON phone_number_inventory (tenant_id, line_uri, status, country_code);",
        "CREATE INDEX IF NOT EXISTS idx_pni_tenant_line_status_country\n"
        "    ON phone_number_inventory (tenant_id, line_uri, status, country_code);",
        "Shorten the name to 63 bytes or fewer.",
        severity=Severity.ERROR,
    ),
    _rule(
        "N202",
        "quoted-identifier",
        "Identifier that only works quoted (mixed case, spaces, punctuation)",
        "A name such as \"tenantId\" must be double-quoted in every query forever; unquoted, "
        "PostgreSQL folds it to tenantid and answers `column does not exist`, the same 500 the "
        "seed's production saw.",
        'ALTER TABLE customer_tenants ADD COLUMN IF NOT EXISTS "tenantName" text;',
        "ALTER TABLE customer_tenants ADD COLUMN IF NOT EXISTS tenant_name text;",
        "Use a lower-case name without quotes.",
    ),
    _rule(
        "N203",
        "reserved-word-identifier",
        "SQL reserved word used as a name",
        "A reserved word (user, order, table, check...) as a name must be quoted in every query; "
        "unquoted it is a syntax error, and ORMs and hand-written SQL disagree about quoting it.",
        'CREATE TABLE IF NOT EXISTS "user" (id uuid);',
        "CREATE TABLE IF NOT EXISTS app_user (id uuid);",
        "Choose a name that is not a reserved word.",
    ),
    _rule(
        "N301",
        "migration-file-name",
        "Migration file name that does not follow the configured pattern",
        "Migration tools order and track files by name; a folder that mixes "
        "`0006_connectwise_integration.sql` with `FIX_PRODUCTION_SCHEMA.sql` has no defined "
        "order, which is how the seed's deployment guide came to need a hand-written run order. "
        "Active only when `naming.migration-file` is configured.",
        "migrations/FIX_PRODUCTION_SCHEMA.sql",
        "migrations/0007_fix_production_schema.sql",
        "Rename the file to match `naming.migration-file`.",
    ),
]
register(*RULES)


@lru_cache(maxsize=1)
def _reserved() -> frozenset[str]:
    from pglast.keywords import RESERVED_KEYWORDS, TYPE_FUNC_NAME_KEYWORDS

    # "reserved" and "reserved (can be function or type)": neither works as an unquoted table
    # or column name (left, right, join, natural...).
    return frozenset(RESERVED_KEYWORDS) | frozenset(TYPE_FUNC_NAME_KEYWORDS)


@dataclass(slots=True)
class Created:
    """A name that a statement creates or renames to.

    Where the name is written is looked up in the statement's tokens only when a finding needs
    it (``offset``): most names are fine, and scanning every statement is the costly part.
    """

    kind: str  # table, view, column, index, constraint, type, ...
    name: str
    table: str | None
    columns: tuple[str, ...]
    contype: str | None
    stmt: Statement
    at: int | None = None  # the offset, when the parse tree gives it
    hint: int | None = None  # else: search the tokens from here

    @property
    def offset(self) -> int:
        if self.at is None:
            self.at = _name_offset(self.stmt, self.name, self.hint)
        return self.at


def _pattern(value: str | None, table: str | None, columns: tuple[str, ...]) -> NamePattern | None:
    if not value:
        return None
    return naming_regex(value, table=table or "", columns=columns)


def _ident(raw: str) -> str:
    """An identifier token as PostgreSQL reads it, before truncation."""
    if raw.startswith('"'):
        return raw[1:-1].replace('""', '"')
    return "".join(ch.lower() if ch.isascii() else ch for ch in raw)


def _name_offset(stmt: Statement, name: str, start: int | None = None) -> int:
    """Where ``name`` is written in the statement (quoted or not), else the statement start.

    A name of exactly 63 bytes may be the truncation of a longer one: that one matches too.
    """
    truncated = len(name.encode("utf-8")) == MAX_IDENTIFIER_BYTES
    for tok in stmt.tokens():
        if start is not None and tok.start < start:
            continue
        text = _ident(stmt.token_text(tok))
        if text == name or (truncated and text.startswith(name)):
            return tok.start
    return start if start is not None else stmt.start


def _written_name(stmt: Statement, c: Created) -> str:
    """The name as the statement writes it: PostgreSQL's parser truncates identifiers to 63
    bytes, so the parse tree alone never shows a name that is too long."""
    if len(c.name.encode("utf-8")) != MAX_IDENTIFIER_BYTES:
        return c.name
    for tok in stmt.tokens():
        if tok.start == c.offset:
            text = _ident(stmt.token_text(tok))
            if text.startswith(c.name):
                return text
    return c.name


def _expr_columns(node: object) -> list[str]:
    out: list[str] = []

    def walk(n: object) -> None:
        if isinstance(n, dict):
            if "ColumnRef" in n:
                fields = nodes.strings(n["ColumnRef"].get("fields"))
                if fields and fields[-1] not in out:
                    out.append(fields[-1])
                return
            for v in n.values():
                walk(v)
        elif isinstance(n, list):
            for v in n:
                walk(v)

    walk(node)
    return out


_CONSTRAINT_KINDS = {
    "CONSTR_UNIQUE": "unique",
    "CONSTR_FOREIGN": "foreign-key",
    "CONSTR_PRIMARY": "primary-key",
    "CONSTR_CHECK": "check",
}


def _constraint(
    stmt: Statement, con: Node, table: str, column: str | None
) -> Iterator[Created]:
    name = con.get("conname")
    if not name:
        return
    contype = _CONSTRAINT_KINDS.get(str(con.get("contype")))
    if contype == "check":
        cols = tuple(_expr_columns(con.get("raw_expr")))
    else:
        cols = tuple(nodes.strings(con.get("keys")) or nodes.strings(con.get("fk_attrs")))
    if not cols and column:
        cols = (column,)
    loc = stmt.loc(con.get("location"))
    yield Created("constraint", str(name), table, cols, contype, stmt, hint=loc)


def created_names(stmt: Statement, column_pattern: str | None = None) -> Iterator[Created]:
    """Every name a statement creates or renames to (never names it only refers to), but for
    columns whose name passes every rule with ``column_pattern`` (``_fine``: most of them)."""
    n = stmt.node
    k = stmt.kind
    if k == "CreateStmt":
        _, table = nodes.rangevar(n.get("relation"))
        loc = stmt.loc(n.get("relation", {}).get("location"))
        yield Created("table", table, table, (), None, stmt, hint=loc)
        for elt in n.get("tableElts") or []:
            if "ColumnDef" in elt:
                col = elt["ColumnDef"]
                cname = str(col.get("colname", ""))
                if not _fine(cname, column_pattern):
                    cloc = stmt.loc(col.get("location"))
                    yield Created("column", cname, table, (), None, stmt, at=cloc or stmt.start)
                for c in col.get("constraints") or []:
                    con = c.get("Constraint", {})
                    if con.get("conname"):  # NOT NULL, DEFAULT ...: nothing named
                        yield from _constraint(stmt, con, table, cname)
            elif "Constraint" in elt:
                yield from _constraint(stmt, elt["Constraint"], table, None)
    elif k == "CreateTableAsStmt":
        into = n.get("into", {}).get("IntoClause", n.get("into") or {})
        _, table = nodes.rangevar(into.get("rel"))
        kind = "view" if n.get("objtype") == "OBJECT_MATVIEW" else "table"
        yield Created(kind, table, table, (), None, stmt)
    elif k == "ViewStmt":
        _, view = nodes.rangevar(n.get("view"))
        yield Created("view", view, view, (), None, stmt)
    elif k == "AlterTableStmt":
        _, table = nodes.rangevar(n.get("relation"))
        for item in n.get("cmds") or []:
            cmd = item.get("AlterTableCmd", {})
            if cmd.get("subtype") == "AT_AddColumn":
                col = cmd.get("def", {}).get("ColumnDef", {})
                cname = str(col.get("colname", ""))
                if not _fine(cname, column_pattern):
                    at = stmt.loc(col.get("location")) or stmt.start
                    yield Created("column", cname, table, (), None, stmt, at=at)
                for c in col.get("constraints") or []:
                    con = c.get("Constraint", {})
                    if con.get("conname"):  # NOT NULL, DEFAULT ...: nothing named
                        yield from _constraint(stmt, con, table, cname)
            elif cmd.get("subtype") == "AT_AddConstraint":
                yield from _constraint(stmt, cmd.get("def", {}).get("Constraint", {}), table, None)
    elif k == "IndexStmt" and n.get("idxname"):
        _, table = nodes.rangevar(n.get("relation"))
        cols = tuple(nodes.index_columns(n.get("indexParams")))
        name = str(n["idxname"])
        yield Created("index", name, table, cols, None, stmt)
    elif k == "RenameStmt":
        new = str(n.get("newname", ""))
        rtype = n.get("renameType")
        _, rel = nodes.rangevar(n.get("relation"))
        kind = {
            "OBJECT_TABLE": "table",
            "OBJECT_VIEW": "view",
            "OBJECT_MATVIEW": "view",
            "OBJECT_COLUMN": "column",
            "OBJECT_INDEX": "index",
            "OBJECT_TABCONSTRAINT": "constraint",
        }.get(str(rtype), "other")
        table = rel if kind in ("column", "constraint") else new
        yield Created(kind, new, table, (), None, stmt, hint=stmt.start)
    elif k in ("CreateEnumStmt", "CreateRangeStmt", "CreateDomainStmt"):
        names = nodes.strings(n.get("typeName") or n.get("domainname"))
        if names:
            yield Created("type", names[-1], None, (), None, stmt)
    elif k == "CompositeTypeStmt":
        _, name = nodes.rangevar(n.get("typevar"))
        yield Created("type", name, None, (), None, stmt)
    elif k == "CreateSeqStmt":
        _, name = nodes.rangevar(n.get("sequence"))
        yield Created("sequence", name, None, (), None, stmt)
    elif k == "CreateSchemaStmt" and n.get("schemaname"):
        name = str(n["schemaname"])
        yield Created("schema", name, None, (), None, stmt)
    elif k == "CreateFunctionStmt":
        names = nodes.strings(n.get("funcname"))
        if names:
            yield Created("function", names[-1], None, (), None, stmt)
    elif k == "CreateTrigStmt":
        name = str(n.get("trigname", ""))
        yield Created("trigger", name, None, (), None, stmt)
    elif k == "CreatePolicyStmt":
        name = str(n.get("policy_name", ""))
        yield Created("policy", name, None, (), None, stmt)


# The statement kinds created_names finds names in.
_CREATING = frozenset(
    {
        "CreateStmt",
        "CreateTableAsStmt",
        "ViewStmt",
        "AlterTableStmt",
        "IndexStmt",
        "RenameStmt",
        "CreateEnumStmt",
        "CreateRangeStmt",
        "CreateDomainStmt",
        "CompositeTypeStmt",
        "CreateSeqStmt",
        "CreateSchemaStmt",
        "CreateFunctionStmt",
        "CreateTrigStmt",
        "CreatePolicyStmt",
    }
)


def _setting_for(c: Created) -> str | None:
    """Which naming setting applies to ``c``: "table", "column", or a key of _TEMPLATE_RULES
    ("index", "unique", "foreign-key", ...); None when only N201-N203 apply."""
    if c.kind in ("table", "view"):
        return "table"
    if c.kind == "column":
        return "column"
    if c.kind == "index":
        return "index" if c.table is not None else None
    if (
        c.kind == "constraint"
        and c.contype
        and c.stmt.kind != "RenameStmt"
        and (c.columns or c.contype == "primary-key")
    ):
        return c.contype
    return None


def _applicable(c: Created, naming: NamingSettings) -> str | None:
    """The naming pattern that applies to ``c``, or None (only N201-N203 apply)."""
    which = _setting_for(c)
    if which is None:
        return None
    attr = which if which in ("table", "column") else _TEMPLATE_RULES[which][1]
    value: str | None = getattr(naming, attr, None)
    return value


_TEMPLATE_RULES = {
    "index": ("N103", "index", "index"),
    "unique": ("N104", "unique", "unique constraint"),
    "foreign-key": ("N105", "foreign_key", "foreign key"),
    "primary-key": ("N106", "primary_key", "primary key"),
    "check": ("N107", "check", "check constraint"),
}


def check(ctx: FileContext) -> None:
    naming = ctx.config.naming
    schema = ctx.config.default_schema
    # Indexes created or renamed earlier in the file: name -> (table, columns), for templates of
    # ALTER INDEX ... RENAME and ADD CONSTRAINT ... USING INDEX.
    indexes: dict[str, tuple[str | None, tuple[str, ...]]] = {}
    for stmt in ctx.parsed.statements:
        if stmt.context == "function":
            continue
        if stmt.kind not in _CREATING:
            continue
        for created in created_names(stmt, naming.column):
            c = _with_index_facts(created, indexes)
            if not c.name:
                continue
            if _fine(c.name, _applicable(c, naming)):
                continue  # the common case, decided once per distinct name and pattern
            written = _written_name(stmt, c)
            wlen = len(written)
            obj = _object(schema, c)
            size = len(written.encode("utf-8"))
            if size > MAX_IDENTIFIER_BYTES:
                ctx.report(
                    "N201",
                    stmt,
                    c.offset,
                    c.offset + wlen,
                    f"{c.kind} name {written} is {size} bytes; PostgreSQL silently truncates it "
                    f"to {MAX_IDENTIFIER_BYTES} bytes: {c.name}",
                    obj=obj,
                )
            quoted_problem = False
            if c.name.lower() in _reserved() and c.name == c.name.lower():
                quoted_problem = ctx.on("N203")
                ctx.report(
                    "N203",
                    stmt,
                    c.offset,
                    c.offset + wlen,
                    f"{c.kind} name {c.name} is an SQL reserved word and must be quoted in every "
                    f"query; choose another name",
                    obj=obj,
                )
            elif not _PLAIN_IDENT.match(c.name):
                quoted_problem = ctx.on("N202")
                ctx.report(
                    "N202",
                    stmt,
                    c.offset,
                    c.offset + wlen,
                    f'{c.kind} name "{c.name}" only works quoted; {_unquoted(c.name)}; use a '
                    f"lower-case name such as {_suggest(c.name)}",
                    obj=obj,
                )
            if quoted_problem:
                continue
            which = _setting_for(c)
            if which == "table":
                _check_pattern(ctx, "N101", naming.table, c, wlen, obj, "naming.table")
            elif which == "column":
                _check_pattern(ctx, "N102", naming.column, c, wlen, obj, "naming.column")
            elif which is not None:
                _check_template(ctx, which, c, wlen, obj)
    _check_file_name(ctx)


def _with_index_facts(
    c: Created, indexes: dict[str, tuple[str | None, tuple[str, ...]]]
) -> Created:
    """Fill in what a statement does not say itself from the indexes made earlier in the file."""
    n = c.stmt.node
    if c.kind == "index" and c.stmt.kind == "IndexStmt":
        indexes[c.name] = (c.table, c.columns)
        return c
    if c.kind == "index" and c.stmt.kind == "RenameStmt":
        _, old = nodes.rangevar(n.get("relation"))
        table, cols = indexes.pop(old, (None, ()))
        indexes[c.name] = (table, cols)
        return replace(c, table=table, columns=cols)
    if c.kind == "constraint" and not c.columns and c.stmt.kind == "AlterTableStmt":
        for item in n.get("cmds") or []:
            con = item.get("AlterTableCmd", {}).get("def", {}).get("Constraint", {})
            if con.get("conname") == c.name and con.get("indexname"):
                _, cols = indexes.get(str(con["indexname"]), (None, ()))
                return replace(c, columns=cols)
    return c


@lru_cache(maxsize=8192)
def _fine(name: str, pattern: str | None) -> bool:
    """Whether a column name passes every naming rule (shorter than the identifier limit, a
    plain unquoted identifier, not reserved, matching a pattern without placeholders)."""
    if not name or len(name.encode("utf-8")) >= MAX_IDENTIFIER_BYTES:
        return False
    if name.lower() in _reserved() or not _PLAIN_IDENT.match(name):
        return False
    if pattern is None:
        return True
    if "{" in pattern:
        return False
    return naming_regex(pattern).search(name) is not None


def _object(schema: str, c: Created) -> str:
    if c.kind == "column" and c.table:
        return f"{schema}.{c.table}.{c.name}"
    return f"{schema}.{c.name}"


def _unquoted(name: str) -> str:
    """What happens to the name written without quotes."""
    folded = "".join(ch.lower() if ch.isascii() else ch for ch in name)
    if _PLAIN_IDENT.match(folded) and folded.lower() not in _reserved():
        return f"unquoted it folds to {folded}, a different name"
    return "unquoted it is a syntax error"


def _suggest(name: str) -> str:
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    s = re.sub(r"[^A-Za-z0-9_]+", "_", s).strip("_").lower()
    if not s or s[0].isdigit():
        s = f"n_{s}" if s else "a_name"
    if s in _reserved():
        s = f"{s}s"
    return s


def _check_pattern(
    ctx: FileContext, code: str, value: str | None, c: Created, wlen: int, obj: str, key: str
) -> None:
    pattern = _pattern(value, c.table, c.columns)
    if pattern is None or pattern.search(c.name):
        return
    want = "snake_case" if value == "snake_case" else f"/{value}/"
    ctx.report(
        code,
        c.stmt,
        c.offset,
        c.offset + wlen,
        f"{c.kind} name {c.name} does not match {key} ({want})",
        obj=obj,
    )


def _check_template(ctx: FileContext, kind: str, c: Created, wlen: int, obj: str) -> None:
    code, attr, label = _TEMPLATE_RULES[kind]
    value = getattr(ctx.config.naming, attr, None)
    pattern = _pattern(value, c.table, c.columns)
    if pattern is None or pattern.search(c.name):
        return
    expected = (value or "").replace("{table}", c.table or "").replace("{columns}", "_".join(c.columns))
    expected = expected.removeprefix("^").removesuffix("$")
    ctx.report(
        code,
        c.stmt,
        c.offset,
        c.offset + wlen,
        f"{label} name {c.name} does not follow naming.{kind} ({value}); expected {expected}",
        obj=obj,
    )


def _check_file_name(ctx: FileContext) -> None:
    value = ctx.config.naming.migration_file
    if not value or not ctx.is_migration or not ctx.on("N301"):
        return
    name = ctx.file.path.name
    if naming_regex(value).search(name):
        return
    ctx.report(
        "N301",
        None,
        0,
        0,
        f"migration file name {name} does not match naming.migration-file (/{value}/)",
        obj=None,
    )
