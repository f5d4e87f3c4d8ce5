"""The command line: parse flags, run the checker, pick a report, return the exit status."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ddlguard import __version__

if TYPE_CHECKING:
    from ddlguard.checker import Checker
    from ddlguard.configfile import Settings
    from ddlguard.findings import Result

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2

FORMATS = ("text", "json", "sarif", "github", "markdown")


class CliError(Exception):
    """An error that ends the run with exit status 2 and a one-line message."""


# --- argument parsing ------------------------------------------------------------------------


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=100)


def _common(p: argparse.ArgumentParser, *, output: bool = True) -> None:
    g = p.add_argument_group("common options")
    g.add_argument("--config", metavar="FILE", type=Path,
                   help="configuration file (default: ddlguard.toml, .ddlguard.toml or "
                   "[tool.ddlguard] in pyproject.toml, searched upward)")
    if output:
        g.add_argument("--format", choices=FORMATS, default=None,
                       help="output format (default: text)")
        g.add_argument("--output", "-o", metavar="FILE", type=Path,
                       help="write the report to FILE instead of standard output")
    g.add_argument("--select", metavar="CODES", action="append", default=[],
                   help="comma-separated rule codes, prefixes or categories to enable "
                   "(on top of the defaults)")
    g.add_argument("--ignore", metavar="CODES", action="append", default=[],
                   help="comma-separated rule codes, prefixes or categories to disable")
    g.add_argument("--fail-on", choices=("error", "warning", "info"), default=None,
                   help="lowest severity that makes the exit status 1 (default: the config's "
                   "fail-on, else warning)")
    g.add_argument("--quiet", "-q", action="store_true",
                   help="print only the findings (one line each), no source or summary")
    g.add_argument("--no-cache", action="store_true",
                   help="do not read or write the result cache (.ddlguard_cache/); also "
                   "DDLGUARD_NO_CACHE=1")
    g.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="colour in text output (default: auto, only on a terminal; NO_COLOR "
                   "and FORCE_COLOR are honoured)")


def _paragraphs(*paragraphs: str) -> str:
    import textwrap

    return "\n\n".join(
        "\n".join(textwrap.fill(line, 100, subsequent_indent="  " if line[:2] == "- " else "")
                  for line in p.split("\n"))
        for p in paragraphs
    )


_VERIFY_DESCRIPTION = _paragraphs(
    "Apply the configured migrations to a fresh database, then all of them a second time: every "
    "statement PostgreSQL rejects on the second run (I801), every table dropped and recreated or "
    "emptied by it (I802), every statement that fails even on the first run (I803), every "
    "statement cancelled by the statement or lock timeout (I804); then compare the resulting "
    "catalog with the canonical schema (D codes).",
    "Where: without --database-url, on a temporary cluster started from the PostgreSQL binaries "
    "on PATH (as an unprivileged user when run as root, on a unix socket only) and deleted "
    "afterwards. With --database-url, in a database named ddlguard_scratch_<random> created on "
    "that server and dropped afterwards, also on Ctrl-C, SIGTERM and SIGHUP (the running "
    "statement is cancelled first); no other database is touched.",
    "Refused before anything runs (an error naming the file and line, exit status 2):\n"
    "- with --database-url, statements that reach beyond the scratch database: CREATE/ALTER/DROP "
    "DATABASE, ALTER SYSTEM, CREATE/ALTER/DROP ROLE, USER or GROUP and role grants, tablespaces, "
    "CREATE SERVER, USER MAPPING and SUBSCRIPTION, dblink, functions acting on other sessions or "
    "the server (pg_terminate_backend, pg_reload_conf, ...), untrusted languages and LOAD;\n"
    "- everywhere, also on the temporary cluster: COPY ... PROGRAM, COPY to or from a server "
    "file, and the server-file functions (pg_read_file, pg_read_binary_file, pg_ls_dir, "
    "lo_import, lo_export, ...).\n"
    "Statements inside DO blocks and function bodies count; SQL assembled at run time cannot "
    "be seen.",
    "Timeouts: every session runs with statement_timeout (--statement-timeout, 60 s) and "
    "lock_timeout (--lock-timeout, 10 s), and ddlguard cancels a statement itself shortly after "
    "the statement timeout if a migration turned it off; a cancelled statement is an I804 "
    "finding at its file and line, and verify goes on.",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ddlguard",
        formatter_class=_Formatter,
        description="Stop PostgreSQL schema drift before it reaches production: checks SQL "
        "migrations for idempotency, naming and sync with the canonical schema.",
        epilog="Exit status: 0 nothing found at or above the failing severity, 1 something was, "
        "2 ddlguard could not do its job.\nRun `ddlguard rules` for the rules, "
        "`ddlguard rules CODE` for one rule's documentation.",
    )
    parser.add_argument("--version", action="version", version=f"ddlguard {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = sub.add_parser(
        "check", formatter_class=_Formatter,
        help="lint SQL files (the pre-commit entry point)",
        description="Lint SQL files: syntax, idempotency and naming rules. With no PATH, checks "
        "every migration and snapshot in the configuration. A folder means every .sql file "
        "below it.",
    )
    check.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="SQL files or folders")
    check.add_argument("--fix", action="store_true",
                       help="apply the safe automatic fixes in place (IF NOT EXISTS, IF EXISTS, "
                       "OR REPLACE), then report what is left")
    check.add_argument("--diff-base", metavar="REF",
                       help="only files added or changed since the git REF (from the merge base, "
                       "as a pull request shows them), and migration order against REF")
    check.add_argument("--baseline", metavar="FILE", type=Path,
                       help="leave out the findings recorded in FILE (see --write-baseline)")
    check.add_argument("--write-baseline", metavar="FILE", type=Path,
                       help="record today's findings in FILE, so that later runs with "
                       "--baseline FILE fail only on new ones")
    _common(check)

    audit = sub.add_parser(
        "audit", formatter_class=_Formatter,
        help="everything at once for a repository: rules, integrity, drift; a report to read",
        description="Everything at once for a whole repository: all rules on every .sql file "
        "below ROOT (default: the current folder), migration-set integrity, and drift of the "
        "migrations and snapshots against the canonical schema when one is configured; with a "
        "summary by category and file.",
    )
    audit.add_argument("root", nargs="?", type=Path, default=None, metavar="ROOT")
    _common(audit)

    drift = sub.add_parser(
        "drift", formatter_class=_Formatter,
        help="compare what the migrations produce with the canonical schema",
        description="Replay the configured migrations into a schema (statically, no database), "
        "read the canonical schema (Drizzle schema.ts or a SQL schema file), and report every "
        "difference. Each configured snapshot (a full-schema script such as "
        "PRODUCTION_DEPLOYMENT.sql) is replayed on its own and compared the same way.",
    )
    drift.add_argument("--database-url", metavar="URL",
                       help="compare this live database (read-only) with the canonical schema "
                       "instead of the migrations; `env` (or env:NAME) reads the URL from the "
                       "variable named by database-url-env (default DATABASE_URL)")
    drift.add_argument("--drizzle-kit", action="store_true",
                       help="also export the Drizzle schema with the repository's own drizzle-kit "
                       "(0.30.1 or later, from node_modules; nothing is downloaded) and report "
                       "where it disagrees with ddlguard's static reading (D902)")
    drift.add_argument("--write-fix", metavar="FILE", type=Path,
                       help="write an idempotent SQL migration that brings the migrations in "
                       "line with the canonical schema (destructive steps commented out). An "
                       "existing FILE is replaced only when it is a fix ddlguard wrote (its first "
                       "line is `-- Generated by ddlguard drift --write-fix`), else with --force; "
                       "such an earlier fix among the migrations is not replayed. Never the "
                       "canonical schema, the configuration, a migration or a snapshot")
    drift.add_argument("--force", action="store_true",
                       help="with --write-fix: replace an existing FILE that is not a fix ddlguard "
                       "wrote (still never the canonical schema, the configuration, a configured "
                       "migration or snapshot)")
    _common(drift)

    verify = sub.add_parser(
        "verify", formatter_class=_Formatter,
        help="apply the migrations twice to a real, throwaway PostgreSQL",
        description=_VERIFY_DESCRIPTION,
    )
    verify.add_argument("--database-url", metavar="URL",
                        help="a server to create the throwaway database on; `env` (or env:NAME) "
                        "reads it from the variable named by database-url-env")
    verify.add_argument("--statement-timeout", metavar="SECONDS", type=_seconds, default=None,
                        help="cancel a statement that runs longer and report it (I804); "
                        "0 for none (default: 60)")
    verify.add_argument("--lock-timeout", metavar="SECONDS", type=_seconds, default=None,
                        help="cancel a statement that waits longer for a lock and report it "
                        "(I804); 0 for none (default: 10)")
    _common(verify)

    init = sub.add_parser(
        "init", formatter_class=_Formatter,
        help="write a starting configuration detected from the repository",
        description="Detect the migration folders and their order, the canonical schema "
        "(schema.ts or schema.sql), snapshot-looking files and the migration tool, and write "
        "ddlguard.toml (or a [tool.ddlguard] table in pyproject.toml) with each choice explained "
        "in a comment.",
    )
    init.add_argument("root", nargs="?", type=Path, default=None, metavar="ROOT",
                      help="the repository (default: the current folder)")
    init.add_argument("--pyproject", action="store_true",
                      help="append a [tool.ddlguard] table to pyproject.toml instead")
    init.add_argument("--force", action="store_true", help="replace an existing configuration")
    init.add_argument("--stdout", action="store_true",
                      help="print the configuration instead of writing it")

    lock = sub.add_parser(
        "lock", formatter_class=_Formatter,
        help="write or refresh the migrations lock file",
        description="Write migrations.lock beside the configuration: each configured migration "
        "in order with a chained SHA-256, so that `ddlguard check` reports an edited, removed, "
        "inserted or reordered migration (M codes).",
    )
    lock.add_argument("--config", metavar="FILE", type=Path, help="configuration file")
    lock.add_argument("--quiet", "-q", action="store_true", help="print nothing on success")

    rules = sub.add_parser(
        "rules", formatter_class=_Formatter,
        help="list the rules, or explain one",
        description="Without CODE, list every rule. With CODE (a code such as I101 or a name "
        "such as create-table-without-if-not-exists), print its documentation.",
    )
    rules.add_argument("code", nargs="?", metavar="CODE")
    rules.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    return parser


def _seconds(value: str) -> float:
    """A timeout in seconds: a number, 0 or more."""
    import math

    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {value!r}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, 0 or more, got {value!r}")
    return seconds


def _split_codes(values: Sequence[str]) -> list[str]:
    return [c.strip() for v in values for c in v.split(",") if c.strip()]


# --- helpers ---------------------------------------------------------------------------------


def _use_color(choice: str, stream: TextIO) -> bool:
    if choice == "always":
        return True
    if choice == "never":
        return False
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return bool(getattr(stream, "isatty", lambda: False)()) and os.environ.get("TERM") != "dumb"


def _load_config(explicit: Path | None, start: Path | None = None) -> Settings:
    from ddlguard.configfile import ConfigError, load_settings

    try:
        return load_settings(explicit, start)
    except ConfigError as exc:
        raise CliError(str(exc)) from None


class _Progress:
    """A one-line progress bar on stderr for long runs, only on a terminal."""

    def __init__(self, enabled: bool, label: str) -> None:
        self.enabled = enabled
        self.label = label
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total < 50:
            return
        if done != total and done % max(1, total // 100):
            return
        width = 30
        filled = width * done // total
        sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        sys.stderr.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def _refuse_inputs(
    args: argparse.Namespace,
    config: Settings,
    *,
    checked: Sequence[Path] = (),
    migrations: Sequence[Path] | None = None,
    snapshots: Sequence[Path] | None = None,
) -> None:
    """CliError when --output or --write-baseline names a file this run reads (the configuration,
    the canonical schema, a migration, a snapshot, a checked file, the baseline, the lock file):
    the report would replace it. Compared by resolved path and by device and inode."""
    targets = [
        (flag, target)
        for flag, target in (
            ("--output", getattr(args, "output", None)),
            ("--write-baseline", getattr(args, "write_baseline", None)),
        )
        if target is not None
    ]
    if not targets:
        return
    from ddlguard.drift import canonical_files, same_file_as
    from ddlguard.integrity import lock_path
    from ddlguard.sql.source import display_path

    if migrations is None:
        migrations = config.migration_files()[0] if config.migrations else []
    if snapshots is None:
        snapshots = config.snapshot_files()[0] if config.snapshots else []
    inputs: list[tuple[str, Sequence[Path]]] = [
        ("the configuration file", [config.path] if config.path is not None else []),
        ("the canonical schema", canonical_files(config)),
        ("a configured migration", migrations),
        ("a configured snapshot", snapshots),
        ("a checked file", checked),
        ("the migrations lock file", [lock_path(config)] if config.migrations else []),
    ]
    for flag, target in targets:
        same = same_file_as(target)
        baseline = getattr(args, "baseline", None)
        extra = [("the --baseline file", [baseline])] if baseline and flag == "--output" else []
        for what, paths in [*inputs, *extra]:
            hit = next((p for p in paths if same(p)), None)
            if hit is None:
                continue
            where = display_path(hit)
            also = f" ({where})" if where != str(target) else ""
            raise CliError(
                f"{flag} {target} is {what}{also}, which this run reads: ddlguard does not "
                "write over it; choose another file"
            )


def _emit(text: str, output: Path | None) -> None:
    if output is not None:
        from ddlguard.checker import write_atomic

        try:
            write_atomic(output, text.encode("utf-8"))
        except OSError as exc:
            raise CliError(f"{output}: cannot write: {exc.strerror or exc}") from None
        return
    stream = sys.stdout
    try:
        stream.write(text)
    except UnicodeEncodeError:
        stream.buffer.write(text.encode("utf-8"))
    stream.flush()


def _report(
    result: Result,
    args: argparse.Namespace,
    config: Settings,
    title: str,
    *,
    breakdown: bool = False,
) -> int:
    from ddlguard.findings import Severity
    from ddlguard.report import render

    fmt = args.format or "text"
    color = fmt == "text" and args.output is None and _use_color(args.color, sys.stdout)
    if fmt == "text" and args.quiet:
        from ddlguard.report.text import render_concise

        text = render_concise(result, color=color, summary=False)
    else:
        text = render(result, fmt, color=color, title=title)
        if breakdown and fmt == "text":
            from ddlguard.report.text import render_breakdown

            text += render_breakdown(result)
    _emit(text, args.output)
    return EXIT_FINDINGS if result.fails(Severity(args.fail_on or config.fail_on)) else EXIT_OK


# --- commands --------------------------------------------------------------------------------


def _cmd_check(args: argparse.Namespace) -> int:
    from ddlguard.checker import Checker, UsageError, expand_paths
    from ddlguard.sql.source import resolved

    config = _load_config(args.config)
    try:
        migrations, missing = config.migration_files()
        snapshots, missing_snap = config.snapshot_files()
        checker = Checker(
            config,
            select=_split_codes(args.select),
            ignore=_split_codes(args.ignore),
            migration_paths={resolved(p) for p in migrations} if config.migrations else set(),
        )
        added: set[Path] = set()
        changed: set[Path] | None = None
        if args.diff_base:
            added, changed = _changed_since(args.diff_base)
        if args.paths:
            paths = expand_paths(args.paths)
        elif changed is not None and not config.migrations and not config.snapshots:
            paths = sorted((p for p in changed if p.suffix.lower() == ".sql" and p.is_file()),
                           key=str)
        else:
            if not config.migrations and not config.snapshots:
                where = config.path or "no configuration file found"
                raise CliError(
                    f"nothing to check: no PATH given and no `migrations` configured ({where}); "
                    "pass SQL files or folders, or run with a ddlguard.toml"
                )
            # A pattern that matches nothing is a typo, not a green run (as a missing file is).
            for key, patterns in (("migrations", missing), ("snapshots", missing_snap)):
                for pattern in patterns:
                    raise CliError(config.no_match(key, pattern))
            paths = list(dict.fromkeys([*migrations, *snapshots]))
        if changed is not None:
            paths = [p for p in paths if p.resolve() in changed]
        _refuse_inputs(args, config, checked=paths, migrations=migrations, snapshots=snapshots)
        checker.change_added = _change_added(
            checker, paths, added, snapshots, diff_base=bool(args.diff_base)
        )
        progress = _Progress(sys.stderr.isatty() and not args.quiet, "checking")
        try:
            result = checker.run(paths, fix=args.fix, progress=progress)
        finally:
            progress.close()
    except UsageError as exc:
        raise CliError(str(exc)) from None
    _add_integrity(result, config, migrations, checker.enabled)
    if args.diff_base and config.migrations:
        _add_order_against_base(result, config, migrations, added, args.diff_base, checker.enabled)
    if args.write_baseline is not None:
        from ddlguard.baseline import render_baseline
        from ddlguard.checker import write_atomic

        try:
            write_atomic(args.write_baseline, render_baseline(result.findings).encode("utf-8"))
        except OSError as exc:
            raise CliError(f"{args.write_baseline}: cannot write: {exc.strerror or exc}") from None
        print(f"ddlguard: recorded {len(result.findings)} findings in {args.write_baseline}",
              file=sys.stderr)
        return EXIT_OK
    if args.baseline is not None:
        from ddlguard.baseline import BaselineError, apply_baseline, read_baseline

        try:
            known = read_baseline(args.baseline)
        except BaselineError as exc:
            raise CliError(str(exc)) from None
        result.findings, matched = apply_baseline(result.findings, known)
        if matched and not args.quiet:
            print(f"ddlguard: {matched} findings in the baseline {args.baseline} left out",
                  file=sys.stderr)
    return _report(result, args, config, "ddlguard check")


def _change_added(
    checker: Checker,
    paths: list[Path],
    added: set[Path],
    snapshots: list[Path],
    *,
    diff_base: bool,
) -> frozenset[Path]:
    """The migrations added (not modified) in the change under check, whose tables the safety
    rules treat as new in the other files: with --diff-base, the files added since the merge
    base; otherwise (pre-commit) the given files that git reports as added-and-staged or
    untracked. Only migrations count (the configured ones, else any .sql file but snapshots)."""
    if not any(code.startswith("S") for code in checker.enabled):
        return frozenset()
    if diff_base:
        candidates = added
    else:
        if len(paths) < 2:
            return frozenset()  # a file's own tables are already exempt in it
        from ddlguard.gitutil import added_files
        from ddlguard.sql.source import resolved

        new = added_files(Path.cwd(), paths)
        if not new:
            return frozenset()
        candidates = {r for r in map(resolved, paths) if r in new}
    if checker.migration_paths:
        return frozenset(p for p in candidates if p in checker.migration_paths)
    skip = {p.resolve() for p in snapshots}
    return frozenset(
        p for p in candidates if p.suffix.lower() == ".sql" and p not in skip and p.is_file()
    )


def _changed_since(ref: str) -> tuple[set[Path], set[Path]]:
    from ddlguard.gitutil import GitError, changed_files

    try:
        return changed_files(ref, Path.cwd())
    except GitError as exc:
        raise CliError(str(exc)) from None


def _add_order_against_base(
    result: Result,
    config: Settings,
    migrations: list[Path],
    added: set[Path],
    ref: str,
    enabled: set[str],
) -> None:
    """A migration added on this branch must sort after the newest migration on the base branch:
    databases deployed from the base have applied that one and would skip the new one."""
    if "M104" not in enabled:
        return
    from ddlguard.findings import Finding
    from ddlguard.gitutil import GitError, files_at
    from ddlguard.integrity import version_finding

    try:
        on_base = set(files_at(ref, Path.cwd()))
    except GitError as exc:
        raise CliError(str(exc)) from None
    # The configured order, restricted to what the base branch had.
    resolved = [p.resolve() for p in migrations]
    base_migrations = [p for p in resolved if p in on_base and p not in added]
    if not base_migrations:
        return
    newest = max(base_migrations, key=resolved.index)
    found = [
        version_finding(p, newest, ref)
        for p in resolved
        if p in added and resolved.index(p) < resolved.index(newest)
    ]
    result.findings = sorted([*result.findings, *found], key=Finding.sort_key)


def _add_integrity(result: Result, config: Settings, migrations: list[Path], enabled: set[str]) -> None:
    """The migration set's findings (lock file, versions), when migrations are configured."""
    if not config.migrations:
        return
    from ddlguard.findings import Finding
    from ddlguard.integrity import integrity_findings

    found = [f for f in integrity_findings(config, migrations, Path.cwd()) if f.code in enabled]
    result.findings = sorted([*result.findings, *found], key=Finding.sort_key)


