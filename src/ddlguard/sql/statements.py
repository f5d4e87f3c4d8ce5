"""Statements: pglast's parse tree of a file, with exact spans and the context each runs in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import msgspec

from ddlguard.sql.source import SqlFile

Node = dict[str, Any]


class _RawStmt(msgspec.Struct):
    stmt: dict[str, msgspec.Raw]
    stmt_location: int = 0
    stmt_len: int = 0


class _Tree(msgspec.Struct):
    stmts: list[_RawStmt] = []
    version: int = 0


# libpg_query's JSON is decoded with msgspec: each statement's node is kept as raw JSON until it
# is decoded on its own, so the rows of a large INSERT ... VALUES (no rule reads them) never
# become Python objects. That is most of the decoding time of a data-seeding file.
_TREE = msgspec.json.Decoder(_Tree)
_ANY = msgspec.json.Decoder()
_FIELDS = msgspec.json.Decoder(dict[str, msgspec.Raw])
_WRAPPED = msgspec.json.Decoder(dict[str, dict[str, msgspec.Raw]])


def decode_json(data: str | bytes) -> Any:
    """Decode a JSON document (libpg_query's output) into dicts and lists."""
    return _ANY.decode(data)


def _decode_node(kind: str, raw: msgspec.Raw) -> tuple[Node, bytes | None]:
    """A statement's node, and for ``INSERT ... VALUES`` the rows' raw JSON left out of it."""
    if kind != "InsertStmt":
        node: Node = _ANY.decode(raw)
        return node, None
    node = {}
    rows: bytes | None = None
    for name, value in _FIELDS.decode(raw).items():
        if name != "selectStmt":
            node[name] = _ANY.decode(value)
            continue
        wrapped = _WRAPPED.decode(value)
        inner = wrapped.get("SelectStmt")
        if inner is None or "valuesLists" not in inner:
            node[name] = _ANY.decode(value)
            continue
        select: Node = {}
        for key, part in inner.items():
            if key == "valuesLists":
                rows = bytes(part)
                select[key] = []
            else:
                select[key] = _ANY.decode(part)
        node[name] = {"SelectStmt": select}
    return node, rows

# Whitespace and comments before a statement's first token (libpg_query's statement ranges
# include them).
_LEADING = re.compile(r"(?:\s+|--[^\n]*|/\*(?:[^*]|\*(?!/))*\*/)*")


@dataclass(frozen=True, slots=True)
class Guard:
    """What protects a statement inside a PL/pgSQL body.

    ``conditions`` are the texts of the enclosing ``IF``/``CASE`` conditions (with the SQL run just
    before them in the same block, for ``IF NOT FOUND`` forms); ``caught`` are the lower-cased
    condition names or SQLSTATEs of enclosing ``EXCEPTION WHEN`` handlers.
    """

    conditions: tuple[str, ...] = ()
    caught: frozenset[str] = frozenset()
    # The same IFs with their structure, for evaluation by the replay: each branch condition
    # with the truth value it must have for the statement to run, and the SQL/assignments run
    # before it in its block (for ``IF NOT FOUND`` and ``IF has_col``).
    branches: tuple[Branch, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.conditions or self.caught)


@dataclass(frozen=True, slots=True)
class Branch:
    condition: str
    expected: bool
    before: tuple[str, ...] = ()


NO_GUARD = Guard()


class Token(NamedTuple):
    start: int  # character offset in the file
    end: int  # one past the last character
    name: str
    kind: str


@dataclass(slots=True)
class Statement:
    """One SQL statement: its parse node, where it stands in the file, and its context.

    ``context`` is ``"top"`` for a statement of the file itself, ``"do"`` for one inside a ``DO``
    block (runs with the migration), ``"function"`` for one inside a function body (runs when the
    function is called). Offsets are character offsets into ``file.text``.
    """

    kind: str
    node: Node
    start: int
    end: int
    file: SqlFile
    context: str = "top"
    parent: Statement | None = None
    guard: Guard = NO_GUARD
    # Runs inside a transaction block: an explicit BEGIN ... COMMIT, the migration tool's own
    # transaction, or a query string of several statements (see sql/transactions.py).
    in_transaction: bool = False
    # "down" for a statement of a down section or a down file (a rollback), else "up".
    section: str = "up"
    exact: bool = True
    dynamic: bool = False
    # Where the text handed to the parser begins, to map the tree's byte locations.
    _src_base: int = 0
    _src_text: str | None = None
    _tokens: list[Token] | None = field(default=None, repr=False)
    # INSERT ... VALUES: the rows, undecoded; ``node``'s ``valuesLists`` is empty (see values_rows()).
    _rows: bytes | None = field(default=None, repr=False)
    _digest: str | None = field(default=None, repr=False)

    def context_digest(self) -> str:
        """The baseline key of the statement's text (findings.context_digest), once."""
        if self._digest is None:
            from ddlguard.findings import context_digest

            self._digest = context_digest(self.text)
        return self._digest

    def values_rows(self) -> list[Any]:
        """The ``valuesLists`` of an ``INSERT ... VALUES`` (left out of ``node``: no rule reads
        row values, and decoding them is most of the cost of a data-seeding file)."""
        if self._rows is None:
            select = self.node.get("selectStmt", {}).get("SelectStmt", {})
            return list(select.get("valuesLists") or [])
        rows: list[Any] = _ANY.decode(self._rows)
        return rows

    @property
    def text(self) -> str:
        return self.file.text[self.start : self.end]

    @property
    def top(self) -> Statement:
        s = self
        while s.parent is not None:
            s = s.parent
        return s

    def loc(self, byte_location: int | None) -> int | None:
        """Character offset in the file of a ``location`` from this statement's parse tree."""
        if byte_location is None or byte_location < 0:
            return None
        if self._src_text is None:
            return self.file.index.char_offset(byte_location)
        src = self._src_text
        if src.isascii():
            return self._src_base + byte_location
        within = src.encode("utf-8")[:byte_location].decode("utf-8", errors="ignore")
        return self._src_base + len(within)

    def tokens(self) -> list[Token]:
        """The statement's tokens (keywords, identifiers, literals), comments left out."""
        if self._tokens is None:
            from pglast.parser import ParseError, scan

            text = self.text
            try:
                raw = scan(text)
            except ParseError:
                raw = []
            base = self.start
            new = tuple.__new__
            self._tokens = [
                new(Token, (base + t.start, base + t.end + 1, t.name, t.kind))
                for t in raw
                if t.name != "SQL_COMMENT" and t.name != "C_COMMENT"
            ]
        return self._tokens

    def head_tokens(self, size: int = 200) -> list[Token]:
        """The tokens of the first ``size`` characters, without scanning the whole statement.

        The scanner reads left to right, so every token before the last one of a cut-off text is
        a token of the whole statement too; the last one may be cut, and is left out.
        """
        if self._tokens is not None or self.end - self.start <= size:
            return self.tokens()
        from pglast.parser import ParseError, scan

        try:
            raw = scan(self.file.text[self.start : self.start + size])
        except ParseError:
            return []
        base = self.start
        new = tuple.__new__
        return [
            new(Token, (base + t.start, base + t.end + 1, t.name, t.kind))
            for t in raw[:-1]
            if t.name != "SQL_COMMENT" and t.name != "C_COMMENT"
        ]

    def token_text(self, tok: Token) -> str:
        return self.file.text[tok.start : tok.end]


@dataclass(slots=True)
class SyntaxProblem:
    offset: int
    message: str


@dataclass(slots=True)
class Parsed:
    statements: list[Statement]
    errors: list[SyntaxProblem]

    def top_level(self) -> Iterator[Statement]:
        return (s for s in self.statements if s.parent is None)


def _first_token(text: str, start: int, end: int) -> int:
    m = _LEADING.match(text, start, end)
    return m.end() if m else start


def _trim_end(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1] in " \t\r\n":
        end -= 1
    return end


def parse(file: SqlFile, tool: str = "psql") -> Parsed:
    """Parse a file with PostgreSQL's parser; on a syntax error, parse statement by statement.

    ``tool`` (``migration-tool``) decides which statements run in a transaction and which belong
    to a down section (sql/transactions.py)."""
    from pglast.parser import ParseError, parse_sql_json  # imported on first use: a warm run
    # answered from the result cache never loads the parser
    text = file.parse_text
    try:
        tree = _TREE.decode(parse_sql_json(text))
    except ParseError:
        return _parse_piecewise(file, tool)
    statements: list[Statement] = []
    index = file.index
    for raw in tree.stmts:
        ((kind, body),) = raw.stmt.items()
        node, rows = _decode_node(kind, body)
        bstart = raw.stmt_location
        blen = raw.stmt_len
        start = index.char_offset(bstart)
        end = index.char_offset(bstart + blen) if blen else len(text)
        start = _first_token(text, start, end)
        end = _trim_end(text, start, end)
        statements.append(Statement(kind, node, start, end, file, _rows=rows))
    _annotate(statements, file, tool)
    errors: list[SyntaxProblem] = []
    return Parsed(_with_bodies(statements, errors), errors)


def _parse_piecewise(file: SqlFile, tool: str = "psql") -> Parsed:
    """Split on top-level semicolons with the scanner and parse each piece on its own.

    So one bad statement is reported where it is and the rest of the file is still checked.
    """
    from pglast.parser import ParseError, parse_sql_json, scan

    text = file.parse_text
    try:
        toks = scan(text)
    except ParseError as exc:
        offset = exc.args[1] if len(exc.args) > 1 and exc.args[1] is not None else len(text)
        return Parsed([], [SyntaxProblem(int(offset), str(exc.args[0]))])
    pieces: list[tuple[int, int]] = []
    start = 0
    for t in toks:
        if t.name == "ASCII_59":
            pieces.append((start, t.start))
            start = t.end + 1
    if text[start:].strip():
        pieces.append((start, len(text)))
    statements: list[Statement] = []
    errors: list[SyntaxProblem] = []
    for pstart, pend in pieces:
        chunk = text[pstart:pend]
        if not chunk.strip():
            continue
        try:
            tree = _TREE.decode(parse_sql_json(chunk))
        except ParseError as exc:
            loc = exc.args[1] if len(exc.args) > 1 else None
            offset = pstart + int(loc) if loc is not None else _trim_end(text, pstart, pend)
            errors.append(SyntaxProblem(offset, str(exc.args[0])))
            continue
        for raw in tree.stmts:
            ((kind, body),) = raw.stmt.items()
            node, rows = _decode_node(kind, body)
            s = _first_token(text, pstart, pend)
            e = _trim_end(text, s, pend)
            stmt = Statement(
                kind, node, s, e, file, _src_base=pstart, _src_text=chunk, _rows=rows
            )
            statements.append(stmt)
    _annotate(statements, file, tool)
    return Parsed(_with_bodies(statements, errors), errors)


def _annotate(statements: list[Statement], file: SqlFile, tool: str = "psql") -> None:
    """Mark statements that run inside a transaction block: an explicit BEGIN ... COMMIT, and for
    a migration tool other than psql its own transaction, and set the down sections."""
    if tool != "psql":
        from ddlguard.sql.transactions import annotate

        annotate(statements, file, tool)
        return
    in_tx = False
    for s in statements:
        if s.kind == "TransactionStmt":
            kind = s.node.get("kind", "")
            if kind in ("TRANS_STMT_BEGIN", "TRANS_STMT_START"):
                in_tx = True
            elif kind in (
                "TRANS_STMT_COMMIT",
                "TRANS_STMT_ROLLBACK",
                "TRANS_STMT_PREPARE",
                "TRANS_STMT_COMMIT_PREPARED",
                "TRANS_STMT_ROLLBACK_PREPARED",
            ):
                in_tx = False
            continue
        s.in_transaction = in_tx


def _with_bodies(statements: list[Statement], errors: list[SyntaxProblem]) -> list[Statement]:
    """Each statement followed by the statements of its DO block or PL/pgSQL function body."""
    if not any(s.kind in ("DoStmt", "CreateFunctionStmt") for s in statements):
        return statements
    from ddlguard.sql.plpgsql import body_statements

    out: list[Statement] = []
    for s in statements:
        out.append(s)
        if s.kind in ("DoStmt", "CreateFunctionStmt"):
            inner, problems = body_statements(s)
            out.extend(inner)
            errors.extend(problems)
    return out
