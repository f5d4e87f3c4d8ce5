"""Adoption on an existing repository: --diff-base against a real git repository, and baselines."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ddlguard.cli import main
from helpers import git as _git

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DDLGUARD_NO_CACHE", "1")
    _git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "ddlguard.toml").write_text('migrations = ["migrations/*.sql"]\n')
    mig = tmp_path / "migrations"
    mig.mkdir()
    # Legacy migrations with problems nobody wants to fix today.
    (mig / "0001_customer_tenants.sql").write_text("CREATE TABLE customer_tenants (id uuid);\n")
    (mig / "0002_phone_numbers.sql").write_text("CREATE TABLE phone_numbers (id uuid);\n")
    (mig / "0003_seed.sql").write_text("INSERT INTO customer_tenants VALUES (gen_random_uuid());\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "legacy")
    _git(tmp_path, "checkout", "-q", "-b", "feature")
    return tmp_path


def _findings(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[tuple[str, str]]]:
    status = main(["check", "--format", "json", *args])
    data = json.loads(capsys.readouterr().out)
    return status, sorted((f["code"], f["path"]) for f in data["findings"])


def test_diff_base_reports_only_changed_files(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _findings(capsys)[1] == [
        ("I101", "migrations/0001_customer_tenants.sql"),
        ("I101", "migrations/0002_phone_numbers.sql"),
        ("I601", "migrations/0003_seed.sql"),
    ]
    assert _findings(capsys, "--diff-base", "main") == (0, [])
    (repo / "migrations" / "0004_tags.sql").write_text("CREATE TABLE tags (id int);\n")
    assert _findings(capsys, "--diff-base", "main") == (1, [("I101", "migrations/0004_tags.sql")])
    # Committed on the branch counts the same as untracked.
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "tags")
    assert _findings(capsys, "--diff-base", "main") == (1, [("I101", "migrations/0004_tags.sql")])


def test_diff_base_includes_edited_files(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = repo / "migrations" / "0002_phone_numbers.sql"
    path.write_text(path.read_text() + "ALTER TABLE phone_numbers ADD COLUMN carrier text;\n")
    status, found = _findings(capsys, "--diff-base", "main")
    assert status == 1
    assert found == [
        ("I101", "migrations/0002_phone_numbers.sql"),
        ("I107", "migrations/0002_phone_numbers.sql"),
    ]


def test_diff_base_new_migration_before_the_newest_on_base(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "migrations" / "0002_add_index.sql").write_text(
        "CREATE INDEX IF NOT EXISTS idx_phone_numbers_id ON phone_numbers (id);\n"
    )
    status, found = _findings(capsys, "--diff-base", "main")
    assert status == 1
    assert ("M104", "migrations/0002_add_index.sql") in found


def test_diff_base_unknown_ref(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--diff-base", "no-such-branch"]) == 2
    err = capsys.readouterr().err
    assert "no-such-branch" in err and err.count("\n") == 1 and "Traceback" not in err


def test_diff_base_outside_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.sql").write_text("SELECT 1;\n")
    assert main(["check", "--diff-base", "main", "a.sql"]) == 2
    assert "git" in capsys.readouterr().err


def _legacy_repo(tmp_path: Path) -> Path:
    mig = tmp_path / "migrations"
    mig.mkdir()
    for i in range(1, 11):
        statements = [
            f"CREATE TABLE legacy_{i} (id int);",
            f"CREATE INDEX idx_legacy_{i} ON legacy_{i} (id);",
            f"ALTER TABLE legacy_{i} ADD COLUMN note text;",
            f"INSERT INTO legacy_{i} VALUES (1);",
            f"DROP VIEW old_{i};",
        ]
        (mig / f"{i:04d}_legacy.sql").write_text("\n".join(statements) + "\n")
    (tmp_path / "ddlguard.toml").write_text('migrations = ["migrations/*.sql"]\n')
    return mig


def test_baseline_with_50_legacy_findings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DDLGUARD_NO_CACHE", "1")
    mig = _legacy_repo(tmp_path)
    status, found = _findings(capsys)
    assert status == 1 and len(found) == 50
    assert main(["check", "--write-baseline", "ddlguard-baseline.json"]) == 0
    assert "recorded 50 findings" in capsys.readouterr().err
    assert _findings(capsys, "--baseline", "ddlguard-baseline.json") == (0, [])
    # Unrelated edits (lines added above, re-indentation) do not bring the findings back.
    path = mig / "0003_legacy.sql"
    path.write_text(
        "-- reviewed in 2026\n\n" + path.read_text().replace("CREATE TABLE", "CREATE   TABLE")
    )
    assert _findings(capsys, "--baseline", "ddlguard-baseline.json") == (0, [])
    # One new bad statement fails.
    path.write_text(path.read_text() + "ALTER TABLE legacy_3 ADD COLUMN carrier text;\n")
    assert _findings(capsys, "--baseline", "ddlguard-baseline.json") == (
        1,
        [("I107", "migrations/0003_legacy.sql")],
    )
    # A second copy of a recorded statement is new too.
    path.write_text(path.read_text() + "INSERT INTO legacy_3 VALUES (1);\n")
    status, found = _findings(capsys, "--baseline", "ddlguard-baseline.json")
    assert status == 1 and ("I601", "migrations/0003_legacy.sql") in found


def test_bad_baseline_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.sql").write_text("SELECT 1;\n")
    (tmp_path / "b.json").write_text("{not json")
    for name in ("b.json", "missing.json"):
        assert main(["check", "a.sql", "--baseline", name]) == 2
        err = capsys.readouterr().err
        assert err.startswith("ddlguard: error:") and err.count("\n") == 1