def _cmd_audit(args: argparse.Namespace) -> int:
    from ddlguard.checker import Checker, UsageError, sql_files_under

    root = args.root or Path.cwd()
    if not root.exists():
        raise CliError(f"{root}: no such directory")
    if not root.is_dir():
        raise CliError(f"{root}: not a directory; `ddlguard audit` takes a repository folder")
    config = _load_config(args.config, root)
    try:
        migrations, _ = config.migration_files()
        checker = Checker(
            config,
            select=_split_codes(args.select),
            ignore=_split_codes(args.ignore),
            migration_paths={p.resolve() for p in migrations} if config.migrations else set(),
        )
        paths = sql_files_under(root)
        if not paths:
            raise CliError(f"{root}: no .sql files found")
        _refuse_inputs(args, config, checked=paths, migrations=migrations)
        progress = _Progress(sys.stderr.isatty() and not args.quiet, "auditing")
        try:
            result = checker.run(paths, progress=progress)
        finally:
            progress.close()
    except UsageError as exc:
        raise CliError(str(exc)) from None
    _add_integrity(result, config, migrations, checker.enabled)
    if config.canonical is not None and (config.migrations or config.snapshots):
        from ddlguard.drift import DriftError, run_drift
        from ddlguard.findings import Finding

        try:
            drifted, _ = run_drift(config, enabled=checker.enabled)
        except DriftError as exc:
            raise CliError(str(exc)) from None
        result.findings = sorted([*result.findings, *drifted.findings], key=Finding.sort_key)
    return _report(
        result, args, config, f"ddlguard audit of {root.resolve().name}", breakdown=True
    )


