"""Safety rules (S): the same-change exemption through the CLI in a real git repository, what
depends on `pg-version`, and identical results with the cache on or off and 1 or N workers.

The rule cases themselves are fixtures (tests/fixtures/rules/S*.sql)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ddlguard.checker import Checker
from ddlguard.cli import main
from ddlguard.configfile import Settings
from ddlguard.gitutil import added_files
from ddlguard.report import render
from helpers import git as _git

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[tuple[str, int, str]]]:
    status = main(["check", "--format", "json", "--ignore", "idempotency,naming", *args])
    data = json.loads(capsys.readouterr().out)
    return status, sorted((Path(f["path"]).name, f["line"], f["code"]) for f in data["findings"])


CUSTOMERS = "CREATE TABLE IF NOT EXISTS customers (id bigint PRIMARY KEY, email text);\n"
INVOICES = "CREATE TABLE IF NOT EXISTS invoices (id bigint PRIMARY KEY, customer_id bigint);\n"
INDEXES = (
    "CREATE INDEX IF NOT EXISTS idx_invoices_customer_id ON invoices (customer_id);\n"
    "CREATE INDEX IF NOT EXISTS idx_customers_email ON customers (email);\n"
)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository whose main branch has customers; the change adds invoices and indexes."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DDLGUARD_NO_CACHE", "1")
    _git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "ddlguard.toml").write_text('migrations = ["migrations/*.sql"]\n')
    mig = tmp_path / "migrations"
    mig.mkdir()
    (mig / "0001_customers.sql").write_text(CUSTOMERS)
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "customers")
    _git(tmp_path, "checkout", "-q", "-b", "feature")
    (mig / "0002_invoices.sql").write_text(INVOICES)
    (mig / "0003_indexes.sql").write_text(INDEXES)
    return tmp_path


@needs_git
def test_pre_commit_files_added_in_the_same_change_are_new(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 0002 staged as added, 0003 untracked: both are part of the commit being prepared, so the
    # index on invoices (created by 0002) locks nothing; customers existed before.
    _git(repo, "add", "migrations/0002_invoices.sql")
    status, found = _check(capsys, "migrations/0002_invoices.sql", "migrations/0003_indexes.sql")
    assert found == [("0003_indexes.sql", 2, "S101")]
    assert status == 1
    # Checked alone, 0003 cannot know about 0002: both indexes are on tables it did not create.
    _, alone = _check(capsys, "migrations/0003_indexes.sql")
    assert alone == [("0003_indexes.sql", 1, "S101"), ("0003_indexes.sql", 2, "S101")]


@needs_git
def test_a_modified_migration_is_not_new(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # customers is created by a committed migration that this change only edits: it exists in
    # production, so indexing it still locks it.
    (repo / "migrations" / "0001_customers.sql").write_text(CUSTOMERS + INVOICES)
    _, found = _check(capsys, "migrations/0001_customers.sql", "migrations/0003_indexes.sql")
    assert found == [("0003_indexes.sql", 1, "S101"), ("0003_indexes.sql", 2, "S101")]


@needs_git
def test_diff_base_uses_the_files_added_on_the_branch(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "invoices")
    status, found = _check(capsys, "--diff-base", "main")
    assert found == [("0003_indexes.sql", 2, "S101")]
    assert status == 1
    # Without the exemption (a different rule selection is irrelevant): ignoring S101 clears it.
    assert _check(capsys, "--diff-base", "main", "--ignore", "S101") == (0, [])


@needs_git
def test_only_migrations_count(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A new .sql file outside the configured migrations (a script, a snapshot) is not part of
    # the migration change: the tables it creates are not new in the database.
    (repo / "migrations" / "0002_invoices.sql").unlink()
    scripts = repo / "scripts"
    scripts.mkdir()
    (scripts / "bootstrap.sql").write_text(INVOICES)
    _, found = _check(capsys, "scripts/bootstrap.sql", "migrations/0003_indexes.sql")
    assert ("0003_indexes.sql", 1, "S101") in found


def test_outside_a_git_repository_the_change_is_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DDLGUARD_NO_CACHE", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert added_files(tmp_path) == set()
    (tmp_path / "0002_invoices.sql").write_text(INVOICES)
    (tmp_path / "0003_indexes.sql").write_text(INDEXES)
    status, found = _check(capsys, "0002_invoices.sql", "0003_indexes.sql")
    assert status == 1
    assert found == [("0003_indexes.sql", 1, "S101"), ("0003_indexes.sql", 2, "S101")]


def test_git_missing_is_not_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no git on PATH
    assert added_files(tmp_path) == set()


# --- acceptance: create-then-index vs. index an existing table -------------------------------


def test_create_then_index_fires_no_lock_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DDLGUARD_NO_CACHE", "1")
    (tmp_path / "0001_invoices.sql").write_text(INVOICES + INDEXES.splitlines()[0] + "\n")
    assert _check(capsys, "--select", "ALL", "0001_invoices.sql") == (0, [])
    (tmp_path / "0002_index.sql").write_text(INDEXES.splitlines()[1] + "\n")
    status, found = _check(capsys, "0002_index.sql")
    assert (status, found) == (1, [("0002_index.sql", 1, "S101")])


# --- pg-version ----------------------------------------------------------------------------


def _codes(tmp_path: Path, sql: str, pg_version: int) -> list[tuple[str, str]]:
    path = tmp_path / "m.sql"
    path.write_text(sql)
    checker = Checker(
        Settings(root=tmp_path, pg_version=pg_version), ignore=["idempotency"], cwd=tmp_path
    )
    return [(f.code, f.message) for f in checker.check_file(path).findings]


@pytest.mark.parametrize(
    ("sql", "version", "codes"),
    [
        # Before 11 every default rewrites the table; from 11 only volatile ones.
        ("ALTER TABLE t ADD COLUMN IF NOT EXISTS c boolean DEFAULT false;", 10, ["S201"]),
        ("ALTER TABLE t ADD COLUMN IF NOT EXISTS c boolean DEFAULT false;", 11, []),
        ("ALTER TABLE t ADD COLUMN IF NOT EXISTS c timestamptz DEFAULT now();", 10, ["S201"]),
        ("ALTER TABLE t ADD COLUMN IF NOT EXISTS c timestamptz DEFAULT now();", 16, []),
        ("ALTER TABLE t ADD COLUMN IF NOT EXISTS c uuid DEFAULT gen_random_uuid();", 16, ["S201"]),
        # DETACH PARTITION CONCURRENTLY exists from 14.
        ("ALTER TABLE t DETACH PARTITION t_2020;", 13, []),
        ("ALTER TABLE t DETACH PARTITION t_2020;", 14, ["S104"]),
        # The validated-CHECK path spares SET NOT NULL's scan from 12.
        (
            "ALTER TABLE t ADD CONSTRAINT t_c_not_null CHECK (c IS NOT NULL) NOT VALID;\n"
            "ALTER TABLE t VALIDATE CONSTRAINT t_c_not_null;\n"
            "ALTER TABLE t ALTER COLUMN c SET NOT NULL;",
            11,
            ["S303"],
        ),
        (
            "ALTER TABLE t ADD CONSTRAINT t_c_not_null CHECK (c IS NOT NULL) NOT VALID;\n"
            "ALTER TABLE t VALIDATE CONSTRAINT t_c_not_null;\n"
            "ALTER TABLE t ALTER COLUMN c SET NOT NULL;",
            12,
            [],
        ),
    ],
)
def test_pg_version(tmp_path: Path, sql: str, version: int, codes: list[str]) -> None:
    assert [c for c, _ in _codes(tmp_path, sql, version)] == codes


def test_reindex_advice_depends_on_pg_version(tmp_path: Path) -> None:
    sql = "REINDEX TABLE orders;"
    [(code11, message11)] = _codes(tmp_path, sql, 11)
    [(code12, message12)] = _codes(tmp_path, sql, 12)
    assert code11 == code12 == "S103"
    assert "REINDEX ... CONCURRENTLY" in message12
    assert "no REINDEX CONCURRENTLY" in message11 and "CREATE INDEX CONCURRENTLY" in message11


def test_defaults_and_documentation(capsys: pytest.CaptureFixture[str]) -> None:
    from ddlguard.rules.registry import all_rules

    safety = {r.code: r for r in all_rules() if r.category.value == "safety"}
    off = {code for code, r in safety.items() if not r.enabled_by_default}
    assert off == {"S401", "S402", "S501", "S601", "S602", "S603", "S604", "S605", "S606"}
    assert all(safety[c].off_by_default_reason for c in off)
    assert main(["rules", "S101"]) == 0
    out = capsys.readouterr().out
    assert "create-index-without-concurrently" in out and "CONCURRENTLY" in out
    assert main(["rules", "require-lock-timeout"]) == 0
    assert "Off by default" in capsys.readouterr().out


# --- cache and workers ---------------------------------------------------------------------


def _corpus(folder: Path) -> tuple[list[Path], frozenset[Path]]:
    """70 migrations (enough for worker processes). File i creates table n<i> and indexes it
    (exempt: its own table) and the next file's table; the even files are 'added in the
    change', so only the even files' second index (on an odd file's table) is reported."""
    paths: list[Path] = []
    for i in range(70):
        body = f"CREATE TABLE IF NOT EXISTS n{i} (id bigint, v text);\n"
        body += f"CREATE INDEX IF NOT EXISTS idx_n{(i + 1) % 70}_v ON n{(i + 1) % 70} (v);\n"
        body += f"CREATE INDEX IF NOT EXISTS idx_n{i}_v ON n{i} (v);\n"
        p = folder / f"{i:04d}_m.sql"
        p.write_text(body)
        paths.append(p)
    added = frozenset(p.resolve() for i, p in enumerate(paths) if i % 2 == 0)
    return paths, added


def _run(root: Path, paths: list[Path], added: frozenset[Path], workers: int) -> str:
    checker = Checker(Settings(root=root), cwd=root, change_added=added)
    return render(checker.run(paths, workers=workers), "json")


def test_change_set_same_result_with_cache_and_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths, added = _corpus(tmp_path)
    monkeypatch.setenv("DDLGUARD_NO_CACHE", "1")
    baseline = _run(tmp_path, paths, added, workers=1)
    without = _run(tmp_path, paths, frozenset(), workers=1)
    found = json.loads(baseline)["findings"]
    # Odd files index an even (added) neighbour's table: exempt. Even files index an odd one's.
    flagged = {(Path(f["path"]).name, f["line"]) for f in found if f["code"] == "S101"}
    assert flagged == {(f"{i:04d}_m.sql", 2) for i in range(0, 70, 2)}
    assert baseline != without
    assert _run(tmp_path, paths, added, workers=2) == baseline
    monkeypatch.delenv("DDLGUARD_NO_CACHE")
    # Cold cache without the change set, then with it: the entries must not be shared.
    assert _run(tmp_path, paths, frozenset(), workers=1) == without
    assert _run(tmp_path, paths, added, workers=1) == baseline
    assert _run(tmp_path, paths, added, workers=1) == baseline
    assert _run(tmp_path, paths, added, workers=2) == baseline
    assert _run(tmp_path, paths, frozenset(), workers=2) == without


@needs_git
def test_cli_cache_on_and_off_identical_with_the_change_set(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DDLGUARD_NO_CACHE")
    args = ["migrations/0002_invoices.sql", "migrations/0003_indexes.sql"]
    off = _check(capsys, "--no-cache", *args)
    monkeypatch.delenv("DDLGUARD_NO_CACHE", raising=False)  # --no-cache sets it for the process
    cold = _check(capsys, *args)
    warm = _check(capsys, *args)
    assert off == cold == warm == (1, [("0003_indexes.sql", 2, "S101")])
    # The same file checked alone afterwards: not the cached result of the change.
    monkeypatch.delenv("DDLGUARD_NO_CACHE", raising=False)
    assert _check(capsys, "migrations/0003_indexes.sql")[1] == [
        ("0003_indexes.sql", 1, "S101"),
        ("0003_indexes.sql", 2, "S101"),
    ]


def test_git_is_asked_about_the_given_files_only(tmp_path: Path) -> None:
    """added_files with ``among``: other untracked files of the repository are not listed, and
    a path outside the repository is left out instead of failing the question."""
    _git(tmp_path, "init", "-q")
    for name in ("a.sql", "b.sql", "c.sql"):
        (tmp_path / name).write_text("SELECT 1;\n")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.sql"
    outside.write_text("SELECT 1;\n")
    try:
        got = added_files(tmp_path, [tmp_path / "a.sql", tmp_path / "b.sql", outside])
    finally:
        outside.unlink()
    assert got == {(tmp_path / "a.sql").resolve(), (tmp_path / "b.sql").resolve()}
    assert added_files(tmp_path) == {(tmp_path / n).resolve() for n in ("a.sql", "b.sql", "c.sql")}
