"""Migration-set integrity: the lock file and version checks, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ddlguard.cli import main


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DDLGUARD_NO_CACHE", "1")
    (tmp_path / "ddlguard.toml").write_text('migrations = ["migrations/*.sql"]\n', encoding="utf-8")
    mig = tmp_path / "migrations"
    mig.mkdir()
    for i, name in enumerate(["customer_tenants", "tenant_3cx_credentials", "connectwise"], 1):
        (mig / f"000{i}_{name}.sql").write_text(
            f"CREATE TABLE IF NOT EXISTS {name} (id uuid PRIMARY KEY);\n", encoding="utf-8"
        )
    return tmp_path


def _codes(
    capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, list[tuple[str, str, int]]]:
    status = main(["check", "--format", "json", *args])
    data = json.loads(capsys.readouterr().out)
    return status, [(f["code"], f["path"], f["line"]) for f in data["findings"]]


def test_lock_then_clean(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lock"]) == 0
    out = capsys.readouterr().out
    assert out == "migrations.lock written: 3 migrations locked\n"
    lines = (repo / "migrations.lock").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("h1:") and len(lines) == 4
    assert lines[1].startswith("migrations/0001_customer_tenants.sql h1:")
    assert _codes(capsys) == (0, [])
    assert main(["lock"]) == 0
    assert capsys.readouterr().out == "migrations.lock unchanged: 3 migrations locked\n"


def test_edited_migration(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["lock"])
    capsys.readouterr()
    path = repo / "migrations" / "0002_tenant_3cx_credentials.sql"
    path.write_text(
        path.read_text()
        + "ALTER TABLE tenant_3cx_credentials ADD COLUMN IF NOT EXISTS created_by text;\n"
    )
    assert _codes(capsys) == (1, [("M101", "migrations/0002_tenant_3cx_credentials.sql", 1)])
    # Only the edited file is named, not the ones after it in the chain.
    main(["lock"])
    capsys.readouterr()
    assert _codes(capsys) == (0, [])


def test_removed_migration(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["lock"])
    capsys.readouterr()
    (repo / "migrations" / "0001_customer_tenants.sql").unlink()
    assert _codes(capsys) == (1, [("M102", "migrations.lock", 2)])
    main(["lock"])
    capsys.readouterr()
    assert _codes(capsys) == (0, [])


def test_inserted_in_the_middle(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["lock"])
    capsys.readouterr()
    (repo / "migrations" / "0002_add_tags.sql").write_text("SELECT 1;\n")
    status, found = _codes(capsys)
    assert status == 1
    assert ("M104", "migrations/0002_add_tags.sql", 1) in found
    assert ("M201", "migrations/0002_tenant_3cx_credentials.sql", 1) in found


def test_new_migration_at_the_end_is_only_unlocked(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["lock"])
    capsys.readouterr()
    (repo / "migrations" / "0004_add_tags.sql").write_text("SELECT 1;\n")
    assert _codes(capsys) == (1, [("M103", "migrations/0004_add_tags.sql", 1)])
    assert main(["check", "--fail-on", "error", "-q"]) == 0  # M103 is a warning
    capsys.readouterr()
    main(["lock"])
    capsys.readouterr()
    assert _codes(capsys) == (0, [])


def test_duplicate_version_without_lock(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "migrations" / "0003_add_tags.sql").write_text("SELECT 1;\n")
    assert _codes(capsys) == (1, [("M201", "migrations/0003_connectwise.sql", 1)])
    # `lock` records the set, but duplicate versions stay a finding.
    main(["lock"])
    capsys.readouterr()
    assert _codes(capsys) == (1, [("M201", "migrations/0003_connectwise.sql", 1)])


def test_reordered(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["lock"])
    capsys.readouterr()
    (repo / "ddlguard.toml").write_text(
        'migrations = ["migrations/0002_*.sql", "migrations/0001_*.sql", "migrations/0003_*.sql"]\n'
    )
    status, found = _codes(capsys)
    assert status == 1
    assert [c for c, _, _ in found] == ["M106"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("<<<<<<< HEAD\nmigrations/x.sql h1:abc\n=======\n", "unresolved merge conflict"),
        ("migrations/0001_customer_tenants.sql h1:abc\n", "first line must be the h1: hash"),
        ("h1:AAAA\nmigrations/0001_customer_tenants.sql h1:abc\n", "does not match its entries"),
    ],
)
def test_invalid_lock_file(
    repo: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    (repo / "migrations.lock").write_text(content)
    main(["check", "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    m105 = [f for f in data["findings"] if f["code"] == "M105"]
    assert m105 and message in m105[0]["message"]
    assert all(f["path"] == "migrations.lock" for f in m105)


def test_lock_without_migrations_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["lock"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ddlguard: error: nothing to lock") and err.count("\n") == 1


def test_integrity_codes_can_be_ignored(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "migrations" / "0003_add_tags.sql").write_text("SELECT 1;\n")
    assert _codes(capsys, "--ignore", "integrity") == (0, [])


def test_up_and_down_files_of_one_version_are_a_pair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """golang-migrate and sqlx keep `N_name.up.sql` and `N_name.down.sql`: one version, two
    directions, no M201; two up files of one version still are a duplicate."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ddlguard.toml").write_text(
        'migrations = ["migrations/*.sql"]\nmigration-tool = "golang-migrate"\n'
    )
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "000001_a.up.sql").write_text("CREATE TABLE IF NOT EXISTS a (id int);\n")
    (folder / "000001_a.down.sql").write_text("DROP TABLE IF EXISTS a;\n")
    assert _codes(capsys) == (0, [])
    (folder / "000001_b.up.sql").write_text("SELECT 1;\n")
    assert _codes(capsys) == (1, [("M201", "migrations/000001_b.up.sql", 1)])
