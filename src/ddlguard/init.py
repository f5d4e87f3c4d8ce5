"""``ddlguard init``: a starting configuration detected from the repository, every choice explained.

:func:`detect` looks at a repository without running anything: the folders that hold SQL
migrations and the order they are applied in, the canonical schema (a Drizzle ``schema.ts`` or a
SQL schema file), full-schema scripts that look like snapshots, the migration tool, the PostgreSQL
version, and the naming of the migration files. :func:`render_config` writes that as TOML with a
comment above each key saying what was found and why; what was not found stays commented out, with
an example. :func:`write_config` writes ``ddlguard.toml`` (or appends ``[tool.ddlguard]`` to
``pyproject.toml``) atomically, after checking that the result validates.
"""

from __future__ import annotations

import heapq
import json
import os
import re
import textwrap
import tomllib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ddlguard.configfile import ConfigError, _display, expand, natural_sort_key

__all__ = ["Detection", "InitError", "detect", "render_config", "write_config"]


class InitError(Exception):
    """``init`` cannot write the configuration; ``str()`` is one line saying why."""


# --- what is searched --------------------------------------------------------------------------

#: Folders never searched: dependencies, build output, caches, version control.
_SKIP_DIRS = frozenset(
    {
        "node_modules",
        "bower_components",
        "vendor",
        "venv",
        "env",
        "site-packages",
        "__pycache__",
        "dist",
        "build",
        "target",
        "coverage",
        "tmp",
    }
)
#: Folders whose SQL is test data, not the repository's migrations.
_TEST_DIRS = frozenset(
    {
        "test",
        "tests",
        "testdata",
        "test_data",
        "fixtures",
        "__fixtures__",
        "__tests__",
        "spec",
        "specs",
        "e2e",
    }
)
_MAX_DEPTH = 8
_MAX_FILES = 50_000
_READ_LIMIT = 1_000_000

#: Conventional migration folders, in order of preference; any folder named ``migrations`` or
#: ``migration`` also counts.
_KNOWN_FOLDERS = (
    "migrations",
    "db/migrations",
    "drizzle",
    "supabase/migrations",
    "prisma/migrations",
    "sql/migrations",
    "database/migrations",
    "src/db/migrations",
    "db/migration",
    "src/main/resources/db/migration",
    "migrations/sql",
    "sql",
)
_FOLDER_NAMES = frozenset({"migrations", "migration"})

#: Where a Drizzle schema usually is, when no drizzle.config names it.
_DRIZZLE_SCHEMAS = (
    "shared/schema.ts",
    "src/db/schema.ts",
    "db/schema.ts",
    "src/schema.ts",
    "schema.ts",
    "server/db/schema.ts",
    "src/server/db/schema.ts",
    "lib/db/schema.ts",
    "src/lib/db/schema.ts",
    "app/db/schema.ts",
    "drizzle/schema.ts",
    "server/schema.ts",
    "src/db/schema",
    "src/schema",
    "db/schema",
)
_DRIZZLE_CONFIGS = (
    "drizzle.config.ts",
    "drizzle.config.mts",
    "drizzle.config.js",
    "drizzle.config.mjs",
    "drizzle.config.cjs",
    "drizzle.config.json",
)
#: SQL schema files, in order of preference.
_SQL_SCHEMAS = (
    "schema.sql",
    "db/schema.sql",
    "structure.sql",
    "db/structure.sql",
    "sql/schema.sql",
    "database/schema.sql",
    "schema/schema.sql",
    "supabase/schema.sql",
)
_SNAPSHOT_NAME = re.compile(
    r"production_deployment|deploy|full.*schema|^init$|^bootstrap$", re.IGNORECASE
)
#: A file named like a snapshot is one when it creates at least this many tables.
_SNAPSHOT_MIN_TABLES = 3

# --- file names ----------------------------------------------------------------------------------

_FLYWAY = re.compile(r"^(?P<kind>[VvUu])(?P<version>\d+(?:[._]\d+)*)__(?P<desc>.+)\.sql$")
_FLYWAY_REPEATABLE = re.compile(r"^R__(?P<desc>.+)\.sql$")
_VERSIONED = re.compile(r"^(?P<version>\d+)(?P<sep>[_.-])")
_NAME_SHAPE = re.compile(r"^(?P<digits>\d+)(?P<sep>[_-])(?P<desc>.+?)(?P<suffix>\.up\.sql|\.sql)$")
_DESC_CLASSES = (
    "[a-z0-9_]+",
    "[a-z0-9-]+",
    "[a-z0-9_-]+",
    "[A-Za-z0-9_]+",
    "[A-Za-z0-9_-]+",
    "[A-Za-z0-9_.-]+",
)
_GLOB_MAGIC = re.compile(r"[*?\[\]]")

# --- contents --------------------------------------------------------------------------------------

_SQL_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_CREATE_TABLE = re.compile(
    r"\bcreate\s+(?:(?:global|local|temp|temporary|unlogged)\s+)*table\s+(?:if\s+not\s+exists\s+)?"
    r"(?P<name>(?:\"[^\"]+\"|[\w$]+)(?:\s*\.\s*(?:\"[^\"]+\"|[\w$]+))?)",
    re.IGNORECASE,
)
_GOOSE = re.compile(r"^\s*--\s*\+goose\s+up\b", re.IGNORECASE | re.MULTILINE)
_DBMATE = re.compile(r"^\s*--\s*migrate:up\b", re.MULTILINE)
_NODE_PG_MIGRATE = re.compile(r"^\s*--\s*up\s+migration\b", re.IGNORECASE | re.MULTILINE)
_DRIZZLE_BREAKPOINT = "--> statement-breakpoint"
_RUN_AFTER = re.compile(
    r"\b(?:run|runs|apply|applied|execute|executed)\b[^.\n]{0,30}?\bafter\s+[`'\"]?"
    r"(?P<name>[\w./-]+\.sql)",
    re.IGNORECASE,
)
_COMMAND_FILE = re.compile(
    r"(?:(?<![\w-])-f|--file|\\ir?|(?<![<\w])<|\bsource)[\s=]*[\"']?(?P<path>[^\s\"';|&()]+\.sql)\b"
)
_JS_COMMENTS = re.compile(r"/\*.*?\*/|(?<![:\"'\w])//[^\n]*", re.DOTALL)
_DRIZZLE_SCHEMA_VALUE = re.compile(
    r"[\"']?\bschema[\"']?\s*:\s*(?:([\"'`])(?P<one>[^\"'`\n]+)\1|\[(?P<many>[^\]]*)\])"
)
_DRIZZLE_OUT_VALUE = re.compile(r"[\"']?\bout[\"']?\s*:\s*([\"'`])(?P<out>[^\"'`\n]+)\1")
_DRIZZLE_DIALECT = re.compile(r"[\"']?\bdialect[\"']?\s*:\s*[\"'](?P<dialect>[\w-]+)[\"']")
_JS_STRING = re.compile(r"([\"'`])(?P<value>[^\"'`\n]+)\1")
_PG_IMAGE = re.compile(
    r"(?:postgres|postgresql|postgis|timescaledb(?:-ha)?)[\"']?\s*:\s*[\"']?(?:[a-z-]*pg)?"
    r"(?P<version>\d{2})(?![\d])",
    re.IGNORECASE,
)
_PG_SUPABASE = re.compile(r"^\s*major_version\s*=\s*(?P<version>\d{2})\b", re.MULTILINE)
_PG_TOOL_VERSIONS = re.compile(r"^\s*postgres(?:ql)?\s+(?P<version>\d{2})\b", re.MULTILINE)
_PG_VERSIONS = range(10, 19)
_DEFAULT_PG_VERSION = 15