def _cmd_drift(args: argparse.Namespace) -> int:
    from ddlguard.checker import Checker, UsageError
    from ddlguard.drift import DriftError, run_drift

    config = _load_config(args.config)
    earlier_fix = False
    if args.write_fix is not None:
        from ddlguard.drift import is_ddlguard_fix, same_file_as

        if args.database_url is not None or not config.migrations:
            # The fix brings the migrations in line: without them it would be an empty file.
            raise CliError(
                "--write-fix needs `migrations` in the configuration, and cannot be combined "
                "with --database-url"
            )
        if args.output is not None and same_file_as(args.write_fix)(args.output):
            raise CliError(
                f"--output {args.output} is the --write-fix file: the report would replace the "
                "fix; choose another file"
            )
        earlier_fix = is_ddlguard_fix(args.write_fix)
    elif args.force:
        raise CliError("--force applies to --write-fix FILE only")
    try:
        # Validates --select/--ignore the same way check does.
        checker = Checker(config, select=_split_codes(args.select), ignore=_split_codes(args.ignore))
        _refuse_inputs(args, config)
        progress = _Progress(sys.stderr.isatty() and not args.quiet, "replaying")
        try:
            result, fix_sql = run_drift(
                config,
                enabled=checker.enabled,
                progress=progress,
                drizzle_kit=args.drizzle_kit,
                database_url=_database_url(args.database_url, config),
                write_fix=args.write_fix,
                force=args.force,
            )
        finally:
            progress.close()
    except (UsageError, DriftError) as exc:
        raise CliError(str(exc)) from None
    if args.write_fix is not None:
        from ddlguard.checker import write_atomic

        try:
            write_atomic(args.write_fix, fix_sql.encode("utf-8"))
        except OSError as exc:
            raise CliError(f"{args.write_fix}: cannot write: {exc.strerror or exc}") from None
        if not args.quiet:
            if earlier_fix:
                print(f"ddlguard: replaced the earlier fix in {args.write_fix} (it was not "
                      "replayed as a migration)", file=sys.stderr)
            print(f"ddlguard: wrote the fix migration to {args.write_fix}", file=sys.stderr)
    return _report(result, args, config, "ddlguard drift")


