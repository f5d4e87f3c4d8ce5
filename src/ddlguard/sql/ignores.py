"""Suppression comments: ``-- ddlguard: ignore[CODE,...]`` and ``-- ddlguard: ignore-file[...]``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ddlguard.sql.source import SqlFile

_DIRECTIVE = re.compile(
    r"--[ \t]*ddlguard:[ \t]*(?P<kind>ignore-file|ignore)\b(?:[ \t]*\[(?P<codes>[^\]\n]*)\])?"
)


@dataclass(slots=True)
class Suppression:
    """One ``ignore`` comment. ``codes`` empty means every code."""

    line: int
    column: int
    file_wide: bool
    codes: tuple[str, ...]
    own_line: bool  # the comment stands alone on its line (applies to the next statement)
    # For an own-line comment: the first line below it that is not blank or a comment.
    target: int = 0
    used: set[str] = field(default_factory=set)

    def covers(self, code: str, category: str, name: str = "") -> bool:
        """Does this comment name the finding's code (or a prefix of it), its category, its rule
        name (``layout.spacing``, ``create-table-without-if-not-exists``) or ``all``?"""
        if not self.codes:
            return True
        up = code.upper()
        low_name = name.lower()
        return any(
            c.lower() == category
            or up.startswith(c.upper())
            or c.lower() == "all"
            or (low_name and c.lower() == low_name)
            for c in self.codes
        )

    def applies_to(self, anchor_lines: tuple[int, ...]) -> bool:
        if self.file_wide:
            return True
        target = (self.target or self.line + 1) if self.own_line else self.line
        return target in anchor_lines


def find_suppressions(file: SqlFile) -> list[Suppression]:
    """Every ignore directive that stands in a real comment (not inside a string literal)."""
    text = file.text
    if "ddlguard:" not in text:
        return []
    comment_starts: set[int] | None = None
    out: list[Suppression] = []
    for m in _DIRECTIVE.finditer(text):
        if comment_starts is None:
            comment_starts = _comment_starts(file)
        if m.start() not in comment_starts:
            continue
        line, col = file.index.position(m.start())
        line_start = file.index.line_start(line)
        own_line = not text[line_start : m.start()].strip()
        codes_raw = m.group("codes")
        codes = tuple(c.strip() for c in codes_raw.split(",") if c.strip()) if codes_raw else ()
        out.append(
            Suppression(
                line=line,
                column=col,
                file_wide=m.group("kind") == "ignore-file",
                codes=codes,
                own_line=own_line,
                target=_next_code_line(file, line) if own_line else line,
            )
        )
    return out


def _next_code_line(file: SqlFile, line: int) -> int:
    """The first line after ``line`` that holds something other than blanks and ``--`` comments."""
    index = file.index
    n = line + 1
    while n <= index.line_count:
        start = index.line_start(n)
        end = index.line_start(n + 1) if n < index.line_count else len(file.text)
        content = file.text[start:end].strip()
        if content and not content.startswith("--"):
            return n
        n += 1
    return line + 1


def _comment_starts(file: SqlFile) -> set[int]:
    from pglast.parser import scan

    try:
        tokens = scan(file.parse_text)
    except Exception:  # an unscannable file: trust the regular expression
        return {m.start() for m in _DIRECTIVE.finditer(file.text)}
    return {t.start for t in tokens if t.name == "SQL_COMMENT"}
