"""Finding and reading the configuration file, and the validated configuration as used at run time.

Nothing here imports pydantic: a pre-commit run has 150 ms, and pydantic's import alone takes most
of it. The pydantic models that validate a configuration live in :mod:`ddlguard.config`; they run
once per configuration content, and the result is kept in ``.ddlguard_cache/`` beside the
configuration file (``DDLGUARD_NO_CACHE=1`` turns that off).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

#: File names searched in every folder, in order of preference.
CONFIG_FILE_NAMES = ("ddlguard.toml", ".ddlguard.toml", "pyproject.toml")
CACHE_DIR = ".ddlguard_cache"

#: The regular expression behind the naming preset ``"snake_case"``.
# Lower-case words of letters and digits joined by single underscores, starting with a letter.
SNAKE_CASE = r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$"
_PRESETS = {"snake_case": SNAKE_CASE}

_GLOB_MAGIC = re.compile(r"[*?\[]")
_DIGITS = re.compile(r"([0-9]+)")
_TOML_POSITION = re.compile(
    r"^(?P<msg>.*) \(at (?:line (?P<line>\d+), column (?P<col>\d+)|end of document)\)$"
)


class ConfigError(Exception):
    """A configuration that cannot be used; ``str()`` is one line naming the file and the key."""



def natural_sort_key(text: str) -> tuple[list[str | int], str]:
    """Sort key: runs of digits compare as numbers (2 before 10), letters without case."""
    parts: list[str | int] = [
        int(part) if index % 2 else part.casefold()
        for index, part in enumerate(_DIGITS.split(text))
    ]
    return parts, text




class NamePattern(Protocol):
    """A compiled naming convention: Python's ``re.Pattern`` or RE2's, both answer these."""

    @property
    def pattern(self) -> str: ...

    def search(self, string: str) -> object | None: ...


def naming_regex(pattern: str, *, table: str = "", columns: Sequence[str] = ()) -> NamePattern:
    """Compile a naming value: a preset, or a regex whose ``{table}``/``{columns}`` are filled in.

    The values are inserted literally (escaped); ``columns`` are joined with ``_``. Apply the result
    with ``search``: the user anchors a pattern with ``^`` and ``$`` when they mean the whole name.

    A user's pattern runs on RE2 (google-re2), which takes linear time whatever the pattern, so
    that ``^(a+)+$`` cannot hang a run on a long name; Python's ``\\w``/``\\d`` keep their Unicode
    meaning there. A pattern RE2 cannot run (lookarounds, backreferences, ``\\b``) runs on Python's
    ``re``; the configuration refuses those that could backtrack exponentially
    (:func:`pattern_hazard`).
    """
    if "{" not in pattern:
        return _compiled(pattern, "", "")
    return _compiled(pattern, table, "_".join(columns))


@lru_cache(maxsize=4096)
def _compiled(pattern: str, table: str, columns: str) -> NamePattern:
    if pattern in _PRESETS:
        return re.compile(_PRESETS[pattern])  # a fixed pattern that cannot backtrack badly
    filled = pattern.replace("{table}", re.escape(table)).replace("{columns}", re.escape(columns))
    linear = _re2_compile(filled)
    return linear if linear is not None else re.compile(filled)


def _re2() -> Any:
    """The ``re2`` module of google-re2, or None where it is not installed."""
    try:
        import re2  # type: ignore[import-untyped]  # google-re2 ships no type information
    except ImportError:  # pragma: no cover - a dependency; only a broken install lacks it
        return None
    return re2


def _re2_compile(pattern: str) -> NamePattern | None:
    """``pattern`` compiled by RE2, or None where RE2 is not installed or cannot run it."""
    translated = _for_re2(pattern)
    if translated is None:
        return None
    re2 = _re2()
    if re2 is None:  # pragma: no cover - a dependency; only a broken install lacks it
        return None
    options = re2.Options()
    options.log_errors = False  # RE2 would print its parse errors on stderr
    try:
        compiled: NamePattern = re2.compile(translated, options)
    except re2.error:
        return None
    return compiled


# Python's Unicode classes spelled for RE2 (whose \w and \d are ASCII): outside and inside [...].
_RE2_CLASSES = {"w": r"[\pL\pN_]", "W": r"[^\pL\pN_]", "d": r"\p{Nd}", "D": r"\P{Nd}"}
_RE2_IN_CLASS = {"w": r"\pL\pN_", "d": r"\p{Nd}"}


def _for_re2(pattern: str) -> str | None:
    """``pattern`` with Python's meaning of ``\\w \\W \\d \\D`` kept under RE2; None for escapes
    whose meaning differs and cannot be rewritten (``\\b``, ``\\B``, ``\\Z``, ``\\W``/``\\D`` in a
    class)."""
    if "\\" not in pattern:
        return pattern
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt in "bBZ":
                return None
            table = _RE2_IN_CLASS if in_class else _RE2_CLASSES
            if nxt in table:
                out.append(table[nxt])
            elif in_class and nxt in "WD":
                return None
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
            out.append(ch)
            i += 1
            if pattern.startswith("^", i):
                out.append("^")
                i += 1
            if pattern.startswith("]", i):  # a leading ] is a literal
                out.append("\\]")
                i += 1
            continue
        if ch == "]" and in_class:
            in_class = False
        out.append(ch)
        i += 1
    return "".join(out)


_QUANTIFIER = re.compile(r"[*+]|\{(\d*),(\d*)\}|\{(\d+)\}|\?")


def pattern_hazard(pattern: str) -> str | None:
    """Why a naming pattern could hang a run, or None. A pattern RE2 runs takes linear time;
    one it cannot run (a lookaround, a backreference) goes to Python's backtracking ``re``, and
    there a repeated group that itself repeats or holds alternatives (``(a+)+``, ``(a|aa)*``)
    can take exponential time on a long name: those are refused."""
    if pattern in _PRESETS:
        return None
    probe = pattern.replace("{table}", "_table_").replace("{columns}", "_columns_")
    if _re2_compile(probe) is not None or not _nested_repeat(probe):
        return None
    if _re2() is None:  # pragma: no cover - a dependency; only a broken install lacks it
        engine = "and the linear-time engine (google-re2) is not installed"
    else:
        engine = (
            "and it needs Python's backtracking engine (a lookaround, a backreference or \\b, "
            "which RE2 lacks)"
        )
    return (
        "a repeated group that itself repeats or has alternatives, as in (a+)+, can take "
        f"exponential time on a long name, {engine}: rewrite the pattern without one or the other"
    )


def _nested_repeat(pattern: str) -> bool:
    """Whether a group that repeats (``*``, ``+``, ``{n,}``, ``{n,m}`` with m > 1) contains a
    repetition or an alternation: a conservative test for exponential backtracking."""
    stack: list[list[bool]] = [[False, False]]  # per open group: [has a repetition, has a |]
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        closed: list[bool] | None = None
        if ch == "\\":
            i += 2
        elif ch == "[":
            i += 1
            if pattern.startswith("^", i):
                i += 1
            if pattern.startswith("]", i):
                i += 1
            while i < n and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
            i += 1
        elif ch == "(":
            if pattern.startswith("(?#", i):
                end = pattern.find(")", i)
                i = n if end == -1 else end + 1
                continue
            stack.append([False, False])
            i += 1
            continue
        elif ch == ")":
            closed = stack.pop() if len(stack) > 1 else [False, False]
            i += 1
        elif ch == "|":
            stack[-1][1] = True
            i += 1
            continue
        else:
            i += 1
        match = _QUANTIFIER.match(pattern, i)
        repeats = False
        if match is not None and match[0] != "?":
            high = match[2] if match[1] is not None else match[3]
            repeats = match[0] in ("*", "+") or not high or int(high) > 1
        if match is not None:
            i = match.end()
            if i < n and pattern[i] in "?+":  # lazy or possessive
                i += 1
        if closed is not None:
            if repeats and (closed[0] or closed[1]):
                return True
            stack[-1][0] = stack[-1][0] or closed[0] or repeats
        elif repeats:
            stack[-1][0] = True
    return False


@dataclass(frozen=True, slots=True)
class NamingSettings:
    """``[naming]``: a preset, a regular expression with ``{table}``/``{columns}``, or None (off)."""

    table: str | None = "snake_case"
    column: str | None = "snake_case"
    index: str | None = None
    unique: str | None = None
    foreign_key: str | None = None
    primary_key: str | None = None
    check: str | None = None
    migration_file: str | None = None


@dataclass(frozen=True, slots=True)
class SqlfluffSettings:
    """``[sqlfluff]``: run sqlfluff's style rules too (``enabled``), with an optional extra sqlfluff
    configuration file (``config``, relative to the ddlguard configuration's folder)."""

    enabled: bool = False
    config: str | None = None


@dataclass(frozen=True, slots=True)
class CanonicalSettings:
    kind: str  # drizzle, sql or database
    path: str | None = None
    env: str | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    """A validated configuration. The defaults here are the documented defaults (a test checks
    that they equal the pydantic model's)."""

    migrations: tuple[str, ...] = ()
    canonical: CanonicalSettings | None = None
    snapshots: tuple[str, ...] = ()
    idempotency: str = "always"
    default_schema: str = "public"
    pg_version: int = 15
    migration_tool: str = "psql"
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    fail_on: str = "warning"
    database_url_env: str = "DATABASE_URL"
    naming: NamingSettings = field(default_factory=NamingSettings)
    sqlfluff: SqlfluffSettings = field(default_factory=SqlfluffSettings)
    path: Path | None = None
    root: Path = field(default_factory=Path.cwd)

    def migration_files(self) -> tuple[list[Path], list[str]]:
        """The migration files in order, and the patterns that matched no file."""
        return expand(self.migrations, self.root)

    def snapshot_files(self) -> tuple[list[Path], list[str]]:
        """The snapshot files in order, and the patterns that matched no file."""
        return expand(self.snapshots, self.root)

    def no_match(self, key: str, pattern: str) -> str:
        """The one-line error for a ``key`` (``migrations``, ``snapshots``) entry that matches no
        file: the configuration file, the key and the pattern, as a missing file is reported."""
        where = _display(self.path) if self.path is not None else "the configuration"
        section = _section_of(self.path) if self.path is not None else ""
        name = f"{section}.{key}" if section else key
        return (
            f"{where}: {name}: {pattern!r} matches no file (paths are relative to "
            "the configuration file's folder)"
        )

    def canonical_path(self) -> Path | None:
        """The canonical Drizzle or SQL schema as an absolute path; None for none or a database."""
        if self.canonical is None or self.canonical.path is None:
            return None
        return _absolute(self.root, self.canonical.path)

    def sqlfluff_config_path(self) -> Path | None:
        """``[sqlfluff] config`` as an absolute path, or None when not set."""
        if self.sqlfluff.config is None:
            return None
        return _absolute(self.root, self.sqlfluff.config)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("path")
        data.pop("root")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], root: Path, path: Path | None) -> Settings:
        canonical = data.get("canonical")
        return cls(
            migrations=tuple(data["migrations"]),
            canonical=CanonicalSettings(**canonical) if canonical else None,
            snapshots=tuple(data["snapshots"]),
            idempotency=data["idempotency"],
            default_schema=data["default_schema"],
            pg_version=int(data["pg_version"]),
            migration_tool=data["migration_tool"],
            select=tuple(data["select"]),
            ignore=tuple(data["ignore"]),
            fail_on=data["fail_on"],
            database_url_env=data["database_url_env"],
            naming=NamingSettings(**data["naming"]),
            sqlfluff=SqlfluffSettings(**data["sqlfluff"]),
            path=path,
            root=root,
        )