def _cmd_verify(args: argparse.Namespace) -> int:
    from ddlguard.checker import Checker, UsageError
    from ddlguard.drift import DriftError, load_sql_files, read_canonical
    from ddlguard.findings import Finding, Result
    from ddlguard.postgres.server import PostgresError
    from ddlguard.postgres.verify import LOCK_TIMEOUT, STATEMENT_TIMEOUT, verify

    config = _load_config(args.config)
    if not config.migrations:
        where = config.path or "no configuration file found"
        raise CliError(f"nothing to verify: no `migrations` configured ({where})")
    try:
        checker = Checker(config, select=_split_codes(args.select), ignore=_split_codes(args.ignore))
        migrations, missing = config.migration_files()
        for pattern in missing:
            raise CliError(f"{pattern!r} in the configuration matches no file")
        _refuse_inputs(args, config, migrations=migrations)
        cwd = Path.cwd()
        files = load_sql_files(migrations, cwd)
        progress = _Progress(sys.stderr.isatty() and not args.quiet, "verifying")
        try:
            findings, live, statements = verify(
                files,
                database_url=_database_url(args.database_url, config),
                progress=progress,
                tool=config.migration_tool,
                statement_timeout=(
                    STATEMENT_TIMEOUT if args.statement_timeout is None else args.statement_timeout
                ),
                lock_timeout=LOCK_TIMEOUT if args.lock_timeout is None else args.lock_timeout,
            )
        finally:
            progress.close()
        if config.canonical is not None:
            from ddlguard.rules.drift import drift_findings
            from ddlguard.schema.diff import diff

            canonical, extra, _ = read_canonical(config, cwd)
            findings += extra + drift_findings(
                diff(live, canonical),
                source_label="the migrations applied to PostgreSQL",
                cwd=cwd,
                fallback=files[0].display if files else "migrations",
            )
    except (UsageError, DriftError, PostgresError) as exc:
        raise CliError(str(exc)) from None
    result = Result(
        findings=sorted((f for f in findings if f.code in checker.enabled), key=Finding.sort_key),
        files=len(files),
        statements=statements,
        sources={f.display: f.text for f in files},
    )
    return _report(result, args, config, "ddlguard verify")


