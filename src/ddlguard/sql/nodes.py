"""Small readers for pglast's JSON parse tree (names, relations, types, spans of clauses)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from ddlguard.sql.statements import Node, Statement, Token


def strings(items: list[Any] | None) -> list[str]:
    """The values of a list of ``String`` nodes (qualified names, column lists)."""
    out: list[str] = []
    for item in items or []:
        if isinstance(item, dict):
            s = item.get("String")
            if s is not None:
                out.append(str(s.get("sval", "")))
    return out


def rangevar(rv: Node | None) -> tuple[str | None, str]:
    """(schema, name) of a RangeVar."""
    if not rv:
        return None, ""
    return rv.get("schemaname"), str(rv.get("relname", ""))


def qualify(schema: str | None, name: str, default_schema: str = "public") -> str:
    return f"{schema or default_schema}.{name}"


def qualified_list(names: list[str], default_schema: str = "public") -> str:
    if len(names) >= 2:
        return ".".join(names[-2:])
    return f"{default_schema}.{names[0]}" if names else ""


def display_name(schema: str | None, name: str) -> str:
    return f"{schema}.{name}" if schema else name


def object_names(item: Any) -> list[str]:
    """Names inside a DropStmt object: a List of Strings, a TypeName, an ObjectWithArgs, a String."""
    if not isinstance(item, dict):
        return []
    if "List" in item:
        return strings(item["List"].get("items"))
    if "String" in item:
        return [str(item["String"].get("sval", ""))]
    if "TypeName" in item:
        return strings(item["TypeName"].get("names"))
    if "ObjectWithArgs" in item:
        return strings(item["ObjectWithArgs"].get("objname"))
    return []


def function_names(node: Any) -> Iterator[str]:
    """The (last, lower-cased) names of every function called anywhere inside a parse tree."""
    if isinstance(node, dict):
        call = node.get("FuncCall")
        if isinstance(call, dict):
            names = strings(call.get("funcname"))
            if names:
                yield names[-1].lower()
        for value in node.values():
            yield from function_names(value)
    elif isinstance(node, list):
        for item in node:
            yield from function_names(item)


def index_columns(params: list[Any] | None) -> list[str]:
    """Column names (or ``expr``) of an index's elements."""
    out: list[str] = []
    for p in params or []:
        elem = p.get("IndexElem", {}) if isinstance(p, dict) else {}
        out.append(str(elem.get("name") or "expr"))
    return out


def find_tokens(stmt: Statement, words: tuple[str, ...], start: int = 0) -> Token | None:
    """The first token at or after character offset ``start`` whose text is one of ``words``."""
    text = stmt.file.text
    begin = max(start, stmt.start)
    m = _words(words).search(text, begin, stmt.end)
    if m is not None and not _LEXICAL.search(text, begin, m.start()):
        # Only plain words, numbers, punctuation and white space before it: no comment, string
        # or quoted name that could hide the word, so the scanner would find the same token.
        return Token(m.start(), m.end(), m.group().upper(), "keyword")
    want = {w.upper() for w in words}
    for tok in stmt.head_tokens():  # the keywords looked for are near the start: try there first
        if tok.start >= start and stmt.token_text(tok).upper() in want:
            return tok
    for tok in stmt.tokens():
        if tok.start >= start and stmt.token_text(tok).upper() in want:
            return tok
    return None


# A character PostgreSQL's scanner reads as part of an identifier: a letter, digit, _ or $, and
# every character from U+0080 up (written as a negated ASCII class: the range itself is slow to
# compile).
_IDENT_CHAR = r"(?:[\w$]|[^\x00-\x7f])"
# The relation name of an ALTER TABLE (maybe schema-qualified, maybe with an inheritance star),
# and the punctuation that separates its commands.
_RELATION = re.compile(rf"{_IDENT_CHAR}+(?:\s*\.\s*{_IDENT_CHAR}+)*(?:\s*\*)?")
_PUNCTUATION = re.compile(r"[(),]")


