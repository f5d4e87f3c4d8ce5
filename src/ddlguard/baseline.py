"""Baselines: record today's findings so that only new ones fail (adoption on an old repository).

Entries match by rule code, file and statement text (white space folded), never by line number,
so unrelated edits above a recorded statement do not bring its finding back. The same statement
twice in one file is two entries: a third copy is new.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from ddlguard import __version__
from ddlguard.findings import Finding, context_digest

FORMAT = 1


class BaselineError(Exception):
    """A baseline that cannot be read (exit status 2)."""


def _key(f: Finding) -> tuple[str, str, str]:
    return (f.code, f.path, f.context or context_digest(f.message, fold=False))


def render_baseline(findings: list[Finding]) -> str:
    counts = Counter(_key(f) for f in findings)
    entries = [
        {"code": code, "path": path, "statement": digest, "count": n}
        for (code, path, digest), n in sorted(counts.items())
    ]
    data = {"tool": "ddlguard", "version": __version__, "format": FORMAT, "findings": entries}
    return json.dumps(data, indent=2) + "\n"


def read_baseline(path: Path) -> Counter[tuple[str, str, str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"{path}: no such baseline file (write one with --write-baseline)") from None
    except (OSError, ValueError) as exc:
        raise BaselineError(f"{path}: not a ddlguard baseline: {exc}") from None
    if not isinstance(data, dict) or data.get("tool") != "ddlguard" or data.get("format") != FORMAT:
        raise BaselineError(f"{path}: not a ddlguard baseline (format {FORMAT})")
    counts: Counter[tuple[str, str, str]] = Counter()
    try:
        for e in data["findings"]:
            counts[(str(e["code"]), str(e["path"]), str(e["statement"]))] += int(e.get("count", 1))
    except (KeyError, TypeError, ValueError) as exc:
        raise BaselineError(f"{path}: malformed entry: {exc}") from None
    return counts


def apply_baseline(findings: list[Finding], known: Counter[tuple[str, str, str]]) -> tuple[list[Finding], int]:
    """The findings not in the baseline, and how many were matched (and so left out)."""
    left = Counter(known)
    out: list[Finding] = []
    matched = 0
    for f in findings:
        k = _key(f)
        if left[k] > 0:
            left[k] -= 1
            matched += 1
        else:
            out.append(f)
    return out, matched
