"""The one Schema model every source of schema truth produces.

The static replay of migrations, a snapshot file, the Drizzle reader, the SQL reader and a live
database's catalog all build this model, normalised the way PostgreSQL stores things (see
:mod:`ddlguard.schema.normalize`), so that diff and fix rendering exist once and never need to know
where a Schema came from.

Values are immutable and compare by content. A model built from a source also carries, outside
equality, where each object was defined (``origin``: path, line, column) so that a drift finding can
point at the place a person fixes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Literal

# PostgreSQL's pg_constraint.confdeltype / confupdtype letters.
FkAction = Literal["a", "r", "c", "n", "d"]
FK_ACTION_SQL: dict[str, str] = {
    "a": "NO ACTION",
    "r": "RESTRICT",
    "c": "CASCADE",
    "n": "SET NULL",
    "d": "SET DEFAULT",
}
ConstraintKind = Literal["p", "u", "f", "c", "x"]  # pg_constraint.contype
CONSTRAINT_KIND_SQL: dict[str, str] = {
    "p": "PRIMARY KEY",
    "u": "UNIQUE",
    "f": "FOREIGN KEY",
    "c": "CHECK",
    "x": "EXCLUDE",
}


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an object is defined: shown in findings, never compared."""

    path: str
    line: int
    column: int = 1
    end_line: int | None = None
    end_column: int | None = None


@dataclass(frozen=True, slots=True)
class QName:
    """A schema-qualified name, folded as PostgreSQL folds it (the caller folds)."""

    schema: str
    name: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str  # normalised: "integer", "character varying(255)", "timestamp with time zone", "text[]"
    nullable: bool = True
    default: str | None = None  # normalised expression text; None for no default
    identity: Literal["always", "by default"] | None = None
    generated: str | None = None  # normalised expression of a STORED generated column
    origin: Origin | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Constraint:
    """A table constraint. Two constraints are the same when they do the same thing: the name is
    compared separately (``name`` is not part of equality), so ``t_col_key`` and ``t_col_unique``
    for the same UNIQUE (col) are one constraint under two names."""

    kind: ConstraintKind
    columns: tuple[str, ...] = ()
    name: str = field(default="", compare=False)
    ref_table: QName | None = None
    ref_columns: tuple[str, ...] = ()
    on_delete: FkAction = "a"
    on_update: FkAction = "a"
    expression: str | None = None  # CHECK: normalised expression
    nulls_not_distinct: bool = False
    deferrable: bool = False
    initially_deferred: bool = False
    origin: Origin | None = field(default=None, compare=False)

    def describe(self) -> str:
        kind = CONSTRAINT_KIND_SQL[self.kind]
        if self.kind == "c":
            return f"CHECK ({self.expression})"
        cols = ", ".join(self.columns)
        if self.kind == "f" and self.ref_table is not None:
            text = f"FOREIGN KEY ({cols}) REFERENCES {self.ref_table}({', '.join(self.ref_columns)})"
            if self.on_delete != "a":
                text += f" ON DELETE {FK_ACTION_SQL[self.on_delete]}"
            if self.on_update != "a":
                text += f" ON UPDATE {FK_ACTION_SQL[self.on_update]}"
            return text
        return f"{kind} ({cols})"


@dataclass(frozen=True, slots=True)
class Index:
    """A standalone index (indexes behind PRIMARY KEY / UNIQUE constraints are not listed)."""

    name: str
    table: QName
    keys: tuple[str, ...]  # column names, or normalised expressions in parentheses
    unique: bool = False
    method: str = "btree"
    where: str | None = None  # normalised partial-index predicate
    include: tuple[str, ...] = ()
    nulls_not_distinct: bool = False
    origin: Origin | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True, eq=False)
class Table:
    name: QName
    columns: tuple[Column, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    origin: Origin | None = field(default=None, compare=False)

    # Constraints have no order in PostgreSQL: they keep the order they were made in (for
    # rendering), but compare as a set, so that a catalog read (by name) and a replay (by
    # creation) are equal.
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Table):
            return NotImplemented
        return (
            self.name == other.name
            and self.columns == other.columns
            and sorted(self.constraints, key=_constraint_key)
            == sorted(other.constraints, key=_constraint_key)
        )

    def __hash__(self) -> int:
        return hash((self.name, self.columns, tuple(sorted(self.constraints, key=_constraint_key))))

    def column(self, name: str) -> Column | None:
        for c in self.columns:
            if c.name == name:
                return c
        return None

    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def with_column(self, column: Column) -> Table:
        """This table with ``column`` added, or replacing the column of the same name in place."""
        cols = list(self.columns)
        for i, c in enumerate(cols):
            if c.name == column.name:
                cols[i] = column
                return replace(self, columns=tuple(cols))
        return replace(self, columns=(*cols, column))

    def without_column(self, name: str) -> Table:
        """This table without the column, and without the constraints that used it (as DROP
        COLUMN does)."""
        cols = tuple(c for c in self.columns if c.name != name)
        cons = tuple(k for k in self.constraints if name not in k.columns)
        return replace(self, columns=cols, constraints=cons)

    def primary_key(self) -> Constraint | None:
        for k in self.constraints:
            if k.kind == "p":
                return k
        return None

    def constraint_named(self, name: str) -> Constraint | None:
        for k in self.constraints:
            if k.name == name:
                return k
        return None


