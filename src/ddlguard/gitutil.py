"""What changed since a git ref, for `check --diff-base REF` (adoption on existing repositories)."""

from __future__ import annotations

import subprocess
from pathlib import Path


class GitError(Exception):
    """git is missing, this is not a repository, or the ref is unknown (exit status 2)."""


def _git(args: list[str], cwd: Path) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60
        )
    except FileNotFoundError:
        raise GitError("--diff-base needs git, which is not on PATH") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {' '.join(args)} did not answer within 60 s") from None
    if done.returncode != 0:
        message = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise GitError(f"git {' '.join(args)}: {message}")
    return done.stdout


def repo_root(cwd: Path) -> Path:
    return Path(_git(["rev-parse", "--show-toplevel"], cwd).strip())


def merge_base(ref: str, cwd: Path) -> str:
    """The commit the current branch forked from ``ref`` (three-dot semantics, like a PR diff)."""
    try:
        _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd)
    except GitError:
        raise GitError(f"--diff-base {ref}: no such commit, branch or tag in this repository") from None
    return _git(["merge-base", ref, "HEAD"], cwd).strip()


def changed_files(ref: str, cwd: Path) -> tuple[set[Path], set[Path]]:
    """(added, changed) files since the merge base with ``ref``: committed, staged, unstaged and
    untracked (not ignored) changes alike. ``changed`` includes ``added``."""
    root = repo_root(cwd)
    base = merge_base(ref, cwd)
    added: set[Path] = set()
    changed: set[Path] = set()
    out = _git(["diff", "--name-status", "--no-renames", "-z", base], root)
    fields = out.split("\0")
    i = 0
    while i + 1 < len(fields):
        status, name = fields[i], fields[i + 1]
        i += 2
        if status.startswith("D"):
            continue
        path = (root / name).resolve()
        changed.add(path)
        if status.startswith("A"):
            added.add(path)
    for name in _git(["ls-files", "--others", "--exclude-standard", "-z"], root).split("\0"):
        if name:
            path = (root / name).resolve()
            changed.add(path)
            added.add(path)
    return added, changed


def files_at(ref: str, cwd: Path) -> list[Path]:
    """Every file in the merge base's tree, as absolute paths in this checkout."""
    root = repo_root(cwd)
    base = merge_base(ref, cwd)
    names = _git(["ls-tree", "-r", "--name-only", "-z", base], root).split("\0")
    return [(root / n).resolve() for n in names if n]


def added_files(cwd: Path, among: list[Path] | None = None) -> set[Path]:
    """Files new in the commit being prepared: added and staged, or untracked (not ignored), as
    resolved paths; only ``among`` these when given (git is then asked about them alone, not
    the whole repository). Outside a git repository, or without git, the set is empty: never
    an error (``check`` on plain files must work anywhere)."""
    try:
        root = repo_root(cwd)
        spec: list[str] = []
        if among and len(among) <= 500:  # a long list is not worth a long command line
            inside = [p.resolve() for p in among]
            spec = ["--", *(str(p) for p in inside if p.is_relative_to(root.resolve()))]
            if len(spec) == 1:
                return set()  # none of them is in this repository
        staged = _git(["diff", "--cached", "--name-only", "--diff-filter=A", "-z", *spec], root)
        untracked = _git(["ls-files", "--others", "--exclude-standard", "-z", *spec], root)
    except (GitError, OSError):
        return set()
    names = [n for n in (staged + "\0" + untracked).split("\0") if n]
    return {(root / n).resolve() for n in names}
