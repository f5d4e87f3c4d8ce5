"""The vocabulary every stage shares: categories, severities, rules, findings and fixes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class Category(StrEnum):
    SYNTAX = "syntax"
    IDEMPOTENCY = "idempotency"
    NAMING = "naming"
    DRIFT = "drift"
    INTEGRITY = "integrity"
    SAFETY = "safety"
    STYLE = "style"


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _RANK[self.value]


_RANK = {"error": 3, "warning": 2, "info": 1}


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule documents itself in ruff's three parts: what it does, why, an example."""

    code: str
    name: str
    category: Category
    severity: Severity
    summary: str
    why: str
    bad: str
    good: str
    fix_hint: str
    enabled_by_default: bool = True
    fixable: bool = False
    off_by_default_reason: str = ""


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace the characters ``start:end`` of a file's text (0-based, in characters)."""

    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Fix:
    description: str
    replacement: str | None = None
    edits: tuple[Edit, ...] = ()

    @property
    def applicable(self) -> bool:
        """True when ``--fix`` can apply this fix mechanically."""
        return bool(self.edits)


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    rule: str
    category: Category
    severity: Severity
    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    message: str
    object: str | None = None
    fix: Fix | None = None
    # The first line of the statement (and of the top-level statement) the finding belongs to,
    # used to match suppression comments; not part of any output.
    anchor_lines: tuple[int, ...] = field(default=(), compare=False)
    # A digest of the statement's text with white space folded (or of the message, for
    # file-level findings; see context_digest): what a baseline matches on, so that edits
    # elsewhere in the file do not resurrect it.
    context: str = field(default="", compare=False)

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.path, self.line, self.column, self.code, self.message)


@dataclass(slots=True)
class Result:
    """What a run produced: findings plus the counts the reports summarise."""

    findings: list[Finding]
    files: int = 0
    statements: int = 0
    fixed: int = 0
    # path (as in findings) -> file text, so reports can show the offending source line.
    sources: dict[str, str] = field(default_factory=dict)
    # path (as in findings) -> the file, read only when a report shows its lines (source()).
    source_paths: dict[str, Path] = field(default_factory=dict)

    def source(self, path: str) -> str | None:
        """The text of a checked file, read (once) when a report first needs it."""
        text = self.sources.get(path)
        if text is None and path in self.source_paths:
            from ddlguard.sql.source import DecodeProblem, decode

            try:
                decoded = decode(self.source_paths[path].read_bytes())
            except OSError:
                return None
            if isinstance(decoded, DecodeProblem):
                return None
            text = self.sources[path] = decoded[0]
        return text

    def fails(self, fail_on: Severity) -> bool:
        """Whether any finding is at or above ``fail_on`` (exit status 1)."""
        rank = fail_on.rank
        return any(f.severity.rank >= rank for f in self.findings)


def context_digest(text: str, *, fold: bool = True) -> str:
    """The baseline's statement key: SHA-256 (16 hex digits) of ``text`` with white space folded
    (``fold``; a message is hashed as it is). Kept in findings instead of the text itself, which
    for a data-seeding INSERT is megabytes."""
    import hashlib

    data = " ".join(text.split()) if fold else text
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:16]