_TOOLS = ("drizzle", "goose", "dbmate", "flyway", "golang-migrate", "sqlx", "node-pg-migrate")
#: Evidence weights: what the migration files say beats how they are named beats a manifest.
_CONTENT, _NAMING, _MANIFEST = 3, 2, 1

_TRANSACTIONS = {
    "psql": "psql -f runs each statement in its own transaction unless the file has BEGIN/COMMIT "
    "(or psql gets -1)",
    "goose": "goose runs each file in a transaction unless it says -- +goose NO TRANSACTION",
    "dbmate": "dbmate runs each migration in a transaction unless it says "
    "-- migrate:up transaction:false",
    "flyway": "Flyway runs each migration in a transaction on PostgreSQL",
    "golang-migrate": "golang-migrate sends each file as one query, which PostgreSQL runs as one "
    "implicit transaction unless the file has its own BEGIN/COMMIT",
    "sqlx": "sqlx runs each migration in a transaction unless it opts out",
    "node-pg-migrate": "node-pg-migrate runs migrations in a transaction unless one opts out",
    "drizzle": "drizzle-kit migrate applies the pending migrations in one transaction",
}


# --- the result ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Detection:
    """What :func:`detect` found, and why: each ``*_notes`` holds the sentences of its comment.

    Paths are relative to ``root``, with ``/``. ``migrations`` is the value of the ``migrations``
    key (globs and files, in order); ``migration_files`` is what it expands to.
    """

    root: Path
    migrations: list[str] = field(default_factory=list)
    migration_files: list[str] = field(default_factory=list)
    #: Files listed one by one because nothing in their names orders them: a person must confirm.
    to_confirm: list[str] = field(default_factory=list)
    #: Files found in the migration folder and left out, with the reason.
    excluded: dict[str, str] = field(default_factory=dict)
    migrations_notes: list[str] = field(default_factory=list)
    #: ``("drizzle" | "sql", path)``, or None when no schema was found.
    canonical: tuple[str, str] | None = None
    canonical_notes: list[str] = field(default_factory=list)
    snapshots: list[str] = field(default_factory=list)
    snapshots_notes: list[str] = field(default_factory=list)
    migration_tool: str = "psql"
    #: False when nothing pointed at a tool and ``psql`` is only the default.
    tool_found: bool = False
    tool_notes: list[str] = field(default_factory=list)
    #: None when no version was found (the default, 15, then applies).
    pg_version: int | None = None
    pg_version_notes: list[str] = field(default_factory=list)
    migration_file_pattern: str | None = None
    naming_notes: list[str] = field(default_factory=list)

    def summary(self) -> list[str]:
        """A few lines for the terminal: what was found."""
        lines: list[str] = []
        if self.migration_files:
            folders = sorted({_parent(name) for name in self.migration_files})
            where = ", ".join(f"{folder}/" if folder != "." else "./" for folder in folders)
            lines.append(f"migrations: {len(self.migration_files)} files in {where}")
            if self.to_confirm:
                lines.append(
                    f"  {len(self.to_confirm)} without a version number, listed one by one: "
                    "confirm their order in the config"
                )
        else:
            lines.append("migrations: none found")
        if self.canonical is not None:
            lines.append(f"canonical: {self.canonical[1]} ({self.canonical[0]})")
        else:
            lines.append("canonical: none found")
        lines.append(f"snapshots: {', '.join(self.snapshots) if self.snapshots else 'none found'}")
        tool = self.migration_tool if self.tool_found else f"{self.migration_tool} (default)"
        lines.append(f"migration-tool: {tool}")
        return lines


# --- scanning the repository ----------------------------------------------------------------------


@dataclass(slots=True)
class _Tree:
    """The files of a repository (relative, ``/``-separated), vendored and hidden folders left out."""

    root: Path
    files: list[str]
    _texts: dict[str, str] = field(default_factory=dict)

    def text(self, rel: str) -> str:
        if rel not in self._texts:
            try:
                with (self.root / rel).open("rb") as fh:
                    raw = fh.read(_READ_LIMIT)
            except OSError:
                raw = b""
            self._texts[rel] = raw.decode("utf-8", errors="replace")
        return self._texts[rel]

    def exists(self, rel: str) -> bool:
        return (self.root / rel).exists()

    def is_file(self, rel: str) -> bool:
        return (self.root / rel).is_file()


def _scan(root: Path) -> _Tree:
    files: list[str] = []
    base_depth = len(root.parts)
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        depth = len(here.parts) - base_depth
        dirs[:] = sorted(
            name
            for name in dirs
            if not name.startswith(".")
            and name not in _SKIP_DIRS
            and name.lower() not in _TEST_DIRS
            and depth < _MAX_DEPTH
        )
        rel = here.relative_to(root).as_posix()
        for name in sorted(names):
            files.append(name if rel == "." else f"{rel}/{name}")
        if len(files) >= _MAX_FILES:
            break
    return _Tree(root, files)


def _parent(rel: str) -> str:
    parent = PurePosixPath(rel).parent.as_posix()
    return parent


def _name(rel: str) -> str:
    return PurePosixPath(rel).name


def _join(folder: str, name: str) -> str:
    return name if folder == "." else f"{folder}/{name}"


def _show(folder: str) -> str:
    return "the repository's root folder" if folder == "." else f"{folder}/"


def _tables_created(text: str) -> int:
    names = {
        re.sub(r"\s+", "", match["name"]).replace('"', "").lower().split(".")[-1]
        for match in _CREATE_TABLE.finditer(_SQL_COMMENTS.sub(" ", text))
    }
    return len(names)


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"


def _listing(names: Sequence[str], limit: int = 4) -> str:
    shown = list(names[:limit])
    if len(names) > limit:
        shown.append(f"and {len(names) - limit} more")
    return ", ".join(shown)


# --- migration folders -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Unit:
    """One SQL file of a migration folder."""

    path: str
    #: The name that carries the version: the file name, or the sub-folder name in nested layouts.
    name: str
    #: "up", "down", "repeatable" (Flyway R__), "unversioned", "snapshot"
    kind: str
    version: tuple[int, ...] = ()


@dataclass(slots=True)
class _Folder:
    path: str
    #: "flat" (files in the folder), "prisma" (*/migration.sql) or "diesel" (*/up.sql, */down.sql)
    layout: str
    units: list[_Unit]
    known: bool
    journal: list[str] | None = None
    others: list[str] = field(default_factory=list)  # non-SQL files, e.g. goose .go migrations

    def of(self, kind: str) -> list[_Unit]:
        return [unit for unit in self.units if unit.kind == kind]

    @property
    def size(self) -> int:
        return sum(unit.kind in ("up", "unversioned", "repeatable") for unit in self.units)


def _classify(name: str) -> tuple[str, tuple[int, ...]]:
    """Kind and version of a flat migration file name."""
    flyway = _FLYWAY.match(name)
    if flyway:
        version = tuple(int(part) for part in re.split(r"[._]", flyway["version"]))
        return ("down" if flyway["kind"] in "Uu" else "up"), version
    if _FLYWAY_REPEATABLE.match(name):
        return "repeatable", ()
    versioned = _VERSIONED.match(name)
    lowered = name.lower()
    down = lowered.endswith((".down.sql", "_down.sql"))
    if versioned:
        return ("down" if down else "up"), (int(versioned["version"]),)
    return ("down" if down else "unversioned"), ()


