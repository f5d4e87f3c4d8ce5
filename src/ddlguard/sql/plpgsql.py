"""PL/pgSQL bodies of DO blocks and functions: the statements inside them and their guards."""

from __future__ import annotations

import re
from typing import Any

from pglast.parser import ParseError, parse_plpgsql_json, parse_sql_json

from ddlguard.sql.source import LineIndex
from ddlguard.sql.statements import (
    Branch,
    Guard,
    Node,
    Statement,
    SyntaxProblem,
    decode_json,
)

_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_\x80-\uffff][A-Za-z_0-9\x80-\uffff]*)?\$")


def _str(node: Any) -> str | None:
    if isinstance(node, dict) and "String" in node:
        value = node["String"].get("sval")
        return value if isinstance(value, str) else None
    return None


def _defelems(items: list[Node] | None) -> dict[str, Node]:
    out: dict[str, Node] = {}
    for item in items or []:
        de = item.get("DefElem")
        if de:
            out[de.get("defname", "")] = de
    return out


def _language(opts: dict[str, Node]) -> str:
    de = opts.get("language")
    lang = _str(de.get("arg")) if de else None
    return (lang or "plpgsql").lower()


def _unused_tag(body: str) -> str:
    tag = "$ddlguard$"
    n = 0
    while tag in body:
        n += 1
        tag = f"$ddlguard{n}$"
    return tag


def body_statements(stmt: Statement) -> tuple[list[Statement], list[SyntaxProblem]]:
    """The SQL statements inside a DO block or a PL/pgSQL function, each with its guards."""
    text = stmt.file.text
    if stmt.kind == "DoStmt":
        opts = _defelems(stmt.node.get("args"))
        if _language(opts) != "plpgsql" or "as" not in opts:
            return [], []
        body = _str(opts["as"].get("arg"))
        if body is None:
            return [], []
        lit = stmt.loc(opts["as"].get("location"))
        body_start, exact = _locate_literal(text, lit, body, stmt)
        tag = _unused_tag(body)
        source = f"CREATE FUNCTION ddlguard_do() RETURNS void LANGUAGE plpgsql AS {tag}{body}{tag}"
        context = "do"
    elif stmt.kind == "CreateFunctionStmt":
        opts = _defelems(stmt.node.get("options"))
        if _language(opts) != "plpgsql" or "as" not in opts or stmt.node.get("sql_body"):
            return [], []
        arg = opts["as"].get("arg") or {}
        items = arg.get("List", {}).get("items", []) if isinstance(arg, dict) else []
        body = _str(items[0]) if items else None
        if body is None:
            return [], []
        idx = stmt.text.find(body) if body.strip() else -1
        body_start, exact = (stmt.start + idx, True) if idx >= 0 else (stmt.start, False)
        source = stmt.file.parse_text[stmt.start : stmt.end]
        context = "function"
    else:
        return [], []
    try:
        tree = decode_json(parse_plpgsql_json(source))
    except ParseError as exc:
        return [], [SyntaxProblem(body_start, f"in PL/pgSQL body: {exc.args[0]}")]
    walker = _Walker(stmt, body, body_start, exact, context)
    for fn in tree:
        action = fn.get("PLpgSQL_function", {}).get("action")
        if action:
            walker.walk([action], Guard())
    return walker.out, walker.errors


def _locate_literal(text: str, lit: int | None, body: str, stmt: Statement) -> tuple[int, bool]:
    """Where a string literal's content starts in the file, and whether it maps character by
    character (dollar quoting does; a quoted string with doubled quotes does not)."""
    if lit is None:
        idx = text.find(body, stmt.start, stmt.end + 1)
        return (idx, True) if idx >= 0 else (stmt.start, False)
    m = _DOLLAR_TAG.match(text, lit)
    if m:
        return m.end(), True
    if text.startswith(("E'", "e'"), lit):
        return lit + 2, False
    if text.startswith("'", lit):
        return lit + 1, text[lit + 1 : lit + 1 + len(body)] == body
    return lit, False


_LOOP_BODIES = ("body",)