def _database_url(given: str | None, config: Settings) -> str | None:
    """--database-url URL; ``env:NAME`` or an empty value reads the environment variable."""
    from ddlguard.redact import remember

    if given is None:
        return None
    if given in ("", "env") or given.startswith("env:"):
        name = given.removeprefix("env:") if given.startswith("env:") else config.database_url_env
        value = os.environ.get(name)
        if not value:
            raise CliError(f"--database-url: the environment variable {name} is not set")
        remember(value)
        return value
    remember(given)
    return given


def _cmd_init(args: argparse.Namespace) -> int:
    from ddlguard.init import InitError, detect, render_config, write_config

    root = args.root or Path.cwd()
    if not root.is_dir():
        raise CliError(f"{root}: not a directory")
    try:
        detection = detect(root)
        if args.stdout:
            _emit(render_config(detection, pyproject=args.pyproject), None)
            return EXIT_OK
        written = write_config(root, force=args.force, pyproject=args.pyproject, detection=detection)
    except InitError as exc:
        raise CliError(str(exc)) from None
    from ddlguard.sql.source import display_path

    for line in detection.summary():
        print(line)
    print(f"wrote {display_path(written)}: review the comments, then run `ddlguard check`")
    return EXIT_OK


def _cmd_lock(args: argparse.Namespace) -> int:
    from ddlguard.checker import write_atomic
    from ddlguard.integrity import LockError, lock_path, render_lock

    config = _load_config(args.config)
    if not config.migrations:
        where = config.path or "no configuration file found"
        raise CliError(f"nothing to lock: no `migrations` configured ({where})")
    migrations, missing = config.migration_files()
    for pattern in missing:
        print(f"ddlguard: warning: {pattern!r} in the configuration matches no file", file=sys.stderr)
    try:
        text = render_lock(config, migrations)
    except LockError as exc:
        raise CliError(str(exc)) from None
    target = lock_path(config)
    try:
        old = target.read_text(encoding="utf-8") if target.exists() else None
    except OSError:
        old = None
    if old != text:
        try:
            write_atomic(target, text.encode("utf-8"))
        except OSError as exc:
            raise CliError(f"{target}: cannot write: {exc.strerror or exc}") from None
    if not args.quiet:
        from ddlguard.sql.source import display_path

        state = "unchanged" if old == text else ("updated" if old is not None else "written")
        print(f"{display_path(target)} {state}: {len(migrations)} migrations locked")
    return EXIT_OK


