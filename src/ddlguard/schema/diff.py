"""Compare two Schemas: what the migrations (or a snapshot, or a database) produce against the
canonical schema.

``diff(actual, canonical)`` lists every :class:`Difference`, in a stable order (by object, then
by kind). A Difference carries the objects on both sides, so that :mod:`ddlguard.rules.drift` can
say where to fix it and :mod:`ddlguard.schema.render` can write the SQL that closes it.

Comparison is by content, never by name or position where PostgreSQL itself does not care:
constraints compare without their names (``t_col_key`` and ``t_col_unique`` are one UNIQUE),
indexes are matched by definition first and by name second, and columns are compared by name, in
any order. A missing and an extra column of compatible types whose names are alike are reported as
one probable rename.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher
from enum import StrEnum
from typing import Any

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
from ddlguard.schema.normalize import expression, expression_node


class DiffKind(StrEnum):
    MISSING_TABLE = "missing-table"
    EXTRA_TABLE = "extra-table"
    MISSING_COLUMN = "missing-column"
    EXTRA_COLUMN = "extra-column"
    RENAMED_COLUMN = "renamed-column"
    COLUMN_TYPE = "column-type"
    COLUMN_NULLABILITY = "column-nullability"
    COLUMN_DEFAULT = "column-default"
    COLUMN_IDENTITY = "column-identity"
    COLUMN_GENERATED = "column-generated"
    MISSING_PRIMARY_KEY = "missing-primary-key"
    EXTRA_PRIMARY_KEY = "extra-primary-key"
    PRIMARY_KEY = "primary-key"
    MISSING_UNIQUE = "missing-unique"
    EXTRA_UNIQUE = "extra-unique"
    UNIQUE = "unique"
    MISSING_FOREIGN_KEY = "missing-foreign-key"
    EXTRA_FOREIGN_KEY = "extra-foreign-key"
    FOREIGN_KEY = "foreign-key"
    MISSING_CHECK = "missing-check"
    EXTRA_CHECK = "extra-check"
    CHECK = "check"
    MISSING_INDEX = "missing-index"
    EXTRA_INDEX = "extra-index"
    INDEX = "index"
    MISSING_ENUM = "missing-enum"
    EXTRA_ENUM = "extra-enum"
    ENUM_VALUES_MISSING = "enum-values-missing"
    ENUM_VALUES_ORDER = "enum-values-order"
    ENUM_VALUES_EXTRA = "enum-values-extra"
    MISSING_VIEW = "missing-view"
    EXTRA_VIEW = "extra-view"
    CANNOT_MODEL = "cannot-model"


#: Kinds where the canonical schema has something the actual schema lacks entirely: a person
#: fixes them by writing what the canonical definition says (findings point at that definition).
MISSING_KINDS = frozenset(
    {
        DiffKind.MISSING_TABLE,
        DiffKind.MISSING_COLUMN,
        DiffKind.MISSING_PRIMARY_KEY,
        DiffKind.MISSING_UNIQUE,
        DiffKind.MISSING_FOREIGN_KEY,
        DiffKind.MISSING_CHECK,
        DiffKind.MISSING_INDEX,
        DiffKind.MISSING_ENUM,
        DiffKind.ENUM_VALUES_MISSING,
        DiffKind.MISSING_VIEW,
    }
)

#: Constraint kinds by pg_constraint.contype: (missing, extra, different).
_CONSTRAINT_KINDS: dict[str, tuple[DiffKind, DiffKind, DiffKind]] = {
    "p": (DiffKind.MISSING_PRIMARY_KEY, DiffKind.EXTRA_PRIMARY_KEY, DiffKind.PRIMARY_KEY),
    "u": (DiffKind.MISSING_UNIQUE, DiffKind.EXTRA_UNIQUE, DiffKind.UNIQUE),
    "f": (DiffKind.MISSING_FOREIGN_KEY, DiffKind.EXTRA_FOREIGN_KEY, DiffKind.FOREIGN_KEY),
    "c": (DiffKind.MISSING_CHECK, DiffKind.EXTRA_CHECK, DiffKind.CHECK),
}

#: Every kind about a table constraint.
CONSTRAINT_KINDS = frozenset(k for kinds in _CONSTRAINT_KINDS.values() for k in kinds)

Item = Table | Column | Constraint | Index | Enum | View


@dataclass(frozen=True, slots=True)
class Difference:
    """One difference between the actual schema and the canonical one.

    ``qname`` is the table, enum type or view the difference is about (for an index: its table).
    ``column`` is the column's canonical name (for a rename: the new name) and ``old_column`` the
    name in the actual schema when it differs. ``name`` is the index or constraint name (the
    canonical one when there is one). ``actual`` and ``canonical`` are the objects on each side
    (None where a side lacks it); ``indexes`` are a missing table's indexes, ``values`` the enum
    labels a difference is about, ``detail`` the text of a cannot-model note.
    """

    kind: DiffKind
    qname: QName
    column: str | None = None
    old_column: str | None = None
    name: str | None = None
    actual: Item | None = None
    canonical: Item | None = None
    actual_origin: Origin | None = None
    canonical_origin: Origin | None = None
    indexes: tuple[Index, ...] = ()
    values: tuple[str, ...] = ()
    detail: str = ""
    # For a column difference: the table it belongs to on each side (for messages and render).
    table: Table | None = field(default=None, compare=False)

    @property
    def object_name(self) -> str:
        """The schema-qualified object: ``schema.table``, ``schema.table.column``,
        ``schema.index_name``, ``schema.table.constraint_name``, ``schema.enum``."""
        if self.column is not None:
            return f"{self.qname}.{self.column}"
        if (
            self.kind in (DiffKind.MISSING_INDEX, DiffKind.EXTRA_INDEX, DiffKind.INDEX)
            and self.name
        ):
            return f"{self.qname.schema}.{self.name}"
        if self.name and self.kind in CONSTRAINT_KINDS:
            return f"{self.qname}.{self.name}"
        return str(self.qname)

    @property
    def message(self) -> str:
        return self.describe()

    @property
    def origin(self) -> Origin | None:
        """Where a person fixes this difference: the canonical definition when the actual schema
        lacks the object entirely, otherwise the actual (wrong) definition."""
        if self.kind in MISSING_KINDS:
            return self.canonical_origin or self.actual_origin
        return self.actual_origin or self.canonical_origin

    def describe(
        self,
        actual_label: str = "the migrations",
        canonical_label: str = "the canonical schema",
        *,
        canonical_location: str | None = None,
        default_schema: str = "public",
    ) -> str:
        """A one-line human message naming both sides (``actual_label``, ``canonical_label``).

        ``canonical_location`` (``shared/schema.ts:58``) names the canonical definition where a
        message says where the missing object is defined; it defaults to ``canonical_label``.
        Names in ``default_schema`` are written unqualified."""
        return _describe(
            self,
            actual_label,
            canonical_label,
            canonical_location or canonical_label,
            default_schema,
        )


# --- the comparison ---------------------------------------------------------------------------


def diff(actual: Schema, canonical: Schema) -> list[Difference]:
    """Every difference between ``actual`` (what migrations, a snapshot or a database produce)
    and ``canonical`` (the source of truth). ``diff(s, s)`` is empty."""
    out: list[Difference] = []
    out += _diff_enums(actual, canonical)
    a_tables = {t.name: t for t in actual.tables}
    c_tables = {t.name: t for t in canonical.tables}
    for name in sorted(c_tables.keys() | a_tables.keys(), key=_qkey):
        a, c = a_tables.get(name), c_tables.get(name)
        if a is None and c is not None:
            out.append(
                Difference(
                    DiffKind.MISSING_TABLE,
                    name,
                    canonical=c,
                    canonical_origin=c.origin,
                    indexes=tuple(canonical.indexes_of(name)),
                    table=c,
                )
            )
        elif c is None and a is not None:
            out.append(
                Difference(DiffKind.EXTRA_TABLE, name, actual=a, actual_origin=a.origin, table=a)
            )
        elif a is not None and c is not None:
            out += _diff_table(actual, canonical, a, c)
    out += _diff_views(actual, canonical)
    return out


def _qkey(q: QName) -> tuple[str, str]:
    return (q.schema, q.name)


# --- columns ----------------------------------------------------------------------------------


def _diff_table(actual: Schema, canonical: Schema, a: Table, c: Table) -> list[Difference]:
    out: list[Difference] = []
    a_cols = {col.name: col for col in a.columns}
    c_cols = {col.name: col for col in c.columns}
    missing = [col for col in c.columns if col.name not in a_cols]
    extra = [col for col in a.columns if col.name not in c_cols]
    renames = pair_renames(extra, missing)
    renamed_old = {old.name for old, _ in renames}
    renamed_new = {new.name for _, new in renames}
    a_pk = _pk_columns(a)
    c_pk = _pk_columns(c)

    for old, new in renames:
        out.append(
            Difference(
                DiffKind.RENAMED_COLUMN,
                c.name,
                column=new.name,
                old_column=old.name,
                actual=old,
                canonical=new,
                actual_origin=old.origin or a.origin,
                canonical_origin=new.origin or c.origin,
                table=c,
            )
        )
        out += _diff_column(c, old, new, a.origin, c.origin, a_pk, c_pk)
    for col in missing:
        if col.name in renamed_new:
            continue
        out.append(
            Difference(
                DiffKind.MISSING_COLUMN,
                c.name,
                column=col.name,
                canonical=col,
                actual_origin=a.origin,
                canonical_origin=col.origin or c.origin,
                table=c,
            )
        )
    for col in extra:
        if col.name in renamed_old:
            continue
        out.append(
            Difference(
                DiffKind.EXTRA_COLUMN,
                c.name,
                column=col.name,
                actual=col,
                actual_origin=col.origin or a.origin,
                canonical_origin=c.origin,
                table=a,
            )
        )
    for col in c.columns:
        old_col = a_cols.get(col.name)
        if old_col is not None:
            out += _diff_column(c, old_col, col, a.origin, c.origin, a_pk, c_pk)

    # Constraints and indexes of the actual table, seen after the renames (as PostgreSQL
    # rewrites them when a column is renamed).
    mapping = {old.name: new.name for old, new in renames}
    a_renamed = _rename_in_table(a, mapping)
    a_indexes = [_rename_in_index(i, mapping) for i in actual.indexes_of(a.name)]
    c_indexes = list(canonical.indexes_of(c.name))
    # An index whose name the other side uses for an index of another definition is being
    # replaced: it cannot also stand in for a UNIQUE constraint.
    c_content = {i.name: index_content(i) for i in c_indexes}
    replaced = {
        i.name for i in a_indexes if i.name in c_content and c_content[i.name] != index_content(i)
    }
    out += _diff_constraints(
        actual,
        canonical,
        a_renamed,
        c,
        [i for i in a_indexes if i.name not in replaced],
        [i for i in c_indexes if i.name not in replaced],
    )
    out += _diff_indexes(c, a_indexes, c_indexes, a_renamed, c)
    return out


def _pk_columns(t: Table) -> frozenset[str]:
    pk = t.primary_key()
    return frozenset(pk.columns) if pk is not None else frozenset()


def _nullable(col: Column, pk: frozenset[str]) -> bool:
    # PRIMARY KEY and identity columns are NOT NULL whatever the source wrote.
    return col.nullable and col.name not in pk and col.identity is None


def _same_expression(a: str | None, b: str | None, column_type: str | None = None) -> bool:
    if a == b:
        return True
    if a is None or b is None:
        return False
    return expression(a, column_type) == expression(b, column_type)


def _diff_column(
    table: Table,
    a: Column,
    c: Column,
    a_table_origin: Origin | None,
    c_table_origin: Origin | None,
    a_pk: frozenset[str],
    c_pk: frozenset[str],
) -> list[Difference]:
    out: list[Difference] = []

    def make(kind: DiffKind) -> Difference:
        return Difference(
            kind,
            table.name,
            column=c.name,
            old_column=a.name if a.name != c.name else None,
            actual=a,
            canonical=c,
            actual_origin=a.origin or a_table_origin,
            canonical_origin=c.origin or c_table_origin,
            table=table,
        )

    if a.type != c.type:
        out.append(make(DiffKind.COLUMN_TYPE))
    if _nullable(a, a_pk) != _nullable(c, c_pk):
        out.append(make(DiffKind.COLUMN_NULLABILITY))
    if not _same_expression(a.default, c.default, c.type):
        out.append(make(DiffKind.COLUMN_DEFAULT))
    if a.identity != c.identity:
        out.append(make(DiffKind.COLUMN_IDENTITY))
    if not _same_expression(a.generated, c.generated, c.type):
        out.append(make(DiffKind.COLUMN_GENERATED))
    return out


# --- renames ----------------------------------------------------------------------------------

_TYPE_FAMILIES: tuple[tuple[str, ...], ...] = (
    ("text", "character varying", "character", "citext", "name"),
    ("smallint", "integer", "bigint", "numeric", "real", "double precision"),
    ("timestamp", "date"),
    ("time",),
    ("json", "jsonb"),
    ("bit", "bit varying"),
)
_MODS = re.compile(r"\([^)]*\)")


def _base(type_: str) -> str:
    base = _MODS.sub("", type_).strip()
    for suffix in (" with time zone", " without time zone"):
        base = base.removesuffix(suffix)
    return base


def compatible_types(a: str, b: str) -> bool:
    """Whether a column of type ``a`` may plausibly have become a column of type ``b`` (a cast
    exists and keeps the data's meaning): same type, or both textual, both numeric, both
    timestamps, both JSON, ... with the same array dimension."""
    if a == b:
        return True
    if a.endswith("[]") != b.endswith("[]"):
        return False
    ba, bb = _base(a.removesuffix("[]")), _base(b.removesuffix("[]"))
    if ba == bb:
        return True
    return any(ba in family and bb in family for family in _TYPE_FAMILIES)


def _tokens(name: str) -> set[str]:
    return {t for t in re.split(r"[_$0-9]+", name) if t}


def name_similarity(a: str, b: str) -> float:
    """How alike two column names are, 0..1: the better of a character-level ratio and a word
    overlap (``username`` is contained in ``username_deprecated``)."""
    ratio = SequenceMatcher(None, a, b).ratio()
    ta, tb = _tokens(a), _tokens(b)
    if not ta or not tb:
        return ratio
    common = len(ta & tb)
    jaccard = common / len(ta | tb)
    containment = common / min(len(ta), len(tb))
    return max(ratio, (jaccard + containment) / 2)


#: A pair of a missing and an extra column counts as a rename from this score up.
RENAME_THRESHOLD = 0.55


def pair_renames(extra: Sequence[Column], missing: Sequence[Column]) -> list[tuple[Column, Column]]:
    """Pair extra (actual) columns with missing (canonical) columns that are probably the same
    column renamed: compatible types, alike names. Best pairs first (name similarity, plus a
    little for an exactly equal type); never by position. Returns (old, new) pairs in the
    canonical column order."""
    candidates: list[tuple[float, str, str, Column, Column]] = []
    for old in extra:
        for new in missing:
            if not compatible_types(old.type, new.type):
                continue
            score = name_similarity(old.name, new.name) + (0.1 if old.type == new.type else 0.0)
            if score >= RENAME_THRESHOLD:
                candidates.append((score, new.name, old.name, old, new))
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    used_old: set[str] = set()
    used_new: set[str] = set()
    pairs: dict[str, tuple[Column, Column]] = {}
    for _score, new_name, old_name, old, new in candidates:
        if old_name in used_old or new_name in used_new:
            continue
        used_old.add(old_name)
        used_new.add(new_name)
        pairs[new_name] = (old, new)
    return [pairs[c.name] for c in missing if c.name in pairs]


def rename_in_expression(text: str, mapping: dict[str, str]) -> str:
    """``text`` with its unqualified column references renamed (as PostgreSQL rewrites stored
    expressions when a column is renamed)."""
    from pglast import ast, parse_sql
    from pglast.parser import ParseError

    if not mapping or not any(old in text for old in mapping):
        return text
    try:
        stmt: Any = parse_sql(f"SELECT {text}")[0].stmt
        value = stmt.targetList[0].val
    except (ParseError, AttributeError, IndexError, TypeError):
        return text

    def walk(node: Any) -> Any:
        if isinstance(node, tuple):
            return tuple(walk(n) for n in node)
        if not isinstance(node, ast.Node):
            return node
        if isinstance(node, ast.ColumnRef):
            fields = node.fields or ()
            last = fields[-1] if fields else None
            if isinstance(last, ast.String) and last.sval in mapping:
                renamed = ast.String(sval=mapping[last.sval])
                return ast.ColumnRef(fields=(*fields[:-1], renamed))
            return node
        values: dict[str, Any] = {
            attr: walk(getattr(node, attr)) for attr in node if attr != "location"
        }
        return type(node)(**values)

    return expression_node(walk(value))


def _rename_in_table(t: Table, mapping: dict[str, str]) -> Table:
    if not mapping:
        return t
    cons = tuple(
        replace(
            k,
            columns=tuple(mapping.get(col, col) for col in k.columns),
            expression=rename_in_expression(k.expression, mapping)
            if k.expression
            else k.expression,
        )
        for k in t.constraints
    )
    # A self-referencing foreign key names the renamed columns on its referenced side too.
    cons = tuple(
        replace(k, ref_columns=tuple(mapping.get(col, col) for col in k.ref_columns))
        if k.kind == "f" and k.ref_table == t.name
        else k
        for k in cons
    )
    return replace(t, constraints=cons)


def _rename_in_index(i: Index, mapping: dict[str, str]) -> Index:
    if not mapping:
        return i
    return replace(
        i,
        keys=tuple(
            "(" + rename_in_expression(k[1:-1], mapping) + ")"
            if k.startswith("(")
            else mapping.get(k, k)
            for k in i.keys
        ),
        include=tuple(mapping.get(k, k) for k in i.include),
        where=rename_in_expression(i.where, mapping) if i.where else i.where,
    )


# --- constraints ------------------------------------------------------------------------------


def _resolve_fk(schema: Schema, k: Constraint) -> Constraint:
    """A foreign key written ``REFERENCES t`` names the primary key of t."""
    if k.kind != "f" or k.ref_columns or k.ref_table is None:
        return k
    ref = schema.table(k.ref_table)
    pk = ref.primary_key() if ref is not None else None
    return replace(k, ref_columns=pk.columns) if pk is not None else k


def _comparable(schema: Schema, k: Constraint) -> Constraint:
    k = _resolve_fk(schema, k)
    if k.kind == "c":
        # A CHECK is what its expression says; the columns it mentions are derived from it.
        k = replace(k, columns=(), expression=expression(k.expression or ""))
    return k


def _as_unique_index(k: Constraint) -> tuple[tuple[str, ...], bool]:
    return (k.columns, k.nulls_not_distinct)


def _plain_unique(i: Index) -> bool:
    """A unique index that enforces exactly what a UNIQUE constraint would."""
    return i.unique and i.method == "btree" and i.where is None and not i.include


def _unique_index_keys(indexes: Iterable[Index]) -> set[tuple[tuple[str, ...], bool]]:
    return {(i.keys, i.nulls_not_distinct) for i in indexes if _plain_unique(i)}


def _diff_constraints(
    actual: Schema,
    canonical: Schema,
    a: Table,
    c: Table,
    a_indexes: Sequence[Index],
    c_indexes: Sequence[Index],
) -> list[Difference]:
    out: list[Difference] = []
    a_uidx = _unique_index_keys(a_indexes)
    c_uidx = _unique_index_keys(c_indexes)
    for contype, (k_missing, k_extra, k_diff) in _CONSTRAINT_KINDS.items():
        a_list = [(_comparable(actual, k), k) for k in a.constraints if k.kind == contype]
        c_list = [(_comparable(canonical, k), k) for k in c.constraints if k.kind == contype]
        a_only = [(cmp, k) for cmp, k in a_list if cmp not in [x for x, _ in c_list]]
        c_only = [(cmp, k) for cmp, k in c_list if cmp not in [x for x, _ in a_list]]
        if contype == "u":
            # A UNIQUE constraint and a plain unique index on the same columns enforce the same.
            a_only = [(cmp, k) for cmp, k in a_only if _as_unique_index(cmp) not in c_uidx]
            c_only = [(cmp, k) for cmp, k in c_only if _as_unique_index(cmp) not in a_uidx]
        # Pair what is left into "different": the primary key (one per table), constraints of
        # the same name, and foreign keys on the same columns.
        pairs: list[tuple[Constraint, Constraint]] = []
        for c_cmp, c_k in list(c_only):
            match = None
            for a_cmp, a_k in a_only:
                if (
                    contype == "p"
                    or (c_k.name and c_k.name == a_k.name)
                    or (contype == "f" and a_cmp.columns == c_cmp.columns)
                ):
                    match = (a_cmp, a_k)
                    break
            if match is not None:
                a_only.remove(match)
                c_only.remove((c_cmp, c_k))
                pairs.append((match[1], c_k))
        for a_k, c_k in pairs:
            out.append(
                Difference(
                    k_diff,
                    c.name,
                    name=c_k.name or a_k.name or None,
                    actual=a_k,
                    canonical=c_k,
                    actual_origin=a_k.origin or a.origin,
                    canonical_origin=c_k.origin or c.origin,
                    table=c,
                )
            )
        for _, c_k in c_only:
            out.append(
                Difference(
                    k_missing,
                    c.name,
                    name=c_k.name or None,
                    canonical=c_k,
                    actual_origin=a.origin,
                    canonical_origin=c_k.origin or c.origin,
                    table=c,
                )
            )
        for _, a_k in a_only:
            out.append(
                Difference(
                    k_extra,
                    c.name,
                    name=a_k.name or None,
                    actual=a_k,
                    actual_origin=a_k.origin or a.origin,
                    canonical_origin=c.origin,
                    table=a,
                )
            )
    return out


# --- indexes ----------------------------------------------------------------------------------


def index_content(i: Index) -> tuple[object, ...]:
    """What an index does, without its name."""
    where = expression(i.where) if i.where is not None else None
    keys = tuple(expression(k[1:-1]) if k.startswith("(") else k for k in i.keys)
    return (i.table, keys, i.unique, i.method, where, i.include, i.nulls_not_distinct)


def _diff_indexes(
    table: Table,
    a_indexes: Sequence[Index],
    c_indexes: Sequence[Index],
    a_table: Table,
    c_table: Table,
) -> list[Difference]:
    out: list[Difference] = []
    a_left = list(a_indexes)
    c_left: list[Index] = []
    # By content first (the same index under another name is the same index), preferring the
    # one of the same name.
    for ci in c_indexes:
        content = index_content(ci)
        same = [ai for ai in a_left if index_content(ai) == content]
        if not same:
            c_left.append(ci)
            continue
        chosen = next((ai for ai in same if ai.name == ci.name), same[0])
        a_left.remove(chosen)
    # Unmatched actual indexes by name, before the unique-constraint equivalence below: a
    # same-named index with another definition is a changed index, not a missing one (else the
    # fix's CREATE INDEX IF NOT EXISTS would find the old one and do nothing).
    a_named = {ai.name: ai for ai in a_left}
    # A plain unique index on one side and a UNIQUE constraint on the other enforce the same.
    a_unique = {_as_unique_index(k) for k in a_table.constraints if k.kind == "u"}
    c_unique = {_as_unique_index(k) for k in c_table.constraints if k.kind == "u"}
    c_left = [
        i for i in c_left if (i.keys, i.nulls_not_distinct) not in a_unique or not _plain_unique(i)
    ]
    a_left = [
        i for i in a_left if (i.keys, i.nulls_not_distinct) not in c_unique or not _plain_unique(i)
    ]
    # Then by name: a changed definition.
    a_by_name = {ai.name: ai for ai in a_left}
    for ci in c_left:
        ai = a_by_name.pop(ci.name, None) or a_named.get(ci.name)
        if ai is not None:
            if ai in a_left:
                a_left.remove(ai)
            out.append(
                Difference(
                    DiffKind.INDEX,
                    table.name,
                    name=ci.name,
                    actual=ai,
                    canonical=ci,
                    actual_origin=ai.origin or a_table.origin,
                    canonical_origin=ci.origin or c_table.origin,
                    table=table,
                )
            )
        else:
            out.append(
                Difference(
                    DiffKind.MISSING_INDEX,
                    table.name,
                    name=ci.name,
                    canonical=ci,
                    actual_origin=a_table.origin,
                    canonical_origin=ci.origin or c_table.origin,
                    table=table,
                )
            )
    for ai in a_left:
        out.append(
            Difference(
                DiffKind.EXTRA_INDEX,
                table.name,
                name=ai.name,
                actual=ai,
                actual_origin=ai.origin or a_table.origin,
                canonical_origin=c_table.origin,
                table=table,
            )
        )
    return out


# --- enums and views --------------------------------------------------------------------------


def _diff_enums(actual: Schema, canonical: Schema) -> list[Difference]:
    out: list[Difference] = []
    a_enums = {e.name: e for e in actual.enums}
    c_enums = {e.name: e for e in canonical.enums}
    for name in sorted(a_enums.keys() | c_enums.keys(), key=_qkey):
        a, c = a_enums.get(name), c_enums.get(name)
        if a is None and c is not None:
            out.append(
                Difference(
                    DiffKind.MISSING_ENUM,
                    name,
                    canonical=c,
                    canonical_origin=c.origin,
                    values=c.values,
                )
            )
        elif c is None and a is not None:
            out.append(
                Difference(
                    DiffKind.EXTRA_ENUM, name, actual=a, actual_origin=a.origin, values=a.values
                )
            )
        elif a is not None and c is not None and a.values != c.values:
            out += _diff_enum_values(a, c)
    return out


def _diff_enum_values(a: Enum, c: Enum) -> list[Difference]:
    out: list[Difference] = []

    def make(kind: DiffKind, values: tuple[str, ...]) -> Difference:
        return Difference(
            kind,
            c.name,
            actual=a,
            canonical=c,
            actual_origin=a.origin,
            canonical_origin=c.origin,
            values=values,
        )

    missing = tuple(v for v in c.values if v not in a.values)
    extra = tuple(v for v in a.values if v not in c.values)
    if missing:
        out.append(make(DiffKind.ENUM_VALUES_MISSING, missing))
    # Values both have, in a different relative order (ADD VALUE can place new ones anywhere,
    # but PostgreSQL cannot move an existing one).
    shared_a = tuple(v for v in a.values if v in c.values)
    shared_c = tuple(v for v in c.values if v in a.values)
    if shared_a != shared_c:
        out.append(make(DiffKind.ENUM_VALUES_ORDER, shared_c))
    if extra:
        out.append(make(DiffKind.ENUM_VALUES_EXTRA, extra))
    return out


def _diff_views(actual: Schema, canonical: Schema) -> list[Difference]:
    out: list[Difference] = []
    a_views = {v.name: v for v in actual.views}
    c_views = {v.name: v for v in canonical.views}
    for name in sorted(a_views.keys() | c_views.keys(), key=_qkey):
        a, c = a_views.get(name), c_views.get(name)
        if a is None and c is not None:
            out.append(
                Difference(DiffKind.MISSING_VIEW, name, canonical=c, canonical_origin=c.origin)
            )
        elif c is None and a is not None:
            out.append(Difference(DiffKind.EXTRA_VIEW, name, actual=a, actual_origin=a.origin))
    return out


def cannot_model(message: str, origin: Origin | None, table: QName | None = None) -> Difference:
    """A Difference standing for a statement the replay could not model (a ReplayNote)."""
    return Difference(
        DiffKind.CANNOT_MODEL,
        table or QName("", ""),
        actual_origin=origin,
        detail=message,
    )


# --- messages ---------------------------------------------------------------------------------


def column_spec(col: Column) -> str:
    """``boolean NOT NULL DEFAULT false``: a column as a person would write it."""
    parts = [col.type]
    if col.identity is not None:
        parts.append(f"GENERATED {col.identity.upper()} AS IDENTITY")
    if col.generated is not None:
        parts.append(f"GENERATED ALWAYS AS ({col.generated}) STORED")
    if not col.nullable:
        parts.append("NOT NULL")
    if col.default is not None:
        parts.append(f"DEFAULT {show_expression(col.default)}")
    return " ".join(parts)


def show_expression(text: str) -> str:
    """An expression as a person writes it in a message: ``false`` rather than ``FALSE``."""
    return text.lower() if text in ("TRUE", "FALSE", "NULL") else text


def index_spec(i: Index) -> str:
    text = f"{'UNIQUE ' if i.unique else ''}INDEX {i.name}"
    if i.method != "btree":
        text += f" USING {i.method}"
    text += f" ({', '.join(i.keys)})"
    if i.include:
        text += f" INCLUDE ({', '.join(i.include)})"
    if i.nulls_not_distinct:
        text += " NULLS NOT DISTINCT"
    if i.where is not None:
        text += f" WHERE {i.where}"
    return text


def _values(values: Iterable[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _describe(d: Difference, actual: str, canonical: str, where: str, default_schema: str) -> str:
    q = d.qname
    t = q.name if q.schema == default_schema else str(q)
    k = DiffKind
    kind = d.kind
    if kind is k.CANNOT_MODEL:
        return d.detail
    if kind is k.MISSING_TABLE:
        n = len(d.canonical.columns) if isinstance(d.canonical, Table) else 0
        return f"table {t} ({n} column{'s' if n != 1 else ''}) is missing from {actual}; {where} defines it"
    if kind is k.EXTRA_TABLE:
        return f"table {t} in {actual} is not in {canonical}: drop it, or add it to {canonical}"
    a_col = d.actual if isinstance(d.actual, Column) else None
    c_col = d.canonical if isinstance(d.canonical, Column) else None
    col = f"{t}.{d.column}"
    if kind is k.MISSING_COLUMN and c_col is not None:
        return f"column {col} ({column_spec(c_col)}) is missing from {actual}; {where} defines it"
    if kind is k.EXTRA_COLUMN and a_col is not None:
        return (
            f"column {col} ({column_spec(a_col)}) in {actual} is not in {canonical}: "
            f"drop it, or add it to {canonical}"
        )
    if kind is k.RENAMED_COLUMN:
        return f"{t}.{d.old_column} in {actual} is {d.column} in {canonical}: rename it"
    if a_col is not None and c_col is not None:
        if kind is k.COLUMN_TYPE:
            return f"column {col} is {a_col.type} in {actual} but {c_col.type} in {canonical}: change its type"
        if kind is k.COLUMN_NULLABILITY:
            if c_col.nullable:
                return f"column {col} is NOT NULL in {actual} but nullable in {canonical}: drop NOT NULL"
            return f"column {col} is nullable in {actual} but NOT NULL in {canonical}: set NOT NULL"
        if kind is k.COLUMN_DEFAULT:
            a_def = f"DEFAULT {show_expression(a_col.default)}" if a_col.default else "no default"
            c_def = f"DEFAULT {show_expression(c_col.default)}" if c_col.default else "no default"
            verb = "drop the default" if c_col.default is None else "set the default"
            return f"column {col} has {a_def} in {actual} but {c_def} in {canonical}: {verb}"
        if kind is k.COLUMN_IDENTITY:
            a_id = (
                f"GENERATED {a_col.identity.upper()} AS IDENTITY"
                if a_col.identity
                else "not an identity column"
            )
            c_id = (
                f"GENERATED {c_col.identity.upper()} AS IDENTITY"
                if c_col.identity
                else "not an identity column"
            )
            return f"column {col} is {a_id} in {actual} but {c_id} in {canonical}"
        if kind is k.COLUMN_GENERATED:
            a_gen = (
                f"GENERATED ALWAYS AS ({a_col.generated})" if a_col.generated else "not generated"
            )
            c_gen = (
                f"GENERATED ALWAYS AS ({c_col.generated})" if c_col.generated else "not generated"
            )
            return f"column {col} is {a_gen} in {actual} but {c_gen} in {canonical}"
    a_k = d.actual if isinstance(d.actual, Constraint) else None
    c_k = d.canonical if isinstance(d.canonical, Constraint) else None
    named = f" {d.name}" if d.name else ""
    if kind is k.MISSING_PRIMARY_KEY and c_k is not None:
        return f"table {t} has no primary key in {actual}; {where} defines {c_k.describe()}"
    if kind is k.EXTRA_PRIMARY_KEY and a_k is not None:
        return f"table {t} has {a_k.describe()} in {actual} but no primary key in {canonical}"
    if kind in (k.MISSING_UNIQUE, k.MISSING_FOREIGN_KEY, k.MISSING_CHECK) and c_k is not None:
        return f"constraint{named} {c_k.describe()} on {t} is missing from {actual}; {where} defines it"
    if kind in (k.EXTRA_UNIQUE, k.EXTRA_FOREIGN_KEY, k.EXTRA_CHECK) and a_k is not None:
        return (
            f"constraint{named} {a_k.describe()} on {t} in {actual} is not in {canonical}: "
            f"drop it, or add it to {canonical}"
        )
    if (
        kind in (k.PRIMARY_KEY, k.UNIQUE, k.FOREIGN_KEY, k.CHECK)
        and a_k is not None
        and c_k is not None
    ):
        what = "primary key" if kind is k.PRIMARY_KEY else f"constraint{named}"
        return f"{what} of {t} is {a_k.describe()} in {actual} but {c_k.describe()} in {canonical}"
    a_i = d.actual if isinstance(d.actual, Index) else None
    c_i = d.canonical if isinstance(d.canonical, Index) else None
    if kind is k.MISSING_INDEX and c_i is not None:
        return f"{index_spec(c_i)} on {t} is missing from {actual}; {where} defines it"
    if kind is k.EXTRA_INDEX and a_i is not None:
        return f"{index_spec(a_i)} on {t} in {actual} is not in {canonical}: drop it, or add it to {canonical}"
    if kind is k.INDEX and a_i is not None and c_i is not None:
        return f"index {d.name} on {t} is {index_spec(a_i)} in {actual} but {index_spec(c_i)} in {canonical}"
    a_e = d.actual if isinstance(d.actual, Enum) else None
    c_e = d.canonical if isinstance(d.canonical, Enum) else None
    if kind is k.MISSING_ENUM and c_e is not None:
        return f"enum type {t} ({_values(c_e.values)}) is missing from {actual}; {where} defines it"
    if kind is k.EXTRA_ENUM and a_e is not None:
        return f"enum type {t} ({_values(a_e.values)}) in {actual} is not in {canonical}"
    if kind is k.ENUM_VALUES_MISSING and c_e is not None:
        s = "s" if len(d.values) != 1 else ""
        return (
            f"enum type {t} lacks value{s} {_values(d.values)} in {actual}; {where} defines "
            f"({_values(c_e.values)})"
        )
    if kind is k.ENUM_VALUES_ORDER and a_e is not None and c_e is not None:
        return (
            f"enum type {t} has its values in the order ({_values(a_e.values)}) in {actual} but "
            f"({_values(c_e.values)}) in {canonical}; PostgreSQL cannot reorder enum values: "
            "recreate the type"
        )
    if kind is k.ENUM_VALUES_EXTRA:
        s = "s" if len(d.values) != 1 else ""
        return f"enum type {t} has value{s} {_values(d.values)} in {actual} that {canonical} does not define"
    if kind is k.MISSING_VIEW:
        return f"view {t} is missing from {actual}; {where} defines it"
    if kind is k.EXTRA_VIEW:
        return f"view {t} in {actual} is not in {canonical}: drop it, or add it to {canonical}"
    return f"{kind.value}: {d.object_name}"  # pragma: no cover - every kind is handled above