class _Walker:
    def __init__(
        self, stmt: Statement, body: str, body_start: int, exact: bool, context: str
    ) -> None:
        self.stmt = stmt
        self.body = body
        self.body_start = body_start
        self.exact = exact
        self.context = context
        self.out: list[Statement] = []
        self.errors: list[SyntaxProblem] = []
        self._lines: LineIndex | None = None
        self._search_from = 0

    def _body_lines(self) -> LineIndex:
        """The body's lines, to place statements by PL/pgSQL's line numbers (indexed when the
        first statement is placed)."""
        if self._lines is None:
            self._lines = LineIndex(self.body)
        return self._lines

    # -- placing text -------------------------------------------------------------------------
    def _place(self, query: str, lineno: int | None) -> tuple[int, bool]:
        lines = self._body_lines()
        line_idx = max(0, min((lineno or 1) - 1, lines.line_count - 1))
        from_ = lines.line_start(line_idx + 1)
        idx = self.body.find(query, from_)
        if idx < 0:
            idx = self.body.find(query)
        if idx >= 0 and self.exact:
            return self.body_start + idx, True
        if idx >= 0:
            return self._place_by_line(query, self.body.count("\n", 0, idx)), False
        return self._place_by_line(query, line_idx), False

    def _place_by_line(self, query: str, body_line: int) -> int:
        """Where a statement stands when the body does not map character by character (a quoted
        string with doubled quotes): PL/pgSQL's line, then the statement's first words on it."""
        index = self.stmt.file.index
        first_line = index.position(self.body_start)[0]
        line = first_line + body_line
        start = self.body_start if body_line == 0 else index.line_start(line)
        end = index.line_start(line + 1) if line < index.line_count else len(self.stmt.file.text)
        head = query.lstrip().split("\n", 1)[0][:40].replace("'", "''")
        pos = self.stmt.file.text.find(head, start, end) if head else -1
        return pos if pos >= 0 else start

    # -- walking ------------------------------------------------------------------------------
    def walk(self, items: list[Node], guard: Guard) -> None:
        before: list[str] = []
        for item in items:
            if not isinstance(item, dict) or len(item) != 1:
                continue
            ((kind, node),) = item.items()
            if kind == "PLpgSQL_stmt_execsql":
                query = _expr(node.get("sqlstmt"))
                if query:
                    self._emit(query, node.get("lineno"), guard, dynamic=False)
                    before.append(query)
            elif kind == "PLpgSQL_stmt_dynexecute":
                self._dynamic(node, guard)
            elif kind == "PLpgSQL_stmt_perform":
                query = _expr(node.get("expr"))
                if query:
                    before.append(query)
            elif kind == "PLpgSQL_stmt_if":
                cond = _expr(node.get("cond")) or ""
                seen = [cond]
                pre = tuple(before)
                self.walk(
                    node.get("then_body") or [],
                    _branch(_add(guard, cond, before), [(cond, True)], pre),
                )
                for el in node.get("elsif_list") or []:
                    e = el.get("PLpgSQL_if_elsif", {})
                    econd = _expr(e.get("cond")) or ""
                    path = [(c, False) for c in seen] + [(econd, True)]
                    self.walk(
                        e.get("stmts") or [],
                        _branch(_add(guard, " ".join([econd, *seen]), before), path, pre),
                    )
                    seen.append(econd)
                if node.get("else_body"):
                    self.walk(
                        node["else_body"],
                        _branch(_add(guard, " ".join(seen), before), [(c, False) for c in seen], pre),
                    )
            elif kind == "PLpgSQL_stmt_case":
                conds: list[str] = [_expr(node.get("t_expr")) or ""]
                for cw in node.get("case_when_list") or []:
                    c = cw.get("PLpgSQL_case_when", {})
                    cexpr = _expr(c.get("expr")) or ""
                    conds.append(cexpr)
                    self.walk(c.get("stmts") or [], _add(guard, " ".join(conds), before))
                if node.get("else_stmts"):
                    self.walk(node["else_stmts"], _add(guard, " ".join(conds), before))
            elif kind == "PLpgSQL_stmt_block":
                caught = set(guard.caught)
                handlers = (node.get("exceptions") or {}).get("PLpgSQL_exception_block", {})
                for exc in handlers.get("exc_list") or []:
                    e = exc.get("PLpgSQL_exception", {})
                    for cond in e.get("conditions") or []:
                        name = cond.get("PLpgSQL_condition", {}).get("condname")
                        if name:
                            caught.add(str(name).lower())
                inner = Guard(guard.conditions, frozenset(caught), guard.branches)
                self.walk(node.get("body") or [], inner)
                for exc in handlers.get("exc_list") or []:
                    self.walk(exc.get("PLpgSQL_exception", {}).get("action") or [], guard)
            else:
                # Assignments (``has_col := EXISTS (...)``), RETURN, RAISE...: their expressions
                # are what a later ``IF has_col`` tests, so they count as guard text.
                for key in ("expr", "query"):
                    text = _expr(node.get(key))
                    if text:
                        before.append(text)
                loop_cond = _expr(node.get("cond"))
                inner_guard = _add(guard, loop_cond, before) if loop_cond else guard
                for key in _LOOP_BODIES:
                    if isinstance(node.get(key), list):
                        self.walk(node[key], inner_guard)

    def _emit(self, query: str, lineno: int | None, guard: Guard, *, dynamic: bool) -> None:
        start, exact = self._place(query, lineno)
        try:
            tree = decode_json(parse_sql_json(query))
        except ParseError as exc:
            loc = exc.args[1] if len(exc.args) > 1 and exc.args[1] is not None else 0
            self.errors.append(SyntaxProblem(start + int(loc), str(exc.args[0])))
            return
        for raw in tree.get("stmts", []):
            ((kind, node),) = raw["stmt"].items()
            bstart = raw.get("stmt_location", 0)
            blen = raw.get("stmt_len", 0)
            sub = query.encode("utf-8")
            s_chars = len(sub[:bstart].decode("utf-8", errors="ignore"))
            e_chars = len(sub[: bstart + blen].decode("utf-8", errors="ignore")) if blen else len(query)
            piece = query[s_chars:e_chars]
            lead = len(piece) - len(piece.lstrip())
            s = start + s_chars + lead
            e = start + s_chars + len(piece.rstrip())
            self.out.append(
                Statement(
                    kind,
                    node,
                    s,
                    e if exact else max(s, min(e, self.stmt.end)),
                    self.stmt.file,
                    context=self.context,
                    parent=self.stmt,
                    guard=guard,
                    in_transaction=self.stmt.in_transaction,
                    section=self.stmt.section,
                    exact=exact and not dynamic,
                    dynamic=dynamic,
                    _src_base=start,
                    _src_text=query,
                )
            )

    def _dynamic(self, node: Node, guard: Guard) -> None:
        """``EXECUTE 'literal SQL'`` is checked like the SQL it runs; anything computed is kept
        as an opaque statement that later stages report as not modelled."""
        expr = _expr(node.get("query")) or ""
        literal = _string_literal(expr)
        if literal is not None:
            self._emit(literal, node.get("lineno"), guard, dynamic=True)
            return
        start, _ = self._place(expr, node.get("lineno"))
        self.out.append(
            Statement(
                "PLpgSQL_stmt_dynexecute",
                {"query": expr},
                start,
                min(start + len(expr), self.stmt.end),
                self.stmt.file,
                context=self.context,
                parent=self.stmt,
                guard=guard,
                in_transaction=self.stmt.in_transaction,
                section=self.stmt.section,
                exact=False,
                dynamic=True,
            )
        )


def _expr(node: Any) -> str | None:
    if isinstance(node, dict):
        q = node.get("PLpgSQL_expr", {}).get("query")
        return q if isinstance(q, str) else None
    return None


def _add(guard: Guard, cond: str | None, before: list[str]) -> Guard:
    text = " ".join([cond or "", *before]).strip()
    if not text:
        return guard
    return Guard((*guard.conditions, text), guard.caught, guard.branches)


def _branch(guard: Guard, path: list[tuple[str, bool]], before: tuple[str, ...]) -> Guard:
    branches = tuple(Branch(c, expected, before) for c, expected in path)
    return Guard(guard.conditions, guard.caught, (*guard.branches, *branches))


def _string_literal(expr: str) -> str | None:
    """The value of ``expr`` when it is one string constant (``'...'``, ``$$...$$``)."""
    try:
        tree = decode_json(parse_sql_json(f"SELECT {expr}"))
        target = tree["stmts"][0]["stmt"]["SelectStmt"]["targetList"]
        if len(target) != 1:
            return None
        const = target[0]["ResTarget"]["val"]["A_Const"]
        value = const["sval"]["sval"]
        return value if isinstance(value, str) else None
    except (ParseError, KeyError, IndexError, TypeError):
        return None