def _plain_cmd_spans(text: str, rel_loc: int, end: int) -> list[tuple[int, int]] | None:
    """alter_table_cmd_spans for a statement whose text holds no comment, string or quoted
    name: each command runs from its first to its last non-blank character between commas
    outside parentheses."""
    m = _RELATION.match(text, rel_loc, end)
    if m is None:
        return None
    spans: list[tuple[int, int]] = []
    depth = 0
    begin = m.end()
    for p in _PUNCTUATION.finditer(text, begin, end):
        ch = p.group()
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0:
            spans.append(_stripped(text, begin, p.start()))
            begin = p.end()
    spans.append(_stripped(text, begin, end))
    return spans


def _stripped(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


# Characters that start a comment, a string, a quoted identifier or a dollar quote.
_LEXICAL = re.compile(r"""['"$]|--|/\*""")


@lru_cache(maxsize=256)
def _words(words: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(w) for w in words)
    return re.compile(
        rf"(?<!{_IDENT_CHAR})(?:{alternatives})(?!{_IDENT_CHAR})", re.IGNORECASE
    )


def token_after_sequence(stmt: Statement, words: tuple[str, ...], start: int = 0) -> Token | None:
    """The token ending the first run of ``words`` (in order, adjacent) at or after ``start``."""
    toks = [t for t in stmt.tokens() if t.start >= start]
    n = len(words)
    for i in range(len(toks) - n + 1):
        if all(stmt.token_text(toks[i + k]).upper() == words[k].upper() for k in range(n)):
            return toks[i + n - 1]
    return None


class CmdSpans:
    """The spans of an ALTER TABLE's commands, found in the tokens only when a finding asks
    (``spans[i]``; the whole statement when the commands cannot be told apart)."""

    __slots__ = ("_spans", "_stmt")

    def __init__(self, stmt: Statement) -> None:
        self._stmt = stmt
        self._spans: list[tuple[int, int]] | bool | None = False

    def __getitem__(self, i: int) -> tuple[int, int]:
        if self._spans is False:
            self._spans = alter_table_cmd_spans(self._stmt)
        spans = self._spans
        if isinstance(spans, list) and i < len(spans):
            return spans[i]
        return self._stmt.start, self._stmt.end


def alter_table_cmd_spans(stmt: Statement) -> list[tuple[int, int]] | None:
    """Character spans of each command of an ALTER TABLE, or None when they cannot be found."""
    cmds = stmt.node.get("cmds") or []
    rel_loc = stmt.loc((stmt.node.get("relation") or {}).get("location"))
    if rel_loc is not None and not _LEXICAL.search(stmt.file.text, stmt.start, stmt.end):
        # No comment, string or quoted name anywhere: the commas and parentheses in the text
        # are the tokens themselves, no need to scan the statement.
        fast = _plain_cmd_spans(stmt.file.text, rel_loc, stmt.end)
        return fast if fast is not None and len(fast) == len(cmds) else None
    toks = stmt.tokens()
    if rel_loc is None or not toks:
        return None
    i = 0
    while i < len(toks) and toks[i].start < rel_loc:
        i += 1
    # Skip the (possibly qualified) relation name and an inheritance star.
    i += 1
    while i + 1 < len(toks) and toks[i].name == "ASCII_46":
        i += 2
    if i < len(toks) and toks[i].name == "ASCII_42":
        i += 1
    spans: list[tuple[int, int]] = []
    depth = 0
    begin = i
    for j in range(i, len(toks)):
        name = toks[j].name
        if name == "ASCII_40":
            depth += 1
        elif name == "ASCII_41":
            depth -= 1
        elif name == "ASCII_44" and depth == 0:
            spans.append((toks[begin].start, toks[j - 1].end))
            begin = j + 1
    if begin < len(toks):
        spans.append((toks[begin].start, toks[-1].end))
    if len(spans) != len(cmds):
        return None
    return spans
