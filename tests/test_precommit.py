"""The pre-commit hook as users run it: the real `pre-commit` package, this repository as the hook
repository (a local path and a rev), a commit blocked by a finding and let through once fixed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRE_COMMIT = shutil.which("pre-commit", path=str(Path(sys.executable).parent)) or shutil.which(
    "pre-commit"
)

pytestmark = [
    pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"),
    pytest.mark.skipif(
        PRE_COMMIT is None, reason="pre-commit is not installed (pip install -e '.[dev]')"
    ),
]


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
    )


def _head() -> str | None:
    done = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else None


def test_commit_is_blocked_then_allowed(tmp_path: Path) -> None:
    rev = _head()
    if rev is None:
        pytest.skip("this checkout is not a git repository with a commit")
    repo = tmp_path / "app"
    repo.mkdir()
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "DDLGUARD_NO_CACHE": "1",
    }
    env.pop("VIRTUAL_ENV", None)
    assert _run(["git", "init", "-q", "-b", "main"], repo, env).returncode == 0
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {ROOT}\n    rev: {rev}\n    hooks:\n      - id: ddlguard\n",
        encoding="utf-8",
    )
    migrations = repo / "migrations"
    migrations.mkdir()
    bad = migrations / "0006_connectwise_integration.sql"
    bad.write_text(
        "CREATE TABLE IF NOT EXISTS connectwise_credentials (id uuid PRIMARY KEY);\n"
        "ALTER TABLE connectwise_credentials ADD COLUMN auto_update_status boolean DEFAULT false;\n",
        encoding="utf-8",
    )
    installed = _run([str(PRE_COMMIT), "install"], repo, env)
    assert installed.returncode == 0, installed.stderr
    _run(["git", "add", "."], repo, env)
    blocked = _run(["git", "commit", "-m", "connectwise"], repo, env)
    output = blocked.stdout + blocked.stderr
    if "Could not find a version" in output or "No matching distribution" in output:
        pytest.skip("the package index is not reachable to build the hook's environment")
    assert blocked.returncode != 0, output
    assert "ddlguard" in output
    assert "migrations/0006_connectwise_integration.sql:2:" in output
    assert "I107" in output
    # Fix it the way the hook's message says, and the commit goes through.
    bad.write_text(
        bad.read_text().replace("ADD COLUMN auto", "ADD COLUMN IF NOT EXISTS auto"),
        encoding="utf-8",
    )
    _run(["git", "add", "."], repo, env)
    allowed = _run(["git", "commit", "-m", "connectwise"], repo, env)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "Passed" in allowed.stdout + allowed.stderr


def test_drift_hook_blocks_a_migration_that_drifts(tmp_path: Path) -> None:
    rev = _head()
    if rev is None:
        pytest.skip("this checkout is not a git repository with a commit")
    repo = tmp_path / "app"
    (repo / "migrations").mkdir(parents=True)
    (repo / "db").mkdir()
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "DDLGUARD_NO_CACHE": "1",
    }
    env.pop("VIRTUAL_ENV", None)
    _run(["git", "init", "-q", "-b", "main"], repo, env)
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {ROOT}\n    rev: {rev}\n    hooks:\n      - id: ddlguard-drift\n",
        encoding="utf-8",
    )
    (repo / "ddlguard.toml").write_text(
        'migrations = ["migrations/*.sql"]\ncanonical = { sql = "db/schema.sql" }\n',
        encoding="utf-8",
    )
    (repo / "db" / "schema.sql").write_text(
        "CREATE TABLE connectwise_credentials (id uuid PRIMARY KEY, base_url text NOT NULL);\n",
        encoding="utf-8",
    )
    migration = repo / "migrations" / "0001_connectwise.sql"
    migration.write_text(
        "CREATE TABLE IF NOT EXISTS connectwise_credentials (id uuid PRIMARY KEY, server_url text NOT NULL);\n",
        encoding="utf-8",
    )
    assert _run([str(PRE_COMMIT), "install"], repo, env).returncode == 0
    _run(["git", "add", "."], repo, env)
    blocked = _run(["git", "commit", "-m", "connectwise"], repo, env)
    output = blocked.stdout + blocked.stderr
    if "Could not find a version" in output or "No matching distribution" in output:
        pytest.skip("the package index is not reachable to build the hook's environment")
    assert blocked.returncode != 0, output
    assert "D203" in output and "server_url" in output and "base_url" in output
    migration.write_text(migration.read_text().replace("server_url", "base_url"), encoding="utf-8")
    _run(["git", "add", "."], repo, env)
    allowed = _run(["git", "commit", "-m", "connectwise"], repo, env)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
