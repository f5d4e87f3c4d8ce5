"""PostgreSQL's naming rules, in one place.

Identifiers are truncated to ``NAMEDATALEN - 1`` = 63 bytes (at a character boundary), and the
names PostgreSQL chooses for implicit objects follow ``makeObjectName`` / ``ChooseRelationName``
/ ``ChooseConstraintName`` (src/backend/commands/indexcmds.c, catalog/pg_constraint.c):
``<table>_<columns>_<label>``, the longer of the two parts shortened first until the whole fits,
and a number appended to the label (``key1``, ``key2``, ...) while the name is taken.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

MAX_IDENTIFIER_BYTES = 63

# The label PostgreSQL gives each implicit constraint kind (pg_constraint.contype).
CONSTRAINT_LABELS = {"p": "pkey", "u": "key", "f": "fkey", "c": "check", "x": "excl"}


def _clip(name: str, size: int) -> str:
    """The longest prefix of ``name`` of at most ``size`` bytes that ends at a character
    boundary (``pg_mbcliplen``)."""
    data = name.encode("utf-8")
    if len(data) <= size:
        return name
    return data[:size].decode("utf-8", "ignore")


def truncate(name: str) -> str:
    """A name as PostgreSQL stores it: at most 63 bytes."""
    if len(name) <= MAX_IDENTIFIER_BYTES // 4:
        return name  # fast path: even four bytes a character fit
    return _clip(name, MAX_IDENTIFIER_BYTES)


def quote_ident(name: str) -> str:
    """``name`` as an SQL identifier, double-quoted only when PostgreSQL needs it (upper case,
    odd characters, a reserved word), as ``quote_ident()`` and ``regclass`` print it."""
    from pglast.stream import maybe_double_quote_name

    return str(maybe_double_quote_name(name))


def make_object_name(name1: str, name2: str, label: str) -> str:
    """``makeObjectName``: ``name1_name2_label`` shortened to fit in 63 bytes, taking from the
    longer of ``name1`` and ``name2`` first. ``name2`` and ``label`` may be empty."""
    overhead = (len(label.encode("utf-8")) + 1 if label else 0) + (1 if name2 else 0)
    avail = MAX_IDENTIFIER_BYTES - overhead
    n1, n2 = len(name1.encode("utf-8")), len(name2.encode("utf-8"))
    while n1 + n2 > avail:
        if n1 > n2:
            n1 -= 1
        else:
            n2 -= 1
    name = _clip(name1, n1)
    if name2:
        name += "_" + _clip(name2, n2)
    if label:
        name += "_" + label
    return name


def choose_name(name1: str, name2: str, label: str, taken: Callable[[str], bool]) -> str:
    """``ChooseRelationName`` / ``ChooseConstraintName``: the first of ``name1_name2_label``,
    ``..._label1``, ``..._label2``, ... that ``taken`` does not claim."""
    name = make_object_name(name1, name2, label)
    n = 0
    while taken(name):
        n += 1
        name = make_object_name(name1, name2, f"{label}{n}")
    return name


def name_addition(names: Iterable[str]) -> str:
    """``ChooseIndexNameAddition`` / ``ChooseForeignKeyConstraintNameAddition``: the column
    names joined with ``_``, cut once the text reaches the identifier limit."""
    out = ""
    for name in names:
        if out:
            out += "_"
        out += name
        if len(out.encode("utf-8")) >= MAX_IDENTIFIER_BYTES:
            return _clip(out, MAX_IDENTIFIER_BYTES)
    return out


def index_column_names(columns: Iterable[str | None]) -> list[str]:
    """``ChooseIndexColumnNames``: each key's column name, ``expr`` for an expression, with a
    number appended to a name that repeats an earlier one (``expr``, ``expr1``, ...)."""
    out: list[str] = []
    for column in columns:
        origin = column or "expr"
        name, n = origin, 0
        while name in out:
            n += 1
            suffix = str(n)
            name = _clip(origin, MAX_IDENTIFIER_BYTES - len(suffix)) + suffix
        out.append(name)
    return out


def index_name(
    table: str, columns: Iterable[str | None], taken: Callable[[str], bool], *,
    primary: bool = False, constraint: bool = False, exclusion: bool = False,
) -> str:
    """``ChooseIndexName``: the name of an index created without one."""
    if primary:
        return choose_name(table, "", "pkey", taken)
    addition = name_addition(index_column_names(columns))
    label = "excl" if exclusion else "key" if constraint else "idx"
    return choose_name(table, addition, label, taken)


def constraint_name(
    table: str, kind: str, columns: Iterable[str], taken: Callable[[str], bool]
) -> str:
    """The name PostgreSQL gives a constraint of ``kind`` (``p``, ``u``, ``f``, ``c``, ``x``)
    declared without one. A CHECK's ``columns`` hold the first column its expression reads."""
    if kind == "p":
        return choose_name(table, "", "pkey", taken)
    return choose_name(table, name_addition(columns), CONSTRAINT_LABELS[kind], taken)
