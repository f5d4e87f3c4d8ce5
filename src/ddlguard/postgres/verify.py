"""`ddlguard verify`: apply the migrations to a real, throwaway database twice in a row.

PostgreSQL is the judge. Each statement runs on its own (autocommit, so one failure does not hide
the rest, as ``psql -f`` without ON_ERROR_STOP); every statement that fails on the second run is a
finding with PostgreSQL's own message at its file and line. Between the runs each table's OID and
row count are recorded: a table with a new OID was dropped and created again, a table with fewer
rows lost data, both on a re-run that raised no error. Then the catalog is compared with the
canonical schema like ``drift`` does.

Before anything runs, :mod:`ddlguard.postgres.guard` refuses what reaches beyond the scratch
database (on a server ddlguard did not start: databases, roles, ``ALTER SYSTEM``, ...; anywhere:
shell commands and the server's files). Every session has a statement timeout and a lock
timeout (server side, and a client-side cancel in case a migration turns them off): a statement
that runs past them is cancelled and reported (I804) instead of hanging verify.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ddlguard.findings import Finding
from ddlguard.rules.registry import make_finding
from ddlguard.sql.source import SqlFile
from ddlguard.sql.statements import Statement, parse

# verify's defaults, in seconds (``--statement-timeout``, ``--lock-timeout``; 0 turns one off).
STATEMENT_TIMEOUT = 60.0
LOCK_TIMEOUT = 10.0
# How long after the statement timeout the client cancels a statement itself (the server's own
# timeout may have been turned off by the migration: ``SET statement_timeout = 0``).
_CANCEL_GRACE = 2.0


@dataclass(slots=True)
class Failure:
    file: SqlFile
    stmt: Statement
    message: str
    sqlstate: str | None
    # "statement" or "lock" when the statement was cancelled for running or waiting too long.
    timeout: str | None = None


@dataclass(slots=True)
class RunResult:
    failures: list[Failure] = field(default_factory=list)
    statements: int = 0


def _statements(file: SqlFile, tool: str = "psql") -> list[Statement]:
    """The top-level statements to send, one by one (transaction control left out: each
    statement runs in its own transaction; down sections, the rollback, left out too)."""
    parsed = parse(file, tool=tool)
    return [s for s in parsed.top_level() if s.kind != "TransactionStmt" and s.section != "down"]


def apply(
    conn: Any, files: list[SqlFile], tool: str = "psql", *, statement_timeout: float = 0.0
) -> RunResult:
    """Run every statement of ``files`` on ``conn``; ``statement_timeout`` (seconds, 0: none)
    is enforced from the client too, a little after the server's own."""
    import psycopg

    result = RunResult()
    for file in files:
        for stmt in _statements(file, tool):
            sql = file.parse_text[stmt.start : stmt.end]
            result.statements += 1
            with _Watchdog(conn, statement_timeout) as watchdog:
                try:
                    conn.execute(sql, prepare=False)
                except psycopg.Error as exc:
                    diag = getattr(exc, "diag", None)
                    primary = getattr(diag, "message_primary", None) or str(exc).strip().splitlines()[0]
                    sqlstate = getattr(exc, "sqlstate", None)
                    timeout = _timeout_kind(sqlstate, primary, watchdog.fired)
                    if watchdog.fired and timeout == "statement":
                        primary += " (by ddlguard: the migration had turned statement_timeout off)"
                    result.failures.append(Failure(file, stmt, primary, sqlstate, timeout))
    return result


def _timeout_kind(sqlstate: str | None, message: str, cancelled: bool) -> str | None:
    """"statement" or "lock" when PostgreSQL (or the watchdog) stopped a statement for time."""
    if sqlstate == "57014" and (cancelled or "statement timeout" in message):
        return "statement"
    if sqlstate == "55P03" and "lock timeout" in message:
        return "lock"
    return None


