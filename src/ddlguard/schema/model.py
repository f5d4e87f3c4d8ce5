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

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
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
    # Lookups built when first asked and handed on to the Schema derived from this one (see
    # _Lookups); not part of the value.
    _lookups: _Lookups | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tables", tuple(sorted(self.tables, key=_key)))
        object.__setattr__(self, "indexes", tuple(sorted(self.indexes, key=_index_key)))
        object.__setattr__(self, "enums", tuple(sorted(self.enums, key=_key)))
        object.__setattr__(self, "views", tuple(sorted(self.views, key=_key)))

    # -- lookups -----------------------------------------------------------------------------
    # The tuples are sorted by name (__post_init__): a lookup is a binary search, and a
    # derivation copies a tuple once, in C, without a key computed per item. (A pass in Python
    # over every table for each step made the replay of thousands of migrations quadratic.)
    def table(self, name: QName) -> Table | None:
        i = bisect_left(self.tables, (name.schema, name.name), key=_key)
        if i < len(self.tables) and self.tables[i].name == name:
            return self.tables[i]
        return None

    def enum(self, name: QName) -> Enum | None:
        i = bisect_left(self.enums, (name.schema, name.name), key=_key)
        if i < len(self.enums) and self.enums[i].name == name:
            return self.enums[i]
        return None

    def view(self, name: QName) -> View | None:
        i = bisect_left(self.views, (name.schema, name.name), key=_key)
        if i < len(self.views) and self.views[i].name == name:
            return self.views[i]
        return None

    def index(self, schema: str, name: str) -> Index | None:
        i = bisect_left(self.indexes, (schema, name), key=_index_key)
        if i < len(self.indexes) and _index_key(self.indexes[i]) == (schema, name):
            return self.indexes[i]
        return None

    def indexes_of(self, table: QName) -> Iterator[Index]:
        return iter(tuple(self._lookup().indexes_of(self.indexes, table)))

    def relation_exists(self, schema: str, name: str) -> bool:
        """Whether a table, view, index (or constraint-backing index) has this name: PostgreSQL
        keeps all of them in one namespace (pg_class)."""
        q = QName(schema, name)
        if self.table(q) is not None or self.view(q) is not None or self.index(schema, name):
            return True
        return self._lookup().names(self.tables, backing=True).get((schema, name), 0) > 0

    def has_constraint(self, schema: str, name: str) -> bool:
        """Whether a constraint of a table in ``schema`` (any kind) has this name."""
        return self._lookup().names(self.tables, backing=False).get((schema, name), 0) > 0

    def _lookup(self) -> _Lookups:
        found = self._lookups
        if found is None or found.owner is not self:  # none yet, or a copy's (copy.copy)
            found = _Lookups(self)
            object.__setattr__(self, "_lookups", found)
        return found

    # -- derivations ---------------------------------------------------------------------------
    def _derive(
        self,
        *,
        tables: tuple[Table, ...] | None = None,
        indexes: tuple[Index, ...] | None = None,
        enums: tuple[Enum, ...] | None = None,
        views: tuple[View, ...] | None = None,
        table_out: Table | None = None,
        table_in: Table | None = None,
        indexes_out: Sequence[Index] = (),
        index_in: Index | None = None,
    ) -> Schema:
        """This Schema with the tuples given (kept sorted by the caller: not sorted again).
        ``table_out``/``table_in``, ``indexes_out``/``index_in``: what left and what came, to
        update the lookups, which the derived Schema takes over."""
        out = object.__new__(Schema)
        object.__setattr__(out, "tables", self.tables if tables is None else tables)
        object.__setattr__(out, "indexes", self.indexes if indexes is None else indexes)
        object.__setattr__(out, "enums", self.enums if enums is None else enums)
        object.__setattr__(out, "views", self.views if views is None else views)
        object.__setattr__(out, "schemas", self.schemas)
        found = self._lookups
        if found is not None and found.owner is self:
            # The derived Schema is the one asked next; this one builds its lookups again if it
            # is asked once more (a replay's rollback).
            found.table_changed(table_out, table_in)
            found.indexes_changed(indexes_out, index_in)
            found.owner = out
            object.__setattr__(self, "_lookups", None)
        else:
            found = None
        object.__setattr__(out, "_lookups", found)
        return out

    def _forget(self) -> None:
        """Drop the lookups (a derivation they cannot follow: a name twice, built directly)."""
        object.__setattr__(self, "_lookups", None)

    def with_table(self, table: Table) -> Schema:
        key = _key(table)
        lo = bisect_left(self.tables, key, key=_key)
        hi = bisect_right(self.tables, key, lo=lo, key=_key)
        if hi - lo > 1:
            self._forget()
        return self._derive(
            tables=(*self.tables[:lo], table, *self.tables[hi:]),
            table_out=self.tables[lo] if hi - lo == 1 else None,
            table_in=table,
        )

    def without_table(self, name: QName) -> Schema:
        key = (name.schema, name.name)
        lo = bisect_left(self.tables, key, key=_key)
        hi = bisect_right(self.tables, key, lo=lo, key=_key)
        if hi - lo > 1:
            self._forget()
        gone = [i for i in self.indexes if i.table == name]
        return self._derive(
            tables=self.tables[:lo] + self.tables[hi:],
            indexes=tuple(i for i in self.indexes if i.table != name) if gone else None,
            table_out=self.tables[lo] if hi - lo == 1 else None,
            indexes_out=gone,
        )

    def with_index(self, index: Index) -> Schema:
        key = _index_key(index)
        lo = bisect_left(self.indexes, key, key=_index_key)
        hi = bisect_right(self.indexes, key, lo=lo, key=_index_key)
        return self._derive(
            indexes=(*self.indexes[:lo], index, *self.indexes[hi:]),
            indexes_out=self.indexes[lo:hi],
            index_in=index,
        )

    def without_index(self, schema: str, name: str) -> Schema:
        lo = bisect_left(self.indexes, (schema, name), key=_index_key)
        hi = bisect_right(self.indexes, (schema, name), lo=lo, key=_index_key)
        return self._derive(
            indexes=self.indexes[:lo] + self.indexes[hi:], indexes_out=self.indexes[lo:hi]
        )

    def with_enum(self, enum: Enum) -> Schema:
        key = _key(enum)
        lo = bisect_left(self.enums, key, key=_key)
        hi = bisect_right(self.enums, key, lo=lo, key=_key)
        return self._derive(enums=(*self.enums[:lo], enum, *self.enums[hi:]))

    def without_enum(self, name: QName) -> Schema:
        key = (name.schema, name.name)
        lo = bisect_left(self.enums, key, key=_key)
        hi = bisect_right(self.enums, key, lo=lo, key=_key)
        return self._derive(enums=self.enums[:lo] + self.enums[hi:])

    def with_view(self, view: View) -> Schema:
        key = _key(view)
        lo = bisect_left(self.views, key, key=_key)
        hi = bisect_right(self.views, key, lo=lo, key=_key)
        return self._derive(views=(*self.views[:lo], view, *self.views[hi:]))

    def without_view(self, name: QName) -> Schema:
        key = (name.schema, name.name)
        lo = bisect_left(self.views, key, key=_key)
        hi = bisect_right(self.views, key, lo=lo, key=_key)
        return self._derive(views=self.views[:lo] + self.views[hi:])

    def with_schema(self, name: str) -> Schema:
        return replace(self, schemas=self.schemas | {name})