@dataclass(frozen=True, slots=True)
class Enum:
    name: QName
    values: tuple[str, ...]
    origin: Origin | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class View:
    name: QName
    materialized: bool = False
    origin: Origin | None = field(default=None, compare=False)


def _constraint_key(k: Constraint) -> tuple[str, ...]:
    return (
        k.kind,
        ",".join(k.columns),
        str(k.ref_table or ""),
        ",".join(k.ref_columns),
        k.expression or "",
        k.name,
    )


def _by_name(items: Iterable[Table | Enum | View]) -> dict[QName, Table | Enum | View]:
    return {i.name: i for i in items}


@dataclass(frozen=True, slots=True)
class Schema:
    """A whole database schema: tables, standalone indexes, enum types, views, by name.

    Mapping fields are stored as tuples of items sorted by name, so that two Schemas with the same
    content are equal whatever order they were built in. Use the ``with_*`` / ``without_*``
    methods to derive a new Schema; nothing is ever changed in place.
    """

    tables: tuple[Table, ...] = ()
    indexes: tuple[Index, ...] = ()
    enums: tuple[Enum, ...] = ()
    views: tuple[View, ...] = ()
    schemas: frozenset[str] = frozenset({"public"})

    def __post_init__(self) -> None:
        object.__setattr__(self, "tables", tuple(sorted(self.tables, key=_key)))
        object.__setattr__(self, "indexes", tuple(sorted(self.indexes, key=lambda i: (i.table.schema, i.name))))
        object.__setattr__(self, "enums", tuple(sorted(self.enums, key=_key)))
        object.__setattr__(self, "views", tuple(sorted(self.views, key=_key)))

    # -- lookups -----------------------------------------------------------------------------
    def table(self, name: QName) -> Table | None:
        for t in self.tables:
            if t.name == name:
                return t
        return None

    def enum(self, name: QName) -> Enum | None:
        for e in self.enums:
            if e.name == name:
                return e
        return None

    def view(self, name: QName) -> View | None:
        for v in self.views:
            if v.name == name:
                return v
        return None

    def index(self, schema: str, name: str) -> Index | None:
        for i in self.indexes:
            if i.name == name and i.table.schema == schema:
                return i
        return None

    def indexes_of(self, table: QName) -> Iterator[Index]:
        return (i for i in self.indexes if i.table == table)

    def relation_exists(self, schema: str, name: str) -> bool:
        """Whether a table, view, index (or constraint-backing index) has this name: PostgreSQL
        keeps all of them in one namespace (pg_class)."""
        q = QName(schema, name)
        if self.table(q) is not None or self.view(q) is not None or self.index(schema, name):
            return True
        return any(
            k.name == name and k.kind in ("p", "u", "x")
            for t in self.tables
            if t.name.schema == schema
            for k in t.constraints
        )

    # -- derivations ---------------------------------------------------------------------------
    def with_table(self, table: Table) -> Schema:
        rest = tuple(t for t in self.tables if t.name != table.name)
        return replace(self, tables=(*rest, table))

    def without_table(self, name: QName) -> Schema:
        return replace(
            self,
            tables=tuple(t for t in self.tables if t.name != name),
            indexes=tuple(i for i in self.indexes if i.table != name),
        )

    def with_index(self, index: Index) -> Schema:
        rest = tuple(
            i for i in self.indexes if not (i.name == index.name and i.table.schema == index.table.schema)
        )
        return replace(self, indexes=(*rest, index))

    def without_index(self, schema: str, name: str) -> Schema:
        return replace(
            self, indexes=tuple(i for i in self.indexes if not (i.name == name and i.table.schema == schema))
        )

    def with_enum(self, enum: Enum) -> Schema:
        rest = tuple(e for e in self.enums if e.name != enum.name)
        return replace(self, enums=(*rest, enum))

    def without_enum(self, name: QName) -> Schema:
        return replace(self, enums=tuple(e for e in self.enums if e.name != name))

    def with_view(self, view: View) -> Schema:
        rest = tuple(v for v in self.views if v.name != view.name)
        return replace(self, views=(*rest, view))

    def without_view(self, name: QName) -> Schema:
        return replace(self, views=tuple(v for v in self.views if v.name != name))

    def with_schema(self, name: str) -> Schema:
        return replace(self, schemas=self.schemas | {name})


def _key(item: Table | Enum | View) -> tuple[str, str]:
    return (item.name.schema, item.name.name)
