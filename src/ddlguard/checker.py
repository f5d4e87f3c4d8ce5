"""The orchestrator: which files, which rules, suppressions, fixes, the result."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

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
    from concurrent.futures import ProcessPoolExecutor

    from ddlguard.cache import Index, Stamp
    from ddlguard.configfile import Settings
    from ddlguard.style import StyleLinter


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
    return _sql_files(root)[0]


def _sql_files(root: Path) -> tuple[list[Path], bool]:
    """sql_files_under, and whether any of the files is a symbolic link (then two of them may
    be one file). Links to folders are not followed, as os.walk does not."""
    found: list[str] = []
    links = False
    folders = [os.fspath(root)]
    while folders:
        folder = folders.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in _SKIP_DIRS and not entry.name.startswith("."):
                    folders.append(entry.path)
            elif entry.name.lower().endswith(".sql") and not entry.is_dir():  # a linked folder
                found.append(entry.path)
                links = links or entry.is_symlink()
    paths = [Path(name) for name in found]
    return sorted(paths, key=lambda p: natural_sort_key(p.as_posix())), links


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given, folders expanded to their ``.sql`` files; each file once, in order."""
    out: list[Path] = []
    seen: set[Path] = set()
    paths = list(paths)
    for p in paths:
        links = True
        if p.is_dir():
            files, links = _sql_files(p)
            if not files:
                raise UsageError(f"{p}: no .sql files in this directory")
        elif p.exists() or p.is_symlink():
            files = [p]
        else:
            raise UsageError(f"{p}: no such file or directory")
        if len(paths) == 1 and not links:
            return files  # one folder walked, no link in it: each file is listed once
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
    # Migrations added (not modified) in the change under check, resolved: the tables they
    # create are new, so the safety rules exempt them in the other files (see cli._cmd_check).
    change_added: frozenset[Path] = frozenset()
    enabled: set[str] = field(init=False)
    _change_tables: dict[Path, frozenset[str]] | None = field(default=None, init=False, repr=False)
    _change_sums: dict[Path, str] | None = field(default=None, init=False, repr=False)
    _cache_folder: Path | None = field(default=None, init=False, repr=False)
    # sqlfluff's style rules, with [sqlfluff] enabled = true (see ddlguard.style).
    _style: StyleLinter | None = field(default=None, init=False, repr=False)
    # The worker processes of a run over many files.
    _pool: ProcessPoolExecutor | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        select = [*self.config.select, *self.select]
        ignore = [*self.config.ignore, *self.ignore]
        style = self.config.sqlfluff.enabled
        for sel in [*select, *ignore]:
            if not registry.known_selector(sel, style=style):
                raise UsageError(
                    f"unknown rule code or category in --select/--ignore: {sel!r}"
                    + _style_hint(sel, style)
                )
        self.enabled = registry.resolve(select, ignore)
        if style:
            from ddlguard.style import StyleLinter

            self._style = StyleLinter.for_settings(self.config, self.cwd, tuple(ignore))

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
        is_migration = not self.migration_paths or resolved(file.path) in self.migration_paths
        # The migration tool's transaction modes and down sections apply to migrations; other
        # files (snapshots) are scripts run with psql.
        parsed = parse(file, tool=self.config.migration_tool if is_migration else "psql")
        ctx = FileContext(
            file,
            parsed,
            self.config,
            self.enabled,
            is_migration=is_migration,
            change_created=self._change_created(file.path),
        )
        for problem in parsed.errors:
            ctx.report(
                "E001", None, problem.offset, problem.offset, _syntax_message(problem.message)
            )
        top = sum(1 for _ in parsed.top_level())
        if top == 0 and not parsed.errors and not file.meta_commands:
            what = "only comments" if file.text.strip() else "nothing"
            ctx.report("E003", None, 0, 0, f"{file.path.name} contains {what}: no SQL statements")
        from ddlguard.rules import idempotency, naming, safety

        idempotency.check(ctx)
        naming.check(ctx)
        safety.check(ctx)
        if self._style is not None:
            ctx.findings.extend(self._style_call(lambda st: st.lint(file, parsed)))
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
                if s.covers(f.code, f.category.value, f.rule) and s.applies_to(f.anchor_lines):
                    hit = s
                    break
            if hit is None:
                kept.append(f)
            else:
                hit.used.add(f.code)
        extra = FileContext(file, Parsed([], []), self.config, self.enabled)
        for s in sups:
            offset = file.index.line_start(s.line) + s.column - 1
            unknown = [c for c in s.codes if not self._known_code(c)]
            for code in unknown:
                extra.report(
                    "E902",
                    None,
                    offset,
                    offset,
                    f"suppression names {code}, which is not a ddlguard rule code, prefix or "
                    f"category" + self._unknown_style_hint(code),
                )
            if s.used or unknown:
                continue
            relevant = (
                not s.codes
                or any(
                    registry.matches(c, r)
                    for c in s.codes
                    for r in registry.RULES.values()
                    if r.code in self.enabled
                )
                or self._style_relevant(file, s)
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

    # -- sqlfluff's style rules -----------------------------------------------------------------
    def _style_call(self, call: Callable[[StyleLinter], _T]) -> _T:
        """``call`` on the style linter; sqlfluff's problems (not installed, a broken .sqlfluff)
        become usage errors (exit status 2)."""
        from ddlguard.style import StyleError

        assert self._style is not None
        try:
            return call(self._style)
        except StyleError as exc:
            raise UsageError(str(exc)) from None

    def _known_code(self, code: str) -> bool:
        """A suppression's code is a ddlguard code, prefix, name or category, or, with sqlfluff
        on, the code, a code prefix or the name of a rule sqlfluff knows."""
        if registry.known_selector(code):
            return True
        if self._style is None:
            return False
        from ddlguard.style import looks_like_selector

        return looks_like_selector(code) and self._style_call(lambda st: st.is_rule(code))

    def _unknown_style_hint(self, code: str) -> str:
        if self._style is None:
            return _style_hint(code, style=False)
        from ddlguard.style import looks_like_selector

        return ", nor a sqlfluff rule" if looks_like_selector(code) else ""

    def _style_relevant(self, file: SqlFile, s: Suppression) -> bool:
        """Could this unused suppression have suppressed a style finding (a rule sqlfluff runs on
        this file, not turned off with --ignore)? Then it is reported unused (E901)."""
        if self._style is None or not s.codes:
            return False
        rules = self._style_call(lambda st: st.active_rules(file))
        return any(s.covers(code, "style", name) for code, name in rules)

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
        if self._style is not None:
            self._style_call(lambda st: st.require())  # sqlfluff installed: fail early if not
        return self._run(paths, fix=fix, progress=progress, workers=workers)

    def _run(
        self,
        paths: Sequence[Path],
        *,
        fix: bool,
        progress: Callable[[int, int], None] | None,
        workers: int | None,
    ) -> Result:
        from ddlguard import cache

        result = Result(findings=[])
        total = len(paths)
        index = self._index() if cache.enabled() and not fix else None
        outcomes: list[tuple[str, list[Finding], int, Path] | None] = [None] * total
        todo: list[int] = []
        contexts: dict[int, str] = {}
        for i, path in enumerate(paths):
            if index is not None and index.entries:
                display = display_path(path, self.cwd)
                contexts[i] = self._file_context(path)
                hit = index.lookup(path, display, contexts[i])
                if hit is not None:
                    outcomes[i] = (display, hit[0], hit[1], path)
                    continue
            todo.append(i)
        done = total - len(todo)
        if progress is not None and done:
            progress(done, total)
        n = _worker_count(workers, len(todo), fix)
        fresh: Iterable[tuple[str, list[Finding], int, cache.Stamp | None, bytes | None]]
        if n > 1:
            base = done

            def tick(count: int) -> None:
                if progress is not None:
                    progress(base + count, total)

            fresh = self._run_parallel([paths[i] for i in todo], n, tick)
        else:
            fresh = (
                (*self._fresh(paths[i], fix=fix, result=result), None) for i in todo
            )
        for i, (display, findings, statements, mark, blob) in zip(todo, fresh, strict=True):
            path = paths[i]
            outcomes[i] = (display, findings, statements, path)
            if index is not None and mark is not None:
                if blob is None:
                    blob = cache.encode_findings(findings)
                context = contexts.get(i)
                if context is None:
                    context = self._file_context(path)
                index.put(display, context, mark, statements, blob)
            done += 1
            if progress is not None and n == 1:
                progress(done, total)
        if index is not None:
            index.save()
        for outcome in outcomes:
            assert outcome is not None
            display, findings, statements, path = outcome
            result.findings.extend(findings)
            result.statements += statements
            result.files += 1
            result.source_paths[display] = path
        result.findings.sort(key=Finding.sort_key)
        return result

    def _fresh(
        self, path: Path, *, fix: bool, result: Result
    ) -> tuple[str, list[Finding], int, Stamp | None]:
        """One file checked (and fixed, with ``fix``): (display path, findings, statements, the
        stamp of the bytes checked, for the cache). The text is not passed back: a report that
        shows source lines reads them (Result.source)."""
        from ddlguard import cache
        from ddlguard.sql.source import read_bytes

        data: bytes | None = None
        mark: Stamp | None = None
        if not fix and cache.enabled():
            try:
                before = path.stat()
                data = read_bytes(path)
            except (OSError, ReadError):
                data = None  # check_file reports it
            else:
                mark = cache.stamp(path, data, before)
        report = self.check_file(path, data)
        if fix and report.file is not None:
            report, fixed = self._fix(report)
            result.fixed += fixed
        return report.display, report.findings, report.statements, mark

    def close(self) -> None:
        """Stop the worker processes (idempotent)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            import gc

            gc.unfreeze()

    def _start_pool(self, n: int) -> ProcessPoolExecutor:
        import gc
        from concurrent.futures import ProcessPoolExecutor

        args = (
            self.config,
            tuple(self.select),
            tuple(self.ignore),
            self.cwd,
            frozenset(self.migration_paths),
        )
        # The workers are forked: keep the collector off the objects they inherit (Python's
        # advice for fork), so their pages are not copied and not traversed again and again.
        gc.freeze()
        return ProcessPoolExecutor(max_workers=n, initializer=_init_worker, initargs=(args,))

    def _run_parallel(
        self, paths: Sequence[Path], n: int, tick: Callable[[int], None]
    ) -> Iterator[tuple[str, list[Finding], int, Stamp | None, bytes]]:
        """Check ``paths`` on ``n`` processes, in chunks; outcomes in the order of ``paths``,
        ``tick(files done)`` as they come. Each outcome carries its findings encoded as well,
        as the result cache keeps them (no second encoding here)."""
        self._pool = self._start_pool(n)
        size = max(8, len(paths) // (n * 16))
        # Paths travel as strings: a pickled Path costs several times more.
        names = [str(p) for p in paths]
        chunks = [names[i : i + size] for i in range(0, len(names), size)]
        change = tuple(sorted(self._change_map().items()))
        done = 0
        try:
            for part in self._pool.map(_check_chunk, chunks, [change] * len(chunks)):
                outcomes = _decode_outcomes(part)
                done += len(outcomes)
                tick(done)
                yield from outcomes
        finally:
            self.close()

    def _index(self) -> Index:
        """This configuration's result cache index (see ddlguard.cache)."""
        import json

        from ddlguard.cache import Index, key

        base = json.dumps(
            [self.config.to_json(), sorted(self.enabled), str(self.config.root)], sort_keys=True
        )
        return Index(self._cache_dir(), key(base))

    def _file_context(self, path: Path) -> str:
        """What decides a file's findings besides its content and the configuration: whether it
        is a configured migration, the relations the change's other added migrations create,
        and with sqlfluff on, its version and the sqlfluff configuration for the file."""
        me = resolved(path) if self.migration_paths or self.change_added else path
        is_migration = not self.migration_paths or me in self.migration_paths
        # The other added migrations by their content (not their parse: a cached run must not
        # need the parser); the relations they create follow from it.
        change = (
            sorted(f"{p}:{d}" for p, d in self._change_digests().items() if p != me)
            if self.change_added
            else []
        )
        style = "" if self._style is None else "|" + self._style_call(lambda st: st.key(path))
        if is_migration and self.config.migration_tool == "flyway":
            # Flyway's script configuration file next to the migration sets its transaction mode.
            from ddlguard.sql.transactions import flyway_script_config

            style += f"|flyway:{flyway_script_config(path)!r}"
        if change:
            return f"{is_migration}|{','.join(change)}{style}"
        return f"{is_migration}{style}"

    def _change_digests(self) -> dict[Path, str]:
        """The added migrations of the change and the digests of their bytes, read once."""
        if self._change_sums is None:
            from ddlguard.cache import digest

            sums: dict[Path, str] = {}
            for path in sorted(self.change_added):
                try:
                    sums[path] = digest(path.read_bytes()).hex()
                except OSError:
                    sums[path] = "unreadable"
            self._change_sums = sums
        return self._change_sums

    def _change_map(self) -> dict[Path, frozenset[str]]:
        """The relations each added migration of the change creates; each file parsed once."""
        if self._change_tables is None:
            from ddlguard.rules.safety import relations_created_in

            tables: dict[Path, frozenset[str]] = {}
            for path in sorted(self.change_added):
                try:
                    loaded = load(path, self.cwd)
                except ReadError:
                    continue
                if not isinstance(loaded, DecodeProblem):
                    parsed = parse(loaded, tool=self.config.migration_tool)
                    created = relations_created_in(parsed, self.config.default_schema)
                    tables[path] = created
            self._change_tables = tables
        return self._change_tables

    def _change_created(self, path: Path) -> frozenset[str]:
        """Relations created by the other added migrations of the change than ``path``."""
        if not self.change_added:
            return frozenset()
        me = resolved(path)
        out: set[str] = set()
        for other, created in self._change_map().items():
            if other != me:
                out |= created
        return frozenset(out)

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


_T = TypeVar("_T")


def _style_hint(selector: str, style: bool) -> str:
    """For an unknown --select/--ignore entry that looks like a sqlfluff code, with sqlfluff off."""
    if style:
        return ""
    from ddlguard.style import looks_like_selector

    if not looks_like_selector(selector):
        return ""
    return f" ({selector} looks like a sqlfluff rule: style rules are checked only with [sqlfluff] enabled = true)"


def _worker_count(workers: int | None, files: int, fix: bool) -> int:
    """Processes to use: one for small sets and for --fix (it writes files), else the CPUs."""
    if workers is None:
        env = os.environ.get("DDLGUARD_WORKERS")
        workers = int(env) if env and env.isdigit() else (os.cpu_count() or 1)
    if fix or files < 64:
        return 1
    return max(1, min(workers, files // 16))


def _keep_freed_memory() -> None:
    """Ask glibc to keep memory this process frees instead of returning it to the system at
    once: each file's parse tree is built and freed in turn, and handing the pages back and
    faulting them in again was a quarter of the system time of a check (measured: 35k page
    faults down to 26k on the benchmark corpus). Nothing happens where there is no glibc."""
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_mmap_threshold, 64 * 1024 * 1024)
    mallopt(m_trim_threshold, 128 * 1024 * 1024)


_WORKER: Checker | None = None


def _init_worker(
    args: tuple[Settings, tuple[str, ...], tuple[str, ...], Path, frozenset[Path]],
) -> None:
    """Build a worker process's Checker once (the configuration travels once per process)."""
    global _WORKER
    _keep_freed_memory()
    config, select, ignore, cwd, migration_paths = args
    _WORKER = Checker(
        config, select=select, ignore=ignore, cwd=cwd, migration_paths=set(migration_paths)
    )


def _check_chunk(
    paths: list[str], change: tuple[tuple[Path, frozenset[str]], ...] = ()
) -> bytes:
    """A worker process's share, as msgpack: findings cross the process boundary about six times
    faster than pickled dataclasses, and the parent decodes them while the workers go on.
    ``change``: the added migrations of the change and the relations they create, parsed once
    by the parent."""
    import msgspec

    from ddlguard.cache import encode_findings

    assert _WORKER is not None
    added = frozenset(p for p, _ in change)
    if added != _WORKER.change_added:
        _WORKER.change_added = added
        _WORKER._change_tables = dict(change)
    scratch = Result(findings=[])
    done = []
    for p in paths:
        display, findings, statements, mark = _WORKER._fresh(Path(p), fix=False, result=scratch)
        done.append((display, msgspec.Raw(encode_findings(findings)), statements, mark))
    return msgspec.msgpack.encode(done)


def _decode_outcomes(
    data: bytes,
) -> list[tuple[str, list[Finding], int, Stamp | None, bytes]]:
    import msgspec

    from ddlguard.cache import Stamp, decode_findings

    parts = msgspec.msgpack.decode(
        data, type=list[tuple[str, msgspec.Raw, int, Stamp | None]]
    )
    return [
        (display, decode_findings(raw), statements, mark, bytes(raw))
        for display, raw, statements, mark in parts
    ]


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
