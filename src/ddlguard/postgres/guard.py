"""What `ddlguard verify` refuses to run, decided before anything runs.

verify applies the migrations to a scratch database. Some statements reach beyond any one
database: they act on the whole server (databases, roles, tablespaces, ``ALTER SYSTEM``, other
sessions), on the server's files and shell (``COPY ... PROGRAM``, ``pg_read_file``,
``lo_export``, untrusted languages), or connect to other servers (``dblink``, ``postgres_fdw``,
subscriptions). On a server ddlguard did not start (``--database-url``) every one of them is
refused: a scratch database isolates nothing of that. On the temporary cluster ddlguard starts
and removes itself they may run, except shell commands and server files, which are refused
everywhere.

The statements looked at are the ones verify sends (top level, up sections) and the statements
the splitter finds inside ``DO`` blocks and function bodies (also ``EXECUTE 'literal'``); the
function names are also looked for in the text of bodies. A statement built at run time from
pieces (``EXECUTE 'DROP ' || 'DATABASE ...'``) cannot be seen: this is a guard against the
plain statements, not a sandbox.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ddlguard.sql import nodes
from ddlguard.sql.source import SqlFile
from ddlguard.sql.statements import Statement, parse

# Statement kinds that act on the whole server.
_CLUSTER_KINDS = {
    "CreatedbStmt": "CREATE DATABASE",
    "DropdbStmt": "DROP DATABASE",
    "AlterDatabaseStmt": "ALTER DATABASE",
    "AlterDatabaseSetStmt": "ALTER DATABASE ... SET",
    "AlterDatabaseRefreshCollStmt": "ALTER DATABASE ... REFRESH COLLATION VERSION",
    "AlterSystemStmt": "ALTER SYSTEM",
    "CreateRoleStmt": "CREATE ROLE",
    "AlterRoleStmt": "ALTER ROLE",
    "AlterRoleSetStmt": "ALTER ROLE ... SET",
    "DropRoleStmt": "DROP ROLE",
    "GrantRoleStmt": "GRANT/REVOKE of a role",
    "CreateTableSpaceStmt": "CREATE TABLESPACE",
    "DropTableSpaceStmt": "DROP TABLESPACE",
    "AlterTableSpaceOptionsStmt": "ALTER TABLESPACE",
    "AlterTableMoveAllStmt": "ALTER ... ALL IN TABLESPACE",
    "CreateForeignServerStmt": "CREATE SERVER",
    "AlterForeignServerStmt": "ALTER SERVER",
    "CreateUserMappingStmt": "CREATE USER MAPPING",
    "AlterUserMappingStmt": "ALTER USER MAPPING",
    "ImportForeignSchemaStmt": "IMPORT FOREIGN SCHEMA",
    "CreateSubscriptionStmt": "CREATE SUBSCRIPTION",
    "AlterSubscriptionStmt": "ALTER SUBSCRIPTION",
    "CreatePLangStmt": "CREATE LANGUAGE",
    "LoadStmt": "LOAD",
}
# Object types stored for the whole server (pg_database, pg_authid, pg_tablespace).
_SHARED_OBJECTS = {
    "OBJECT_DATABASE": "DATABASE",
    "OBJECT_ROLE": "ROLE",
    "OBJECT_TABLESPACE": "TABLESPACE",
    "OBJECT_PARAMETER_ACL": "PARAMETER",
}
_OBJECT_VERBS = {
    "RenameStmt": ("renameType", "ALTER {} ... RENAME"),
    "AlterOwnerStmt": ("objectType", "ALTER {} ... OWNER TO"),
    "CommentStmt": ("objtype", "COMMENT ON {}"),
    "SecLabelStmt": ("objtype", "SECURITY LABEL ON {}"),
    "GrantStmt": ("objtype", "GRANT/REVOKE ON {}"),
}
# Functions that read or write the server's files: refused everywhere.
SERVER_FILE_FUNCTIONS = frozenset(
    {
        "lo_import",
        "lo_export",
        "pg_read_file",
        "pg_read_binary_file",
        "pg_stat_file",
        "pg_ls_dir",
        "pg_ls_logdir",
        "pg_ls_waldir",
        "pg_ls_tmpdir",
        "pg_ls_archive_statusdir",
        "pg_ls_logicalsnapdir",
        "pg_ls_logicalmapdir",
        "pg_ls_replslotdir",
        "pg_file_write",
        "pg_file_rename",
        "pg_file_unlink",
        "pg_file_sync",
        "pg_logdir_ls",
    }
)
# Functions that act on the whole server, its other sessions, or connect elsewhere.
CLUSTER_FUNCTIONS = frozenset(
    {
        "dblink",
        "dblink_connect",
        "dblink_connect_u",
        "dblink_exec",
        "dblink_send_query",
        "dblink_open",
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "pg_promote",
        "pg_switch_wal",
        "pg_create_restore_point",
        "pg_create_physical_replication_slot",
        "pg_create_logical_replication_slot",
        "pg_drop_replication_slot",
        "pg_replication_origin_create",
        "pg_replication_origin_drop",
    }
)
# Languages whose code runs unchecked as the server's operating-system user.
_UNTRUSTED_LANGUAGES = frozenset(
    {"c", "plpythonu", "plpython2u", "plpython3u", "plperlu", "pltclu", "plsh"}
)
_FUNCTION_NAMES = SERVER_FILE_FUNCTIONS | CLUSTER_FUNCTIONS
_CALL = re.compile(r"(?i)\b(" + "|".join(sorted(_FUNCTION_NAMES)) + r")\s*\(")
# In SQL built at run time (EXECUTE format(...)): what can still be recognised in its text.
_DYNAMIC = re.compile(
    r"(?i)\b(?:(?:CREATE|ALTER|DROP)\s+(?:DATABASE|ROLE|USER|GROUP|TABLESPACE|SERVER|SUBSCRIPTION)"
    r"|CREATE\s+USER\s+MAPPING|ALTER\s+SYSTEM|(?:FROM|TO)\s+PROGRAM)\b"
)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A statement verify will not run: where, what, and whether it is refused everywhere (shell
    and server files) or only on a server ddlguard did not start."""

    file: SqlFile
    offset: int
    what: str
    everywhere: bool

    @property
    def line(self) -> int:
        return self.file.index.position(self.offset)[0]

    def message(self, *, own_server: bool) -> str:
        where = f"{self.file.display}:{self.line}"
        if self.everywhere:
            return (
                f"{where}: {self.what}: verify does not run statements that run shell commands "
                "or read or write the database server's files, on any server"
            )
        hint = "" if own_server else "; verify without --database-url runs it on a temporary cluster"
        return (
            f"{where}: {self.what} acts on the whole server, not only the scratch database: "
            f"verify --database-url refuses cluster-level statements{hint}"
        )


