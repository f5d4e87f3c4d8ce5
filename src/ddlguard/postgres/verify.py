"""`ddlguard verify`: apply the migrations to a real, throwaway database twice in a row.

PostgreSQL is the judge. Each statement runs on its own (autocommit, so one failure does not hide
the rest, as ``psql -f`` without ON_ERROR_STOP); every statement that fails on the second run is a
finding with PostgreSQL's own message at its file and line. Between the runs each table's OID and
row count are recorded: a table with a new OID was dropped and created again, a table with fewer
rows lost data, both on a re-run that raised no error. Then the catalog is compared with the
canonical schema like ``drift`` does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ddlguard.findings import Finding
from ddlguard.rules.registry import make_finding
from ddlguard.sql.source import SqlFile
from ddlguard.sql.statements import Statement, parse


@dataclass(slots=True)
class Failure:
    file: SqlFile
    stmt: Statement
    message: str
    sqlstate: str | None


@dataclass(slots=True)
class RunResult:
    failures: list[Failure] = field(default_factory=list)
    statements: int = 0


def _statements(file: SqlFile, tool: str = "psql") -> list[Statement]:
    """The top-level statements to send, one by one (transaction control left out: each
    statement runs in its own transaction; down sections, the rollback, left out too)."""
    parsed = parse(file, tool=tool)
    return [s for s in parsed.top_level() if s.kind != "TransactionStmt" and s.section != "down"]


def apply(conn: Any, files: list[SqlFile], tool: str = "psql") -> RunResult:
    import psycopg

    result = RunResult()
    for file in files:
        for stmt in _statements(file, tool):
            sql = file.parse_text[stmt.start : stmt.end]
            result.statements += 1
            try:
                conn.execute(sql, prepare=False)
            except psycopg.Error as exc:
                diag = getattr(exc, "diag", None)
                primary = getattr(diag, "message_primary", None) or str(exc).strip().splitlines()[0]
                result.failures.append(Failure(file, stmt, primary, getattr(exc, "sqlstate", None)))
    return result


def table_states(conn: Any) -> dict[str, tuple[int, int]]:
    """``schema.table`` -> (OID, row count) for every user table."""
    rows = conn.execute(
        """SELECT c.oid, n.nspname, c.relname FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
             AND n.nspname NOT LIKE 'pg\\_%'"""
    ).fetchall()
    from psycopg import sql

    out: dict[str, tuple[int, int]] = {}
    for oid, nsp, rel in rows:
        count = conn.execute(
            sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(nsp), sql.Identifier(rel))
        ).fetchone()[0]
        out[f"{nsp}.{rel}"] = (int(oid), int(count))
    return out


def _finding(
    code: str, file: SqlFile, stmt: Statement | None, message: str, obj: str | None = None
) -> Finding:
    line, col = file.index.position(stmt.start if stmt is not None else 0)
    end_line, end_col = file.index.position(stmt.end if stmt is not None else 0)
    return make_finding(
        code,
        file.display,
        message,
        line=line,
        column=col,
        end_line=end_line,
        end_column=end_col,
        obj=obj,
    )


def _where_dropped(
    files: list[SqlFile], table: str, tool: str = "psql"
) -> tuple[SqlFile, Statement] | None:
    """The statement that drops (else creates) ``schema.table``, to point a finding at."""
    schema, _, name = table.partition(".")
    creates: tuple[SqlFile, Statement] | None = None
    for file in files:
        for stmt in _statements(file, tool):
            if stmt.kind == "DropStmt" and stmt.node.get("removeType") == "OBJECT_TABLE":
                for obj in stmt.node.get("objects") or []:
                    names = [i["String"]["sval"] for i in obj.get("List", {}).get("items", [])]
                    if names and names[-1] == name and (len(names) == 1 or names[-2] == schema):
                        return file, stmt
            if creates is None and stmt.kind == "CreateStmt":
                rel = stmt.node.get("relation", {})
                if rel.get("relname") == name:
                    creates = (file, stmt)
    return creates


@contextlib.contextmanager
def throwaway_database(database_url: str | None) -> Iterator[str]:
    """A conninfo for a database nobody else uses: a scratch database on ``database_url``'s server,
    or a temporary cluster."""
    from ddlguard.postgres.server import scratch_database, temporary_cluster

    if database_url:
        with scratch_database(database_url) as conninfo:
            yield conninfo
    else:
        with temporary_cluster() as cluster:
            admin_info = cluster.conninfo()
            with scratch_database(admin_info) as conninfo:
                yield conninfo


def verify(
    files: list[SqlFile],
    *,
    database_url: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    tool: str = "psql",
) -> tuple[list[Finding], Any, int]:
    """Findings of the two runs, the Schema introspected after them, and the statement count.
    ``tool`` is the migration tool (its down sections are not applied)."""
    from ddlguard.postgres.server import connect
    from ddlguard.sources.database import introspect

    findings: list[Finding] = []
    with throwaway_database(database_url) as conninfo:
        conn = connect(conninfo)
        try:
            first = apply(conn, files, tool)
            if progress is not None:
                progress(1, 3)
            failed_first = {(id(f.file), f.stmt.start) for f in first.failures}
            for f in first.failures:
                findings.append(
                    _finding(
                        "I803",
                        f.file,
                        f.stmt,
                        f"fails on the first run, on an empty database: {f.message}"
                        + (f" (SQLSTATE {f.sqlstate})" if f.sqlstate else ""),
                    )
                )
            before = table_states(conn)
            second = apply(conn, files, tool)
            if progress is not None:
                progress(2, 3)
            for f in second.failures:
                if (id(f.file), f.stmt.start) in failed_first:
                    continue  # already reported: it fails every time
                findings.append(
                    _finding(
                        "I801",
                        f.file,
                        f.stmt,
                        f"PostgreSQL rejects this statement when the migrations run a second time: "
                        f"{f.message}" + (f" (SQLSTATE {f.sqlstate})" if f.sqlstate else ""),
                    )
                )
            after = table_states(conn)
            for table, (oid, rows) in sorted(before.items()):
                now = after.get(table)
                what = None
                if now is None:
                    what = "is gone after the second run"
                elif now[0] != oid:
                    what = "was dropped and created again by the second run (new OID): its rows are lost on every re-run"
                elif now[1] < rows:
                    what = f"lost rows on the second run ({rows} -> {now[1]})"
                if what is None:
                    continue
                located = _where_dropped(files, table, tool)
                file, stmt = located if located is not None else (files[0], None)
                findings.append(_finding("I802", file, stmt, f"table {table} {what}", obj=table))
            schema = introspect(conn, label="the migrations applied to PostgreSQL")
            if progress is not None:
                progress(3, 3)
        finally:
            conn.close()
    return findings, schema, first.statements
