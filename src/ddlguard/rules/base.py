"""What a rule check receives, and how it reports a finding."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ddlguard.findings import Edit, Finding, Fix, context_digest
from ddlguard.rules.registry import RULES
from ddlguard.sql.source import SqlFile
from ddlguard.sql.statements import Parsed, Statement

if TYPE_CHECKING:
    from ddlguard.configfile import Settings


@dataclass(slots=True)
class FileContext:
    """One file under check: its text, statements, the configuration and the enabled rules."""

    file: SqlFile
    parsed: Parsed
    config: Settings
    enabled: set[str]
    is_migration: bool = True
    findings: list[Finding] = field(default_factory=list)
    # Relations (schema-qualified, lower case) created by the other migrations added in the same
    # change: new and empty, so the safety rules' lock and rewrite checks exempt them.
    change_created: frozenset[str] = frozenset()

    def on(self, code: str) -> bool:
        return code in self.enabled

    def report(
        self,
        code: str,
        stmt: Statement | None,
        start: int,
        end: int,
        message: str,
        *,
        obj: str | None = None,
        fix: Fix | None = None,
    ) -> None:
        if code not in self.enabled:
            return
        rule = RULES[code]
        index = self.file.index
        end = max(start, end)
        line, col = index.position(start)
        end_line, end_col = index.position(end)
        anchors: tuple[int, ...]
        if stmt is None:
            anchors = (line,)
        elif stmt.parent is None:
            anchors = (line if stmt.start == start else index.position(stmt.start)[0],)
        else:
            lines: set[int] = set()
            s: Statement | None = stmt
            while s is not None:
                lines.add(index.position(s.start)[0])
                s = s.parent
            anchors = tuple(sorted(lines))
        if fix is not None and fix.edits and (stmt is None or not stmt.exact):
            fix = Fix(fix.description, fix.replacement)
        self.findings.append(
            Finding(
                code=code,
                rule=rule.name,
                category=rule.category,
                severity=rule.severity,
                path=self.file.display,
                line=line,
                column=col,
                end_line=end_line,
                end_column=end_col,
                message=message,
                object=obj,
                fix=fix,
                anchor_lines=anchors,
                context=stmt.context_digest() if stmt is not None else context_digest(message, fold=False),
            )
        )


def insertion_fix(stmt: Statement, at: int | None, text: str, description: str) -> Fix | None:
    """A fix that inserts ``text`` at character offset ``at`` of the file."""
    if at is None:
        return None
    full = stmt.file.text
    fixed = full[stmt.start : at] + text + full[at : stmt.end]
    first = fixed.splitlines()[0] if fixed else fixed
    replacement = first if len(first) <= 80 and first == fixed else first[:77].rstrip() + " ..."
    return Fix(description, replacement, (Edit(at, at, text),))