def load_settings(explicit: Path | None = None, start: Path | None = None) -> Settings:
    """The configuration to use, validated: ``explicit`` (``--config``), else found upward.

    Validation (pydantic) runs only when this configuration's content has not been validated
    before; the validated result is cached by content in ``.ddlguard_cache/``.
    """
    if explicit is None:
        base = _folder(start if start is not None else Path.cwd())
        found = _discover(base)
        if found is None:
            return Settings(root=base)
        path, data = found
    else:
        path = explicit
        if not path.exists():
            raise ConfigError(f"no such config file: {path}")
        data = None
    use_cache = not os.environ.get("DDLGUARD_NO_CACHE")
    key = None
    if use_cache and data is not None:
        from ddlguard import __version__

        blob = json.dumps([__version__, str(path.resolve()), data], sort_keys=True, default=str)
        key = hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]
        cached = _read_cached(path.resolve().parent, key)
        if cached is not None:
            try:
                return Settings.from_json(cached, path.resolve().parent, path.resolve())
            except (KeyError, TypeError, ValueError):
                pass  # a cache from another layout: validate again
    from ddlguard.config import load_config

    settings = load_config(explicit, start).to_settings()
    if key is not None:
        _write_cached(settings.root, key, settings.to_json())
    return settings


def _read_cached(root: Path, key: str) -> dict[str, Any] | None:
    try:
        raw = (root / CACHE_DIR / f"config-{key}.json").read_text(encoding="utf-8")
        data = json.loads(raw)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def ensure_cache_dir(root: Path) -> Path | None:
    """The cache folder under ``root`` (created with a .gitignore), or None when not writable."""
    folder = root / CACHE_DIR
    try:
        folder.mkdir(exist_ok=True)
        ignore = folder / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# Created by ddlguard: a cache, never committed.\n*\n", encoding="utf-8")
    except OSError:
        return None
    return folder


