"""The per-file result cache: a file's findings, keyed by its bytes, the configuration, the enabled
rules, how its path is shown and the ddlguard version, in ``.ddlguard_cache/results/``.

Entries are written atomically (a temporary file, then a rename), so concurrent runs never read a
half-written entry; an unreadable or foreign entry is simply a miss. ``DDLGUARD_NO_CACHE=1`` turns
the cache off.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ddlguard import __version__
from ddlguard.findings import Category, Edit, Finding, Fix, Severity

_FORMAT = 1


def enabled() -> bool:
    return not os.environ.get("DDLGUARD_NO_CACHE")


def key(data: bytes, *, display: str, settings_key: str) -> str:
    h = hashlib.sha256()
    for part in (__version__, str(_FORMAT), settings_key, display):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    h.update(data)
    return h.hexdigest()


def _path(folder: Path, k: str) -> Path:
    return folder / "results" / k[:2] / f"{k}.json"


def load(folder: Path, k: str) -> tuple[list[Finding], int] | None:
    try:
        raw = json.loads(_path(folder, k).read_text(encoding="utf-8"))
        return [_finding(f) for f in raw["findings"]], int(raw["statements"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(folder: Path, k: str, findings: list[Finding], statements: int) -> None:
    target = _path(folder, k)
    data = {"findings": [_dump(f) for f in findings], "statements": statements}
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".entry-", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, separators=(",", ":"))
        Path(tmp).replace(target)
    except OSError:
        return  # a read-only checkout: run without the cache


def _dump(f: Finding) -> dict[str, Any]:
    fix = None
    if f.fix is not None:
        fix = {
            "description": f.fix.description,
            "replacement": f.fix.replacement,
            "edits": [[e.start, e.end, e.text] for e in f.fix.edits],
        }
    return {
        "code": f.code,
        "rule": f.rule,
        "category": f.category.value,
        "severity": f.severity.value,
        "path": f.path,
        "line": f.line,
        "column": f.column,
        "end_line": f.end_line,
        "end_column": f.end_column,
        "message": f.message,
        "object": f.object,
        "fix": fix,
        "anchor_lines": list(f.anchor_lines),
        "context": f.context,
    }


def _finding(d: dict[str, Any]) -> Finding:
    fix = None
    if d["fix"] is not None:
        fix = Fix(
            d["fix"]["description"],
            d["fix"]["replacement"],
            tuple(Edit(int(a), int(b), str(t)) for a, b, t in d["fix"]["edits"]),
        )
    return Finding(
        code=d["code"],
        rule=d["rule"],
        category=Category(d["category"]),
        severity=Severity(d["severity"]),
        path=d["path"],
        line=d["line"],
        column=d["column"],
        end_line=d["end_line"],
        end_column=d["end_column"],
        message=d["message"],
        object=d["object"],
        fix=fix,
        anchor_lines=tuple(d["anchor_lines"]),
        context=d["context"],
    )
