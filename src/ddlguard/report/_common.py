"""Helpers shared by the output formats (kept small: every format imports this module)."""

from __future__ import annotations

from collections import Counter
from enum import Enum

from ddlguard.findings import Finding, Result, Severity

SEVERITY_ORDER: tuple[Severity, ...] = (Severity.ERROR, Severity.WARNING, Severity.INFO)

FIX_COMMAND = "ddlguard check --fix"


def value(member: object) -> str:
    """The plain string of an enum member (or of a string passed where an enum was expected)."""
    if isinstance(member, Enum):
        return str(member.value)
    return str(member)


def severity_of(finding: Finding) -> Severity:
    """The finding's severity as a ``Severity``; unknown values count as errors."""
    if type(finding.severity) is Severity:
        return finding.severity
    try:
        return Severity(value(finding.severity))
    except ValueError:
        return Severity.ERROR


def sorted_findings(result: Result) -> list[Finding]:
    """Findings in report order: path, line, column, code, message."""
    return sorted(result.findings, key=lambda f: f.sort_key())


def severity_counts(findings: list[Finding]) -> dict[Severity, int]:
    """How many findings of each severity, every severity present (most severe first)."""
    counts = Counter(severity_of(f) for f in findings)
    return {sev: counts.get(sev, 0) for sev in SEVERITY_ORDER}


def is_fixable(finding: Finding) -> bool:
    return finding.fix is not None and finding.fix.applicable


def plural(n: int, word: str, plural_word: str | None = None) -> str:
    """``1 problem``, ``2 problems``; ``plural_word`` for irregular plurals."""
    if n == 1:
        return f"{n} {word}"
    return f"{n} {plural_word if plural_word is not None else word + 's'}"


_SEVERITY_WORDS: dict[Severity, tuple[str, str]] = {
    Severity.ERROR: ("error", "errors"),
    Severity.WARNING: ("warning", "warnings"),
    Severity.INFO: ("info", "info"),
}


def severity_breakdown(findings: list[Finding]) -> str:
    """``2 errors, 1 warning`` (severities with no finding are left out)."""
    parts = [plural(n, *_SEVERITY_WORDS[sev]) for sev, n in severity_counts(findings).items() if n]
    return ", ".join(parts)


def file_count(findings: list[Finding]) -> int:
    return len({f.path for f in findings})