def _write_cached(root: Path, key: str, data: dict[str, Any]) -> None:
    folder = ensure_cache_dir(root)
    if folder is None:
        return
    try:
        fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        Path(tmp).replace(folder / f"config-{key}.json")
    except OSError:
        return


# --- file expansion -------------------------------------------------------------------------


def _absolute(root: Path, name: str | Path) -> Path:
    return Path(os.path.normpath(root / Path(name).expanduser()))


def _glob(root: Path, pattern: str) -> list[Path]:
    path = Path(pattern).expanduser()
    base = root
    if path.is_absolute():
        base, path = Path(path.anchor), path.relative_to(path.anchor)
    found = [match for match in base.glob(path.as_posix()) if match.is_file()]
    found.sort(key=lambda match: natural_sort_key(match.relative_to(base).as_posix()))
    return found


def expand(patterns: Iterable[str], root: Path) -> tuple[list[Path], list[str]]:
    """Files, globs and folders (their ``*.sql``) in order, each file once; and the misses."""
    files: dict[Path, None] = {}
    unmatched: list[str] = []
    for pattern in patterns:
        if _GLOB_MAGIC.search(pattern):
            matches = _glob(root, pattern)
        else:
            target = _absolute(root, pattern)
            if target.is_dir():
                matches = _glob(target, "*.sql")
            else:
                matches = [target] if target.is_file() else []
        if not matches:
            unmatched.append(pattern)
        for match in matches:
            files.setdefault(_absolute(root, match), None)
    return list(files), unmatched


