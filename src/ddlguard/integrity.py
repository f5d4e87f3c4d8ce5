"""Migration-set integrity: the lock file (checksums, chained like Atlas's atlas.sum) and versions.

The lock file lists each configured migration in order with a chained hash::

    h1:<hash of every line below>
    migrations/0001_customer_tenants.sql h1:<sha256 of (previous hash, name, sha256 of content)>

Chaining means each entry's hash depends on the entries before it, so an edit, a removal, an
insertion or a reordering changes the entries from that point on; comparing entry by entry (each
with the *locked* previous hash) names the one file that changed. Two branches that each add a
migration change the same last lines, so git reports a conflict: on purpose, someone must decide
the order and run ``ddlguard lock`` again.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from ddlguard.configfile import Settings
from ddlguard.findings import Finding
from ddlguard.rules.registry import make_finding
from ddlguard.sql.source import display_path
from ddlguard.sql.transactions import is_down_file

LOCK_NAME = "migrations.lock"
_HEADER = "h1:"
_VERSION = re.compile(r"^(\d+)[_\-.]")


class LockError(Exception):
    """The lock file cannot be written (exit status 2)."""


@dataclass(frozen=True, slots=True)
class LockEntry:
    name: str  # path relative to the lock file's folder, forward slashes
    hash: str
    line: int


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _chain(previous: str, name: str, content: bytes) -> str:
    h = hashlib.sha256()
    h.update(previous.encode("ascii"))
    h.update(b"\0")
    h.update(name.encode("utf-8"))
    h.update(b"\0")
    h.update(hashlib.sha256(content).digest())
    return _b64(h.digest())


def _total(entries: list[tuple[str, str]]) -> str:
    h = hashlib.sha256()
    for name, digest in entries:
        h.update(f"{name} {_HEADER}{digest}\n".encode())
    return _b64(h.digest())


def lock_path(config: Settings) -> Path:
    return config.root / LOCK_NAME


def _name(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def render_lock(config: Settings, migrations: list[Path]) -> str:
    entries: list[tuple[str, str]] = []
    previous = ""
    for path in migrations:
        name = _name(path, config.root)
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise LockError(f"{name}: cannot read: {exc.strerror or exc}") from None
        previous = _chain(previous, name, content)
        entries.append((name, previous))
    lines = [f"{_HEADER}{_total(entries)}"]
    lines += [f"{name} {_HEADER}{digest}" for name, digest in entries]
    return "\n".join(lines) + "\n"


def read_lock(path: Path) -> tuple[str | None, list[LockEntry], list[tuple[int, str]]]:
    """(declared total, entries, problems as (line, message)) of a lock file."""
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines()
    problems: list[tuple[int, str]] = []
    total: str | None = None
    entries: list[LockEntry] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if n == 1 and line.startswith(_HEADER) and " " not in line:
            total = line[len(_HEADER) :]
            continue
        if line.startswith(("<<<<<<<", "=======", ">>>>>>>")):
            problems.append((n, "unresolved merge conflict in the lock file"))
            continue
        name, sep, digest = line.rpartition(f" {_HEADER}")
        if not sep or not name:
            problems.append((n, f"not a lock entry: {line[:60]!r}"))
            continue
        entries.append(LockEntry(name, digest, n))
    if problems and any("merge conflict" in m for _, m in problems):
        # Two branches each locked their own migration: the markers say it all.
        return total, entries, [p for p in problems if "merge conflict" in p[1]]
    if total is None:
        problems.insert(0, (1, "the first line must be the h1: hash of the whole file"))
    elif not problems and total != _total([(e.name, e.hash) for e in entries]):
        problems.append((1, "the lock file's hash does not match its entries (edited by hand?)"))
    return total, entries, problems


def _finding(code: str, path: str, line: int, message: str, obj: str | None = None) -> Finding:
    return make_finding(code, path, message, line=line, obj=obj)


def version_of(path: Path) -> int | None:
    m = _VERSION.match(path.name)
    return int(m.group(1)) if m else None


def duplicate_versions(migrations: list[Path], cwd: Path) -> list[Finding]:
    seen: dict[tuple[int, bool], Path] = {}
    out: list[Finding] = []
    for path in migrations:
        v = version_of(path)
        if v is None:
            continue
        # An up and a down file of one version (golang-migrate, sqlx) are a pair.
        key = (v, is_down_file(path))
        if key in seen:
            first = display_path(seen[key], cwd)
            out.append(
                _finding(
                    "M201",
                    display_path(path, cwd),
                    1,
                    f"{path.name} has the same version ({v}) as {first}; give one of them a new version",
                )
            )
        else:
            seen[key] = path
    return out


def integrity_findings(config: Settings, migrations: list[Path], cwd: Path) -> list[Finding]:
    """What is wrong with the migration set: versions, and the lock file when there is one."""
    findings = duplicate_versions(migrations, cwd)
    lock = lock_path(config)
    if not lock.exists():
        return findings
    lock_display = display_path(lock, cwd)
    try:
        _, entries, problems = read_lock(lock)
    except OSError as exc:
        return [*findings, _finding("M105", lock_display, 1, f"cannot read the lock file: {exc}")]
    for line, message in problems:
        findings.append(_finding("M105", lock_display, line, f"{message}; run `ddlguard lock`"))
    if problems:
        return findings
    current = {_name(p, config.root): p for p in migrations}
    locked_names = [e.name for e in entries]
    locked_set = set(locked_names)
    previous = ""
    for entry in entries:
        path = current.get(entry.name)
        if path is None:
            findings.append(
                _finding(
                    "M102",
                    lock_display,
                    entry.line,
                    f"{entry.name} is in the lock file but no longer among the migrations; a "
                    f"migration that ran stays applied: restore it, or run `ddlguard lock`",
                    obj=entry.name,
                )
            )
        else:
            try:
                content = path.read_bytes()
            except OSError:
                content = b""
            if _chain(previous, entry.name, content) != entry.hash:
                findings.append(
                    _finding(
                        "M101",
                        display_path(path, cwd),
                        1,
                        f"{entry.name} changed after it was locked; databases that already ran it "
                        f"will never see the change: write a new migration instead (or run "
                        f"`ddlguard lock` if it never ran anywhere)",
                        obj=entry.name,
                    )
                )
        previous = entry.hash
    # Order of the locked migrations that are still there.
    still = [n for n in current if n in locked_set]
    expected = [n for n in locked_names if n in current]
    if still != expected:
        first = next(i for i, (a, b) in enumerate(zip(still, expected, strict=True)) if a != b)
        findings.append(
            _finding(
                "M106",
                display_path(current[still[first]], cwd),
                1,
                f"{still[first]} now runs in position {first + 1} of the locked migrations, "
                f"where the lock file has {expected[first]}; restore the order or run "
                f"`ddlguard lock`",
                obj=still[first],
            )
        )
    # New migrations: after the last locked one is fine (just unlocked), before it is out of order.
    order = list(current)
    last_locked = max((order.index(n) for n in still), default=-1)
    for i, name in enumerate(order):
        if name in locked_set:
            continue
        path = current[name]
        if i < last_locked:
            findings.append(
                _finding(
                    "M104",
                    display_path(path, cwd),
                    1,
                    f"{name} is new but runs before {order[last_locked]}, which is already "
                    f"locked; databases that are ahead would skip it: give it a later version",
                    obj=name,
                )
            )
        else:
            findings.append(
                _finding(
                    "M103",
                    display_path(path, cwd),
                    1,
                    f"{name} is not in {LOCK_NAME}; run `ddlguard lock` and commit the lock file",
                    obj=name,
                )
            )
    return findings


def version_finding(path: Path, newest: Path, ref: str) -> Finding:
    """M104 for a migration added on this branch that sorts before the base branch's newest."""
    cwd = Path.cwd()
    return _finding(
        "M104",
        display_path(path, cwd),
        1,
        f"{path.name} is new on this branch but sorts before {newest.name}, the newest migration "
        f"on {ref}; databases that already ran {newest.name} would skip it: give it a later version",
        obj=path.name,
    )
