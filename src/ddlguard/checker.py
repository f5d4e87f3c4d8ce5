"""The orchestrator: which files, which rules, suppressions, fixes, the result."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ddlguard.configfile import natural_sort_key
from ddlguard.findings import Finding, Result
from ddlguard.rules import registry
from ddlguard.rules.base import FileContext
from ddlguard.sql.ignores import Suppression, find_suppressions
from ddlguard.sql.source import (
    DecodeProblem,
    ReadError,
    SqlFile,
    display_path,
    load,
    resolved,
)
from ddlguard.sql.statements import Parsed, parse

if TYPE_CHECKING:
    from ddlguard.configfile import Settings


class UsageError(Exception):
    """Bad input from the user that stops the run (exit status 2)."""


# Folders never searched when a directory is given.
_SKIP_DIRS = {
    ".git",
    ".hg",
    ".svn",
    "node_modules",
    ".venv",
    "venv",
    "__pycache__",
    ".tox",
    ".mypy_cache",
    ".ruff_cache",
    ".ddlguard_cache",
    "site-packages",
}


def sql_files_under(root: Path) -> list[Path]:
    """Every ``.sql`` file below a folder, in natural order, skipping VCS and vendor folders."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        found.extend(Path(dirpath) / f for f in filenames if f.lower().endswith(".sql"))
    return sorted(found, key=lambda p: natural_sort_key(p.as_posix()))


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given, folders expanded to their ``.sql`` files; each file once, in order."""
    out: list[Path] = []
    seen: set[Path] = set()
    paths = list(paths)
    if len(paths) == 1 and paths[0].is_dir():
        # One folder: os.walk lists each file once (it does not follow links to folders).
        files = sql_files_under(paths[0])
        if not files:
            raise UsageError(f"{paths[0]}: no .sql files in this directory")
        return files
    for p in paths:
        if p.is_dir():
            files = sql_files_under(p)
            if not files:
                raise UsageError(f"{p}: no .sql files in this directory")
        elif p.exists() or p.is_symlink():
            files = [p]
        else:
            raise UsageError(f"{p}: no such file or directory")
        for f in files:
            key = resolved(f)
            if key not in seen:
                seen.add(key)
                out.append(f)
    return out


@dataclass(slots=True)
class FileReport:
    path: Path
    display: str
    findings: list[Finding]
    statements: int
    text: str | None
    file: SqlFile | None = None
    parsed: Parsed | None = None


@dataclass(slots=True)
class Checker:
    config: Settings
    select: Sequence[str] = ()
    ignore: Sequence[str] = ()
    cwd: Path = field(default_factory=Path.cwd)
    migration_paths: set[Path] = field(default_factory=set)
    enabled: set[str] = field(init=False)
    _key_base: str | None = field(default=None, init=False, repr=False)
    _cache_folder: Path | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        select = [*self.config.select, *self.select]
        ignore = [*self.config.ignore, *self.ignore]
        for sel in [*select, *ignore]:
            if not registry.known_selector(sel):
                raise UsageError(f"unknown rule code or category in --select/--ignore: {sel!r}")
        self.enabled = registry.resolve(select, ignore)

    # -- one file -------------------------------------------------------------------------------
    def check_file(self, path: Path, data: bytes | None = None) -> FileReport:
        display = display_path(path, self.cwd)
        try:
            loaded = load(path, self.cwd, data, display)
        except ReadError as exc:
            raise UsageError(str(exc)) from None
        if isinstance(loaded, DecodeProblem):
            return FileReport(path, display, self._decode_finding(display, loaded), 0, None)
        return self._check_loaded(loaded)

    def _check_loaded(self, file: SqlFile) -> FileReport:
        parsed = parse(file)
        is_migration = not self.migration_paths or resolved(file.path) in self.migration_paths
        ctx = FileContext(file, parsed, self.config, self.enabled, is_migration=is_migration)
        for problem in parsed.errors:
            ctx.report(
                "E001", None, problem.offset, problem.offset, _syntax_message(problem.message)
            )
        top = sum(1 for _ in parsed.top_level())
        if top == 0 and not parsed.errors and not file.meta_commands:
            what = "only comments" if file.text.strip() else "nothing"
            ctx.report("E003", None, 0, 0, f"{file.path.name} contains {what}: no SQL statements")
        from ddlguard.rules import idempotency, naming

        idempotency.check(ctx)
        naming.check(ctx)
        findings = self._suppress(file, ctx.findings)
        findings.sort(key=Finding.sort_key)
        return FileReport(file.path, file.display, findings, top, file.text, file, parsed)

    def _decode_finding(self, display: str, problem: DecodeProblem) -> list[Finding]:
        if "E002" not in self.enabled:
            return []
        return [
            registry.make_finding(
                "E002",
                display,
                problem.message,
                line=problem.line,
                column=problem.column,
                end_column=problem.column + 1,
            )
        ]

    def _suppress(self, file: SqlFile, findings: list[Finding]) -> list[Finding]:
        sups = find_suppressions(file)
        if not sups:
            return findings
        kept: list[Finding] = []
        for f in findings:
            hit: Suppression | None = None
            for s in sups:
                if s.covers(f.code, f.category.value) and s.applies_to(f.anchor_lines):
                    hit = s
                    break
            if hit is None:
                kept.append(f)
            else:
                hit.used.add(f.code)
        extra = FileContext(file, Parsed([], []), self.config, self.enabled)
        for s in sups:
            offset = file.index.line_start(s.line) + s.column - 1
            unknown = [c for c in s.codes if not registry.known_selector(c)]
            for code in unknown:
                extra.report(
                    "E902",
                    None,
                    offset,
                    offset,
                    f"suppression names {code}, which is not a ddlguard rule code, prefix or "
                    f"category",
                )
            if s.used or unknown:
                continue
            relevant = not s.codes or any(
                registry.matches(c, r)
                for c in s.codes
                for r in registry.RULES.values()
                if r.code in self.enabled
            )
            if relevant:
                what = ", ".join(s.codes) if s.codes else "all codes"
                scope = "in this file" if s.file_wide else "on the next statement"
                if not s.file_wide and not s.own_line:
                    scope = "on this statement"
                extra.report(
                    "E901",
                    None,
                    offset,
                    offset,
                    f"unused suppression: ignore[{what}] suppresses nothing {scope}; remove it",
                )
        return kept + extra.findings

    # -- many files -----------------------------------------------------------------------------
    def run(
        self,
        paths: Sequence[Path],
        *,
        fix: bool = False,
        progress: Callable[[int, int], None] | None = None,
        workers: int | None = None,
    ) -> Result:
        """Check ``paths``: from the result cache where a file is unchanged, on several processes
        for large sets (``workers``, default: the CPUs, or ``DDLGUARD_WORKERS``). The result is the
        same, byte for byte, whichever way it was computed."""
        result = Result(findings=[])
        total = len(paths)
        n = _worker_count(workers, total, fix)
        if n > 1:
            outcomes = self._run_parallel(paths, n, progress)
        else:
            outcomes = []
            for i, path in enumerate(paths, 1):
                outcomes.append(self._checked(path, fix=fix, result=result))
                if progress is not None:
                    progress(i, total)
        for display, findings, statements, path in outcomes:
            result.findings.extend(findings)
            result.statements += statements
            result.files += 1
            result.source_paths[display] = path
        result.findings.sort(key=Finding.sort_key)
        return result

    def _checked(
        self, path: Path, *, fix: bool, result: Result
    ) -> tuple[str, list[Finding], int, Path]:
        """One file's (display path, findings, statements, path), through the cache. The text
        is not passed back: a report that shows source lines reads them (Result.source)."""
        from ddlguard import cache

        use_cache = cache.enabled() and not fix
        data: bytes | None = None
        k = ""
        if use_cache:
            try:
                data = path.read_bytes()
            except OSError:
                data = None
            if data is not None:
                display = display_path(path, self.cwd)
                k = cache.key(data, display=display, settings_key=self._settings_key(path))
                hit = cache.load(self._cache_dir(), k)
                if hit is not None:
                    return display, hit[0], hit[1], path
        report = self.check_file(path, data)
        if fix and report.file is not None:
            report, fixed = self._fix(report)
            result.fixed += fixed
        if use_cache and data is not None:
            cache.store(self._cache_dir(), k, report.findings, report.statements)
        return report.display, report.findings, report.statements, path

    def _run_parallel(
        self, paths: Sequence[Path], n: int, progress: Callable[[int, int], None] | None
    ) -> list[tuple[str, list[Finding], int, Path]]:
        from concurrent.futures import ProcessPoolExecutor

        size = max(8, len(paths) // (n * 16))
        chunks = [list(paths[i : i + size]) for i in range(0, len(paths), size)]
        args = (
            self.config,
            tuple(self.select),
            tuple(self.ignore),
            self.cwd,
            frozenset(self.migration_paths),
        )
        out: list[tuple[str, list[Finding], int, Path]] = []
        done = 0
        with ProcessPoolExecutor(max_workers=n, initializer=_init_worker, initargs=(args,)) as pool:
            for i, part in enumerate(pool.map(_check_chunk, chunks)):
                for (display, findings, statements), path in zip(
                    _decode_outcomes(part), chunks[i], strict=True
                ):
                    out.append((display, findings, statements, path))
                done += len(chunks[i])
                if progress is not None:
                    progress(done, len(paths))
        return out

    def _settings_key(self, path: Path) -> str:
        if self._key_base is None:
            import json

            self._key_base = json.dumps(
                [self.config.to_json(), sorted(self.enabled), str(self.config.root)], sort_keys=True
            )
        is_migration = not self.migration_paths or resolved(path) in self.migration_paths
        return f"{self._key_base}|{is_migration}"

    def _cache_dir(self) -> Path:
        """The cache folder, created (with its .gitignore) once per run, not once per file."""
        if self._cache_folder is None:
            from ddlguard.configfile import CACHE_DIR, ensure_cache_dir

            self._cache_folder = ensure_cache_dir(self.config.root) or (
                self.config.root / CACHE_DIR
            )
        return self._cache_folder

    def _fix(self, report: FileReport) -> tuple[FileReport, int]:
        """Apply the mechanical fixes of a file in place (atomically), then check it again."""
        assert report.file is not None
        file = report.file
        applied = 0
        for _ in range(3):  # a fix never uncovers another one today; allow a few rounds anyway
            edits = sorted(
                (e for f in report.findings if f.fix and f.fix.applicable for e in f.fix.edits),
                key=lambda e: (e.start, e.end),
                reverse=True,
            )
            if not edits:
                break
            text = file.text
            last_start: int | None = None
            n = 0
            for e in edits:
                if last_start is not None and e.end > last_start:
                    continue  # overlapping edit: leave it for the next round
                text = text[: e.start] + e.text + text[e.end :]
                last_start = e.start
                n += 1
            write_atomic(file.path, file.encode(text))
            applied += n
            reloaded = load(file.path, self.cwd)
            if isinstance(reloaded, DecodeProblem):  # pragma: no cover - we wrote UTF-8
                break
            file = reloaded
            report = self._check_loaded(file)
        return report, applied


def _worker_count(workers: int | None, files: int, fix: bool) -> int:
    """Processes to use: one for small sets and for --fix (it writes files), else the CPUs."""
    if workers is None:
        env = os.environ.get("DDLGUARD_WORKERS")
        workers = int(env) if env and env.isdigit() else (os.cpu_count() or 1)
    if fix or files < 64:
        return 1
    return max(1, min(workers, files // 16))


_WORKER: Checker | None = None


def _init_worker(
    args: tuple[Settings, tuple[str, ...], tuple[str, ...], Path, frozenset[Path]],
) -> None:
    """Build a worker process's Checker once (the configuration travels once per process)."""
    global _WORKER
    config, select, ignore, cwd, migration_paths = args
    _WORKER = Checker(
        config, select=select, ignore=ignore, cwd=cwd, migration_paths=set(migration_paths)
    )


def _check_chunk(paths: list[Path]) -> bytes:
    """A worker process's share, as msgpack: findings cross the process boundary about six times
    faster than pickled dataclasses, and the parent decodes them while the workers go on."""
    import msgspec

    assert _WORKER is not None
    scratch = Result(findings=[])
    done = [_WORKER._checked(p, fix=False, result=scratch)[:3] for p in paths]
    return msgspec.msgpack.encode(done)


def _decode_outcomes(data: bytes) -> list[tuple[str, list[Finding], int]]:
    import msgspec

    return msgspec.msgpack.decode(data, type=list[tuple[str, list[Finding], int]])


def _syntax_message(message: str) -> str:
    return f"syntax error: {message}" if not message.startswith("syntax error") else message


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename,
    keeping the file's permissions."""
    folder = path.parent
    mode: int | None
    try:
        mode = path.stat().st_mode & 0o7777
    except OSError:
        mode = None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".ddlguard-tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            Path(tmp).chmod(mode)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