def refusals(files: list[SqlFile], tool: str = "psql", *, own_server: bool) -> list[Refusal]:
    """Every statement of ``files`` that verify must not run (``own_server``: on the temporary
    cluster ddlguard starts, where only shell commands and server files are refused)."""
    out: list[Refusal] = []
    for file in files:
        found: list[Refusal] = []
        seen: set[tuple[int, str]] = set()
        parsed = parse(file, tool=tool)
        for stmt in parsed.statements:
            top = stmt.top
            if top.kind == "TransactionStmt" or top.section == "down":
                continue
            for offset, what, everywhere in _problems(stmt):
                refusal = Refusal(file, offset, what, everywhere)
                if (everywhere or not own_server) and (refusal.line, what) not in seen:
                    seen.add((refusal.line, what))
                    found.append(refusal)
        out.extend(sorted(found, key=lambda r: r.offset))
    return out


def _problems(stmt: Statement) -> Iterator[tuple[int, str, bool]]:
    n = stmt.node
    kind = stmt.kind
    if kind == "CopyStmt" and n.get("filename"):
        direction = "FROM" if n.get("is_from") else "TO"
        if n.get("is_program"):
            yield stmt.start, f"COPY ... {direction} PROGRAM", True
        else:
            yield stmt.start, f"COPY ... {direction} a server file", True
    if kind in _CLUSTER_KINDS:
        yield stmt.start, _label(stmt), False
    if kind in _OBJECT_VERBS:
        key, template = _OBJECT_VERBS[kind]
        shared = _SHARED_OBJECTS.get(str(n.get(key, "")))
        if shared is not None:
            yield stmt.start, template.format(shared), False
    if kind in ("CreateFunctionStmt", "DoStmt"):
        language = _language(stmt)
        if language in _UNTRUSTED_LANGUAGES:
            what = "DO block" if kind == "DoStmt" else "CREATE FUNCTION"
            yield stmt.start, f"{what} in the untrusted language {language}", False
        for offset, name in _calls_in_body(stmt):
            yield offset, f"{name}()", name in SERVER_FILE_FUNCTIONS
    if kind == "PLpgSQL_stmt_dynexecute":
        text = str(n.get("query", ""))
        for m in _CALL.finditer(text):
            name = m.group(1).lower()
            yield stmt.start, f"{name}() in EXECUTE", name in SERVER_FILE_FUNCTIONS
        for m in _DYNAMIC.finditer(text):
            what = " ".join(m.group(0).upper().split())
            yield stmt.start, f"{what} in EXECUTE", what.endswith("PROGRAM")
    for name in sorted(set(nodes.function_names(n))):
        if name in _FUNCTION_NAMES:
            yield stmt.start, f"{name}()", name in SERVER_FILE_FUNCTIONS