# --- discovery and loading ------------------------------------------------------------------


def find_config(start: Path) -> Path | None:
    """The config file for ``start``: the nearest folder, upward, that has one.

    In one folder ``ddlguard.toml`` wins over ``.ddlguard.toml``, which wins over a
    ``pyproject.toml``; a ``pyproject.toml`` without ``[tool.ddlguard]`` does not count.
    """
    found = _discover(start)
    return None if found is None else found[0]


def _folder(start: Path) -> Path:
    start = start.resolve()
    return start.parent if start.is_file() else start


def _discover(start: Path) -> tuple[Path, Any] | None:
    """The nearest config file upward from ``start`` and its ddlguard table (not yet validated)."""
    folder = _folder(start)
    for directory in (folder, *folder.parents):
        for name in CONFIG_FILE_NAMES:
            candidate = directory / name
            if not candidate.is_file():
                continue
            if name != "pyproject.toml":
                return candidate, _parse_toml(candidate)
            table = _pyproject_table(candidate)
            if table is not None:
                return candidate, table
    return None


def _pyproject_table(path: Path) -> Any:
    """The ``[tool.ddlguard]`` value of a pyproject.toml, or None when it has none."""
    try:
        text = path.read_bytes()
    except OSError:
        return None
    if b"ddlguard" not in text:  # cheap and exact: the table's name must be written somewhere
        return None
    try:
        data = _parse_toml(path, text)
    except ConfigError:
        if re.search(rb"^\s*\[\s*tool\s*\.\s*[\"']?ddlguard\b", text, re.MULTILINE):
            raise
        return None  # a broken pyproject that is not ours: keep searching upward
    return _tool_table(data)


def _tool_table(data: dict[str, Any]) -> Any:
    tool = data.get("tool")
    if not isinstance(tool, dict) or "ddlguard" not in tool:
        return None
    return tool["ddlguard"]


def _section_of(path: Path) -> str:
    return "tool.ddlguard" if path.name == "pyproject.toml" else ""


def _parse_toml(path: Path, raw: bytes | None = None) -> dict[str, Any]:
    name = _display(path)
    if raw is None:
        try:
            raw = path.read_bytes()
        except OSError as error:
            raise ConfigError(f"{name}: cannot read: {error.strerror or error}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{name}: invalid TOML: not UTF-8 (byte 0x{raw[error.start]:02x} at offset {error.start})"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(_toml_error(name, text, str(error))) from None


def _toml_error(name: str, text: str, message: str) -> str:
    match = _TOML_POSITION.match(message)
    if match is None:
        return f"{name}: invalid TOML: {message}"
    if match["line"] is None:  # at end of document
        lines = text.split("\n")
        line, col = len(lines), len(lines[-1]) + 1
    else:
        line, col = int(match["line"]), int(match["col"])
    return f"{name}:{line}:{col}: invalid TOML: {match['msg']}"


def _display(path: Path) -> str:
    """A path as the user should see it: relative to the working directory when inside it."""
    if not path.is_absolute():
        return str(path)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


