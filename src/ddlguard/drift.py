"""`ddlguard drift`: replay the migrations and each snapshot, read the canonical schema, compare."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ddlguard.configfile import Settings
from ddlguard.findings import Finding, Result
from ddlguard.schema.model import Schema
from ddlguard.sql.source import DecodeProblem, SqlFile, display_path, load


class DriftError(Exception):
    """Drift cannot be computed (no canonical schema, an unreadable file): exit status 2."""


def load_sql_files(paths: list[Path], cwd: Path) -> list[SqlFile]:
    from ddlguard.sql.source import ReadError

    files: list[SqlFile] = []
    for p in paths:
        try:
            loaded = load(p, cwd)
        except ReadError as exc:
            raise DriftError(str(exc)) from None
        if isinstance(loaded, DecodeProblem):
            raise DriftError(
                f"{display_path(p, cwd)}:{loaded.line}:{loaded.column}: {loaded.message}"
            )
        files.append(loaded)
    return files


def read_canonical(
    config: Settings, cwd: Path, *, drizzle_kit: bool = False
) -> tuple[Schema, list[Finding], str]:
    """The canonical Schema, findings about what could not be read, and its display name."""
    from ddlguard.rules.drift import cannot_verify_findings

    canonical = config.canonical
    if canonical is None:
        where = config.path or "ddlguard.toml"
        raise DriftError(
            f"{display_path(Path(where), cwd) if config.path else where}: drift needs `canonical` "
            '(e.g. canonical = "shared/schema.ts" or { sql = "db/schema.sql" })'
        )
    if canonical.kind == "database":
        raise DriftError(
            "canonical = { database-url-env = ... } (a live database as the canonical schema) is "
            "not supported yet; use a Drizzle or SQL schema file"
        )
    path = config.canonical_path()
    assert path is not None
    label = display_path(path, cwd)
    if not path.exists():
        raise DriftError(f"canonical schema {label}: no such file or directory")
    if canonical.kind == "drizzle":
        from ddlguard.sources.drizzle import DrizzleError, read_drizzle

        try:
            read = read_drizzle(path, default_schema=config.default_schema)
        except DrizzleError as exc:
            raise DriftError(str(exc)) from None
        findings = cannot_verify_findings(read.warnings)
        if drizzle_kit:
            findings += _drizzle_kit_check(path, read.schema, config, cwd, label)
        return read.schema, findings, label
    if drizzle_kit:
        raise DriftError(
            "--drizzle-kit needs a Drizzle canonical schema (canonical = { drizzle = ... })"
        )
    from ddlguard.sources.sqlfile import read_sql_schema

    replayed = read_sql_schema(path, default_schema=config.default_schema)
    return replayed.schema, cannot_verify_findings(replayed.notes), label


def _drizzle_kit_check(
    path: Path, reader: Schema, config: Settings, cwd: Path, label: str
) -> list[Finding]:
    """D902 for every way drizzle-kit's own export disagrees with ddlguard's static reading."""
    from dataclasses import replace

    from ddlguard.rules.drift import drift_findings
    from ddlguard.rules.registry import RULES
    from ddlguard.schema.diff import diff
    from ddlguard.sources.drizzle import drizzle_kit_schema

    kit = drizzle_kit_schema(path, default_schema=config.default_schema)
    if kit is None:
        raise DriftError(
            f"--drizzle-kit: no working drizzle-kit (0.30.1 or later) in a node_modules above "
            f"{label}; install it in the repository (npm install -D drizzle-kit) or drop the flag"
        )
    rule = RULES["D902"]
    out = []
    for f in drift_findings(
        diff(kit, reader),
        source_label="drizzle-kit export",
        canonical_label=f"ddlguard's reading of {label}",
        cwd=cwd,
        fallback=label,
        with_fix=False,
    ):
        out.append(
            replace(
                f,
                code=rule.code,
                rule=rule.name,
                category=rule.category,
                severity=rule.severity,
                message=f"drizzle-kit and ddlguard read {label} differently: {f.message}",
            )
        )
    return out


def run_drift(
    config: Settings,
    *,
    enabled: set[str],
    cwd: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    drizzle_kit: bool = False,
    database_url: str | None = None,
) -> tuple[Result, str]:
    """Findings for the migrations and each snapshot against the canonical schema, and the SQL of
    the fix migration for the migrations."""
    from ddlguard.rules.drift import drift_findings
    from ddlguard.schema.diff import diff
    from ddlguard.schema.render import render_fix
    from ddlguard.schema.replay import replay

    cwd = cwd or Path.cwd()
    canonical, findings, label = read_canonical(config, cwd, drizzle_kit=drizzle_kit)
    if database_url:
        return _database_drift(config, canonical, findings, database_url, enabled, cwd), ""
    migrations, missing = config.migration_files()
    snapshots, missing_snap = config.snapshot_files()
    for pattern in [*missing, *missing_snap]:
        raise DriftError(f"{pattern!r} in the configuration matches no file")
    if not migrations and not snapshots:
        raise DriftError("drift needs `migrations` or `snapshots` in the configuration")
    result = Result(findings=[])
    fix_sql = ""
    total = len(migrations) + len(snapshots)
    if migrations:
        files = load_sql_files(migrations, cwd)
        replayed = replay(files, default_schema=config.default_schema, tool=config.migration_tool)
        differences = diff(replayed.schema, canonical)
        findings += drift_findings(differences, source_label="the migrations", cwd=cwd)
        findings += _notes(replayed.notes)
        fix_sql = render_fix(differences, header=f"Brings the migrations in line with {label}.")
        if progress is not None:
            progress(len(migrations), total)
    for i, snap in enumerate(snapshots, 1):
        (file,) = load_sql_files([snap], cwd)
        replayed = replay([file], default_schema=config.default_schema)
        differences = diff(replayed.schema, canonical)
        findings += drift_findings(differences, source_label=file.display, cwd=cwd)
        findings += _notes(replayed.notes)
        if progress is not None:
            progress(len(migrations) + i, total)
    result.files = total
    result.findings = sorted((f for f in findings if f.code in enabled), key=Finding.sort_key)
    return result, fix_sql


def _database_drift(
    config: Settings,
    canonical: Schema,
    findings: list[Finding],
    url: str,
    enabled: set[str],
    cwd: Path,
) -> Result:
    """A live database (read-only) against the canonical schema: what production lacks."""
    from ddlguard.postgres.server import PostgresError, connect, redact
    from ddlguard.rules.drift import drift_findings
    from ddlguard.schema.diff import diff
    from ddlguard.sources.database import introspect

    label = redact(url)
    try:
        conn = connect(url, autocommit=False)
    except PostgresError as exc:
        raise DriftError(str(exc)) from None
    try:
        conn.read_only = True
        live = introspect(conn, default_schema=config.default_schema, label=label)
    except Exception as exc:  # psycopg errors: one line, password never shown
        raise DriftError(
            f"cannot read the schema of {label}: {str(exc).strip().splitlines()[0]}"
        ) from None
    finally:
        conn.close()
    found = findings + drift_findings(
        diff(live, canonical),
        source_label="the database",
        cwd=cwd,
        fallback=label,
    )
    result = Result(findings=sorted((f for f in found if f.code in enabled), key=Finding.sort_key))
    result.files = 1
    return result


def _notes(notes: Sequence[object]) -> list[Finding]:
    from ddlguard.rules.drift import cannot_verify_findings

    return cannot_verify_findings(notes)
