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
    be one file). Links to folders are not followed, as os.walk does not. What is not a regular
    file that can be read (a dangling or looping link, a FIFO, a socket, a file or folder without
    read permission) is left out with a warning on stderr naming it; the rest is still listed."""
    found: list[str] = []
    links = False
    folders = [os.fspath(root)]
    while folders:
        folder = folders.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            skip_warning(folder, f"cannot list this folder ({_reason(exc)})")
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in _SKIP_DIRS and not entry.name.startswith("."):
                        folders.append(entry.path)
                    continue
                if not entry.name.lower().endswith(".sql"):
                    continue
                if entry.is_file():  # follows a link
                    if os.access(entry.path, os.R_OK):
                        found.append(entry.path)
                        links = links or entry.is_symlink()
                    else:
                        skip_warning(entry.path, "permission denied")
                elif not entry.is_dir():  # a linked folder named *.sql is a folder: not followed
                    skip_warning(entry.path, not_a_file(entry.path))
            except OSError as exc:  # a link loop
                skip_warning(entry.path, not_a_file(entry.path, exc))
    paths = [Path(name) for name in found]
    return sorted(paths, key=lambda p: natural_sort_key(p.as_posix())), links


def skip_warning(path: str | Path, why: str) -> None:
    """Say on stderr that ``path`` is left out, and why (never silently)."""
    import sys

    print(f"ddlguard: warning: {os.fspath(path)}: skipped: {why}", file=sys.stderr)


def _reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


def not_a_file(path: str | Path, error: OSError | None = None) -> str:
    """What ``path`` is, for a warning that it is not a regular file to read."""
    import errno
    import stat

    try:
        if error is not None:
            raise error
        mode = Path(path).stat().st_mode
    except FileNotFoundError:
        return "a symbolic link to a file that does not exist"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop"
        return _reason(exc)
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe), not a regular file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a regular file"
    return "not a regular file"


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given, folders expanded to their ``.sql`` files; each file once, in order. A
    FIFO, socket or device given by name is left out with a warning (reading it could wait
    forever); a name that does not exist, or a link loop, is a UsageError."""
    import stat

    out: list[Path] = []
    seen: set[Path] = set()
    paths = list(paths)
    for p in paths:
        links = True
        if p.is_dir():
            files, links = _sql_files(p)
            if not files:
                raise UsageError(f"{p}: no .sql files in this directory")
        elif p.exists():
            if not stat.S_ISREG(p.stat().st_mode):
                skip_warning(p, not_a_file(p))
                continue
            files = [p]
        elif p.is_symlink():
            raise UsageError(f"{p}: {not_a_file(p)}")
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
    _change_key: str | None = field(default=None, init=False, repr=False)
    _change_set: _ChangeSet | None = field(default=None, init=False, repr=False)
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
            change_created=self._change_created(file.path, parsed),
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

    def close(self, *, kill: bool = False) -> None:
        """Stop the worker processes (idempotent); ``kill``: at once, without waiting for the
        chunks they are working on (on an interrupt or an error)."""
        if self._pool is not None:
            if kill:
                _kill_workers(self._pool)
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
        return ProcessPoolExecutor(
            max_workers=n, initializer=_init_worker, initargs=(args, os.getpid())
        )

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
        done = 0
        previous = _stop_on_signals()
        try:
            # Encoded once: each chunk carries the same bytes, decoded once per worker.
            change = _encode_change(self._change_map(self._pool, n))
            for part in self._pool.map(_check_chunk, chunks, [change] * len(chunks)):
                outcomes = _decode_outcomes(part)
                done += len(outcomes)
                tick(done)
                yield from outcomes
        except BaseException:
            # SIGTERM/SIGHUP (see _stop_on_signals), Ctrl-C, an error: the workers go now.
            self.close(kill=True)
            raise
        finally:
            self.close()
            _restore_signals(previous)

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
        # need the parser); the relations they create follow from it. One digest of the whole
        # change, and whether this file is in it, tell the others apart: a list of the others
        # in every entry would make the index grow with the square of the change.
        change = ""
        if self.change_added and not self.change_added <= {me}:
            change = self._change_digest() + ("-me" if me in self.change_added else "")
        style = "" if self._style is None else "|" + self._style_call(lambda st: st.key(path))
        if is_migration and self.config.migration_tool == "flyway":
            # Flyway's script configuration file next to the migration sets its transaction mode.
            from ddlguard.sql.transactions import flyway_script_config

            style += f"|flyway:{flyway_script_config(path)!r}"
        if change:
            return f"{is_migration}|change:{change}{style}"
        return f"{is_migration}{style}"

    def _change_digest(self) -> str:
        """One digest of the added migrations of the change and of their bytes, computed once."""
        if self._change_key is None:
            import hashlib

            h = hashlib.sha256()
            for path, d in sorted(self._change_digests().items()):
                h.update(f"{path}\0{d}\0".encode("utf-8", "surrogateescape"))
            self._change_key = h.hexdigest()[:32]
        return self._change_key

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

    def _change_map(
        self, pool: ProcessPoolExecutor | None = None, n: int = 1
    ) -> dict[Path, frozenset[str]]:
        """The relations each added migration of the change creates; each file parsed once, on
        the ``n`` processes of ``pool`` when given (a large first commit: thousands of files)."""
        if self._change_tables is None:
            added = sorted(self.change_added)
            tables: dict[Path, frozenset[str]] = {}
            if pool is not None and len(added) >= 64:
                size = max(8, len(added) // (n * 4))
                names = [str(p) for p in added]
                chunks = [names[i : i + size] for i in range(0, len(names), size)]
                for part in pool.map(_created_chunk, chunks):
                    tables.update(_decode_change(part))
            else:
                for path in added:
                    created = self._created_in(path)
                    if created is not None:
                        tables[path] = created
            self._change_tables = tables
        return self._change_tables

    def _created_in(self, path: Path) -> frozenset[str] | None:
        """The relations an added migration creates; None when it cannot be read as text."""
        from ddlguard.rules.safety import relations_created_in

        try:
            loaded = load(path, self.cwd)
        except ReadError:
            return None
        if isinstance(loaded, DecodeProblem):
            return None
        parsed = parse(loaded, tool=self.config.migration_tool)
        return relations_created_in(parsed, self.config.default_schema)

    def _change_created(self, path: Path, parsed: Parsed) -> frozenset[str]:
        """Relations created by the other added migrations of the change than ``path`` (for a
        large change, only those ``parsed`` names: see _ChangeSet.others)."""
        if not self.change_added:
            return frozenset()
        if self._change_set is None:
            self._change_set = _ChangeSet(self._change_map())
        return self._change_set.others(resolved(path), parsed)

    def _cache_dir(self) -> Path:
        """The cache folder, created (with its .gitignore) once per run, not once per file."""
        if self._cache_folder is None:
            from ddlguard.configfile import CACHE_DIR, ensure_cache_dir

            self._cache_folder = ensure_cache_dir(self.config.root) or (
                self.config.root / CACHE_DIR
            )
        return self._cache_folder

    def _fix(self, report: FileReport) -> tuple[FileReport, int]:
        """Apply the mechanical fixes of a file in place (see write_atomic), then check it again.
        A file edited since it was read, or that cannot be written, stops the run (UsageError)."""
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
            try:
                write_atomic(file.path, file.encode(text), expected=file.encode())
                reloaded = load(file.path, self.cwd)
            except FileChanged:
                raise UsageError(
                    f"{file.display}: changed while ddlguard was fixing it; run again"
                ) from None
            except OSError as exc:
                raise UsageError(
                    f"{file.display}: cannot write the fix: {exc.strerror or exc}"
                ) from None
            except ReadError as exc:  # gone or unreadable once written
                raise UsageError(f"cannot read the fixed file again: {exc}") from None
            applied += n
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


# Up to this many relations created in a change, each file gets the exact set of what the
# others create (a set difference, cheap at this size); above it, see _ChangeSet.others.
_SMALL_CHANGE = 512


class _ChangeSet:
    """The relations the added migrations of a change create, arranged so that each file's share
    (what the *other* files create) costs in proportion to that file, not to the change.

    The share of one file is everything the change creates except what only that file creates.
    Built as a set for each file, that is a copy of the whole change per file: quadratic over a
    large first commit or a fresh ``git init`` (20,000 files: minutes, and gigabytes in the
    cache). The safety rules only ask whether a relation the file names is in the share
    (safety._State.existing: a name from the file's parse tree, qualified and lower-cased), so
    for a large change the share holds only the relations whose name (the part after a dot) is a
    string of the file's parse trees: the same answer to every question the rules can ask."""

    __slots__ = ("_by_name", "_creators", "_everything", "_plain", "created")

    def __init__(self, created: dict[Path, frozenset[str]]) -> None:
        self.created = created
        creators: dict[str, int] = {}
        for rels in created.values():
            for rel in rels:
                creators[rel] = creators.get(rel, 0) + 1
        self._creators = creators
        self._everything = frozenset(creators)
        self._by_name: dict[str, list[str]] | None = None
        self._plain: bool | None = None  # every relation's name ASCII (see _names)

    def others(self, me: Path, parsed: Parsed) -> frozenset[str]:
        """What the change's files other than ``me`` create (see the class)."""
        own = self.created.get(me, frozenset())
        sole = {rel for rel in own if self._creators[rel] == 1}
        by_name = self._names() if len(self._everything) > _SMALL_CHANGE else None
        if by_name is None:
            return self._everything - sole if sole else self._everything
        found: set[str] = set()
        for text in _tree_strings(parsed):
            hit = by_name.get(text.lower())
            if hit is not None:
                found.update(hit)
        return frozenset(found - sole)

    def _names(self) -> dict[str, list[str]] | None:
        """Each relation under every part of it after a dot (schema and name may hold dots), or
        None when a name is not ASCII (lower() of a qualified name is then not always the
        qualified lower() of its parts: Greek final sigma)."""
        if self._plain is None:
            self._plain = all(rel.isascii() for rel in self._everything)
        if self._by_name is None and self._plain:
            by_name: dict[str, list[str]] = {}
            for rel in self._everything:
                dot = rel.find(".")
                while dot != -1:
                    by_name.setdefault(rel[dot + 1 :], []).append(rel)
                    dot = rel.find(".", dot + 1)
            self._by_name = by_name
        return self._by_name


def _tree_strings(parsed: Parsed) -> set[str]:
    """Every string value in the parse trees of a file's statements (names among them)."""
    out: set[str] = set()
    stack: list[object] = [s.node for s in parsed.statements]
    pop, push, add = stack.pop, stack.extend, out.add
    while stack:
        item = pop()
        if isinstance(item, dict):
            push(item.values())
        elif isinstance(item, list):
            push(item)
        elif isinstance(item, str):
            add(item)
    return out


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


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP during a run on worker processes: ends the run like Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


def _stop_on_signals() -> dict[int, object]:
    """In the parent, while workers run: SIGTERM and SIGHUP raise Terminated, so that the
    workers are stopped before the process ends (the previous handlers are returned)."""
    import signal
    from contextlib import suppress

    def _on_signal(signum: int, frame: object) -> None:
        raise Terminated(signum)

    previous: dict[int, object] = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        with suppress(ValueError):  # not the main thread
            previous[sig] = signal.signal(sig, _on_signal)
    return previous


def _restore_signals(previous: dict[int, object]) -> None:
    import signal

    for sig, handler in previous.items():
        signal.signal(sig, handler)  # type: ignore[arg-type]


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """SIGKILL every worker process of ``pool`` (they hold no state worth saving)."""
    from contextlib import suppress

    processes = getattr(pool, "_processes", None) or {}
    for process in list(processes.values()):
        with suppress(OSError, AttributeError, ValueError):
            process.kill()


def _die_with_parent(parent: int) -> None:
    """A worker must not outlive the process that started it (SIGKILL, OOM killer): it would
    keep the parent's stdout and stderr open and the caller (pre-commit, CI) waiting. On Linux
    the kernel sends it SIGKILL when the parent dies (PR_SET_PDEATHSIG); if the parent is
    already gone, exit now. SIGTERM and SIGHUP get their default action back (the parent's
    handlers are inherited through fork)."""
    import signal
    from contextlib import suppress

    for sig in (signal.SIGTERM, signal.SIGHUP):
        with suppress(ValueError, OSError):
            signal.signal(sig, signal.SIG_DFL)
    if os.uname().sysname == "Linux":
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            pr_set_pdeathsig = 1
            libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if parent and os.getppid() != parent:
        os._exit(1)


def _init_worker(
    args: tuple[Settings, tuple[str, ...], tuple[str, ...], Path, frozenset[Path]],
    parent: int = 0,
) -> None:
    """Build a worker process's Checker once (the configuration travels once per process);
    ``parent``: the pid of the process that started the pool (see _die_with_parent)."""
    global _WORKER
    _die_with_parent(parent)
    _keep_freed_memory()
    config, select, ignore, cwd, migration_paths = args
    _WORKER = Checker(
        config, select=select, ignore=ignore, cwd=cwd, migration_paths=set(migration_paths)
    )


# (the bytes, and the change they decode to) last received by this worker process
_WORKER_CHANGE: tuple[bytes, dict[Path, frozenset[str]]] = (b"", {})


def _encode_change(change: dict[Path, frozenset[str]]) -> bytes:
    """The added migrations of a change and the relations they create, for the workers."""
    import msgspec

    return msgspec.msgpack.encode([(str(p), sorted(rels)) for p, rels in sorted(change.items())])


def _decode_change(data: bytes) -> dict[Path, frozenset[str]]:
    import msgspec

    if not data:
        return {}
    items = msgspec.msgpack.decode(data, type=list[tuple[str, list[str]]])
    return {Path(p): frozenset(rels) for p, rels in items}


def _created_chunk(paths: list[str]) -> bytes:
    """A worker process's share of Checker._change_map, as _encode_change gives it."""
    assert _WORKER is not None
    tables: dict[Path, frozenset[str]] = {}
    for name in paths:
        created = _WORKER._created_in(Path(name))
        if created is not None:
            tables[Path(name)] = created
    return _encode_change(tables)


def _check_chunk(paths: list[str], change: bytes = b"") -> bytes:
    """A worker process's share, as msgpack: findings cross the process boundary about six times
    faster than pickled dataclasses, and the parent decodes them while the workers go on.
    ``change``: the added migrations of the change and the relations they create, parsed once
    by the parent (_encode_change); decoded once per worker, not once per chunk."""
    import msgspec

    from ddlguard.cache import encode_findings

    global _WORKER_CHANGE
    assert _WORKER is not None
    if change != _WORKER_CHANGE[0]:
        _WORKER_CHANGE = (change, _decode_change(change))
        tables = _WORKER_CHANGE[1]
        _WORKER.change_added = frozenset(tables)
        _WORKER._change_tables = tables
        _WORKER._change_set = None
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


class FileChanged(Exception):
    """The file on disk is no longer the bytes ddlguard read: nothing was written over it."""


def write_atomic(path: Path, data: bytes, *, expected: bytes | None = None) -> None:
    """Write ``data`` to ``path`` so that a crash never leaves a half-written file, keeping what
    the file is.

    - A symbolic link is followed: its target is written and the link stays a link.
    - An existing file keeps its mode, owner and group (root gives the owner back with chown);
      a new file gets the mode the umask allows, as with ``open``.
    - The bytes go to a temporary file in the target's folder, fsynced, then renamed over the
      target. Where a rename would change what the file is, the file is rewritten in place, on
      its own inode instead: when it has other hard links (st_nlink > 1), which a rename would
      leave on the old content, and when the temporary file cannot be given its owner or group
      (not root). In place, the old bytes are first copied to ``.NAME.*.ddlguard-backup`` in the
      same folder and fsynced, then the file is truncated, written and fsynced, then the copy is
      removed: a crash in between leaves the old content in the copy, never lost. (No rename can
      replace a shared inode atomically: meanwhile, a reader may see a partial file.)
    - An existing path that is not a regular file (a FIFO, ``/dev/stdout``) is written as it is.
    - ``expected``: the bytes ``data`` was computed from. The file is read again just before the
      rename (or the in-place write); if it differs, nothing is written and FileChanged is
      raised. (An edit saved in the instant between that read and the rename is not seen:
      editors take no lock.)

    Raises OSError when the file or its folder cannot be written; no temporary file is left.
    """
    import stat

    try:
        st: os.stat_result | None = path.stat()
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        with path.open("wb") as out:  # IsADirectoryError for a folder
            out.write(data)
        return
    target = Path(os.path.realpath(path))
    if st is not None and st.st_nlink > 1:
        _write_in_place(target, data, expected)
        return
    fd, tmp = _temporary(target, ".ddlguard-tmp")
    in_place = False
    try:
        with os.fdopen(fd, "wb") as fh:
            if st is not None and not _give_owner(fh.fileno(), st):
                in_place = True
            else:
                fh.write(data)
                fh.flush()
                os.fchmod(fh.fileno(), stat.S_IMODE(st.st_mode) if st else _new_file_mode())
                os.fsync(fh.fileno())
        if not in_place:
            if expected is not None and not _holds(target, expected):
                raise FileChanged(str(path))
            Path(tmp).replace(target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if in_place:
        Path(tmp).unlink(missing_ok=True)
        _write_in_place(target, data, expected)


def _temporary(target: Path, suffix: str) -> tuple[int, str]:
    """A new hidden file beside ``target`` (mkstemp), with an error that names the folder."""
    try:
        return tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    except OSError as exc:
        raise OSError(
            exc.errno, f"{exc.strerror or exc}: cannot create a file in {target.parent}"
        ) from None


def _give_owner(fd: int, st: os.stat_result) -> bool:
    """Give the open file ``fd`` the owner and group in ``st``; False where that is not allowed."""
    now = os.fstat(fd)
    if (now.st_uid, now.st_gid) == (st.st_uid, st.st_gid):
        return True
    try:
        os.fchown(fd, st.st_uid, st.st_gid)  # before fchmod: chown clears set-user-ID bits
    except PermissionError:
        return False
    return True


def _new_file_mode() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _holds(target: Path, expected: bytes) -> bool:
    try:
        with target.open("rb") as fh:
            return fh.read() == expected
    except FileNotFoundError:
        return False


def _write_in_place(target: Path, data: bytes, expected: bytes | None) -> None:
    """Rewrite ``target`` on its own inode, with a fsynced copy of the old bytes kept beside it
    until the new ones are on disk (see write_atomic)."""
    with target.open("r+b") as fh:
        old = fh.read()
        if expected is not None and old != expected:
            raise FileChanged(str(target))
        fd, backup = _temporary(target, ".ddlguard-backup")
        try:
            with os.fdopen(fd, "wb") as copy:
                copy.write(old)
                copy.flush()
                os.fsync(copy.fileno())
        except BaseException:
            Path(backup).unlink(missing_ok=True)
            raise
        try:
            fh.seek(0)
            fh.write(data)
            fh.truncate()
            fh.flush()
            os.fsync(fh.fileno())
        except OSError as exc:  # a full disk: put the old bytes back
            try:
                fh.seek(0)
                fh.write(old)
                fh.truncate()
                fh.flush()
                os.fsync(fh.fileno())
            except OSError:
                raise OSError(
                    exc.errno, f"{exc.strerror or exc}; the old content is kept in {backup}"
                ) from None
            Path(backup).unlink(missing_ok=True)
            raise
    Path(backup).unlink(missing_ok=True)
