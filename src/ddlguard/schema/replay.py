"""Static replay: apply migrations' statements, in order, to a Schema, as PostgreSQL would.

No database is involved: every statement is read with PostgreSQL's parser and its effect on the
model applied (CREATE / ALTER / DROP / RENAME of tables, columns, constraints, indexes, enums,
views). Statements in ``DO`` blocks run only when their ``IF`` conditions hold against the schema
replayed so far (catalog checks such as ``information_schema.columns`` are evaluated on the model),
so a guarded rename applies exactly when PostgreSQL would apply it. What cannot be modelled (dynamic
``EXECUTE``, a condition that cannot be evaluated, a statement that would fail) is a note naming the
statement, never a silent skip. DML does not change the schema. Down sections and down files (a
rollback, for the configured ``migration-tool``) are not replayed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ddlguard.engine import accept as A
from ddlguard.engine import names
from ddlguard.engine.accept import Rejected
from ddlguard.schema import normalize
from ddlguard.schema.model import (
    Column,
    Constraint,
    Enum,
    Index,
    Origin,
    QName,
    Schema,
    Table,
    View,
)
from ddlguard.sql.source import DecodeProblem, SqlFile, load
from ddlguard.sql.statements import Statement, parse


@dataclass(frozen=True, slots=True)
class ReplayNote:
    """Something the replay could not model; drift results may be incomplete there."""

    path: str
    line: int
    column: int
    message: str
    table: QName | None = None


@dataclass(slots=True)
class Replayed:
    schema: Schema
    notes: list[ReplayNote] = field(default_factory=list)


def replay(
    files: Sequence[SqlFile | Path],
    *,
    default_schema: str = "public",
    start: Schema | None = None,
    tool: str = "psql",
) -> Replayed:
    """Apply every file's statements in order, starting from ``start`` (default: empty); ``tool``
    is the migration tool that runs them (what is a down section)."""
    replayer = _Replayer(start or Schema(), default_schema)
    for item in files:
        file = item if isinstance(item, SqlFile) else _load(item)
        replayer.run_file(file, tool)
    return Replayed(replayer.schema, replayer.notes)


def replay_file(file: SqlFile, schema: Schema, *, default_schema: str = "public") -> Replayed:
    replayer = _Replayer(schema, default_schema)
    replayer.run_file(file)
    return Replayed(replayer.schema, replayer.notes)


def _load(path: Path) -> SqlFile:
    loaded = load(path)
    if isinstance(loaded, DecodeProblem):
        raise ValueError(f"{path}: {loaded.message}")
    return loaded


# --- helpers over pglast's node objects -----------------------------------------------------------


def _strs(items: Any) -> list[str]:
    return [str(i.sval) for i in items or () if hasattr(i, "sval")]


def _enum_name(value: Any) -> str:
    return str(getattr(value, "name", value))


def _byte_to_char(text: str, byte_offset: int) -> int:
    if text.isascii():
        return byte_offset
    return len(text.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))


class _Replayer:
    def __init__(self, schema: Schema, default_schema: str) -> None:
        self.schema = schema
        self.default_schema = default_schema
        self.notes: list[ReplayNote] = []
        # Per statement being replayed: where its text starts in the file.
        self._file: SqlFile | None = None
        self._stmt: Statement | None = None
        self._sql = ""
        self._base = 0
        # IF conditions are evaluated once, when the IF runs, not again for every statement
        # of its branches (the THEN branch may change what the ELSE branch would see).
        self._decided: dict[tuple[int, str, tuple[str, ...]], bool] = {}
        # Tables whose columns are not all known (CREATE TABLE AS, LIKE or INHERITS of a table
        # the replay does not know): a column missing from the model may exist there.
        self._opaque: set[QName] = set()
        # Sequences made so far (serial columns, CREATE SEQUENCE): they take names in pg_class.
        self._sequences: set[tuple[str, str]] = set()

    # -- notes and origins ---------------------------------------------------------------------
    def _origin(self, location: int | None = None) -> Origin:
        assert self._file is not None and self._stmt is not None
        offset = self._stmt.start
        if location is not None and location >= 0:
            offset = self._base + _byte_to_char(self._sql, location)
        line, col = self._file.index.position(offset)
        return Origin(self._file.display, line, col)

    def _note(self, message: str, table: QName | None = None) -> None:
        origin = self._origin()
        self.notes.append(ReplayNote(origin.path, origin.line, origin.column, message, table))

    def _q(self, schema: str | None, name: str) -> QName:
        return QName(schema or self.default_schema, name)

    def _qv(self, rv: Any) -> QName:
        return self._q(getattr(rv, "schemaname", None), str(rv.relname))

    def _qnames(self, names: list[str]) -> QName:
        if len(names) >= 2:
            return QName(names[-2], names[-1])
        return self._q(None, names[-1] if names else "")

    def _subject(self, node: Any) -> QName | None:
        """The table (or view) a statement is about, for the note on a rejected statement."""
        for attr in ("relation", "view"):
            rv = getattr(node, attr, None)
            if rv is not None and getattr(rv, "relname", None):
                return self._qv(rv)
        into = getattr(node, "into", None)
        if into is not None and getattr(into, "rel", None) is not None:
            return self._qv(into.rel)
        return None

    def _enum_types(self) -> frozenset[str]:
        """The enum types as column types name them (qualified outside the default schema)."""
        out: set[str] = set()
        for e in self.schema.enums:
            out.add(e.name.name if e.name.schema == self.default_schema else f"{e.name.schema}.{e.name.name}")
        return frozenset(out)

    def _known_columns(self, table: Table) -> bool:
        return table.name not in self._opaque

    def _need_columns(self, table: Table, columns: Sequence[str], message: str) -> None:
        """Reject the statement when one of ``columns`` is not a column of ``table``
        (``message`` has a ``{column}`` placeholder: PostgreSQL's wording for the context)."""
        if not self._known_columns(table):
            return
        for col in columns:
            if table.column(col) is None:
                raise Rejected(A.UNDEFINED_COLUMN, message.format(column=col))

    # -- running -------------------------------------------------------------------------------
    def run_file(self, file: SqlFile, tool: str = "psql") -> None:
        from pglast import parse_sql

        self._file = file
        parsed = parse(file, tool=tool)
        for problem in parsed.errors:
            line, col = file.index.position(problem.offset)
            self.notes.append(
                ReplayNote(file.display, line, col, f"cannot model a statement with a syntax error: {problem.message}")
            )
        self._decided = {}
        for stmt in parsed.statements:
            if stmt.context == "function" or stmt.section == "down":
                continue  # a function body runs when called; a down section rolls back
            self._stmt = stmt
            if stmt.kind == "PLpgSQL_stmt_dynexecute":
                self._note(
                    f"cannot model EXECUTE {str(stmt.node.get('query', ''))[:60]}: the SQL is built at "
                    "run time; drift results may be incomplete"
                )
                continue
            if stmt.kind == "DoStmt" or not _changes_schema(stmt.kind):
                continue
            if stmt.context == "do" and not self._branch_taken(stmt):
                continue
            if stmt.parent is not None and stmt._src_text is not None:
                self._sql, self._base = stmt._src_text, stmt._src_base
            else:
                self._sql, self._base = file.text[stmt.start : stmt.end], stmt.start
            try:
                nodes = parse_sql(self._sql)
            except Exception as exc:  # the statement parsed once already: a pglast limitation
                self._note(f"cannot model this statement: {exc}")
                continue
            for raw in nodes:
                node = raw.stmt
                if type(node).__name__ != stmt.kind:
                    continue
                before, opaque = self.schema, set(self._opaque)
                try:
                    self._apply(node)
                except Rejected as exc:
                    # PostgreSQL runs each statement atomically: a rejected one changes nothing.
                    self.schema, self._opaque = before, opaque
                    if stmt.context == "do" and stmt.guard.caught:
                        continue  # the block's exception handler swallows it
                    self._note(
                        f"this statement fails when the migrations run in order: PostgreSQL "
                        f"rejects it ({exc.rejection}), so it changes nothing and the schema is "
                        f"replayed without it",
                        self._subject(node),
                    )
                break

    # -- DO block conditions --------------------------------------------------------------------
    def _branch_taken(self, stmt: Statement) -> bool:
        from ddlguard.schema.conditions import Evaluator, Unknown

        evaluator = Evaluator(self.schema, self.default_schema)
        block = stmt.parent.start if stmt.parent is not None else -1
        for branch in stmt.guard.branches:
            key = (block, branch.condition, branch.before)
            if key not in self._decided:
                try:
                    self._decided[key] = evaluator.evaluate(branch.condition, branch.before)
                except Unknown as exc:
                    self._note(
                        f"cannot evaluate the condition `{' '.join(branch.condition.split())[:80]}` "
                        f"({exc}); assumed it lets the statement run"
                    )
                    self._decided[key] = branch.expected
            if self._decided[key] != branch.expected:
                return False
        return True

    # -- statements -----------------------------------------------------------------------------
    def _apply(self, node: Any) -> None:
        handler = getattr(self, f"_do_{type(node).__name__}", None)
        if handler is not None:
            handler(node)

    def _do_CreateSeqStmt(self, node: Any) -> None:
        name = self._qv(node.sequence)
        self._sequences.add((name.schema, name.name))

    def _do_CreateSchemaStmt(self, node: Any) -> None:
        name = node.schemaname or (node.authrole.rolename if node.authrole else None)
        if name:
            self.schema = self.schema.with_schema(str(name))

    def _do_CreateStmt(self, node: Any) -> None:
        name = self._qv(node.relation)
        if _enum_name(node.relation.relpersistence) == "t" or node.relation.relpersistence == "t":
            return
        if self.schema.table(name) is not None or self.schema.relation_exists(name.schema, name.name):
            if node.if_not_exists:
                return
            raise Rejected(A.DUPLICATE_TABLE, f'relation "{name.name}" already exists')
        table = Table(name, origin=self._origin(node.relation.location))
        pending: list[Any] = []
        parents = list(node.inhRelations or ())
        opaque = False
        if node.partbound is not None and parents:
            parent = self.schema.table(self._qv(parents[0]))
            if parent is not None:
                table = replace(table, columns=parent.columns)
                opaque = parent.name in self._opaque
            else:
                opaque = True
        else:
            for rv in parents:
                parent = self.schema.table(self._qv(rv))
                if parent is not None:
                    opaque = opaque or parent.name in self._opaque
                    for col in parent.columns:
                        if table.column(col.name) is None:
                            table = table.with_column(col)
                else:
                    opaque = True
        declared: set[str] = set()
        for elt in node.tableElts or ():
            kind = type(elt).__name__
            if kind == "ColumnDef":
                if str(elt.colname) in declared:
                    raise Rejected(A.DUPLICATE_COLUMN, f'column "{elt.colname}" specified more than once')
                declared.add(str(elt.colname))
                table, cons = self._column(table, elt)
                pending += cons
            elif kind == "Constraint":
                pending.append((elt, None))
            elif kind == "TableLikeClause":
                if self.schema.table(self._qv(elt.relation)) is None:
                    opaque = True
                table = self._like(table, elt)
        self.schema = self.schema.with_table(table)
        if opaque:
            self._opaque.add(name)
        else:
            self._opaque.discard(name)
        # PostgreSQL adds a new table's foreign keys after its other constraints (a key may
        # reference a primary key declared later in the same statement).
        pending.sort(key=lambda item: _enum_name(item[0].contype) == "CONSTR_FOREIGN")
        for con, column in pending:
            self._add_constraint(name, con, column)

    def _like(self, table: Table, clause: Any) -> Table:
        source = self.schema.table(self._qv(clause.relation))
        if source is None:
            self._note(f"cannot model LIKE {clause.relation.relname}: the table is not known here", table.name)
            return table
        options = int(clause.options or 0)
        # CREATE_TABLE_LIKE_* bits: COMMENTS 1, COMPRESSION 2, CONSTRAINTS 4, DEFAULTS 8,
        # GENERATED 16, IDENTITY 32, INDEXES 64, STATISTICS 128, STORAGE 256; ALL = 0x7FFFFFFF.
        for col in source.columns:
            table = table.with_column(
                Column(
                    col.name,
                    col.type,
                    nullable=col.nullable,
                    default=col.default if options & 8 else None,
                    identity=col.identity if options & 32 else None,
                    generated=col.generated if options & 16 else None,
                    origin=self._origin(clause.relation.location),
                )
            )
        keep: list[Constraint] = []
        for k in source.constraints:
            if (k.kind == "c" and options & 4) or (k.kind in ("p", "u", "x") and options & 64):
                keep.append(replace(k, name=""))
        table = replace(table, constraints=(*table.constraints, *keep))
        return table

    def _column(self, table: Table, coldef: Any) -> tuple[Table, list[tuple[Any, str]]]:
        """The table with the column added, and the table constraints the column declares."""
        name = str(coldef.colname)
        ctype = normalize.type_name(coldef.typeName, self.default_schema)
        nullable = True
        default: str | None = None
        identity: str | None = None
        generated: str | None = None
        pending: list[tuple[Any, str]] = []
        if normalize.is_serial(coldef.typeName):
            nullable = False
            # The sequence's name as PostgreSQL chooses it (truncated, numbered while taken) and
            # as regclass prints it (quoted where it must be).
            schema = table.name.schema
            seq = names.quote_ident(
                names.choose_name(
                    table.name.name,
                    name,
                    "seq",
                    lambda n: (schema, n) in self._sequences or self.schema.relation_exists(schema, n),
                )
            )
            self._sequences.add((schema, seq.strip('"')))
            if schema != self.default_schema:
                seq = f"{names.quote_ident(schema)}.{seq}"
            default = normalize.expression(f"nextval('{seq}'::regclass)", ctype)
        for con in coldef.constraints or ():
            kind = _enum_name(con.contype)
            if kind == "CONSTR_NOTNULL":
                nullable = False
            elif kind == "CONSTR_NULL":
                nullable = True
            elif kind == "CONSTR_DEFAULT":
                default = normalize.expression_node(con.raw_expr, ctype)
                if default.upper() == "NULL":
                    default = None
            elif kind == "CONSTR_IDENTITY":
                identity = "always" if con.generated_when == "a" else "by default"
                nullable = False
            elif kind == "CONSTR_GENERATED":
                generated = normalize.expression_node(con.raw_expr, ctype)
            elif kind == "CONSTR_PRIMARY":
                nullable = False
                pending.append((con, name))
            elif kind in ("CONSTR_UNIQUE", "CONSTR_FOREIGN", "CONSTR_CHECK", "CONSTR_EXCLUSION"):
                pending.append((con, name))
        column = Column(
            name,
            ctype,
            nullable=nullable,
            default=default,
            identity=identity,  # type: ignore[arg-type]
            generated=generated,
            origin=self._origin(coldef.location),
        )
        return table.with_column(column), pending

    # -- constraints ----------------------------------------------------------------------------
    def _constraint_name(self, table: Table, kind: str, columns: Sequence[str], given: str | None) -> str:
        if given:
            return given
        schema = table.name.schema
        taken = {k.name for t in self.schema.tables if t.name.schema == schema for k in t.constraints}

        def is_taken(name: str) -> bool:
            return name in taken or (kind in ("p", "u", "x") and self.schema.relation_exists(schema, name))

        if kind == "x":
            return names.choose_name(table.name.name, names.name_addition(columns), "excl", is_taken)
        return names.constraint_name(table.name.name, kind, columns, is_taken)

    def _add_constraint(self, tname: QName, con: Any, column: str | None, *, index_name: str | None = None) -> None:
        table = self.schema.table(tname)
        if table is None:
            raise Rejected(A.UNDEFINED_TABLE, f'relation "{tname.name}" does not exist')
        kind = {
            "CONSTR_PRIMARY": "p",
            "CONSTR_UNIQUE": "u",
            "CONSTR_FOREIGN": "f",
            "CONSTR_CHECK": "c",
            "CONSTR_EXCLUSION": "x",
        }.get(_enum_name(con.contype))
        if kind is None:
            if _enum_name(con.contype) == "CONSTR_NOTNULL":
                for col in _strs(con.keys) or ([column] if column else []):
                    self._set_column(tname, col, nullable=False)
            return
        cols = _strs(con.keys) or _strs(con.fk_attrs)
        if not cols and column and kind in ("p", "u", "f"):
            cols = [column]
        if index_name or getattr(con, "indexname", None):
            given_index = str(index_name or con.indexname)
            idx = self.schema.index(tname.schema, given_index)
            if idx is None:
                raise Rejected(A.UNDEFINED_OBJECT, f'index "{given_index}" does not exist')
            cols = list(idx.keys)
            self.schema = self.schema.without_index(tname.schema, idx.name)
            table = self.schema.table(tname) or table
        elif kind in ("p", "u"):
            self._need_columns(table, cols, 'column "{column}" named in key does not exist')
        elif kind == "f":
            self._need_columns(
                table, cols, 'column "{column}" referenced in foreign key constraint does not exist'
            )
        expression = None
        checked_cols: list[str] = []
        if kind == "c":
            if _has_subquery(con.raw_expr):
                raise Rejected(A.FEATURE_NOT_SUPPORTED, "cannot use subquery in check constraint")
            expression = normalize.expression_node(con.raw_expr)
            checked_cols = _columns_in(con.raw_expr)
            self._need_columns(table, checked_cols, 'column "{column}" does not exist')
            if column and column not in checked_cols:
                checked_cols.insert(0, column)
        name = self._constraint_name(table, kind, cols if kind != "c" else checked_cols[:1], con.conname)
        if con.conname and table.constraint_named(str(con.conname)) is not None:
            raise Rejected(A.DUPLICATE_OBJECT, f'constraint "{con.conname}" for relation "{tname.name}" already exists')
        if kind == "p" and table.primary_key() is not None:
            raise Rejected(A.INVALID_TABLE_DEFINITION, f'multiple primary keys for table "{tname.name}" are not allowed')
        ref_table = None
        ref_cols: tuple[str, ...] = ()
        if kind == "f":
            ref_table = self._qv(con.pktable)
            ref_cols = self._foreign_key_target(table, name, tuple(cols), ref_table, tuple(_strs(con.pk_attrs)))
        if kind == "c":
            # A CHECK's columns: those it mentions, in the table's column order.
            order = table.column_names()
            cols = sorted((c for c in checked_cols if c in order), key=order.index)
        constraint = Constraint(
            kind=kind,  # type: ignore[arg-type]
            columns=tuple(cols),
            name=name,
            ref_table=ref_table,
            ref_columns=ref_cols,
            on_delete=(con.fk_del_action or "a") if kind == "f" else "a",
            on_update=(con.fk_upd_action or "a") if kind == "f" else "a",
            expression=expression,
            nulls_not_distinct=bool(getattr(con, "nulls_not_distinct", False)),
            deferrable=bool(con.deferrable),
            initially_deferred=bool(con.initdeferred),
            origin=self._origin(con.location),
        )
        table = replace(table, constraints=(*table.constraints, constraint))
        if kind == "p":
            for col in cols:
                c = table.column(col)
                if c is not None:
                    table = table.with_column(replace(c, nullable=False))
        self.schema = self.schema.with_table(table)

    def _foreign_key_target(
        self, table: Table, name: str, cols: tuple[str, ...], ref: QName, ref_cols: tuple[str, ...]
    ) -> tuple[str, ...]:
        """The referenced columns of a new foreign key, after PostgreSQL's checks: the table
        exists, the columns exist and carry a primary key or unique constraint, and each pair of
        columns is comparable."""
        target = table if ref == table.name else self.schema.table(ref)
        if target is None:
            if self.schema.view(ref) is not None:
                raise Rejected(A.WRONG_OBJECT_TYPE, f'referenced relation "{ref.name}" is not a table')
            raise Rejected(A.UNDEFINED_TABLE, f'relation "{ref.name}" does not exist')
        known = self._known_columns(target)
        if not ref_cols:
            pk = target.primary_key()
            if pk is None:
                if known:
                    raise Rejected(A.UNDEFINED_OBJECT, f'there is no primary key for referenced table "{ref.name}"')
                return ()
            ref_cols = pk.columns
        elif known:
            self._need_columns(
                target, ref_cols, 'column "{column}" referenced in foreign key constraint does not exist'
            )
            wanted = set(ref_cols)
            unique = any(
                k.kind in ("p", "u") and set(k.columns) == wanted for k in target.constraints
            ) or any(
                i.unique and i.where is None and set(i.keys) == wanted
                for i in self.schema.indexes_of(target.name)
            )
            if not unique:
                raise Rejected(
                    A.INVALID_FOREIGN_KEY,
                    f'there is no unique constraint matching given keys for referenced table "{ref.name}"',
                )
        if len(ref_cols) != len(cols) and cols:
            raise Rejected(
                A.INVALID_FOREIGN_KEY,
                "number of referencing and referenced columns for foreign key disagree",
            )
        self._check_key_types(table, name, cols, target, ref_cols)
        return ref_cols

    def _check_key_types(
        self, table: Table, name: str, cols: Sequence[str], target: Table, ref_cols: Sequence[str]
    ) -> None:
        enums = self._enum_types()
        for col, ref_col in zip(cols, ref_cols, strict=False):
            mine, theirs = table.column(col), target.column(ref_col)
            if mine is None or theirs is None:
                continue
            if A.comparable(mine.type, theirs.type, enums) is False:
                raise Rejected(
                    A.DATATYPE_MISMATCH,
                    f'foreign key constraint "{name}" cannot be implemented: key columns "{col}" '
                    f'and "{ref_col}" are of incompatible types: {mine.type} and {theirs.type}',
                )

    def _set_column(self, tname: QName, col: str, **changes: Any) -> None:
        table = self.schema.table(tname)
        if table is None:
            raise Rejected(A.UNDEFINED_TABLE, f'relation "{tname.name}" does not exist')
        c = table.column(col)
        if c is None:
            raise Rejected(A.UNDEFINED_COLUMN, f'column "{col}" of relation "{tname.name}" does not exist')
        self.schema = self.schema.with_table(table.with_column(replace(c, **changes)))

    # -- ALTER TABLE ----------------------------------------------------------------------------
    def _do_AlterTableStmt(self, node: Any) -> None:
        objtype = _enum_name(node.objtype)
        tname = self._qv(node.relation)
        if objtype not in ("OBJECT_TABLE", "OBJECT_FOREIGN_TABLE"):
            return
        if not any(_enum_name(c.subtype) in _MODELLED_ALTERS for c in node.cmds or ()):
            return  # OWNER TO, SET STATISTICS, ENABLE ROW LEVEL SECURITY...: no schema change
        if self.schema.table(tname) is None:
            if node.missing_ok:
                return
            raise Rejected(A.UNDEFINED_TABLE, f'relation "{tname.name}" does not exist')
        for cmd in node.cmds or ():
            self._alter(tname, cmd)

    def _alter(self, tname: QName, cmd: Any) -> None:
        sub = _enum_name(cmd.subtype)
        table = self.schema.table(tname)
        assert table is not None
        if sub == "AT_AddColumn":
            coldef = cmd.def_
            if table.column(str(coldef.colname)) is not None:
                if cmd.missing_ok:
                    return
                raise Rejected(A.DUPLICATE_COLUMN, f'column "{coldef.colname}" of relation "{tname.name}" already exists')
            table, pending = self._column(table, coldef)
            self.schema = self.schema.with_table(table)
            for con, column in pending:
                self._add_constraint(tname, con, column)
        elif sub == "AT_DropColumn":
            name = str(cmd.name)
            if table.column(name) is None:
                if cmd.missing_ok:
                    return
                raise Rejected(A.UNDEFINED_COLUMN, f'column "{name}" of relation "{tname.name}" does not exist')
            self.schema = self.schema.with_table(table.without_column(name))
            for idx in list(self.schema.indexes_of(tname)):
                if name in idx.keys or name in idx.include:
                    self.schema = self.schema.without_index(tname.schema, idx.name)
        elif sub == "AT_AlterColumnType":
            coldef = cmd.def_
            new_type = normalize.type_name(coldef.typeName, self.default_schema)
            old = table.column(str(cmd.name))
            if (
                old is not None
                and coldef.raw_default is None
                and A.assignment_cast(old.type, new_type, self._enum_types()) is False
            ):
                raise Rejected(
                    A.DATATYPE_MISMATCH,
                    f'column "{cmd.name}" cannot be cast automatically to type {new_type}',
                )
            self._set_column(tname, str(cmd.name), type=new_type)
            self._recheck_foreign_keys(tname, str(cmd.name))
        elif sub == "AT_ColumnDefault":
            col = table.column(str(cmd.name))
            ctype = col.type if col is not None else None
            default = normalize.expression_node(cmd.def_, ctype) if cmd.def_ is not None else None
            self._set_column(tname, str(cmd.name), default=default)
        elif sub == "AT_SetNotNull":
            self._set_column(tname, str(cmd.name), nullable=False)
        elif sub == "AT_DropNotNull":
            self._set_column(tname, str(cmd.name), nullable=True)
        elif sub == "AT_AddIdentity":
            con = cmd.def_
            when = getattr(con, "generated_when", "d") if con is not None else "d"
            self._set_column(
                tname, str(cmd.name), identity="always" if when == "a" else "by default", nullable=False
            )
        elif sub == "AT_DropIdentity":
            self._set_column(tname, str(cmd.name), identity=None)
        elif sub == "AT_DropExpression":
            self._set_column(tname, str(cmd.name), generated=None)
        elif sub in ("AT_AddConstraint", "AT_AddIndexConstraint"):
            self._add_constraint(tname, cmd.def_, None)
        elif sub == "AT_DropConstraint":
            name = str(cmd.name)
            k = table.constraint_named(name)
            if k is None:
                if cmd.missing_ok:
                    return
                raise Rejected(A.UNDEFINED_OBJECT, f'constraint "{name}" of relation "{tname.name}" does not exist')
            self.schema = self.schema.with_table(
                replace(table, constraints=tuple(c for c in table.constraints if c.name != name))
            )

    def _recheck_foreign_keys(self, tname: QName, column: str) -> None:
        """After a column's type changed, every foreign key through it must still be
        implementable (PostgreSQL re-validates them)."""
        for t in self.schema.tables:
            for k in t.constraints:
                if k.kind != "f" or k.ref_table is None:
                    continue
                if (t.name == tname and column in k.columns) or (
                    k.ref_table == tname and column in k.ref_columns
                ):
                    target = self.schema.table(k.ref_table)
                    if target is not None:
                        self._check_key_types(t, k.name, k.columns, target, k.ref_columns)

    # -- indexes --------------------------------------------------------------------------------
    def _do_IndexStmt(self, node: Any) -> None:
        tname = self._qv(node.relation)
        table = self.schema.table(tname)
        if table is None:
            if self.schema.view(tname) is not None:
                return  # an index on a materialized view: views are modelled by name only
            raise Rejected(A.UNDEFINED_TABLE, f'relation "{tname.name}" does not exist')
        self._need_columns(
            table,
            [str(e.name) for e in (*(node.indexParams or ()), *(node.indexIncludingParams or ())) if e.name],
            'column "{column}" does not exist',
        )
        keys = [_index_key(elem) for elem in node.indexParams or ()]
        name = node.idxname
        if name and self.schema.relation_exists(tname.schema, str(name)):
            if node.if_not_exists:
                return
            raise Rejected(A.DUPLICATE_TABLE, f'relation "{name}" already exists')
        if not name:
            name = names.index_name(
                tname.name,
                [str(e.name) if e.name else None for e in node.indexParams or ()],
                lambda candidate: self.schema.relation_exists(tname.schema, candidate),
                primary=bool(node.primary),
                constraint=bool(node.isconstraint),
                exclusion=bool(node.excludeOpNames),
            )
        index = Index(
            name=str(name),
            table=tname,
            keys=tuple(keys),
            unique=bool(node.unique),
            method=str(node.accessMethod or "btree"),
            where=normalize.expression_node(node.whereClause) if node.whereClause is not None else None,
            include=tuple(str(e.name) for e in node.indexIncludingParams or () if e.name),
            nulls_not_distinct=bool(getattr(node, "nulls_not_distinct", False)),
            origin=self._origin(),
        )
        self.schema = self.schema.with_index(index)

    # -- types, views -----------------------------------------------------------------------------
    def _do_CreateEnumStmt(self, node: Any) -> None:
        name = self._qnames(_strs(node.typeName))
        if self.schema.enum(name) is not None:
            raise Rejected(A.DUPLICATE_OBJECT, f'type "{name.name}" already exists')
        values = tuple(str(v.sval) for v in node.vals or ())
        self.schema = self.schema.with_enum(Enum(name, values, origin=self._origin()))

    def _do_AlterEnumStmt(self, node: Any) -> None:
        name = self._qnames(_strs(node.typeName))
        enum = self.schema.enum(name)
        if enum is None:
            raise Rejected(A.UNDEFINED_OBJECT, f'type "{name.name}" does not exist')
        values = list(enum.values)
        if node.oldVal:
            if node.oldVal not in values:
                raise Rejected("22023", f'"{node.oldVal}" is not an existing enum label')
            values[values.index(node.oldVal)] = str(node.newVal)
        else:
            new = str(node.newVal)
            if new in values:
                if node.skipIfNewValExists:
                    return
                raise Rejected(A.DUPLICATE_OBJECT, f'enum label "{new}" already exists')
            neighbour = node.newValNeighbor
            if neighbour and neighbour in values:
                i = values.index(neighbour)
                values.insert(i + 1 if node.newValIsAfter else i, new)
            else:
                values.append(new)
        self.schema = self.schema.with_enum(replace(enum, values=tuple(values)))

    def _do_ViewStmt(self, node: Any) -> None:
        name = self._qv(node.view)
        if self.schema.view(name) is not None and not node.replace:
            raise Rejected(A.DUPLICATE_TABLE, f'relation "{name.name}" already exists')
        self.schema = self.schema.with_view(View(name, origin=self._origin()))

    def _do_CreateTableAsStmt(self, node: Any) -> None:
        name = self._qv(node.into.rel)
        if _enum_name(node.objtype) == "OBJECT_MATVIEW":
            if self.schema.view(name) is not None:
                if node.if_not_exists:
                    return
                raise Rejected(A.DUPLICATE_TABLE, f'relation "{name.name}" already exists')
            self.schema = self.schema.with_view(View(name, materialized=True, origin=self._origin()))
            return
        if self.schema.table(name) is not None:
            if node.if_not_exists:
                return
            raise Rejected(A.DUPLICATE_TABLE, f'relation "{name.name}" already exists')
        self._note(f"cannot model the columns of CREATE TABLE {name.name} AS SELECT", name)
        self.schema = self.schema.with_table(Table(name, origin=self._origin()))
        self._opaque.add(name)

    # -- DROP and RENAME --------------------------------------------------------------------------
    def _do_DropStmt(self, node: Any) -> None:
        kind = _enum_name(node.removeType)
        cascade = _enum_name(node.behavior) == "DROP_CASCADE"
        for obj in node.objects or ():
            names = _strs(getattr(obj, "names", None) or (obj if isinstance(obj, tuple) else ()))
            if not names and hasattr(obj, "sval"):
                names = [str(obj.sval)]
            if not names:
                continue
            q = self._qnames(names)
            if kind == "OBJECT_TABLE":
                if self.schema.table(q) is None:
                    if node.missing_ok:
                        continue
                    raise Rejected(A.UNDEFINED_TABLE, f'table "{q.name}" does not exist')
                self.schema = self.schema.without_table(q)
                if cascade:
                    self._drop_references_to(q)
            elif kind == "OBJECT_INDEX":
                idx = self.schema.index(q.schema, q.name)
                if idx is None:
                    if node.missing_ok:
                        continue
                    raise Rejected(A.UNDEFINED_OBJECT, f'index "{q.name}" does not exist')
                self.schema = self.schema.without_index(q.schema, q.name)
            elif kind in ("OBJECT_TYPE", "OBJECT_DOMAIN"):
                if self.schema.enum(q) is None:
                    continue
                self.schema = self.schema.without_enum(q)
            elif kind in ("OBJECT_VIEW", "OBJECT_MATVIEW"):
                if self.schema.view(q) is None and not node.missing_ok:
                    raise Rejected(A.UNDEFINED_TABLE, f'view "{q.name}" does not exist')
                self.schema = self.schema.without_view(q)
            elif kind == "OBJECT_SCHEMA":
                schema = names[-1]
                if cascade:
                    for t in [t for t in self.schema.tables if t.name.schema == schema]:
                        self.schema = self.schema.without_table(t.name)

    def _drop_references_to(self, target: QName) -> None:
        for t in self.schema.tables:
            kept = tuple(k for k in t.constraints if not (k.kind == "f" and k.ref_table == target))
            if kept != t.constraints or len(kept) != len(t.constraints):
                self.schema = self.schema.with_table(replace(t, constraints=kept))

    def _do_RenameStmt(self, node: Any) -> None:
        kind = _enum_name(node.renameType)
        new = str(node.newname)
        if kind == "OBJECT_TABLE":
            q = self._qv(node.relation)
            table = self.schema.table(q)
            if table is None:
                if node.missing_ok:
                    return
                raise Rejected(A.UNDEFINED_TABLE, f'relation "{q.name}" does not exist')
            if self.schema.relation_exists(q.schema, new):
                raise Rejected(A.DUPLICATE_TABLE, f'relation "{new}" already exists')
            renamed = QName(q.schema, new)
            if q in self._opaque:
                self._opaque.discard(q)
                self._opaque.add(renamed)
            indexes = [replace(i, table=renamed) for i in self.schema.indexes_of(q)]
            self.schema = self.schema.without_table(q).with_table(replace(table, name=renamed))
            for i in indexes:
                self.schema = self.schema.with_index(i)
            for t in self.schema.tables:
                cons = tuple(
                    replace(k, ref_table=renamed) if k.ref_table == q else k for k in t.constraints
                )
                self.schema = self.schema.with_table(replace(t, constraints=cons))
        elif kind == "OBJECT_COLUMN":
            q = self._qv(node.relation)
            table = self.schema.table(q)
            if table is None:
                if node.missing_ok:
                    return
                raise Rejected(A.UNDEFINED_TABLE, f'relation "{q.name}" does not exist')
            old = str(node.subname)
            col = table.column(old)
            if col is None:
                raise Rejected(A.UNDEFINED_COLUMN, f'column "{old}" does not exist')
            if table.column(new) is not None:
                raise Rejected(A.DUPLICATE_COLUMN, f'column "{new}" of relation "{q.name}" already exists')
            cols = tuple(replace(c, name=new) if c.name == old else c for c in table.columns)
            cons = tuple(
                replace(
                    k,
                    columns=tuple(new if c == old else c for c in k.columns),
                    expression=normalize.rename_column(k.expression, old, new)
                    if k.expression
                    else k.expression,
                )
                for k in table.constraints
            )
            self.schema = self.schema.with_table(replace(table, columns=cols, constraints=cons))
            for i in list(self.schema.indexes_of(q)):
                self.schema = self.schema.with_index(
                    replace(
                        i,
                        keys=tuple(new if k == old else k for k in i.keys),
                        where=normalize.rename_column(i.where, old, new) if i.where else i.where,
                    )
                )
            for t in self.schema.tables:
                if any(k.ref_table == q and old in k.ref_columns for k in t.constraints):
                    fixed = tuple(
                        replace(k, ref_columns=tuple(new if c == old else c for c in k.ref_columns))
                        if k.ref_table == q
                        else k
                        for k in t.constraints
                    )
                    self.schema = self.schema.with_table(replace(t, constraints=fixed))
        elif kind == "OBJECT_TABCONSTRAINT":
            q = self._qv(node.relation)
            table = self.schema.table(q)
            old = str(node.subname)
            if table is None or table.constraint_named(old) is None:
                raise Rejected(A.UNDEFINED_OBJECT, f'constraint "{old}" does not exist')
            cons = tuple(replace(k, name=new) if k.name == old else k for k in table.constraints)
            self.schema = self.schema.with_table(replace(table, constraints=cons))
        elif kind == "OBJECT_INDEX":
            q = self._qv(node.relation)
            idx = self.schema.index(q.schema, q.name)
            if idx is not None:
                self.schema = self.schema.without_index(q.schema, q.name).with_index(replace(idx, name=new))
                return
            for t in self.schema.tables:
                k = t.constraint_named(q.name) if t.name.schema == q.schema else None
                if k is not None and k.kind in ("p", "u", "x"):
                    cons = tuple(replace(c, name=new) if c.name == q.name else c for c in t.constraints)
                    self.schema = self.schema.with_table(replace(t, constraints=cons))
                    return
            if not node.missing_ok:
                raise Rejected(A.UNDEFINED_TABLE, f'relation "{q.name}" does not exist')
        elif kind in ("OBJECT_TYPE", "OBJECT_DOMAIN"):
            names = _strs(getattr(node.object, "names", None) or node.object or ())
            q = self._qnames(names)
            enum = self.schema.enum(q)
            if enum is not None:
                self.schema = self.schema.without_enum(q).with_enum(replace(enum, name=QName(q.schema, new)))
        elif kind in ("OBJECT_VIEW", "OBJECT_MATVIEW"):
            q = self._qv(node.relation)
            view = self.schema.view(q)
            if view is not None:
                self.schema = self.schema.without_view(q).with_view(replace(view, name=QName(q.schema, new)))


_MODELLED_ALTERS = {
    "AT_AddColumn",
    "AT_DropColumn",
    "AT_AlterColumnType",
    "AT_ColumnDefault",
    "AT_SetNotNull",
    "AT_DropNotNull",
    "AT_AddIdentity",
    "AT_DropIdentity",
    "AT_DropExpression",
    "AT_AddConstraint",
    "AT_AddIndexConstraint",
    "AT_DropConstraint",
}

_SCHEMA_KINDS = {
    "CreateSeqStmt",
    "CreateSchemaStmt",
    "CreateStmt",
    "AlterTableStmt",
    "IndexStmt",
    "CreateEnumStmt",
    "AlterEnumStmt",
    "ViewStmt",
    "CreateTableAsStmt",
    "DropStmt",
    "RenameStmt",
}


def _index_key(elem: Any) -> str:
    """An index key as pg_get_indexdef prints it: ``col``, ``(expr)``, opclass, DESC, NULLS."""
    key = str(elem.name) if elem.name else f"({normalize.expression_node(elem.expr)})"
    opclass = _strs(elem.opclass)
    if opclass:
        key += f" {opclass[-1]}"
    desc = _enum_name(elem.ordering) == "SORTBY_DESC"
    nulls = _enum_name(elem.nulls_ordering)
    if desc:
        key += " DESC"
        if nulls == "SORTBY_NULLS_LAST":
            key += " NULLS LAST"
    elif nulls == "SORTBY_NULLS_FIRST":
        key += " NULLS FIRST"
    return key


def _changes_schema(kind: str) -> bool:
    return kind in _SCHEMA_KINDS


def _has_subquery(node: Any) -> bool:
    from pglast import ast
    from pglast.visitors import Visitor

    found: list[bool] = []

    class _V(Visitor):
        def visit_SubLink(self, ancestors: Any, n: ast.SubLink) -> None:
            found.append(True)

    _V()(node)
    return bool(found)


def _columns_in(node: Any) -> list[str]:
    """Column names an expression refers to, in order of appearance."""
    from pglast import ast
    from pglast.visitors import Visitor

    found: list[str] = []

    class _V(Visitor):
        def visit_ColumnRef(self, ancestors: Any, n: ast.ColumnRef) -> None:
            names = _strs(n.fields)
            if names and names[-1] not in found:
                found.append(names[-1])

    _V()(node)
    return found


