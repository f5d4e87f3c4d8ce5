"""The same findings, byte for byte, with the result cache off, cold and warm, and with one or
several worker processes."""

from __future__ import annotations

import os
import random
import time
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


def _entries(index: Path) -> dict[str, object]:
    import msgspec

    data = msgspec.msgpack.decode(index.read_bytes())
    assert isinstance(data, dict)
    entries = data["entries"]
    assert isinstance(entries, dict)
    return entries


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
    (index,) = (tmp_path / ".ddlguard_cache").glob("results-*.msgpack")
    assert len(_entries(index)) == len(paths)
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
    for index in (tmp_path / ".ddlguard_cache").glob("results-*.msgpack"):
        index.write_bytes(b"\x93not msgpack")
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


def test_a_same_size_edit_in_the_same_tick_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stat shortcut is not trusted for a file modified just before it was read: an edit
    that keeps the size and the mtime (same timestamp tick) is still found by the digest."""
    monkeypatch.delenv("DDLGUARD_NO_CACHE", raising=False)
    path = tmp_path / "0001.sql"
    path.write_text("CREATE TABLE IF NOT EXISTS a (id int);\n", encoding="utf-8")
    checker = Checker(Settings(root=tmp_path), cwd=tmp_path)
    assert checker.run([path]).findings == []
    st = path.stat()
    path.write_text("CREATE TABLE IF NOT EXISTS b (id int);\n", encoding="utf-8")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size
    path.write_text("CREATE TABLE                  b (id int);\n", encoding="utf-8")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert [f.code for f in checker.run([path]).findings] == ["I101"]


def test_a_warm_run_reads_no_unchanged_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files that were stable when checked are hits on their stat alone; a touched file with the
    same content is read, matched by its digest, and its stat refreshed."""
    monkeypatch.delenv("DDLGUARD_NO_CACHE", raising=False)
    paths = _corpus(tmp_path, files=20)
    old = time.time_ns() - 60 * 1_000_000_000
    for p in paths:
        os.utime(p, ns=(old, old))
    checker = Checker(Settings(root=tmp_path), cwd=tmp_path)
    first = checker.run(paths)
    touched = old + 30 * 1_000_000_000
    os.utime(paths[0], ns=(touched, touched))  # touched: same content, new mtime
    reads: list[Path] = []
    original = Path.read_bytes

    def spy(self: Path) -> bytes:
        if self.suffix == ".sql":
            reads.append(self)
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", spy)
    assert checker.run(paths).findings == first.findings
    assert reads == [paths[0]]
    reads.clear()
    assert checker.run(paths).findings == first.findings
    assert reads == []  # the refreshed stat was saved


def test_concurrent_runs_merge_their_entries(tmp_path: Path) -> None:
    """Two runs with the same configuration that loaded the index before either saved it: the
    index keeps the entries of both."""
    from ddlguard.cache import Index, encode_findings, stamp

    folder = tmp_path / ".ddlguard_cache"
    first, second = Index(folder, "k"), Index(folder, "k")
    for index, name in ((first, "0001.sql"), (second, "0002.sql")):
        path = tmp_path / name
        path.write_text("SELECT 1;\n", encoding="utf-8")
        mark = stamp(path, path.read_bytes(), path.stat())
        assert mark is not None
        index.put(name, "True", mark, 1, encode_findings([]))
    first.save()
    second.save()
    assert set(Index(folder, "k").entries) == {"0001.sql", "0002.sql"}


def test_read_only_cache_folder_is_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DDLGUARD_NO_CACHE", raising=False)
    path = tmp_path / "0001.sql"
    path.write_text("CREATE TABLE t (id int);\n", encoding="utf-8")
    cache_dir = tmp_path / ".ddlguard_cache"
    cache_dir.mkdir()
    cache_dir.chmod(0o500)
    try:
        result = Checker(Settings(root=tmp_path), cwd=tmp_path).run([path])
    finally:
        cache_dir.chmod(0o700)
    assert [f.code for f in result.findings] == ["I101"]


def test_a_cached_run_does_not_load_the_parser(tmp_path: Path) -> None:
    """Every file answered from the cache: pglast is never imported, also when the change has
    added migrations (their content, not their parse, keys the cache)."""
    import subprocess
    import sys

    from helpers import git

    git(tmp_path, "init", "-q")
    old = time.time_ns() - 60 * 1_000_000_000
    for name, sql in (("0001_a.sql", "CREATE TABLE a (id int);"), ("0002_b.sql", "CREATE INDEX i ON a (id);")):
        path = tmp_path / name
        path.write_text(sql + "\n", encoding="utf-8")
        os.utime(path, ns=(old, old))  # stable for a while: the cache trusts its stat
    code = (
        "import sys\n"
        "from ddlguard.cli import main\n"
        "main(['check', '--quiet', '0001_a.sql', '0002_b.sql'])\n"
        "print('pglast loaded:', 'pglast' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DDLGUARD_NO_CACHE"}
    runs = [
        subprocess.run(
            [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
        ).stdout
        for _ in range(2)
    ]
    assert "I101" in runs[0] and "pglast loaded: True" in runs[0]
    assert runs[1].replace("pglast loaded: False", "") == runs[0].replace("pglast loaded: True", "")
    assert "pglast loaded: False" in runs[1]


def test_a_rewrite_that_restores_the_mtime_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cp -p` onto a file, or `touch -d` after an edit: same size, same mtime, new content.
    The ctime still changes, so the stat shortcut is not taken."""
    monkeypatch.delenv("DDLGUARD_NO_CACHE", raising=False)
    path = tmp_path / "0001.sql"
    path.write_text("CREATE TABLE IF NOT EXISTS a (id int);\n", encoding="utf-8")
    old = time.time_ns() - 60 * 1_000_000_000
    os.utime(path, ns=(old, old))
    checker = Checker(Settings(root=tmp_path), cwd=tmp_path)
    assert checker.run([path]).findings == []
    time.sleep(0.01)
    path.write_text("CREATE TABLE                  a (id int);\n", encoding="utf-8")
    os.utime(path, ns=(old, old))
    assert [f.code for f in checker.run([path]).findings] == ["I101"]