def _is_known(folder: str) -> bool:
    return folder in _KNOWN_FOLDERS or PurePosixPath(folder).name.lower() in _FOLDER_NAMES


def _find_folders(tree: _Tree, snapshots: set[str]) -> list[_Folder]:
    by_folder: dict[str, list[str]] = {}
    for rel in tree.files:
        by_folder.setdefault(_parent(rel), []).append(_name(rel))
    folders: list[_Folder] = []
    nested: dict[str, list[_Unit]] = {}
    for folder, names in by_folder.items():
        sql = [name for name in names if name.lower().endswith(".sql")]
        if not sql:
            continue
        nested_names = {"migration.sql": "prisma", "up.sql": "diesel", "down.sql": "diesel"}
        sub = PurePosixPath(folder)
        if folder != "." and sub.name[:1].isdigit() and set(sql) & set(nested_names):
            for name in sql:
                if name in nested_names:
                    prefix = _VERSIONED.match(sub.name + "_")
                    nested.setdefault(sub.parent.as_posix(), []).append(
                        _Unit(
                            _join(folder, name),
                            sub.name,
                            "down" if name == "down.sql" else "up",
                            (int(prefix["version"]),) if prefix else (),
                        )
                    )
            continue
        units: list[_Unit] = []
        for name in sql:
            rel = _join(folder, name)
            kind, version = _classify(name)
            if rel in snapshots:
                kind = "snapshot"
            units.append(_Unit(rel, name, kind, version))
        versioned = sum(unit.kind in ("up", "down", "repeatable") for unit in units)
        journal = _drizzle_journal(tree, folder)
        known = _is_known(folder)
        if not (known or journal is not None or (versioned >= 2 and versioned * 2 >= len(units))):
            continue
        others = [
            name
            for name in names
            if not name.lower().endswith(".sql")
            and not name.lower().startswith(("readme", "."))
            and name.lower().endswith((".go", ".js", ".ts", ".py", ".rb", ".java", ".rs"))
        ]
        folders.append(_Folder(folder, "flat", units, known, journal, others))
    for parent, units in nested.items():
        layout = "prisma" if any(_name(u.path) == "migration.sql" for u in units) else "diesel"
        folders.append(_Folder(parent, layout, units, True))
    return folders


def _drizzle_journal(tree: _Tree, folder: str) -> list[str] | None:
    rel = _join(folder, "meta/_journal.json")
    if not tree.is_file(rel):
        return None
    try:
        data = json.loads(tree.text(rel))
        entries = sorted(data["entries"], key=lambda entry: int(entry.get("idx", 0)))
        return [str(entry["tag"]) for entry in entries]
    except (ValueError, KeyError, TypeError, AttributeError):
        return []


def _choose_folder(folders: list[_Folder]) -> tuple[_Folder | None, list[_Folder]]:
    useful = [folder for folder in folders if folder.size]
    if not useful:
        return None, []
    useful.sort(
        key=lambda f: (
            not (f.known or f.journal is not None or f.layout != "flat"),
            -f.size,
            natural_sort_key(f.path),
        )
    )
    return useful[0], useful[1:]


def _glob_matching(
    root: Path, folder: str, files: list[str], candidates: Iterable[str]
) -> str | None:
    """The first glob whose expansion (natural order) is exactly ``files`` in that order."""
    if _GLOB_MAGIC.search(folder):
        return None
    for candidate in candidates:
        pattern = _join(folder, candidate)
        found, _ = expand([pattern], root)
        if [path.relative_to(root).as_posix() for path in found] == files:
            return pattern
    return None


def _documented_order(tree: _Tree, folder: str, names: list[str]) -> tuple[list[str], str] | None:
    """The order in which a README or script runs ``names`` (psql -f, \\i, <), if one does."""
    wanted = set(names)
    places = {".", "docs", "scripts", "bin", "deploy", folder, _parent(folder)}
    docs = [
        rel
        for rel in tree.files
        if (_parent(rel) in places or rel.startswith("docs/"))
        and re.search(
            r"^(readme.*|.*\.(md|rst|txt|sh|bash)|makefile|justfile|taskfile\.ya?ml|"
            r"dockerfile.*|(docker-)?compose.*\.ya?ml|package\.json)$",
            _name(rel),
            re.IGNORECASE,
        )
    ]
    docs.sort(key=lambda rel: (not _name(rel).lower().startswith("readme"), rel.count("/"), rel))
    best: tuple[int, list[str], str] | None = None
    for doc in docs:
        seen: dict[str, int] = {}
        for number, line in enumerate(tree.text(doc).splitlines(), start=1):
            for match in _COMMAND_FILE.finditer(line):
                name = _name(match["path"])
                if name in wanted and name not in seen:
                    seen[name] = number
        if len(seen) >= 2 and (best is None or len(seen) > best[0]):
            lines = sorted(seen.values())
            where = f"line {lines[0]}" if len(lines) == 1 else f"lines {lines[0]}-{lines[-1]}"
            best = (len(seen), sorted(seen, key=lambda name: seen[name]), f"{doc} ({where})")
    if best is None:
        return None
    _, ordered, where = best
    rest = sorted(wanted - set(ordered), key=natural_sort_key)
    return ordered + rest, where


