"""Helpers shared by the tests (pytest puts this folder on sys.path: `from helpers import ...`)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any


def git(repo: Path, *args: str) -> None:
    """Run git in ``repo`` with a throwaway identity; fail the test if git fails."""
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def assert_usage_error(code: int, out: str, err: str, *needles: str) -> None:
    """Exit 2, nothing on stdout, one line on stderr that names every needle, no traceback."""
    assert code == 2, (code, out, err)
    assert "Traceback" not in err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


_databases = iter(range(1_000_000))


def fresh_database(cluster: Any, prefix: str = "t") -> Any:
    """A connection to a new, empty database on ``cluster`` (the ``cluster`` fixture)."""
    from ddlguard.postgres.server import connect

    name = f"{prefix}{next(_databases)}"
    admin = connect(cluster.conninfo())
    admin.execute(f"CREATE DATABASE {name}")
    admin.close()
    return connect(cluster.conninfo(name))
