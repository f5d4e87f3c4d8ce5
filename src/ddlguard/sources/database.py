"""A live database's schema, read from pg_catalog into the same Schema model.

Read-only: one READ ONLY transaction with a statement timeout. Types come from ``format_type``,
defaults from ``pg_get_expr``, constraints from ``pg_get_constraintdef``, indexes from
``pg_get_indexdef`` (replayed with the same code as the migrations), enums from ``pg_enum`` in
order; all normalised by :mod:`ddlguard.schema.normalize`, so the result compares equal with what
the static replay or the Drizzle reader produce for the same schema.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from ddlguard.schema import normalize
from ddlguard.schema.model import Column, Constraint, Enum, Origin, QName, Schema, Table, View

_USER_SCHEMAS = (
    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' "
    "AND n.nspname NOT LIKE 'pg\\_temp%'"
)


def introspect(conn: Any, *, default_schema: str = "public", label: str = "database") -> Schema:
    """The Schema of the database ``conn`` is connected to (user schemas only)."""
    origin = Origin(label, 1)
    with conn.transaction():
        conn.execute("SET TRANSACTION READ ONLY")
        conn.execute("SET LOCAL statement_timeout = '60s'")
        schemas = {
            r[0]
            for r in conn.execute(f"SELECT n.nspname FROM pg_namespace n WHERE {_USER_SCHEMAS}").fetchall()
        }
        rels = conn.execute(
            f"""SELECT c.oid, n.nspname, c.relname, c.relkind
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'p', 'v', 'm') AND {_USER_SCHEMAS}
                  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                                  WHERE d.objid = c.oid AND d.deptype = 'e')"""
        ).fetchall()
        table_oids = [oid for oid, _, _, kind in rels if kind in ("r", "p")]
        attrs = conn.execute(
            """SELECT a.attrelid, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
                      a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated
               FROM pg_attribute a
               LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
               WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attrelid = ANY(%s)
               ORDER BY a.attrelid, a.attnum""",
            (table_oids,),
        ).fetchall()
        cons = conn.execute(
            """SELECT con.conrelid, con.conname, con.contype, con.conkey, con.confrelid, con.confkey,
                      con.confdeltype, con.confupdtype, pg_get_constraintdef(con.oid),
                      con.condeferrable, con.condeferred
               FROM pg_constraint con
               WHERE con.conrelid = ANY(%s) AND con.contype IN ('p', 'u', 'f', 'c', 'x')
               ORDER BY con.conrelid, con.conname""",
            (table_oids,),
        ).fetchall()
        indexes = conn.execute(
            """SELECT i.indrelid, pg_get_indexdef(i.indexrelid)
               FROM pg_index i
               WHERE i.indrelid = ANY(%s)
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                                 WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x'))
               ORDER BY i.indexrelid""",
            (table_oids,),
        ).fetchall()
        enum_rows = conn.execute(
            f"""SELECT n.nspname, t.typname, e.enumlabel
                FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
                JOIN pg_namespace n ON n.oid = t.typnamespace
                WHERE {_USER_SCHEMAS}
                ORDER BY n.nspname, t.typname, e.enumsortorder"""
        ).fetchall()
        # Referenced tables' column names by attnum (for foreign keys).
        ref_oids = sorted({r[4] for r in cons if r[2] == "f"})
        ref_attrs = conn.execute(
            """SELECT a.attrelid, a.attnum, a.attname, n.nspname, c.relname
               FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE a.attrelid = ANY(%s) AND a.attnum > 0""",
            (ref_oids,),
        ).fetchall()

    names = {oid: QName(nsp, rel) for oid, nsp, rel, _ in rels}
    colnames: dict[tuple[int, int], str] = {}
    columns: dict[int, list[Column]] = {oid: [] for oid in table_oids}
    for relid, num, name, ftype, notnull, default, identity, generated in attrs:
        ctype = normalize.type_from_sql(ftype, default_schema)
        colnames[(relid, num)] = name
        stored = normalize.expression(default, ctype) if default and not generated else None
        col = Column(
            name,
            ctype,
            nullable=not notnull,
            # An explicit DEFAULT NULL is stored (NULL::integer) but is no default at all: the
            # replay and the readers see none either.
            default=None if stored is not None and stored.upper() == "NULL" else stored,
            identity={"a": "always", "d": "by default"}.get(identity or ""),  # type: ignore[arg-type]
            generated=normalize.expression(default, ctype) if default and generated == "s" else None,
            origin=origin,
        )
        columns[relid].append(col)
    ref_names: dict[tuple[int, int], str] = {}
    ref_tables: dict[int, QName] = {}
    for relid, num, name, nsp, rel in ref_attrs:
        ref_names[(relid, num)] = name
        ref_tables[relid] = QName(nsp, rel)
    constraints: dict[int, list[Constraint]] = {oid: [] for oid in table_oids}
    for relid, conname, contype, conkey, confrelid, confkey, deltype, updtype, condef, deferrable, deferred in cons:
        cols = [colnames[(relid, k)] for k in conkey or () if (relid, k) in colnames]
        expression = None
        if contype == "c":
            expression = normalize.expression(_check_body(condef))
            order = [c.name for c in columns[relid]]
            cols = sorted(cols, key=lambda c: order.index(c) if c in order else 0)
        constraints[relid].append(
            Constraint(
                kind=contype,
                columns=tuple(cols),
                name=conname,
                ref_table=ref_tables.get(confrelid) if contype == "f" else None,
                ref_columns=tuple(ref_names[(confrelid, k)] for k in confkey or ()) if contype == "f" else (),
                on_delete=deltype if contype == "f" else "a",
                on_update=updtype if contype == "f" else "a",
                expression=expression,
                nulls_not_distinct="NULLS NOT DISTINCT" in condef,
                deferrable=bool(deferrable),
                initially_deferred=bool(deferred),
                origin=origin,
            )
        )
    schema = Schema(schemas=frozenset(schemas))
    for oid, nsp, rel, kind in rels:
        q = QName(nsp, rel)
        if kind in ("v", "m"):
            schema = schema.with_view(View(q, materialized=kind == "m", origin=origin))
        else:
            schema = schema.with_table(
                Table(q, tuple(columns[oid]), tuple(constraints[oid]), origin=origin)
            )
    enums: dict[QName, list[str]] = {}
    for nsp, typ, label in enum_rows:
        enums.setdefault(QName(nsp, typ), []).append(label)
    for q, values in enums.items():
        schema = schema.with_enum(Enum(q, tuple(values), origin=origin))
    if indexes:
        schema = _with_indexes(schema, [d for _, d in indexes], default_schema, label)
    del names
    return schema


def _check_body(condef: str) -> str:
    """``CHECK ((x > 0)) NOT VALID`` -> ``(x > 0)``."""
    body = re.sub(r"\s+NOT VALID$", "", condef.strip())
    body = re.sub(r"\s+NO INHERIT$", "", body)
    return body[len("CHECK") :].strip() if body.upper().startswith("CHECK") else body


def _with_indexes(schema: Schema, defs: list[str], default_schema: str, label: str) -> Schema:
    """Replay ``pg_get_indexdef`` output with the migration replay, so indexes are read alike."""
    from ddlguard.schema.replay import replay
    from ddlguard.sql.source import SqlFile

    text = ";\n".join(defs) + ";\n"
    file = SqlFile(path=Path(label), display=label, text=text)
    result = replay([file], default_schema=default_schema, start=schema)
    origin = Origin(label, 1)
    out = result.schema
    for idx in out.indexes:
        out = out.with_index(replace(idx, origin=origin))
    return out
