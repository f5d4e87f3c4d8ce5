"""Evaluating a DO block's IF conditions against a Schema, as the catalog would answer them.

Hand-written fixes guard their statements with catalog checks (``IF EXISTS (SELECT 1 FROM
information_schema.columns WHERE table_name = 'x' AND column_name = 'y')``, ``to_regclass(...)
IS NULL``, ``PERFORM 1 FROM pg_constraint ...; IF NOT FOUND``). The replay evaluates them on the
schema replayed so far, so that a guarded rename applies exactly when PostgreSQL would apply it.
What cannot be evaluated raises :class:`Unknown`; the replay then says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from pglast.parser import ParseError, parse_sql_json

from ddlguard.schema.model import QName, Schema

Node = dict[str, Any]


class Unknown(Exception):
    """A condition the model cannot answer."""


def _strings(items: Any) -> list[str]:
    return [str(i["String"]["sval"]) for i in items or [] if isinstance(i, dict) and "String" in i]


def _const(node: Any) -> str | None:
    """The value of a string constant, also through a cast (``'t'::regclass``)."""
    if not isinstance(node, dict):
        return None
    if "TypeCast" in node:
        return _const(node["TypeCast"].get("arg"))
    const = node.get("A_Const")
    if const is not None and "sval" in const:
        return str(const["sval"].get("sval", ""))
    return None


def _colname(node: Any) -> str | None:
    if isinstance(node, dict) and "ColumnRef" in node:
        fields = _strings(node["ColumnRef"].get("fields"))
        return fields[-1].lower() if fields else None
    if isinstance(node, dict) and "TypeCast" in node:
        return _colname(node["TypeCast"].get("arg"))
    return None


_ASSIGN = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*:?=\s*(.+)$", re.S)


class Evaluator:
    def __init__(self, schema: Schema, default_schema: str = "public") -> None:
        self.schema = schema
        self.default_schema = default_schema

    def evaluate(self, condition: str, before: Sequence[str] = ()) -> bool:
        """The truth of ``condition`` on the schema; ``before`` is the SQL and the assignments
        run earlier in the same block (for FOUND and boolean variables)."""
        env: dict[str, str] = {}
        found: str | None = None
        for text in before:
            m = _ASSIGN.match(text)
            if m and not text.lstrip().upper().startswith(("SELECT", "WITH")):
                env[m.group(1).lower()] = m.group(2).strip().rstrip(";")
            else:
                found = text
        return self._eval_text(condition, env, found)

    def _eval_text(self, text: str, env: dict[str, str], found: str | None) -> bool:
        try:
            tree = json.loads(parse_sql_json(f"SELECT {text}"))
            target = tree["stmts"][0]["stmt"]["SelectStmt"]["targetList"]
            node = target[0]["ResTarget"]["val"]
        except (ParseError, KeyError, IndexError) as exc:
            raise Unknown(f"not an expression: {text[:60]}") from exc
        return self._eval(node, env, found)

    def _eval(self, node: Node, env: dict[str, str], found: str | None) -> bool:
        if "BoolExpr" in node:
            b = node["BoolExpr"]
            args = b.get("args") or []
            op = b.get("boolop")
            if op == "NOT_EXPR":
                return not self._eval(args[0], env, found)
            values = [self._eval(a, env, found) for a in args]
            return all(values) if op == "AND_EXPR" else any(values)
        if "SubLink" in node and node["SubLink"].get("subLinkType") == "EXISTS_SUBLINK":
            return self._exists(node["SubLink"]["subselect"])
        if "SubLink" in node and node["SubLink"].get("subLinkType") == "EXPR_SUBLINK":
            raise Unknown("a scalar subquery")
        if "NullTest" in node:
            n = node["NullTest"]
            present = self._value_present(n.get("arg"))
            return (not present) if n.get("nulltesttype") == "IS_NULL" else present
        if "ColumnRef" in node:
            name = _colname(node) or ""
            if name == "found":
                if found is None:
                    raise Unknown("FOUND without a query before it")
                return self._exists_text(found)
            if name in env:
                return self._eval_text(env[name], env, found)
            raise Unknown(f"the variable {name}")
        if "A_Const" in node and "boolval" in node["A_Const"]:
            return bool(node["A_Const"]["boolval"].get("boolval", False))
        if "A_Expr" in node:
            return self._compare(node["A_Expr"], env, found)
        raise Unknown(f"{next(iter(node))} in a condition")

    def _compare(self, expr: Node, env: dict[str, str], found: str | None) -> bool:
        """``(SELECT count(*) ...) = 0`` / ``> 0`` style comparisons of an existence count."""
        op = _strings(expr.get("name"))
        left, right = expr.get("lexpr") or {}, expr.get("rexpr") or {}
        if "SubLink" in left and "A_Const" in right and "ival" in right["A_Const"]:
            exists = self._exists(left["SubLink"]["subselect"])
            n = int(right["A_Const"]["ival"].get("ival", 0))
            if n == 0 and op in (["="], ["<="]):
                return not exists
            if n == 0 and op in ([">"], ["<>"], ["!="]):
                return exists
            if n == 1 and op == [">="]:
                return exists
        raise Unknown("a comparison")

    def _value_present(self, node: Any) -> bool:
        """``to_regclass('x')`` / ``to_regtype('x')`` and friends: does the object exist?"""
        if isinstance(node, dict) and "FuncCall" in node:
            call = node["FuncCall"]
            fname = (_strings(call.get("funcname")) or [""])[-1].lower()
            args = call.get("args") or []
            value = _const(args[0]) if args else None
            if value is None:
                raise Unknown(f"{fname}() of a non-constant")
            schema, name = self._split(value)
            if fname in ("to_regclass", "to_regrelation"):
                return self.schema.relation_exists(schema, name)
            if fname == "to_regtype":
                return self.schema.enum(QName(schema, name)) is not None
            if fname == "to_regnamespace":
                return value in self.schema.schemas
        raise Unknown("an IS NULL test")

    def _split(self, qualified: str) -> tuple[str, str]:
        parts = [p.strip('"') for p in qualified.split(".")]
        if len(parts) >= 2:
            return parts[-2], parts[-1]
        return self.default_schema, parts[0].lower() if not qualified.startswith('"') else parts[0]

    def _exists_text(self, sql: str) -> bool:
        try:
            tree = json.loads(parse_sql_json(sql))
            select = tree["stmts"][0]["stmt"]["SelectStmt"]
        except (ParseError, KeyError, IndexError) as exc:
            raise Unknown("the query before FOUND") from exc
        return self._exists({"SelectStmt": select})

    # -- catalog queries --------------------------------------------------------------------------
    def _exists(self, subselect: Node) -> bool:
        select = subselect.get("SelectStmt")
        if select is None:
            raise Unknown("a subquery that is not a SELECT")
        relations: list[str] = []
        for item in select.get("fromClause") or []:
            relations += self._relations(item)
        if not relations:
            raise Unknown("a subquery without FROM")
        filters: dict[str, str] = {}
        self._filters(select.get("whereClause"), filters)
        for item in select.get("fromClause") or []:
            self._join_filters(item, filters)
        return self._catalog(relations, filters)

    def _relations(self, item: Node) -> list[str]:
        if "RangeVar" in item:
            rv = item["RangeVar"]
            return [f"{rv.get('schemaname') or ''}.{rv['relname']}".lstrip(".").lower()]
        if "JoinExpr" in item:
            j = item["JoinExpr"]
            return self._relations(j.get("larg") or {}) + self._relations(j.get("rarg") or {})
        raise Unknown("a FROM item that is not a table")

    def _join_filters(self, item: Node, filters: dict[str, str]) -> None:
        if "JoinExpr" in item:
            self._filters(item["JoinExpr"].get("quals"), filters)

    def _filters(self, node: Any, filters: dict[str, str]) -> None:
        """``col = 'value'`` conjuncts; other conditions are ignored only when harmless."""
        if not node:
            return
        if "BoolExpr" in node and node["BoolExpr"].get("boolop") == "AND_EXPR":
            for arg in node["BoolExpr"].get("args") or []:
                self._filters(arg, filters)
            return
        if "A_Expr" in node:
            e = node["A_Expr"]
            op = _strings(e.get("name"))
            left, right = e.get("lexpr"), e.get("rexpr")
            col, value = _colname(left), _const(right)
            if col is None or value is None:
                col, value = _colname(right), _const(left)
            if op == ["="] and col is not None and value is not None:
                filters[col] = value
                return
            if op == ["="] and col is not None and _colname(right) is not None:
                return  # a join condition
            if e.get("kind") == "AEXPR_IN" and col in ("relkind", "table_type", "contype", "constraint_type"):
                return
            if op in (["<>"], ["!="]) and col in ("relkind", "contype", "table_type"):
                return
        raise Unknown("a filter other than column = 'value'")

    def _catalog(self, relations: list[str], f: dict[str, str]) -> bool:
        rels = {r.split(".")[-1] for r in relations}
        schema = f.get("table_schema") or f.get("schemaname") or f.get("nspname") or self.default_schema
        s = self.schema
        if "columns" in rels:  # information_schema.columns
            _only(f, "table_catalog", "table_schema", "table_name", "column_name", "is_identity", "is_nullable")
            table = s.table(QName(schema, _need(f, "table_name")))
            if table is None:
                return False
            if "column_name" not in f:
                return True
            col = table.column(f["column_name"])
            if col is None:
                return False
            if "is_identity" in f and (col.identity is not None) != (f["is_identity"].upper() == "YES"):
                return False
            return "is_nullable" not in f or col.nullable == (f["is_nullable"].upper() == "YES")
        if "tables" in rels and "pg_tables" not in rels:  # information_schema.tables
            q = QName(schema, _need(f, "table_name"))
            return s.table(q) is not None or s.view(q) is not None
        if "table_constraints" in rels or "key_column_usage" in rels or "constraint_column_usage" in rels:
            name = f.get("constraint_name")
            table_name = f.get("table_name")
            return self._constraint_exists(name, table_name, schema)
        if "pg_constraint" in rels:
            # conrelid = 'billing.accounts'::regclass names the schema too; unqualified, the
            # table is looked up on the search path (the default schema).
            rel = f.get("conrelid") or f.get("relname")
            if rel is None:
                return self._constraint_exists(f.get("conname"), None, None)
            con_schema: str | None
            con_schema, con_table = self._split(rel)
            if "." not in rel and "relname" in f and "nspname" not in f:
                con_schema = None  # pg_class.relname alone matches any schema
            return self._constraint_exists(f.get("conname"), con_table, con_schema)
        if "pg_attribute" in rels:
            rel = f.get("attrelid") or f.get("relname")
            if rel is None or "attname" not in f:
                raise Unknown("pg_attribute without attrelid and attname")
            sch, name = self._split(rel)
            table = s.table(QName(sch, name))
            return table is not None and table.column(f["attname"]) is not None
        if "pg_enum" in rels:
            label = f.get("enumlabel")
            type_name = f.get("typname") or f.get("enumtypid")
            for enum in s.enums:
                if type_name is not None and enum.name.name != self._split(type_name)[1]:
                    continue
                if label is None or label in enum.values:
                    return True
            return False
        if "pg_type" in rels:
            name = _need(f, "typname")
            return any(e.name.name == name for e in s.enums) or any(
                t.name.name == name for t in s.tables
            )
        if "pg_indexes" in rels:
            if "indexname" in f:
                return s.relation_exists(schema, f["indexname"])
            raise Unknown("pg_indexes without indexname")
        if "pg_class" in rels:
            return s.relation_exists(schema if "nspname" in f else self.default_schema, _need(f, "relname"))
        if "pg_tables" in rels:
            return s.table(QName(schema, _need(f, "tablename"))) is not None
        if "pg_views" in rels or "views" in rels:
            return s.view(QName(schema, f.get("viewname") or _need(f, "table_name"))) is not None
        if "pg_matviews" in rels:
            return s.view(QName(schema, _need(f, "matviewname"))) is not None
        if "pg_namespace" in rels or "schemata" in rels:
            return (f.get("nspname") or _need(f, "schema_name")) in s.schemas
        raise Unknown(f"the catalog {', '.join(sorted(rels))}")

    def _constraint_exists(self, name: str | None, table_name: str | None, schema: str | None) -> bool:
        for t in self.schema.tables:
            if table_name is not None and t.name.name != table_name:
                continue
            if schema is not None and t.name.schema != schema:
                continue
            if name is None or t.constraint_named(name) is not None:
                if name is None and not t.constraints:
                    continue
                return True
        return False


def _only(f: dict[str, str], *known: str) -> None:
    """A filter on a column the model cannot answer must not be ignored."""
    unknown = sorted(set(f) - set(known))
    if unknown:
        raise Unknown(f"a filter on {', '.join(unknown)}")


def _need(f: dict[str, str], key: str) -> str:
    if key not in f:
        raise Unknown(f"a catalog query without {key} = '...'")
    return f[key]
