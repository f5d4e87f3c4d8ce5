"""Transaction modes: how the migration tool (``migration-tool``) runs a file's statements.

A file is cut into sections: character ranges that partition the text, each with a direction
(``up``, or ``down`` for a rollback) and whether the tool runs it inside a transaction it opens
itself. The markers the tool reads (``-- +goose Up``, ``-- migrate:down transaction:false``, ...)
are kept with their positions. ``batches`` are the ranges the tool sends to the server as one query
string: PostgreSQL runs a query string of two or more statements as one implicit transaction block
(the simple query protocol), so those statements are inside a transaction block even when the tool
opened none. What each tool does, from its documentation and source:

- psql (``psql -f``): no transaction unless the file has its own BEGIN ... COMMIT; each statement
  is sent on its own. ``psql -1`` / ``--single-transaction`` wraps the whole file in one, which
  the file cannot show.
- goose: each file in a transaction unless it has ``-- +goose NO TRANSACTION``; ``-- +goose Up``
  / ``-- +goose Down`` sections; statements are sent one by one, a ``-- +goose StatementBegin``
  ... ``-- +goose StatementEnd`` block as one query string. Annotations are case-insensitive and
  start their line.
- dbmate: ``-- migrate:up`` / ``-- migrate:down`` sections (the first of each), each in a
  transaction unless its marker line says ``transaction:false``; a section is sent as one query
  string.
- flyway: each migration in a transaction, unless ``executeInTransaction`` in the script
  configuration file next to it (``V3__x.sql.conf``) says otherwise, or one of its statements
  cannot run in a transaction (Flyway's PostgreSQL parser: CREATE/DROP [UNIQUE] INDEX
  CONCURRENTLY, CREATE/DROP DATABASE, TABLESPACE or SUBSCRIPTION, ALTER SYSTEM, REINDEX
  SCHEMA/DATABASE/SYSTEM, VACUUM, DISCARD ALL): then the whole migration runs without one (Flyway
  refuses a migration that mixes both unless ``mixed=true``). Statements are sent one by one over
  JDBC, where an explicit COMMIT is followed by a new transaction. ``U<version>__*.sql`` undo
  migrations are down migrations. ALTER TYPE ... ADD VALUE (non-transactional for Flyway before
  PostgreSQL 12 only) is taken as 12 or later; a global ``executeInTransaction=false`` or
  ``group=true`` in Flyway's own configuration is not seen.
- golang-migrate: no transaction of its own; the file is sent as it is, as one query string
  (unless the database URL sets ``x-multi-statement``, which the file cannot show); ``*.down.sql``
  files are down migrations.
- sqlx: each migration in a transaction unless the file starts with ``-- no-transaction``; the
  file is sent as one query string; ``*.down.sql`` files are down migrations.
- node-pg-migrate (SQL migrations): ``-- Up Migration`` / ``-- Down Migration`` sections, always in
  a transaction (``pgm.noTransaction()`` exists for JavaScript migrations only); a section is sent
  as one query string.
- drizzle: ``drizzle-kit migrate`` runs all pending migrations in one transaction; the file is cut
  at ``--> statement-breakpoint`` and each piece sent as one query string.

Markers are matched on the raw text, as the tools match them (line by line or with a regular
expression), not only in real comments.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ddlguard.sql.source import SqlFile
    from ddlguard.sql.statements import Statement

TOOLS = (
    "psql",
    "goose",
    "dbmate",
    "flyway",
    "golang-migrate",
    "sqlx",
    "node-pg-migrate",
    "drizzle",
)
UP = "up"
DOWN = "down"


@dataclass(frozen=True, slots=True)
class Marker:
    """A comment the tool reads. ``kind``: ``up``, ``down``, ``no-transaction``,
    ``statement-begin``, ``statement-end`` or ``breakpoint``. ``start``/``end``: its character range
    (the marker line without its line break; drizzle's separator itself)."""

    kind: str
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Section:
    """A range of the file (``start`` inclusive, ``end`` exclusive) run in one direction, inside a
    transaction the tool opens (``transaction``) or not. ``marker`` opens it (None for a file whose
    direction comes from its name, or for text before the first marker)."""

    start: int
    end: int
    direction: str = UP
    transaction: bool = False
    marker: Marker | None = None


@dataclass(frozen=True, slots=True)
class Layout:
    """How ``tool`` runs one file: its sections (in order, covering the whole text), the markers
    found, the ranges sent as one query string (``batches``), whether statements after an explicit
    COMMIT run in a new transaction of the tool (``reopens``: Flyway's JDBC connection), and, when
    the transaction mode is not the tool's default, why (``reason``)."""

    tool: str
    sections: tuple[Section, ...]
    markers: tuple[Marker, ...] = ()
    batches: tuple[tuple[int, int], ...] = ()
    reopens: bool = False
    reason: str = ""

    def section_at(self, offset: int) -> Section:
        """The section that holds character ``offset``."""
        i = bisect_right([s.start for s in self.sections], offset) - 1
        return self.sections[max(0, min(i, len(self.sections) - 1))]


def layout(
    path: Path | str, text: str, tool: str = "psql", statements: Iterable[str] | None = None
) -> Layout:
    """The sections of a file for ``tool``. ``statements`` (the texts of the file's statements,
    read only for Flyway) saves splitting the file again when the caller has parsed it already."""
    builder = _BUILDERS.get(tool)
    if builder is None:
        raise ValueError(f"unknown migration tool {tool!r}; expected one of {', '.join(TOOLS)}")
    return builder(Path(path), text, statements)


def annotate(statements: Sequence[Statement], file: SqlFile, tool: str) -> None:
    """Set ``in_transaction`` and ``section`` of a file's top-level statements (in file order) for
    ``tool``: inside a transaction block when the tool's transaction, an explicit BEGIN, or a query
    string of two or more statements holds it."""
    text = file.text
    lay = layout(file.path, text, tool, (text[s.start : s.end] for s in statements))
    batched = _in_batches(lay.batches, statements)
    sections = lay.sections
    k = 0
    current: Section | None = None
    in_tx = False
    for i, s in enumerate(statements):
        while k + 1 < len(sections) and s.start >= sections[k].end:
            k += 1
        section = sections[k]
        if section is not current:
            current = section
            in_tx = section.transaction
        s.section = section.direction
        if s.kind == "TransactionStmt":
            kind = s.node.get("kind", "")
            if kind in _BEGIN:
                in_tx = True
            elif kind in _END:
                in_tx = section.transaction and lay.reopens
            continue
        s.in_transaction = in_tx or batched[i]


_BEGIN = frozenset({"TRANS_STMT_BEGIN", "TRANS_STMT_START"})
_END = frozenset(
    {
        "TRANS_STMT_COMMIT",
        "TRANS_STMT_ROLLBACK",
        "TRANS_STMT_PREPARE",
        "TRANS_STMT_COMMIT_PREPARED",
        "TRANS_STMT_ROLLBACK_PREPARED",
    }
)


def _in_batches(batches: Sequence[tuple[int, int]], statements: Sequence[Statement]) -> list[bool]:
    """Per statement: whether it starts in a batch that holds two or more statements."""
    out = [False] * len(statements)
    if not batches:
        return out
    members: list[list[int]] = [[] for _ in batches]
    b = 0
    for i, s in enumerate(statements):
        while b < len(batches) and s.start >= batches[b][1]:
            b += 1
        if b == len(batches):
            break
        if s.start >= batches[b][0]:
            members[b].append(i)
    for group in members:
        if len(group) > 1:
            for i in group:
                out[i] = True
    return out


# --- helpers ---------------------------------------------------------------------------------


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    end = len(text) if end == -1 else end
    return end - 1 if end > pos and text[end - 1] == "\r" else end


def _marker(kind: str, text: str, start: int) -> Marker:
    end = _line_end(text, start)
    return Marker(kind, start, end, text[start:end])


def _cut(
    text: str, cuts: Sequence[tuple[Marker, str, bool]], preamble_transaction: bool
) -> tuple[Section, ...]:
    """Sections from (marker, direction, transaction) cuts in file order; text before the first
    cut belongs to it when it is an up section, else to an up section of its own."""
    if not cuts:
        return (Section(0, len(text), UP, preamble_transaction),)
    out: list[Section] = []
    first, direction, _ = cuts[0]
    if direction != UP and first.start > 0:
        out.append(Section(0, first.start, UP, preamble_transaction))
    for i, (marker, direction, transaction) in enumerate(cuts):
        start = 0 if i == 0 and direction == UP else marker.start
        end = cuts[i + 1][0].start if i + 1 < len(cuts) else len(text)
        out.append(Section(start, end, direction, transaction, marker))
    return tuple(out)


def is_down_file(path: Path) -> bool:
    """A golang-migrate or sqlx rollback file (``N_name.down.sql``, spelled as those tools
    spell it)."""
    return path.name.endswith(".down.sql")


def _whole(path: Path, text: str, transaction: bool) -> tuple[Section, ...]:
    return (Section(0, len(text), DOWN if is_down_file(path) else UP, transaction),)


# --- the tools ---------------------------------------------------------------------------------


def _psql(path: Path, text: str, statements: Iterable[str] | None) -> Layout:
    return Layout("psql", (Section(0, len(text)),))


_GOOSE = re.compile(r"(?im)^--[ \t]*\+goose[ \t]+([^\r\n]*?)[ \t]*\r?$")
_GOOSE_KINDS = {
    "up": UP,
    "down": DOWN,
    "no transaction": "no-transaction",
    "statementbegin": "statement-begin",
    "statementend": "statement-end",
}


def _goose(path: Path, text: str, statements: Iterable[str] | None) -> Layout:
    markers: list[Marker] = []
    if "+goose" in text.lower():
        for found in _GOOSE.finditer(text):
            kind = _GOOSE_KINDS.get(" ".join(found.group(1).lower().split()))
            if kind is not None:
                markers.append(_marker(kind, text, found.start()))
    transaction = not any(m.kind == "no-transaction" for m in markers)
    cuts = _first_up_and_down(markers, transaction, transaction)
    batches: list[tuple[int, int]] = []
    begin: Marker | None = None
    for m in markers:
        if m.kind == "statement-begin":
            begin = m
        elif m.kind == "statement-end" and begin is not None:
            batches.append((begin.end, m.start))
            begin = None
    reason = "-- +goose NO TRANSACTION" if not transaction else ""
    return Layout(
        "goose", _cut(text, cuts, transaction), tuple(markers), tuple(batches), reason=reason
    )


def _first_up_and_down(
    markers: Sequence[Marker], up_transaction: bool, down_transaction: bool
) -> list[tuple[Marker, str, bool]]:
    """The first up and the first down marker (the ones the tools use), in file order."""
    up = next((m for m in markers if m.kind == UP), None)
    down = next((m for m in markers if m.kind == DOWN), None)
    cuts = []
    if up is not None:
        cuts.append((up, UP, up_transaction))
    if down is not None:
        cuts.append((down, DOWN, down_transaction))
    cuts.sort(key=lambda c: c[0].start)
    return cuts


_DBMATE_UP = re.compile(r"(?m)^--\s*migrate:up(\s*$|\s+\S+)")
_DBMATE_DOWN = re.compile(r"(?m)^--\s*migrate:down(\s*$|\s+\S+)$")


def _dbmate_transaction(marker: Marker) -> bool:
    """dbmate's options on the marker line (``key:value`` words): ``transaction:false`` turns the
    section's transaction off."""
    options = {}
    for word in marker.text.split():
        pair = word.split(":")
        if len(pair) == 2:
            options[pair[0]] = pair[1]
    return options.get("transaction") != "false"


def _dbmate(path: Path, text: str, statements: Iterable[str] | None) -> Layout:
    markers: list[Marker] = []
    if "migrate:" in text:
        for kind, pattern in ((UP, _DBMATE_UP), (DOWN, _DBMATE_DOWN)):
            found = pattern.search(text)
            if found is not None:
                markers.append(_marker(kind, text, found.start()))
    markers.sort(key=lambda m: m.start)
    cuts = [(m, m.kind, _dbmate_transaction(m)) for m in markers]
    sections = _cut(text, cuts, True)
    reasons = [m.text.strip() for m in markers if not _dbmate_transaction(m)]
    return Layout(
        "dbmate",
        sections,
        tuple(markers),
        tuple((s.start, s.end) for s in sections),
        reason="; ".join(reasons),
    )


# Flyway's PostgreSQL parser (PostgreSQLParser.detectCanExecuteInTransaction), applied to the
# statement's leading words, upper case, single-spaced, comments left out.
_FLYWAY_NON_TRANSACTIONAL = re.compile(
    r"(?:CREATE|DROP) (?:DATABASE|TABLESPACE|SUBSCRIPTION)\b"
    r"|ALTER SYSTEM\b"
    r"|(?:CREATE|DROP)(?: UNIQUE)? INDEX CONCURRENTLY\b"
    r"|REINDEX(?: VERBOSE)? (?:SCHEMA|DATABASE|SYSTEM)\b"
    r"|VACUUM\b"
    r"|DISCARD ALL\b"
)
_COMMENTS = re.compile(r"--[^\n]*|/\*(?:[^*]|\*(?!/))*\*/")


def flyway_non_transactional(statement: str) -> bool:
    """Whether Flyway runs a migration holding this statement outside a transaction."""
    head = " ".join(_COMMENTS.sub(" ", statement[:400]).split()).upper()
    return _FLYWAY_NON_TRANSACTIONAL.match(head) is not None


def flyway_script_config(path: Path) -> str | None:
    """The text of Flyway's script configuration file for a migration (``<name>.conf``), if any."""
    try:
        return path.with_name(path.name + ".conf").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


_PROPERTY = re.compile(r"([^=:\s]+)\s*[=:]\s*(.*)$")


def _flyway_execute_in_transaction(config: str) -> bool | None:
    """``executeInTransaction`` of a script configuration file (Java properties), if set."""
    found: bool | None = None
    for raw in config.splitlines():
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        m = _PROPERTY.match(line)
        if m is None or m.group(1) != "executeInTransaction":
            continue
        value = m.group(2).strip().lower()
        if value in ("true", "false"):
            found = value == "true"
    return found


def _split(text: str) -> list[str]:
    try:
        from pglast.parser import split

        return list(split(text, with_parser=False))
    except Exception:  # the scanner's error: an unterminated literal or comment
        return [text]


_FLYWAY_UNDO = re.compile(r"U\d")


def _flyway(path: Path, text: str, statements: Iterable[str] | None) -> Layout:
    direction = DOWN if _FLYWAY_UNDO.match(path.name) else UP
    config = flyway_script_config(path)
    override = _flyway_execute_in_transaction(config) if config is not None else None
    if override is not None:
        transaction = override
        reason = f"executeInTransaction={str(override).lower()} in {path.name}.conf"
    else:
        transaction = True
        reason = ""
        for stmt in _split(text) if statements is None else statements:
            if flyway_non_transactional(stmt):
                transaction = False
                first = " ".join(_COMMENTS.sub(" ", stmt).split())[:60]
                reason = (
                    f"{first} cannot run in a transaction: Flyway runs the migration without one"
                )
                break
    section = Section(0, len(text), direction, transaction)
    return Layout("flyway", (section,), reopens=True, reason=reason)


def _golang_migrate(path: Path, text: str, statements: Iterable[str] | None) -> Layout:
    return Layout("golang-migrate", _whole(path, text, False), batches=((0, len(text)),))


_SQLX_NO_TX = "-- no-transaction"


def _sqlx(path: Path, text: str, statements: Iterable[str] | None) -> Layout:
    no_tx = text.startswith(_SQLX_NO_TX)
    markers = (_marker("no-transaction", text, 0),) if no_tx else ()
    return Layout(
        "sqlx",
        _whole(path, text, not no_tx),
        markers,
        ((0, len(text)),),
        reason=_SQLX_NO_TX if no_tx else "",
    )


# node-pg-migrate's own expressions (sqlMigration.js), case-insensitive, per line.
_NPM_UP = re.compile(r"(?im)^\s*--[\s-]*up\s+migration")
_NPM_DOWN = re.compile(r"(?im)^\s*--[\s-]*down\s+migration")


def _node_pg_migrate(path: Path, text: str, statements: Iterable[str] | None) -> Layout:
    markers: list[Marker] = []
    if "migration" in text.lower():
        for kind, pattern in ((UP, _NPM_UP), (DOWN, _NPM_DOWN)):
            found = pattern.search(text)
            if found is not None:
                markers.append(_marker(kind, text, text.index("--", found.start())))
    markers.sort(key=lambda m: m.start)
    sections = _cut(text, [(m, m.kind, True) for m in markers], True)
    return Layout(
        "node-pg-migrate", sections, tuple(markers), tuple((s.start, s.end) for s in sections)
    )


_BREAKPOINT = "--> statement-breakpoint"


def _drizzle(path: Path, text: str, statements: Iterable[str] | None) -> Layout:
    markers: list[Marker] = []
    batches: list[tuple[int, int]] = []
    start = 0
    pos = text.find(_BREAKPOINT)
    while pos != -1:
        end = pos + len(_BREAKPOINT)
        markers.append(Marker("breakpoint", pos, end, _BREAKPOINT))
        batches.append((start, pos))
        start = end
        pos = text.find(_BREAKPOINT, end)
    batches.append((start, len(text)))
    return Layout("drizzle", (Section(0, len(text), UP, True),), tuple(markers), tuple(batches))


_BUILDERS: dict[str, Callable[[Path, str, Iterable[str] | None], Layout]] = {
    "psql": _psql,
    "goose": _goose,
    "dbmate": _dbmate,
    "flyway": _flyway,
    "golang-migrate": _golang_migrate,
    "sqlx": _sqlx,
    "node-pg-migrate": _node_pg_migrate,
    "drizzle": _drizzle,
}
