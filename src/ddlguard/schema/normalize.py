"""Normalisation: types, defaults and expressions written the way PostgreSQL stores them.

``int4`` = ``integer`` = ``int``, ``varchar(255)`` = ``character varying(255)``, ``timestamptz`` =
``timestamp with time zone``; type names come out as ``format_type()`` prints them. Expressions are
parsed with PostgreSQL's parser and printed back in one canonical spelling, with the differences
PostgreSQL itself erases (``IN (...)`` vs ``= ANY (ARRAY[...])``, a literal cast to the column's own
type, ``CURRENT_TIMESTAMP`` vs ``now()``) erased here too. Every producer of a Schema uses these
functions, so no comparison has to know where a Schema came from.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from pglast.parser import ParseError, parse_sql_json

Node = dict[str, Any]

# pg_catalog internal names -> format_type() spelling.
_BUILTIN = {
    "int2": "smallint",
    "int4": "integer",
    "int8": "bigint",
    "float4": "real",
    "float8": "double precision",
    "bool": "boolean",
    "varchar": "character varying",
    "bpchar": "character",
    "numeric": "numeric",
    "text": "text",
    "uuid": "uuid",
    "json": "json",
    "jsonb": "jsonb",
    "bytea": "bytea",
    "date": "date",
    "interval": "interval",
    "inet": "inet",
    "cidr": "cidr",
    "macaddr": "macaddr",
    "money": "money",
    "bit": "bit",
    "varbit": "bit varying",
    "xml": "xml",
    "tsvector": "tsvector",
    "tsquery": "tsquery",
    "oid": "oid",
    "citext": "citext",
}
_TIME = {
    "timestamp": ("timestamp", "without time zone"),
    "timestamptz": ("timestamp", "with time zone"),
    "time": ("time", "without time zone"),
    "timetz": ("time", "with time zone"),
}
# serial pseudo-types: the integer type they stand for.
SERIALS = {
    "serial": "integer",
    "serial4": "integer",
    "bigserial": "bigint",
    "serial8": "bigint",
    "smallserial": "smallint",
    "serial2": "smallint",
}
# Lower-case aliases a user may write unqualified (the parser maps most of them already).
_ALIASES = {
    "int": "int4",
    "integer": "int4",
    "smallint": "int2",
    "bigint": "int8",
    "real": "float4",
    "double precision": "float8",
    "boolean": "bool",
    "decimal": "numeric",
    "character varying": "varchar",
    "character": "bpchar",
    "char": "bpchar",
    "timestamp without time zone": "timestamp",
    "timestamp with time zone": "timestamptz",
    "time without time zone": "time",
    "time with time zone": "timetz",
}


def _strings(items: Any) -> list[str]:
    """Values of a sequence of String nodes (JSON parse tree form or pglast node objects)."""
    out: list[str] = []
    for i in items or ():
        if isinstance(i, dict) and "String" in i:
            out.append(str(i["String"]["sval"]))
        elif hasattr(i, "sval"):
            out.append(str(i.sval))
    return out


def _typmods(items: Any) -> list[str]:
    out: list[str] = []
    for item in items or ():
        if isinstance(item, dict):
            const = item.get("A_Const") or {}
            if "ival" in const:
                out.append(str(const["ival"].get("ival", 0)))
            elif "sval" in const:
                out.append(str(const["sval"].get("sval", "")))
            continue
        val = getattr(item, "val", None)
        if val is not None and hasattr(val, "ival"):
            out.append(str(val.ival))
        elif val is not None and hasattr(val, "sval"):
            out.append(str(val.sval))
    return out


def type_name(node: Any, default_schema: str = "public") -> str:
    """The ``format_type()`` spelling of a ``TypeName`` (JSON form or pglast node object).

    Serial types come out as their integer type: the caller adds the sequence default.
    User-defined types in ``default_schema`` come out unqualified (as format_type prints a type
    on the search path), others qualified.
    """
    if isinstance(node, dict):
        names, mods, arrays = node.get("names"), node.get("typmods"), node.get("arrayBounds")
    else:
        names, mods, arrays = node.names, node.typmods, node.arrayBounds
    base = _base_type(_strings(names), _typmods(mods), default_schema)
    return base + ("[]" if arrays else "")


def _base_type(names: list[str], mods: list[str], default_schema: str) -> str:
    if len(names) == 2 and names[0] == "pg_catalog":
        name = names[1]
    elif len(names) == 1:
        name = _ALIASES.get(names[0], names[0])
    elif len(names) == 2 and names[0] == default_schema:
        return names[1] + (f"({','.join(mods)})" if mods else "")
    else:
        return ".".join(names) + (f"({','.join(mods)})" if mods else "")
    if name in SERIALS:
        return SERIALS[name]
    if name in _TIME:
        base, zone = _TIME[name]
        precision = f"({mods[0]})" if mods else ""
        return f"{base}{precision} {zone}"
    if name in _BUILTIN:
        spelled = _BUILTIN[name]
        if name == "bpchar" and not mods:
            mods = ["1"]
        if name == "interval":
            return "interval"
        return spelled + (f"({','.join(mods)})" if mods else "")
    return name + (f"({','.join(mods)})" if mods else "")


def is_serial(node: Any) -> bool:
    names = _strings(node.get("names") if isinstance(node, dict) else node.names)
    return len(names) == 1 and names[0].lower() in SERIALS


@lru_cache(maxsize=4096)
def type_from_sql(text: str, default_schema: str = "public") -> str:
    """Normalise a type written as SQL text (``varchar(255)``, ``timestamptz``, ``int[]``)."""
    try:
        tree = json.loads(parse_sql_json(f"CREATE TABLE ddlguard_t (c {text})"))
        col = tree["stmts"][0]["stmt"]["CreateStmt"]["tableElts"][0]["ColumnDef"]
    except (ParseError, KeyError, IndexError) as exc:
        raise ValueError(f"not a type: {text}") from exc
    return type_name(col["typeName"], default_schema)


# --- expressions -------------------------------------------------------------------------------

_TEXTUAL = ("text", "character varying", "character")


def _is_textual(type_: str | None) -> bool:
    return type_ is not None and (type_.split("(")[0] in _TEXTUAL)


def _simplify(node: Any, column_type: str | None) -> Any:
    """Rewrite a pglast expression tree into the form PostgreSQL stores (returns a new tree)."""
    from pglast import ast, enums

    if isinstance(node, tuple):
        return tuple(_simplify(n, column_type) for n in node)
    if not isinstance(node, ast.Node):
        return node
    if isinstance(node, ast.TypeCast):
        arg = _simplify(node.arg, column_type)
        target = type_name(node.typeName)
        # A literal cast to the column's own type (or to text on a text column) says nothing;
        # neither do the casts to text PostgreSQL adds around string literals, varchar columns
        # and arrays of them when it stores an expression ('a'::text, (status)::text).
        if isinstance(arg, ast.A_Const):
            # PostgreSQL stores literals with the cast it resolved them to ('aging'::status,
            # (0)::numeric, 'seq'::regclass); the written form has none. The cast does not
            # change what the expression means where it stands, so it is left out.
            return arg
        textual_arg = isinstance(arg, ast.ColumnRef | ast.A_ArrayExpr) or (
            isinstance(arg, ast.A_Const) and isinstance(arg.val, ast.String)
        )
        if textual_arg and _is_textual(target.removesuffix("[]")):
            return arg
        return ast.TypeCast(arg=arg, typeName=ast.TypeName(names=(ast.String(sval=target),)))
    if isinstance(node, ast.SQLValueFunction) and node.op == enums.SQLValueFunctionOp.SVFOP_CURRENT_TIMESTAMP:
        return ast.FuncCall(
            funcname=(ast.String(sval="now"),), funcformat=enums.CoercionForm.COERCE_EXPLICIT_CALL
        )
    if isinstance(node, ast.A_Expr) and node.kind == enums.A_Expr_Kind.AEXPR_IN:
        # x IN (a, b) is stored as x = ANY (ARRAY[a, b]); x NOT IN (...) as x <> ALL (...).
        positive = _strings(node.name) == ["="]
        return ast.A_Expr(
            kind=enums.A_Expr_Kind.AEXPR_OP_ANY if positive else enums.A_Expr_Kind.AEXPR_OP_ALL,
            name=(ast.String(sval="=" if positive else "<>"),),
            lexpr=_simplify(node.lexpr, column_type),
            rexpr=ast.A_ArrayExpr(elements=_simplify(tuple(node.rexpr or ()), column_type)),
        )
    if isinstance(node, ast.A_ArrayExpr):
        return ast.A_ArrayExpr(elements=_simplify(tuple(node.elements or ()), column_type))
    if isinstance(node, ast.ColumnRef) and node.fields and len(node.fields) > 1:
        # "orders"."status" in a table's own CHECK or index is stored as status.
        return ast.ColumnRef(fields=(node.fields[-1],))
    values: dict[str, Any] = {}
    for attr in node:
        if attr == "location":
            continue
        values[attr] = _simplify(getattr(node, attr), column_type)
    if isinstance(node, ast.FuncCall):
        names = _strings(node.funcname)
        if len(names) == 2 and names[0] == "pg_catalog":
            values["funcname"] = (ast.String(sval=names[1]),)
    return type(node)(**values)


@lru_cache(maxsize=8192)
def expression(text: str, column_type: str | None = None) -> str:
    """The canonical spelling of an SQL expression (a default, a CHECK, an index predicate).

    ``column_type`` (normalised) lets a default's literal cast to that type drop away, as
    PostgreSQL's ``pg_get_expr`` shows ``'did'::text`` for a text column's ``DEFAULT 'did'``.
    An expression that does not parse is returned stripped, unchanged.
    """
    from pglast import parse_sql

    try:
        stmt: Any = parse_sql(f"SELECT {text}")[0].stmt
        targets = stmt.targetList
        if len(targets) != 1:
            return text.strip()
        value = targets[0].val
    except (ParseError, AttributeError, IndexError, TypeError):
        return text.strip()
    return expression_node(value, column_type)


def expression_node(node: Any, column_type: str | None = None) -> str:
    """The canonical spelling of an expression node of pglast's parse tree."""
    from pglast.stream import RawStream

    return str(RawStream()(_simplify(node, column_type)))


@lru_cache(maxsize=4096)
def rename_column(text: str, old: str, new: str) -> str:
    """An expression (already normalised) after ``RENAME COLUMN old TO new``: PostgreSQL stores
    expressions by column number, so they follow a rename."""
    from pglast import ast, parse_sql
    from pglast.visitors import Visitor

    try:
        stmt: Any = parse_sql(f"SELECT {text}")[0].stmt
        value = stmt.targetList[0].val
    except (ParseError, AttributeError, IndexError, TypeError):
        return text

    class _Rename(Visitor):
        def visit_ColumnRef(self, ancestors: Any, node: ast.ColumnRef) -> None:
            fields = node.fields or ()
            if fields and getattr(fields[-1], "sval", None) == old:
                node.fields = (*fields[:-1], ast.String(sval=new))

    _Rename()(value)
    return expression_node(value)
