"""The same findings, byte for byte, with the result cache off, cold and warm, and with one or
several worker processes."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ddlguard.checker import Checker
from ddlguard.configfile import Settings
from ddlguard.report import render

STATEMENTS = [
    "CREATE TABLE t{n} (id int PRIMARY KEY, name text);",
    'CREATE TABLE IF NOT EXISTS t{n} (id int PRIMARY KEY, "Name" text);',
    "ALTER TABLE t{n} ADD COLUMN c{n} int;",
    "ALTER TABLE t{n} ADD COLUMN IF NOT EXISTS c{n} int;",
    "CREATE INDEX idx_t{n} ON t{n} (id);",
    "INSERT INTO t{n} VALUES (1, 'x');",
    "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'e{n}') THEN CREATE TYPE e{n} AS ENUM ('a'); END IF; END $$;",
    "CREATE TYPE e{n} AS ENUM ('a');",
    "-- ddlguard: ignore[I101]\nCREATE TABLE s{n} (id int);",
    "SELECT 'héllo ✓';",
    "CREATE TABLE broken{n} (;",
]


def _corpus(folder: Path, files: int = 160) -> list[Path]:
    rnd = random.Random(7)
    paths = []
    for i in range(files):
        body = "\n".join(
            rnd.choice(STATEMENTS).format(n=rnd.randint(0, 40)) for _ in range(rnd.randint(1, 8))
        )
        p = folder / f"{i:04d}_m.sql"
        p.write_text(body + "\n", encoding="utf-8")
        paths.append(p)
    (folder / "9998_binary.sql").write_bytes(b"SELECT 1;\x00\x01")
    (folder / "9999_empty.sql").write_text("", encoding="utf-8")
    return [*paths, folder / "9998_binary.sql", folder / "9999_empty.sql"]


def _run(root: Path, paths: list[Path], workers: int) -> tuple[str, str]:
    result = Checker(Settings(root=root), cwd=root).run(paths, workers=workers)
    return render(result, "json"), render(result, "text")


def test_identical_findings_cache_and_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _corpus(tmp_path)
    monkeypatch.setenv("DDLGUARD_NO_CACHE", "1")
    baseline = _run(tmp_path, paths, workers=1)
    assert '"code": "I101"' in baseline[0] and '"code": "E001"' in baseline[0]
    assert _run(tmp_path, paths, workers=2) == baseline
    monkeypatch.delenv("DDLGUARD_NO_CACHE")
    cold = _run(tmp_path, paths, workers=1)
    entries = list((tmp_path / ".ddlguard_cache" / "results").rglob("*.json"))
    assert len(entries) == len(paths)
    warm = _run(tmp_path, paths, workers=1)
    warm_parallel = _run(tmp_path, paths, workers=2)
    assert cold == baseline
    assert warm == baseline
    assert warm_parallel == baseline


def test_an_edited_file_is_checked_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DDLGUARD_NO_CACHE", raising=False)
    path = tmp_path / "0001.sql"
    path.write_text("CREATE TABLE IF NOT EXISTS t (id int);\n", encoding="utf-8")
    checker = Checker(Settings(root=tmp_path), cwd=tmp_path)
    assert checker.run([path]).findings == []
    path.write_text("CREATE TABLE t (id int);\n", encoding="utf-8")
    assert [f.code for f in checker.run([path]).findings] == ["I101"]
    # Another configuration is another key.
    other = Checker(Settings(root=tmp_path, idempotency="off"), cwd=tmp_path)
    assert other.run([path]).findings == []


def test_corrupt_cache_entries_are_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DDLGUARD_NO_CACHE", raising=False)
    path = tmp_path / "0001.sql"
    path.write_text("CREATE TABLE t (id int);\n", encoding="utf-8")
    checker = Checker(Settings(root=tmp_path), cwd=tmp_path)
    first = checker.run([path])
    for entry in (tmp_path / ".ddlguard_cache" / "results").rglob("*.json"):
        entry.write_text("{not json", encoding="utf-8")
    assert checker.run([path]).findings == first.findings


def test_fix_bypasses_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DDLGUARD_NO_CACHE", raising=False)
    path = tmp_path / "0001.sql"
    path.write_text("CREATE TABLE t (id int);\n", encoding="utf-8")
    checker = Checker(Settings(root=tmp_path), cwd=tmp_path)
    checker.run([path])
    fixed = checker.run([path], fix=True)
    assert fixed.fixed == 1 and fixed.findings == []
    assert path.read_text(encoding="utf-8") == "CREATE TABLE IF NOT EXISTS t (id int);\n"
    assert checker.run([path]).findings == []