class _Lookups:
    """What a Schema is asked again and again while migrations are replayed, without a pass
    over all of it each time: the indexes of each table, and the constraint names of each
    schema, counted (all of them, and those of PRIMARY KEY, UNIQUE and EXCLUDE constraints,
    whose indexes are relations). Each is built when first asked, then updated by each
    derivation and handed to the derived Schema (``owner``): only the newest Schema of a
    chain of derivations has them."""

    __slots__ = ("_all", "_backing", "_by_table", "owner")

    def __init__(self, owner: Schema) -> None:
        self.owner = owner
        self._by_table: dict[QName, list[Index]] | None = None
        self._backing: dict[tuple[str, str], int] | None = None
        self._all: dict[tuple[str, str], int] | None = None

    def indexes_of(self, indexes: Iterable[Index], table: QName) -> list[Index]:
        if self._by_table is None:
            by_table: dict[QName, list[Index]] = {}
            for i in indexes:  # in the Schema's order, which each list keeps
                by_table.setdefault(i.table, []).append(i)
            self._by_table = by_table
        return self._by_table.get(table, [])

    def names(self, tables: Iterable[Table], *, backing: bool) -> dict[tuple[str, str], int]:
        """(schema, constraint name) -> how many: of the backing kinds only, or of all."""
        found = self._backing if backing else self._all
        if found is None:
            found = {}
            for t in tables:
                _count(found, t, 1, backing)
            if backing:
                self._backing = found
            else:
                self._all = found
        return found

    def table_changed(self, out: Table | None, came: Table | None) -> None:
        for found, backing in ((self._backing, True), (self._all, False)):
            if found is None:
                continue
            if out is not None:
                _count(found, out, -1, backing)
            if came is not None:
                _count(found, came, 1, backing)

    def indexes_changed(self, out: Sequence[Index], came: Index | None) -> None:
        by_table = self._by_table
        if by_table is None:
            return
        for i in out:
            mine = by_table[i.table]
            del mine[next(n for n, x in enumerate(mine) if x is i)]
            if not mine:
                del by_table[i.table]
        if came is not None:
            mine = by_table.setdefault(came.table, [])
            mine.insert(bisect_left(mine, _index_key(came), key=_index_key), came)


def _count(found: dict[tuple[str, str], int], table: Table, step: int, backing: bool) -> None:
    for k in table.constraints:
        if not backing or k.kind in ("p", "u", "x"):
            key = (table.name.schema, k.name)
            left = found.get(key, 0) + step
            if left:
                found[key] = left
            else:
                del found[key]


def _index_key(index: Index) -> tuple[str, str]:
    return (index.table.schema, index.name)


def _key(item: Table | Enum | View) -> tuple[str, str]:
    return (item.name.schema, item.name.name)