def _label(stmt: Statement) -> str:
    """The statement's own words for roles (ROLE, USER or GROUP), else the kind's name."""
    label = _CLUSTER_KINDS[stmt.kind]
    if stmt.kind in ("CreateRoleStmt", "AlterRoleStmt", "AlterRoleSetStmt", "DropRoleStmt"):
        words = stmt.text.split(None, 2)
        if len(words) >= 2 and words[1].upper() in ("ROLE", "USER", "GROUP"):
            return label.replace("ROLE", words[1].upper(), 1)
    return label


def _options(stmt: Statement) -> dict[str, Any]:
    key = "args" if stmt.kind == "DoStmt" else "options"
    out: dict[str, Any] = {}
    for item in stmt.node.get(key) or []:
        de = item.get("DefElem") if isinstance(item, dict) else None
        if de:
            out[str(de.get("defname", ""))] = de.get("arg")
    return out


def _language(stmt: Statement) -> str:
    arg = _options(stmt).get("language")
    if isinstance(arg, dict) and "String" in arg:
        return str(arg["String"].get("sval", "")).lower()
    return "plpgsql" if stmt.kind == "DoStmt" else "sql"


def _bodies(stmt: Statement) -> list[str]:
    arg = _options(stmt).get("as")
    if isinstance(arg, dict) and "String" in arg:
        return [str(arg["String"].get("sval", ""))]
    if isinstance(arg, dict) and "List" in arg:
        return nodes.strings(arg["List"].get("items"))
    return []


def _calls_in_body(stmt: Statement) -> Iterator[tuple[int, str]]:
    """Calls of the refused functions in the text of a DO block or function body (PERFORM,
    assignments and conditions are not statements of their own), comments left out."""
    from pglast.parser import ParseError, scan

    text = stmt.file.text
    for body in _bodies(stmt):
        if not _CALL.search(body):
            continue
        found = text.find(body, stmt.start, stmt.end + 1) if body else -1
        base = found if found >= 0 else stmt.start
        try:
            tokens = scan(body)
        except ParseError:
            for m in _CALL.finditer(body):
                yield (base + m.start() if found >= 0 else base), m.group(1).lower()
            continue
        raw = body.encode("utf-8")
        for tok, after in itertools.pairwise(tokens):
            if tok.name != "IDENT" or after.name != "ASCII_40":
                continue
            name = raw[tok.start : tok.end + 1].decode("utf-8", errors="replace").lower()
            if name in _FUNCTION_NAMES:
                chars = len(raw[: tok.start].decode("utf-8", errors="ignore"))
                yield (base + chars if found >= 0 else base), name