def _cmd_rules(args: argparse.Namespace) -> int:
    from ddlguard.rules import docs

    if args.code:
        from ddlguard.rules.registry import get_rule

        rule = get_rule(args.code)
        if rule is None:
            from ddlguard.style import explain as explain_style

            text = explain_style(args.code, args.format)  # one of sqlfluff's rules (style)
            if text is not None:
                _emit(text, None)
                return EXIT_OK
            raise CliError(f"unknown rule {args.code!r}; `ddlguard rules` lists them")
        _emit(docs.explain(rule, args.format), None)
    else:
        _emit(docs.listing(args.format), None)
    return EXIT_OK


_COMMANDS = {
    "check": _cmd_check,
    "audit": _cmd_audit,
    "drift": _cmd_drift,
    "verify": _cmd_verify,
    "init": _cmd_init,
    "lock": _cmd_lock,
    "rules": _cmd_rules,
}


def _dash_file_names(argv: list[str]) -> list[str]:
    """``check``'s arguments with a ``--`` before the first one that is named like an option but
    is an existing ``.sql`` file (``-x.sql``): pre-commit appends the changed files' names to
    the hook's arguments, and argparse would read such a name as an option. The hooks pass
    ``--`` themselves; this covers a hook whose ``args:`` replace theirs."""
    if not argv or argv[0] != "check":
        return argv
    for i, arg in enumerate(argv[1:], 1):
        if arg == "--":
            break
        if arg[:1] == "-" and arg.lower().endswith(".sql") and os.path.lexists(arg):
            return [*argv[:i], "--", *argv[i:]]
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_dash_file_names(list(sys.argv[1:] if argv is None else argv)))
    if not args.command:
        parser.print_help()
        return EXIT_ERROR
    # --no-cache reaches the worker processes through the environment, for this call only (a
    # caller of main() in the same process keeps its own environment).
    saved = os.environ.get("DDLGUARD_NO_CACHE")
    if getattr(args, "no_cache", False):
        os.environ["DDLGUARD_NO_CACHE"] = "1"
    try:
        return _COMMANDS[args.command](args)
    except CliError as exc:
        print(f"ddlguard: error: {_scrub(str(exc))}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt as exc:
        print("ddlguard: interrupted", file=sys.stderr)
        return 128 + int(getattr(exc, "signum", 2))  # 130 for Ctrl-C, 143 for SIGTERM
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # an internal error: one line, never a traceback unless asked
        if os.environ.get("DDLGUARD_DEBUG"):
            raise
        print(
            f"ddlguard: internal error: {type(exc).__name__}: {_scrub(str(exc))} "
            "(set DDLGUARD_DEBUG=1 for the traceback, and please report it)",
            file=sys.stderr,
        )
        return EXIT_ERROR
    finally:
        if saved is None:
            os.environ.pop("DDLGUARD_NO_CACHE", None)
        else:
            os.environ["DDLGUARD_NO_CACHE"] = saved


def _scrub(message: str) -> str:
    """An error message with every database password masked (see ddlguard.redact)."""
    from ddlguard.redact import scrub

    return scrub(message)


def entry() -> None:
    sys.exit(main())