def _hinted_order(tree: _Tree, units: list[_Unit]) -> tuple[list[str], list[str]] | None:
    """The order that "run after X.sql" remarks in the files' comments give, if any do."""
    names = [unit.name for unit in units]
    after: dict[str, set[str]] = {name: set() for name in names}
    hints: list[str] = []
    for unit in units:
        header = "\n".join(
            line
            for line in tree.text(unit.path).splitlines()[:60]
            if line.lstrip().startswith("--")
        )
        for match in _RUN_AFTER.finditer(header):
            other = _name(match["name"])
            if other in after and other != unit.name:
                after[unit.name].add(other)
                hints.append(f"{unit.name} says to run it after {other}")
    if not hints:
        return None
    waiting = {name: set(deps) for name, deps in after.items()}
    ready = [(natural_sort_key(name), name) for name, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    ordered: list[str] = []
    while ready:
        _, name = heapq.heappop(ready)
        ordered.append(name)
        for other, deps in waiting.items():
            if name in deps:
                deps.discard(name)
                if not deps and other not in ordered:
                    heapq.heappush(ready, (natural_sort_key(other), other))
    if len(ordered) != len(names):  # a cycle: the remarks contradict each other
        return None
    return ordered, hints


def _describe_versions(ups: list[_Unit], folder: _Folder) -> str:
    first, last = ups[0].name, ups[-1].name
    if folder.layout != "flat":
        inner = "migration.sql" if folder.layout == "prisma" else "up.sql"
        return f"sub-folders named {first}/ ... {last}/, each with {inner}"
    if _FLYWAY.match(first):
        return f"named {first} ... {last} (Flyway versions V<version>__<description>.sql)"
    matches = [m for m in (_VERSIONED.match(unit.name) for unit in ups) if m is not None]
    widths = {len(m["version"]) for m in matches}
    prefix = _VERSIONED.match(first)
    shown = f"{prefix['version']}{prefix['sep']}..." if prefix else first
    if len(widths) == 1:
        width = widths.pop()
        style = f"{width}-digit timestamp versions" if width >= 10 else f"{width}-digit versions"
    else:
        style = "numbered versions"
    return f"named {shown} ({style}, from {first} to {last})"


def _detect_migrations(tree: _Tree, detection: Detection, snapshots: set[str]) -> _Folder | None:
    folders = _find_folders(tree, snapshots)
    chosen, others = _choose_folder(folders)
    notes = detection.migrations_notes
    if chosen is None:
        looked = ", ".join(f"{name}/" for name in _KNOWN_FOLDERS[:9])
        notes.append(
            f"No migrations found: no .sql files in {looked} or any other folder named "
            "migrations, and no folder of numbered .sql files."
        )
        code_only = sorted(
            {
                _parent(rel)
                for rel in tree.files
                if _is_known(_parent(rel)) and rel.endswith((".js", ".ts", ".go", ".py", ".rb"))
            }
        )
        if code_only:
            notes.append(
                f"{', '.join(f'{f}/' for f in code_only)} holds migrations written in code, not "
                "SQL: ddlguard reads SQL only."
            )
        notes.append(
            "Until this is set, `ddlguard check` lints the files it is given and `ddlguard "
            "drift` has nothing to replay. List the files or globs in the order they are applied:"
        )
        return None

    root = tree.root
    where = _show(chosen.path)
    ups = chosen.of("up")
    if chosen.journal is not None:
        position = {tag: index for index, tag in enumerate(chosen.journal)}
        listed = [unit for unit in ups if PurePosixPath(unit.name).stem in position]
        for unit in ups:
            if unit not in listed:
                detection.excluded[unit.path] = (
                    "not in meta/_journal.json, so drizzle-kit does not apply it"
                )
        ups = sorted(listed, key=lambda unit: position[PurePosixPath(unit.name).stem])
    else:
        ups.sort(key=lambda unit: (unit.version, natural_sort_key(unit.name)))
    repeatables = sorted(chosen.of("repeatable"), key=lambda unit: natural_sort_key(unit.name))
    loose = chosen.of("unversioned")

    patterns: list[str] = []
    files: list[str] = []
    if ups:
        up_files = [unit.path for unit in ups]
        if chosen.layout == "prisma":
            candidates: tuple[str, ...] = ("*/migration.sql",)
        elif chosen.layout == "diesel":
            candidates = ("*/up.sql",)
        else:
            candidates = ("*.sql", "*.up.sql", "[0-9]*.sql", "[0-9]*.up.sql", "V*.sql", "V*__*.sql")
        glob = _glob_matching(root, chosen.path, up_files, candidates)
        described = _describe_versions(ups, chosen)
        count = (
            _plural(len(ups), "migration")
            if chosen.layout != "flat"
            else _plural(len(ups), ".sql file")
        )
        if chosen.journal is not None:
            order = "in the order of meta/_journal.json, drizzle-kit's list of applied migrations"
        else:
            order = "in version order"
        if glob is not None:
            patterns.append(glob)
            notes.append(
                f"{count} in {where} {described}: the glob {glob} lists them {order} "
                "(natural sort: 2 before 10), and picks up new ones as they are added."
            )
        else:
            patterns.extend(up_files)
            notes.append(
                f"{count} in {where} {described}, listed one by one {order}: no glob sorts "
                "them the same way. Add new migrations to this list."
            )
        files.extend(up_files)
    if repeatables:
        rep_files = [unit.path for unit in repeatables]
        glob = _glob_matching(root, chosen.path, rep_files, ("R__*.sql",))
        patterns.extend([glob] if glob else rep_files)
        files.extend(rep_files)
        notes.append(
            f"{_plural(len(repeatables), 'repeatable migration')} (R__*.sql), which Flyway runs "
            "after the versioned ones, in name order."
        )
    if loose:
        names = [unit.name for unit in loose]
        documented = _documented_order(tree, chosen.path, names)
        hinted = None if documented else _hinted_order(tree, loose)
        if documented is not None:
            ordered, source = documented
            how = f"in the order {source} runs them"
        elif hinted is not None:
            ordered, hints = hinted
            how = f"in the order the files' own comments give ({'; '.join(hints)})"
        else:
            ordered = sorted(names, key=natural_sort_key)
            how = "in name order, as nothing says otherwise"
        loose_files = [_join(chosen.path, name) for name in ordered]
        detection.to_confirm = loose_files
        after = " after the numbered ones" if ups else ""
        notes.append(
            f"{_plural(len(loose), 'file')} in {where} without a version number "
            f"({_listing(ordered)}): listed one by one{after}, {how}. The order of these must be "
            "confirmed by a person: nothing in their names orders them, and ddlguard replays "
            "them in exactly this order."
        )
        patterns.extend(loose_files)
        files.extend(loose_files)

    downs = chosen.of("down")
    if downs:
        shape = {
            "diesel": "*/down.sql",
            "flat": "*.down.sql"
            if all(u.name.lower().endswith(".down.sql") for u in downs)
            else "down migrations",
        }.get(chosen.layout, "down migrations")
        if any(_FLYWAY.match(u.name) for u in downs):
            shape = "U*__*.sql, Flyway undo migrations"
        notes.append(
            f"Left out: {_plural(len(downs), 'down migration')} ({shape}): they undo the up "
            "migrations and are not replayed into the schema."
        )
        for unit in downs:
            detection.excluded[unit.path] = "down migration"
    for unit in chosen.of("snapshot"):
        detection.excluded[unit.path] = "snapshot"
    in_folder_snapshots = [unit.name for unit in chosen.of("snapshot")]
    if in_folder_snapshots:
        notes.append(
            f"Left out: {', '.join(in_folder_snapshots)}, a full-schema script "
            "(see snapshots below), not a step in the sequence."
        )
    not_in_journal = [rel for rel, why in detection.excluded.items() if why.startswith("not in")]
    if not_in_journal:
        notes.append(
            f"Left out: {_listing([_name(rel) for rel in not_in_journal])}: not in "
            "meta/_journal.json, so drizzle-kit does not apply them."
        )
    if chosen.others:
        notes.append(
            f"{where} also holds {_plural(len(chosen.others), 'migration')} written in code "
            f"({_listing(chosen.others, 3)}): ddlguard reads SQL only."
        )
    if others:
        shown = ", ".join(
            f"{_show(folder.path)} ({_plural(folder.size, 'file')})" for folder in others[:4]
        )
        notes.append(
            f"Also found SQL that looks like migrations in {shown}; not included, since a config "
            "describes one ordered migration set. Run `ddlguard init` in that folder for its own."
        )
    detection.migrations = patterns
    detection.migration_files = files
    return chosen


# --- snapshots -------------------------------------------------------------------------------------


def _detect_snapshots(tree: _Tree, detection: Detection, canonical: str | None) -> set[str]:
    found: list[tuple[str, int]] = []
    small: list[tuple[str, int]] = []
    for rel in tree.files:
        name = _name(rel)
        if not name.lower().endswith(".sql") or rel == canonical:
            continue
        stem = name[:-4]
        if _VERSIONED.match(name) or _FLYWAY.match(name) or not _SNAPSHOT_NAME.search(stem):
            continue
        tables = _tables_created(tree.text(rel))
        (found if tables >= _SNAPSHOT_MIN_TABLES else small).append((rel, tables))
    found.sort(key=lambda item: natural_sort_key(item[0]))
    detection.snapshots = [rel for rel, _ in found]
    notes = detection.snapshots_notes
    for rel, tables in found:
        notes.append(
            f"{rel}: named like a full-schema script and creates {tables} tables; "
            "`ddlguard drift` checks that on its own it produces the canonical schema. It is not "
            "in the migrations list."
        )
    for rel, tables in small:
        notes.append(
            f"{rel} is named like a snapshot but creates only {_plural(tables, 'table')}, "
            "so it is not treated as one."
        )
    if not found:
        notes.insert(
            0,
            "No snapshot found: no .sql file named like PRODUCTION_DEPLOYMENT.sql, *deploy*.sql, "
            f"*full*schema*.sql, init.sql or bootstrap.sql that creates {_SNAPSHOT_MIN_TABLES} or "
            "more tables. A snapshot is a full-schema script used to set up new databases; "
            "`ddlguard drift` checks it against the canonical schema.",
        )
    return {rel for rel, _ in found}


# --- canonical schema ------------------------------------------------------------------------------


def _read_drizzle_config(tree: _Tree) -> tuple[str, list[str], str | None, str | None] | None:
    """(config file, schema paths, out folder, dialect) from a drizzle.config, read statically."""
    for name in _DRIZZLE_CONFIGS:
        if not tree.is_file(name):
            continue
        text = _JS_COMMENTS.sub("", tree.text(name))
        schemas: list[str] = []
        match = _DRIZZLE_SCHEMA_VALUE.search(text)
        if match is not None:
            if match["one"] is not None:
                schemas = [match["one"]]
            else:
                schemas = [item["value"] for item in _JS_STRING.finditer(match["many"] or "")]
        out = _DRIZZLE_OUT_VALUE.search(text)
        dialect = _DRIZZLE_DIALECT.search(text)
        return (
            name,
            schemas,
            out["out"] if out else None,
            dialect["dialect"] if dialect else None,
        )
    return None


def _normalise(value: str) -> str:
    """A path from a config: ``./`` dropped, a glob reduced to the folder it searches."""
    parts: list[str] = []
    for part in PurePosixPath(value.replace("\\", "/")).parts:
        if _GLOB_MAGIC.search(part):
            break
        if part != ".":
            parts.append(part)
    return os.path.normpath("/".join(parts)).replace("\\", "/") if parts else "."


def _is_drizzle_schema(tree: _Tree, rel: str) -> bool:
    path = tree.root / rel
    if path.is_dir():
        return any(
            "pgTable" in tree.text(_join(rel, child.name)) for child in sorted(path.glob("*.ts"))
        )
    text = tree.text(rel) if path.is_file() else ""
    return "pgTable" in text or ("drizzle-orm" in text and "pg-core" in text)


def _detect_canonical(tree: _Tree, detection: Detection) -> None:
    notes = detection.canonical_notes
    drizzle: tuple[str, str] | None = None
    config = _read_drizzle_config(tree)
    if config is not None:
        name, schemas, _, dialect = config
        if dialect is not None and dialect not in ("postgresql", "postgres", "pg"):
            notes.append(
                f"{name} says dialect: '{dialect}'; ddlguard reads PostgreSQL schemas only, "
                "so its schema is not used."
            )
        elif schemas:
            paths = [_normalise(value) for value in schemas]
            existing = [path for path in paths if tree.exists(path)]
            if len(existing) > 1:
                common = os.path.commonpath(existing).replace("\\", "/")
                if common and tree.root.joinpath(common).is_dir() and common != ".":
                    drizzle = (common, f"{name} lists {len(existing)} schema files; their folder")
                else:
                    drizzle = (existing[0], f"the first of the schema files {name} lists")
                    notes.append(
                        f"{name} lists schema files in different folders "
                        f"({', '.join(existing)}); ddlguard reads one file or folder: check it."
                    )
            elif existing:
                shown = schemas[0] if len(schemas) == 1 else ", ".join(schemas)
                drizzle = (existing[0], f"{name} has schema: '{shown}' (read without running it)")
            else:
                notes.append(
                    f"{name} names the schema {', '.join(schemas)}, which does not exist here."
                )
    if drizzle is None:
        for rel in _DRIZZLE_SCHEMAS:
            if tree.exists(rel) and _is_drizzle_schema(tree, rel):
                drizzle = (rel, "a Drizzle schema (pgTable definitions) at a usual place")
                break
    if drizzle is None:
        found = sorted(
            (
                rel
                for rel in tree.files
                if _name(rel) == "schema.ts" and _is_drizzle_schema(tree, rel)
            ),
            key=lambda rel: (rel.count("/"), rel),
        )
        if found:
            drizzle = (found[0], "a Drizzle schema (pgTable definitions)")
    sql: str | None = None
    for rel in _SQL_SCHEMAS:
        if tree.is_file(rel) and _tables_created(tree.text(rel)):
            sql = rel
            break
    if drizzle is not None:
        path, why = drizzle
        detection.canonical = ("drizzle", path)
        notes.insert(
            0,
            f"{path}: {why}. It is the schema the code expects; `ddlguard drift` "
            "compares the migrations and snapshots with it.",
        )
        if sql is not None:
            notes.append(
                f"{sql} was also found; the Drizzle schema is preferred as the one "
                'written by hand. Use { sql = "' + sql + '" } if that is the source '
                "of truth instead."
            )
        return
    if sql is not None:
        detection.canonical = ("sql", sql)
        why = f"{sql}: a SQL schema file"
        if detection.migration_tool == "dbmate" and sql == "db/schema.sql":
            why += " (dbmate writes it after each migration)"
        notes.insert(0, f"{why}. `ddlguard drift` compares the migrations and snapshots with it.")
        return
    notes.insert(
        0,
        "No canonical schema found: no drizzle.config with a schema, no Drizzle schema.ts "
        "(shared/schema.ts, src/db/schema.ts, db/schema.ts, ...), and no schema.sql, "
        "db/schema.sql or structure.sql. Without one, `ddlguard drift` has nothing to compare the "
        "migrations with. Set one of:",
    )


# --- migration tool --------------------------------------------------------------------------------


def _manifest_evidence(tree: _Tree, folder: str | None) -> dict[str, list[str]]:
    places = ["."]
    if folder:
        current = PurePosixPath(folder)
        while current.as_posix() != ".":
            places.append(current.as_posix())
            current = current.parent
    found: dict[str, list[str]] = {}

    def add(tool: str, why: str) -> None:
        if why not in found.setdefault(tool, []):
            found[tool].append(why)

    for place in places:
        package = _join(place, "package.json")
        if tree.is_file(package):
            try:
                data = json.loads(tree.text(package))
            except ValueError:
                data = {}
            deps: dict[str, Any] = {}
            if isinstance(data, dict):
                for key in ("dependencies", "devDependencies", "optionalDependencies"):
                    if isinstance(data.get(key), dict):
                        deps.update(data[key])
            for dep, tool in (
                ("node-pg-migrate", "node-pg-migrate"),
                ("drizzle-kit", "drizzle"),
                ("dbmate", "dbmate"),
            ):
                if dep in deps:
                    add(tool, f"{package} depends on {dep}")
        gomod = _join(place, "go.mod")
        if tree.is_file(gomod):
            text = tree.text(gomod)
            for module, tool in (
                ("github.com/pressly/goose", "goose"),
                ("github.com/golang-migrate/migrate", "golang-migrate"),
                ("github.com/amacneil/dbmate", "dbmate"),
            ):
                if module in text:
                    add(tool, f"{gomod} requires {module}")
        cargo = _join(place, "Cargo.toml")
        if tree.is_file(cargo) and re.search(r"^\s*sqlx\b", tree.text(cargo), re.MULTILINE):
            add("sqlx", f"{cargo} depends on sqlx")
        for name in ("flyway.conf", "flyway.toml", "conf/flyway.conf"):
            if tree.is_file(_join(place, name)):
                add("flyway", f"{_join(place, name)} exists")
        for name in ("pom.xml", "build.gradle", "build.gradle.kts"):
            rel = _join(place, name)
            if tree.is_file(rel) and "flyway" in tree.text(rel).lower():
                add("flyway", f"{rel} uses Flyway")
    return found


def _detect_tool(tree: _Tree, detection: Detection, folder: _Folder | None) -> None:
    score: Counter[str] = Counter()
    reasons: dict[str, list[str]] = {tool: [] for tool in _TOOLS}
    if folder is not None:
        units = [u for u in folder.units if u.kind in ("up", "unversioned", "repeatable")]
        texts = {unit.path: tree.text(unit.path) for unit in units}
        for tool, pattern, header in (
            ("goose", _GOOSE, "-- +goose Up"),
            ("dbmate", _DBMATE, "-- migrate:up"),
            ("node-pg-migrate", _NODE_PG_MIGRATE, "-- Up Migration"),
        ):
            count = sum(bool(pattern.search(text)) for text in texts.values())
            if count:
                score[tool] += _CONTENT * count
                reasons[tool].append(
                    f"{_plural(count, 'migration')} in {_show(folder.path)} "
                    f"{'has' if count == 1 else 'have'} a {header} marker"
                )
        if folder.journal is not None:
            score["drizzle"] += _CONTENT * max(1, len(folder.journal))
            reasons["drizzle"].append(
                f"{_join(folder.path, 'meta/_journal.json')} is drizzle-kit's migration journal"
            )
        elif any(_DRIZZLE_BREAKPOINT in text for text in texts.values()):
            score["drizzle"] += _NAMING
            reasons["drizzle"].append(
                f"files in {_show(folder.path)} have drizzle-kit's --> statement-breakpoint markers"
            )
        ups = folder.of("up")
        flyway = sum(bool(_FLYWAY.match(u.name)) for u in folder.units)
        if flyway and flyway * 2 >= len(folder.units):
            score["flyway"] += _NAMING * flyway
            reasons["flyway"].append(
                f"{_plural(flyway, 'file')} named V<version>__<description>.sql"
            )
        paired = sum(u.name.lower().endswith(".up.sql") for u in ups)
        if paired:
            for tool in ("golang-migrate", "sqlx"):
                score[tool] += _NAMING * paired
                reasons[tool].append(
                    f"{_plural(paired, 'migration')} named <version>_<name>.up.sql with .down.sql "
                    "counterparts"
                )
    manifests = _manifest_evidence(tree, folder.path if folder is not None else None)
    for tool, whys in manifests.items():
        if tool == "drizzle" and not score["drizzle"] and folder is not None:
            continue  # drizzle-kit in package.json, but these migrations are not its output
        score[tool] += _MANIFEST
        reasons[tool].extend(whys)
    best = max(_TOOLS, key=lambda tool: (score[tool], -_TOOLS.index(tool)))
    notes = detection.tool_notes
    if not score[best]:
        detection.migration_tool = "psql"
        detection.tool_found = False
        notes.append(
            "No migration tool found (no goose or dbmate markers in the files, no drizzle-kit "
            "journal, no Flyway or golang-migrate file names, no tool in package.json, go.mod or "
            "Cargo.toml), so the files are taken to be run with psql: "
            f"{_TRANSACTIONS['psql']}."
        )
        if "drizzle" in manifests and folder is not None:
            notes.append(
                f"{'; '.join(manifests['drizzle'])}, but {_show(folder.path)} is not drizzle-kit "
                "output (no meta/_journal.json)."
            )
        return
    detection.migration_tool = best
    detection.tool_found = True
    notes.append(f"{best}: {'; '.join(reasons[best])}. {_TRANSACTIONS[best]}.")
    if best in ("golang-migrate", "sqlx") and score["golang-migrate"] == score["sqlx"]:
        notes.append(
            'golang-migrate and sqlx name files the same way; change this to "sqlx" '
            "if sqlx runs them."
        )
    runners_up = [
        tool
        for tool in _TOOLS
        if tool != best
        and score[tool]
        and reasons[tool]
        and not (best in ("golang-migrate", "sqlx") and tool in ("golang-migrate", "sqlx"))
    ]
    for tool in runners_up:
        notes.append(f"Less likely: {tool} ({'; '.join(reasons[tool])}).")
    if folder is not None and best in ("goose", "dbmate", "node-pg-migrate"):
        notes.append(
            "Each file's down section is the down migration: it is not replayed into the schema."
        )


# --- PostgreSQL version ----------------------------------------------------------------------------


def _detect_pg_version(tree: _Tree, detection: Detection) -> None:
    sources = [
        rel
        for rel in tree.files
        if (
            _parent(rel) in (".", "docker", "deploy", "ops", ".devcontainer")
            and re.match(r"^(docker-)?compose.*\.ya?ml$|^dockerfile", _name(rel), re.IGNORECASE)
        )
    ]
    workflows = tree.root / ".github" / "workflows"
    if workflows.is_dir():
        sources += sorted(
            p.relative_to(tree.root).as_posix()
            for p in workflows.iterdir()
            if p.suffix in (".yml", ".yaml") and p.is_file()
        )
    seen: dict[int, list[str]] = {}
    for rel in sources:
        for match in _PG_IMAGE.finditer(tree.text(rel)):
            seen.setdefault(int(match["version"]), []).append(rel)
    for rel, pattern in (
        ("supabase/config.toml", _PG_SUPABASE),
        (".tool-versions", _PG_TOOL_VERSIONS),
    ):
        if tree.is_file(rel):
            for match in pattern.finditer(tree.text(rel)):
                seen.setdefault(int(match["version"]), []).append(rel)
    versions = sorted(version for version in seen if version in _PG_VERSIONS)
    notes = detection.pg_version_notes
    if not versions:
        notes.append(
            "No PostgreSQL version found (docker-compose.yml, .github/workflows, "
            f"supabase/config.toml, .tool-versions); the default is {_DEFAULT_PG_VERSION}. Set the "
            "version production runs: some rules depend on it."
        )
        return
    detection.pg_version = versions[0]
    where = ", ".join(dict.fromkeys(seen[versions[0]]))
    notes.append(f"PostgreSQL {versions[0]}, as in {where}.")
    if len(versions) > 1:
        notes.append(
            f"Other versions found: {', '.join(map(str, versions[1:]))}; the oldest is used, so "
            "that nothing it lacks is taken for granted. Set the version production runs."
        )


# --- migration file naming ------------------------------------------------------------------------


def _detect_naming(detection: Detection, folder: _Folder | None) -> None:
    notes = detection.naming_notes
    if folder is None or folder.layout != "flat" or not detection.migration_files:
        if folder is not None and folder.layout != "flat":
            notes.append(
                "migration-file is not proposed: the migrations are sub-folders with fixed file "
                "names, and the rule checks file names."
            )
        return
    names = [_name(rel) for rel in detection.migration_files]
    ups = [unit.name for unit in folder.of("up")]
    pattern: str | None = None
    if ups and all(_FLYWAY.match(name) for name in ups):
        descs = [m["desc"] for m in (_FLYWAY.match(name) for name in ups) if m is not None]
        desc = _fitting_class(descs)
        lead = r"(?:V\d+(?:[._]\d+)*|R)" if folder.of("repeatable") else r"V\d+(?:[._]\d+)*"
        pattern = f"^{lead}__{desc}\\.sql$"
    else:
        shapes = [m for m in (_NAME_SHAPE.match(name) for name in ups) if m is not None]
        if shapes:
            sep, _ = Counter(m["sep"] for m in shapes).most_common(1)[0]
            suffix, _ = Counter(m["suffix"] for m in shapes).most_common(1)[0]
            same = [m for m in shapes if m["sep"] == sep and m["suffix"] == suffix]
            widths = {len(m["digits"]) for m in same}
            digits = f"\\d{{{widths.pop()}}}" if len(widths) == 1 else r"\d+"
            desc = _fitting_class([m["desc"] for m in same])
            pattern = f"^{digits}{sep}{desc}{re.escape(suffix)}$"
    if pattern is None:
        notes.append("migration-file is not proposed: the migration files follow no common naming.")
        return
    compiled = re.compile(pattern)
    matching = [name for name in names if compiled.search(name)]
    outliers = [name for name in names if not compiled.search(name)]
    if len(matching) < 2 or len(matching) * 2 <= len(names):
        notes.append(
            f"migration-file is not proposed: only {len(matching)} of {len(names)} migration files "
            f"follow the most common naming ({pattern})."
        )
        return
    detection.migration_file_pattern = pattern
    if outliers:
        notes.append(
            f"migration-file: {len(matching)} of {len(names)} migration files are named this way; "
            f"the other {_plural(len(outliers), 'file')} ({_listing(outliers)}) will be reported "
            "(N301) until renamed or the pattern is changed."
        )
    else:
        every = "both" if len(names) == 2 else f"all {len(names)}"
        notes.append(
            f"migration-file: {every} migration files are named this way; "
            "a new file that is not is reported (N301)."
        )


def _fitting_class(descs: Sequence[str]) -> str:
    for candidate in _DESC_CLASSES:
        if all(re.fullmatch(candidate, desc) for desc in descs):
            return candidate
    return ".+"


# --- detection -------------------------------------------------------------------------------------


def detect(root: Path) -> Detection:
    """Look at the repository under ``root`` (nothing is run or written) and say what to configure."""
    root = root.resolve()
    tree = _scan(root)
    detection = Detection(root=root)
    sql_canonical = next(
        (rel for rel in _SQL_SCHEMAS if tree.is_file(rel) and _tables_created(tree.text(rel))),
        None,
    )
    snapshots = _detect_snapshots(tree, detection, sql_canonical)
    folder = _detect_migrations(tree, detection, snapshots)
    _detect_tool(tree, detection, folder)
    _detect_canonical(tree, detection)
    if detection.canonical is not None and detection.canonical[1] in detection.snapshots:
        detection.snapshots.remove(detection.canonical[1])
    _detect_pg_version(tree, detection)
    _detect_naming(detection, folder)
    return detection


# --- rendering -------------------------------------------------------------------------------------

_WIDTH = 100


def _comment(paragraphs: Iterable[str], *, bullets: bool = False) -> list[str]:
    lines: list[str] = []
    for paragraph in paragraphs:
        first, rest = ("# - ", "#   ") if bullets else ("# ", "# ")
        lines.extend(
            textwrap.wrap(
                paragraph,
                width=_WIDTH,
                initial_indent=first,
                subsequent_indent=rest,
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return lines


def _string(value: str) -> str:
    """A TOML basic string."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _regex(value: str) -> str:
    """A TOML literal string when possible (regular expressions read better without escapes)."""
    if "'" not in value and "\n" not in value:
        return f"'{value}'"
    return _string(value)


def render_config(detection: Detection, *, pyproject: bool = False) -> str:
    """The configuration as TOML: ``ddlguard.toml`` (keys at the top level), or with
    ``pyproject=True`` a ``[tool.ddlguard]`` table to append to ``pyproject.toml``.

    Every key has a comment saying what was found and why; what was not found stays commented out.
    """
    d = detection
    naming_table = "[tool.ddlguard.naming]" if pyproject else "[naming]"
    out: list[str] = [
        "# ddlguard configuration, written by `ddlguard init` from what it found in this repository.",
        "# Each choice is explained in the comment above it: check them, then run `ddlguard check`.",
        "# Paths are relative to this file. All keys and their defaults: the Configuration section",
        "# of ddlguard's README; `ddlguard rules` lists the rules.",
    ]
    if not (d.migrations or d.canonical or d.snapshots or d.tool_found or d.pg_version):
        out.append("# Nothing was found to configure: every key below is commented out, with what")
        out.append("# was looked for and an example. ddlguard works without them on the files it")
        out.append("# is given (`ddlguard check FILE ...`).")
    if pyproject:
        out.append("[tool.ddlguard]")
    out.append("")

    # migrations
    if d.migrations:
        out.append("# The migrations, in the order they are applied:")
        out.extend(_comment(d.migrations_notes, bullets=True))
        out.append("migrations = [")
        confirm = set(d.to_confirm)
        marked = False
        for pattern in d.migrations:
            if pattern in confirm and not marked:
                out.append("  # no version number: a person must confirm the order of these")
                marked = True
            out.append(f"  {_string(pattern)},")
        out.append("]")
    else:
        out.extend(_comment(d.migrations_notes))
        out.append('# migrations = ["migrations/*.sql"]')
    out.append("")

    # canonical
    out.extend(_comment(d.canonical_notes))
    if d.canonical is not None:
        kind, path = d.canonical
        out.append(f"canonical = {{ {kind} = {_string(path)} }}")
    else:
        out.append('# canonical = { drizzle = "src/db/schema.ts" }')
        out.append('# canonical = { sql = "db/schema.sql" }')
        out.append('# canonical = { database-url-env = "DATABASE_URL" }')
    out.append("")

    # snapshots
    if d.snapshots:
        out.append("# Full-schema scripts that must on their own produce the canonical schema:")
        out.extend(_comment(d.snapshots_notes, bullets=True))
        out.append("snapshots = [" + ", ".join(_string(s) for s in d.snapshots) + "]")
    else:
        out.extend(_comment(d.snapshots_notes))
        out.append('# snapshots = ["deploy/full_schema.sql"]')
    out.append("")

    # migration tool and idempotency
    out.append("# The tool that applies the migrations (sets the transaction mode of each file):")
    out.extend(_comment(d.tool_notes))
    tool = f"migration-tool = {_string(d.migration_tool)}"
    out.append(tool if (d.tool_found or d.migrations) else f"# {tool}")
    out.append("")
    if d.migrations:
        if d.migration_tool == "psql":
            why = (
                "Files run by hand with psql get run twice sooner or later: every statement "
                "must be safe to run again."
            )
        else:
            why = (
                f"{d.migration_tool} records what it applied, but a migration that failed "
                "half-way is retried: every statement should be safe to run again. "
                '"outside-transaction" exempts statements that run inside a transaction.'
            )
        out.extend(_comment([why]))
        out.append('idempotency = "always"')
    else:
        out.extend(
            _comment(
                [
                    '"always" (the default): every statement must be safe to run again; '
                    'or "outside-transaction", or "off".'
                ]
            )
        )
        out.append('# idempotency = "always"')
    out.append("")

    # PostgreSQL version
    out.extend(_comment(d.pg_version_notes))
    if d.pg_version is not None:
        out.append(f"pg-version = {d.pg_version}")
    else:
        out.append(f"# pg-version = {_DEFAULT_PG_VERSION}")
    out.append("")

    # naming
    naming_lines = [
        "# Table and column names: the snake_case preset is the default.",
        '# table = "snake_case"',
        '# column = "snake_case"',
        "# Index and constraint name templates are off until set; {table} and {columns} expand.",
        "# Examples (the constraint ones are the names PostgreSQL gives by default):",
        '# index = "^idx_{table}_{columns}$"',
        '# unique = "^{table}_{columns}_key$"',
        '# foreign-key = "^{table}_{columns}_fkey$"',
        '# primary-key = "^{table}_pkey$"',
        '# check = "^{table}_{columns}_check$"',
    ]
    if d.migration_file_pattern is not None:
        out.append(naming_table)
        out.extend(naming_lines)
        out.extend(_comment(d.naming_notes))
        out.append(f"migration-file = {_regex(d.migration_file_pattern)}")
    else:
        out.append(f"# {naming_table}")
        out.extend(naming_lines)
        out.extend(_comment(d.naming_notes))
        out.append("# migration-file = '^\\d{4}_[a-z0-9_]+\\.sql$'")
    return "\n".join(out).rstrip("\n") + "\n"


# --- writing ---------------------------------------------------------------------------------------

_HEADER = re.compile(r"^\s*\[(?!\[)\s*(?P<key>[^\]]+?)\s*\]\s*(?:#.*)?$")
_ARRAY_HEADER = re.compile(r"^\s*\[\[")


def _table_key(raw: str) -> str:
    return re.sub(r"\s+", "", raw).replace('"', "").replace("'", "")


def _without_tool_table(text: str) -> str:
    """``text`` with its ``[tool.ddlguard]`` and ``[tool.ddlguard.*]`` tables removed."""
    lines = text.splitlines(keepends=True)
    keep = [True] * len(lines)
    inside = False
    for index, line in enumerate(lines):
        header = _HEADER.match(line)
        if header or _ARRAY_HEADER.match(line):
            key = _table_key(header["key"]) if header else ""
            was_inside = inside
            inside = key == "tool.ddlguard" or key.startswith("tool.ddlguard.")
            if was_inside and not inside:
                back = index - 1  # the comment block right above the next table belongs to it
                while back >= 0 and lines[back].lstrip().startswith("#"):
                    if "ddlguard" in lines[back]:
                        break
                    keep[back] = True
                    back -= 1
            if inside:
                back = index - 1  # the comment block right above it, when it is about ddlguard
                block: list[int] = []
                while back >= 0 and lines[back].lstrip().startswith("#"):
                    block.append(back)
                    back -= 1
                if any("ddlguard" in lines[i] for i in block):
                    for i in block:
                        keep[i] = False
        if inside:
            keep[index] = False
    kept = "".join(line for line, flag in zip(lines, keep, strict=True) if flag)
    newline = "\r\n" if "\r\n" in text else "\n"
    return kept.rstrip("\r\n") + newline if kept.strip() else ""


def _validate(text: str, path: Path, section: str) -> None:
    from ddlguard.config import _build

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InitError(
            f"{_display(path)}: the generated configuration is not valid TOML: {error}"
        ) from None
    if section:
        data = data.get("tool", {}).get("ddlguard", {})
    try:
        _build(data, path, section)
    except ConfigError as error:
        raise InitError(f"the generated configuration does not validate: {error}") from None


def _other_config(root: Path, target: Path) -> Path | None:
    """Another file in ``root`` that already configures ddlguard."""
    for name in ("ddlguard.toml", ".ddlguard.toml"):
        candidate = root / name
        if candidate != target and candidate.is_file():
            return candidate
    pyproject = root / "pyproject.toml"
    if pyproject != target and pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return None
        tool = data.get("tool")
        if isinstance(tool, dict) and "ddlguard" in tool:
            return pyproject
    return None


def write_config(
    root: Path,
    *,
    force: bool = False,
    pyproject: bool = False,
    detection: Detection | None = None,
) -> Path:
    """Detect (unless ``detection`` is given) and write the configuration; return the file written.

    Writes ``root/ddlguard.toml``, or with ``pyproject=True`` appends a ``[tool.ddlguard]`` table
    to ``root/pyproject.toml`` (the rest of the file stays byte for byte). Refuses, with
    :class:`InitError`, to replace an existing configuration unless ``force``. The file is written
    through a temporary file and a rename, and only after the result has validated.
    """
    from ddlguard.checker import write_atomic

    if not root.is_dir():
        raise InitError(f"{_display(root)}: not a folder")
    if detection is None:
        detection = detect(root)
    text = render_config(detection, pyproject=pyproject)
    if pyproject:
        path = root / "pyproject.toml"
        if not path.is_file():
            raise InitError(
                f"{_display(path)}: no such file; run without --pyproject to write ddlguard.toml"
            )
        try:
            raw = path.read_bytes()
            existing = raw.decode("utf-8-sig")
            data = tomllib.loads(existing)
        except OSError as error:
            raise InitError(f"{_display(path)}: cannot read: {error.strerror or error}") from None
        except UnicodeDecodeError:
            raise InitError(f"{_display(path)}: not UTF-8") from None
        except tomllib.TOMLDecodeError as error:
            raise InitError(f"{_display(path)}: invalid TOML ({error}); fix it first") from None
        tool = data.get("tool")
        has_table = isinstance(tool, dict) and "ddlguard" in tool
        if has_table and not force:
            raise InitError(
                f"{_display(path)} already has a [tool.ddlguard] table; use --force to replace it"
            )
        other = _other_config(root, path)
        if other is not None and not force:
            raise InitError(
                f"{_display(other)} already configures ddlguard and takes precedence over "
                f"pyproject.toml; use --force to write [tool.ddlguard] anyway"
            )
        if has_table:
            kept = _without_tool_table(existing)
            before = {k: v for k, v in data.items() if k != "tool"}
            before_tool = {k: v for k, v in (tool or {}).items() if k != "ddlguard"}
            try:
                after = tomllib.loads(kept)
            except tomllib.TOMLDecodeError:
                after = None
            after_tool = after.get("tool", {}) if after is not None else None
            if (
                after is None
                or {k: v for k, v in after.items() if k != "tool"} != before
                or after_tool != before_tool
            ):
                raise InitError(
                    f"{_display(path)}: cannot remove the existing ddlguard settings safely "
                    "(not written as [tool.ddlguard] tables); remove them by hand and run again"
                )
            head = kept.encode("utf-8")
            if raw.startswith(b"\xef\xbb\xbf"):
                head = b"\xef\xbb\xbf" + head
        else:
            head = raw
        if head.strip() and not head.endswith(b"\n"):
            head += b"\r\n" if b"\r\n" in head else b"\n"
        newline = "\r\n" if b"\r\n" in head else "\n"
        separator = newline.encode() if head.strip() else b""
        content = head + separator + text.replace("\n", newline).encode("utf-8")
        _validate(content.decode("utf-8-sig"), path, "tool.ddlguard")
    else:
        path = root / "ddlguard.toml"
        if path.exists() and not force:
            raise InitError(f"{_display(path)} already exists; use --force to overwrite it")
        other = _other_config(root, path)
        if other is not None and not force:
            raise InitError(
                f"{_display(other)} already configures ddlguard; use --force to write "
                "ddlguard.toml anyway (it takes precedence)"
            )
        content = text.encode("utf-8")
        _validate(text, path, "")
    try:
        write_atomic(path, content)
    except OSError as error:
        raise InitError(f"{_display(path)}: cannot write: {error.strerror or error}") from None
    return path