class _Watchdog:
    """Cancels the running statement of ``conn`` when it takes ``seconds`` plus a grace period
    (0: never)."""

    def __init__(self, conn: Any, seconds: float) -> None:
        self.conn = conn
        self.seconds = seconds
        self.fired = False
        self._timer: threading.Timer | None = None

    def _cancel(self) -> None:
        self.fired = True
        cancel = getattr(self.conn, "cancel_safe", None) or self.conn.cancel
        with contextlib.suppress(Exception):
            cancel()

    def __enter__(self) -> _Watchdog:
        if self.seconds > 0:
            self._timer = threading.Timer(self.seconds + _CANCEL_GRACE, self._cancel)
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer.join()


def session_conninfo(conninfo: str, statement_timeout: float, lock_timeout: float) -> str:
    """``conninfo`` with the timeouts as session defaults (``options=-c ...``, after any options
    it has): a migration's ``RESET`` comes back to them."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    extra = (
        f"-c statement_timeout={max(0, round(statement_timeout * 1000))} "
        f"-c lock_timeout={max(0, round(lock_timeout * 1000))}"
    )
    given = str(conninfo_to_dict(conninfo).get("options") or "").strip()
    return make_conninfo(conninfo, options=f"{given} {extra}".strip())


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
    statement_timeout: float = STATEMENT_TIMEOUT,
    lock_timeout: float = LOCK_TIMEOUT,
) -> tuple[list[Finding], Any, int]:
    """Findings of the two runs, the Schema introspected after them, and the statement count.
    ``tool`` is the migration tool (its down sections are not applied). Raises PostgresError,
    before connecting to anything, when the migrations hold a statement verify refuses (see
    :mod:`ddlguard.postgres.guard`); timeouts are in seconds (0: none)."""
    import psycopg

    from ddlguard.postgres.guard import refusals
    from ddlguard.postgres.server import PostgresError, connect
    from ddlguard.sources.database import introspect

    own_server = not database_url
    refused = refusals(files, tool, own_server=own_server)
    if refused:
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        raise PostgresError(refused[0].message(own_server=own_server) + more)
    findings: list[Finding] = []
    with throwaway_database(database_url) as conninfo:
        conn = connect(session_conninfo(conninfo, statement_timeout, lock_timeout))
        try:
            first = apply(conn, files, tool, statement_timeout=statement_timeout)
            if progress is not None:
                progress(1, 3)
            failed_first = {(id(f.file), f.stmt.start) for f in first.failures}
            for f in first.failures:
                if f.timeout is not None:
                    findings.append(_timeout_finding(f, statement_timeout, lock_timeout))
                    continue
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
            second = apply(conn, files, tool, statement_timeout=statement_timeout)
            if progress is not None:
                progress(2, 3)
            for f in second.failures:
                if (id(f.file), f.stmt.start) in failed_first:
                    continue  # already reported: it fails every time
                if f.timeout is not None:
                    findings.append(_timeout_finding(f, statement_timeout, lock_timeout, second=True))
                    continue
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
        except psycopg.Error as exc:  # reading the tables or the catalog between the runs
            from ddlguard.redact import scrub

            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise PostgresError(
                f"cannot read the scratch database after applying the migrations: "
                f"{scrub(first_line)}"
            ) from None
        finally:
            conn.close()
    return findings, schema, first.statements


def _timeout_finding(
    f: Failure, statement_timeout: float, lock_timeout: float, *, second: bool = False
) -> Finding:
    run = "the second run" if second else "the first run"
    if f.timeout == "lock":
        what = f"waited longer than the lock timeout ({lock_timeout:g} s) for a lock on {run}"
    else:
        what = f"ran longer than the statement timeout ({statement_timeout:g} s) on {run}"
    return _finding(
        "I804",
        f.file,
        f.stmt,
        f"{what} and was cancelled: {f.message}"
        + (f" (SQLSTATE {f.sqlstate})" if f.sqlstate else "")
        + "; raise --statement-timeout/--lock-timeout if it is expected to take that long",
    )
