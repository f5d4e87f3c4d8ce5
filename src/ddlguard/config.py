"""Configuration: the pydantic models of ``[tool.ddlguard]`` and how the file is found.

The configuration lives in ``ddlguard.toml``, ``.ddlguard.toml`` (keys at the top level, ``[naming]``
as a table) or under ``[tool.ddlguard]`` in ``pyproject.toml``. It is found by searching upward from
the working directory; ``--config FILE`` overrides the search. Keys are kebab-case, unknown keys and
wrong types are errors, and every error is a :class:`ConfigError` whose message is one line naming
the file, the key and what was expected. Paths in the file are relative to the file's folder.

Only pydantic and the standard library are imported here: the module is on the pre-commit path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Self, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from ddlguard.configfile import (
    _PRESETS,
    CONFIG_FILE_NAMES,
    SNAKE_CASE,
    CanonicalSettings,
    ConfigError,
    NamePattern,
    NamingSettings,
    Settings,
    SqlfluffSettings,
    _discover,
    _display,
    _folder,
    _parse_toml,
    _section_of,
    _tool_table,
    expand,
    find_config,
    naming_regex,
    natural_sort_key,
    pattern_hazard,
)

__all__ = [
    "CONFIG_FILE_NAMES",
    "SNAKE_CASE",
    "Canonical",
    "CanonicalKind",
    "Config",
    "ConfigError",
    "FailOn",
    "Idempotency",
    "MigrationTool",
    "Naming",
    "NamingKey",
    "Sqlfluff",
    "find_config",
    "load_config",
    "naming_regex",
    "natural_sort_key",
    "read_config",
]


Idempotency = Literal["always", "outside-transaction", "off"]
MigrationTool = Literal[
    "psql", "goose", "dbmate", "flyway", "golang-migrate", "sqlx", "node-pg-migrate", "drizzle"
]
FailOn = Literal["error", "warning", "info"]
CanonicalKind = Literal["drizzle", "sql", "database"]
NamingKey = Literal[
    "table", "column", "index", "unique", "foreign_key", "primary_key", "check", "migration_file"
]

_PLACEHOLDERS = ("{table}", "{columns}")
_UNKNOWN_PLACEHOLDER = re.compile(r"(?<!\\)\{([A-Za-z_]\w*)\}")
_PG_VERSIONS = range(10, 19)
_DRIZZLE_SUFFIXES = (".ts", ".mts", ".cts")
_CANONICAL_KEYS = {"drizzle": "drizzle", "sql": "sql", "database-url-env": "database"}


def _kebab(name: str) -> str:
    return name.replace("_", "-")


def _fail(message: str, *, key: str | None = None) -> PydanticCustomError:
    """A validation error in our own words; ``key`` extends the error's location by one key."""
    context: dict[str, Any] = {"message": message}
    if key is not None:
        context["subkey"] = key
    return PydanticCustomError("ddlguard", "{message}", context)


def _unknown_key(key: str, hint: str | None = None) -> PydanticCustomError:
    context: dict[str, Any] = {"message": f'unknown key "{key}"', "subkey": key}
    if hint is not None:
        context["hint"] = hint
    return PydanticCustomError("ddlguard_unknown_key", "{message}", context)


class _Section(BaseModel):
    """Shared settings: kebab-case keys, nothing unknown, no coercion between TOML types."""

    model_config = ConfigDict(
        alias_generator=_kebab,
        populate_by_name=True,
        extra="forbid",
        strict=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _reject_snake_case_keys(cls, data: Any, info: ValidationInfo) -> Any:
        # populate_by_name lets Python code write Config(pg_version=16); a TOML file must use the
        # documented kebab-case spelling, or a key could be given twice under two names.
        if isinstance(data, Mapping) and info.context and info.context.get("toml"):
            for name, field in cls.model_fields.items():
                if field.alias and field.alias != name and name in data:
                    raise _unknown_key(name, hint=field.alias)
        return data


class Canonical(BaseModel):
    """Where the canonical schema comes from: a Drizzle schema, a SQL file, or a live database.

    ``path`` is set for ``drizzle`` and ``sql`` (relative to the config file's folder), ``env``
    (the name of an environment variable holding a database URL) for ``database``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: CanonicalKind
    path: str | None = None
    env: str | None = None

    @model_validator(mode="after")
    def _check_kind(self) -> Self:
        if self.kind == "database":
            if not self.env or self.path is not None:
                raise ValueError("a database canonical needs env and no path")
        elif not self.path or self.env is not None:
            raise ValueError(f"a {self.kind} canonical needs path and no env")
        return self

    @classmethod
    def parse(cls, value: object) -> Canonical:
        """Read the TOML forms: a path string, or one of ``{drizzle|sql|database-url-env = "..."}``."""
        if isinstance(value, Canonical):
            return value
        if isinstance(value, str):
            return cls._from_path(value)
        if isinstance(value, Mapping):
            return cls._from_table(value)
        raise _fail(
            "expected a path or a table with one of the keys drizzle, sql, database-url-env, "
            f"got {_toml_repr(value)}"
        )

    @classmethod
    def _from_path(cls, value: str) -> Canonical:
        if not value:
            raise _fail('expected a path, got ""')
        lowered = value.lower()
        if lowered.endswith(".sql"):
            return cls(kind="sql", path=value)
        if (
            lowered.endswith(_DRIZZLE_SUFFIXES)
            or value.endswith(("/", "\\"))
            or not Path(value).suffix
        ):
            return cls(kind="drizzle", path=value)
        raise _fail(
            f"cannot tell the kind of {_toml_repr(value)}: expected a .ts file or a folder (Drizzle) "
            'or a .sql file; otherwise write { drizzle = "..." } or { sql = "..." }'
        )

    @classmethod
    def _from_table(cls, value: Mapping[Any, Any]) -> Canonical:
        keys = [_kebab(str(key)) for key in value]
        for key, spelled in zip(keys, value, strict=True):
            if key not in _CANONICAL_KEYS:
                raise _unknown_key(str(spelled))
        if len(keys) != 1:
            given = ", ".join(keys) if keys else "an empty table"
            raise _fail(
                f"expected exactly one of the keys drizzle, sql, database-url-env, got {given}"
            )
        [(spelled, item)] = value.items()
        if not isinstance(item, str):
            raise _fail(f"expected a string, got {_toml_repr(item)}", key=str(spelled))
        if not item:
            raise _fail("expected a non-empty string", key=str(spelled))
        kind = _CANONICAL_KEYS[keys[0]]
        if kind == "database":
            return cls(kind="database", env=item)
        return cls(kind="drizzle" if kind == "drizzle" else "sql", path=item)


class Naming(_Section):
    """Naming conventions, ``[naming]``: each value is a preset, a regular expression, or off.

    A value is the preset ``"snake_case"`` or a Python regular expression that may contain the
    placeholders ``{table}`` and ``{columns}`` (column names joined with ``_``, as PostgreSQL
    names constraints). ``None`` (``false`` in TOML) turns the check off.
    """

    table: str | None = "snake_case"
    column: str | None = "snake_case"
    index: str | None = None
    unique: str | None = None
    foreign_key: str | None = None
    primary_key: str | None = None
    check: str | None = None
    migration_file: str | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _false_is_off(cls, value: Any) -> Any:
        return None if value is False else value

    @field_validator("*", mode="after")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is None or value in _PRESETS:
            return value
        for match in _UNKNOWN_PLACEHOLDER.finditer(value):
            if f"{{{match[1]}}}" not in _PLACEHOLDERS:
                raise _fail(f"unknown placeholder {match[0]} (use {{table}} or {{columns}})")
        # Same-length stand-ins keep the positions in re.error's message right.
        probe = value.replace("{table}", "_table_").replace("{columns}", "_columns_")
        try:
            re.compile(probe)
        except re.error as error:
            raise _fail(f"invalid regular expression: {error}") from None
        hazard = pattern_hazard(value)
        if hazard is not None:
            raise _fail(hazard)
        return value

    def regex(
        self, key: NamingKey, *, table: str = "", columns: Sequence[str] = ()
    ) -> NamePattern | None:
        """The compiled convention for ``key`` with the placeholders filled in, or None when off."""
        pattern: str | None = getattr(self, key)
        return None if pattern is None else naming_regex(pattern, table=table, columns=columns)


class Sqlfluff(_Section):
    """sqlfluff's style rules, ``[sqlfluff]``: off unless ``enabled``.

    sqlfluff reads its own configuration (``.sqlfluff``, ``setup.cfg``, ``tox.ini``,
    ``pyproject.toml`` ``[tool.sqlfluff]``) from each file's folder upward, as it always does;
    ``config`` names one more sqlfluff configuration file (relative to this file's folder) that
    takes precedence over those.
    """

    enabled: bool = False
    config: str | None = Field(default=None, min_length=1)


class Config(_Section):
    """The whole configuration. ``path`` and ``root`` say where it was read from.

    Build one from Python with field names (``Config(pg_version=16)``) or aliases; place it with
    :meth:`with_location` so that relative paths resolve against the right folder.
    """

    migrations: list[str] = Field(default_factory=list)
    canonical: Canonical | None = None
    snapshots: list[str] = Field(default_factory=list)
    idempotency: Idempotency = "always"
    default_schema: str = Field(default="public", min_length=1)
    pg_version: int = 15
    migration_tool: MigrationTool = "psql"
    select: list[str] = Field(default_factory=list)
    ignore: list[str] = Field(default_factory=list)
    fail_on: FailOn = "warning"
    database_url_env: str = Field(default="DATABASE_URL", min_length=1)
    naming: Naming = Field(default_factory=Naming)
    sqlfluff: Sqlfluff = Field(default_factory=Sqlfluff)

    _path: Path | None = PrivateAttr(default=None)
    _root: Path = PrivateAttr(default_factory=Path.cwd)

    @field_validator("canonical", mode="before")
    @classmethod
    def _parse_canonical(cls, value: Any) -> Any:
        return None if value is None else Canonical.parse(value)

    @field_validator("pg_version")
    @classmethod
    def _supported_version(cls, value: int) -> int:
        if value not in _PG_VERSIONS:
            raise _fail(
                f"expected a PostgreSQL major version from {_PG_VERSIONS.start} to "
                f"{_PG_VERSIONS.stop - 1}, got {value}"
            )
        return value

    @field_validator("migrations", "snapshots")
    @classmethod
    def _no_empty_patterns(cls, value: list[str]) -> list[str]:
        if "" in value:
            raise _fail('expected file names or globs, got ""')
        return value

    @model_validator(mode="after")
    def _known_codes(self) -> Self:
        # Checked here, not by the checker, so that the error names this key and this file
        # rather than --select/--ignore.
        from ddlguard.checker import _style_hint
        from ddlguard.rules.registry import known_selector

        style = self.sqlfluff.enabled
        for key, selectors in (("select", self.select), ("ignore", self.ignore)):
            for selector in selectors:
                if not known_selector(selector, style=style):
                    raise _fail(
                        f"unknown rule code or category {_toml_repr(selector)}"
                        + _style_hint(selector, style)
                        + "; `ddlguard rules` lists them",
                        key=key,
                    )
        return self

    @property
    def path(self) -> Path | None:
        """The file this configuration was read from, or None for the defaults."""
        return self._path

    @property
    def root(self) -> Path:
        """The folder relative paths are resolved against: the config file's folder."""
        return self._root

    def with_location(self, root: Path, path: Path | None = None) -> Self:
        """A copy of this configuration placed at ``root`` (and read from ``path``)."""
        located = self.model_copy(deep=True)
        located._root = root
        located._path = path
        return located

    def migration_files(self) -> tuple[list[Path], list[str]]:
        """The migration files in order, and the patterns that matched no file."""
        return expand(self.migrations, self._root)

    def snapshot_files(self) -> tuple[list[Path], list[str]]:
        """The snapshot files in order, and the patterns that matched no file."""
        return expand(self.snapshots, self._root)

    def canonical_path(self) -> Path | None:
        """The canonical Drizzle or SQL schema as an absolute path; None for none or a database."""
        return self.to_settings().canonical_path()

    def to_settings(self) -> Settings:
        """The validated configuration as the plain, pydantic-free object the checker uses."""
        canonical = None
        if self.canonical is not None:
            canonical = CanonicalSettings(self.canonical.kind, self.canonical.path, self.canonical.env)
        return Settings(
            migrations=tuple(self.migrations),
            canonical=canonical,
            snapshots=tuple(self.snapshots),
            idempotency=self.idempotency,
            default_schema=self.default_schema,
            pg_version=self.pg_version,
            migration_tool=self.migration_tool,
            select=tuple(self.select),
            ignore=tuple(self.ignore),
            fail_on=self.fail_on,
            database_url_env=self.database_url_env,
            naming=NamingSettings(**self.naming.model_dump()),
            sqlfluff=SqlfluffSettings(**self.sqlfluff.model_dump()),
            path=self._path,
            root=self._root,
        )


def load_config(explicit: Path | None = None, start: Path | None = None) -> Config:
    """The configuration to use: ``explicit`` (``--config``), else found upward from ``start``.

    ``start`` defaults to the working directory. Without a file the result is the defaults,
    rooted at ``start``.
    """
    if explicit is not None:
        return read_config(explicit)
    base = _folder(start if start is not None else Path.cwd())
    found = _discover(base)
    if found is None:
        return Config().with_location(base)
    path, data = found
    return _build(data, path, _section_of(path))


def read_config(path: Path) -> Config:
    """Read one config file; a ``pyproject.toml`` must have a ``[tool.ddlguard]`` table."""
    if not path.exists():
        raise ConfigError(f"no such config file: {path}")
    data = _parse_toml(path)
    section = _section_of(path)
    if section:
        table = _tool_table(data)
        if table is None:
            raise ConfigError(f"{_display(path)}: no [{section}] table")
        data = table
    return _build(data, path.resolve(), section)


def _build(data: Any, path: Path, section: str) -> Config:
    name = _display(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: [{section}]: expected a table, got {_toml_repr(data)}")
    try:
        config = Config.model_validate(data, context={"toml": True})
    except ValidationError as error:
        messages = dict.fromkeys(_describe(detail, section) for detail in error.errors())
        raise ConfigError(f"{name}: {'; '.join(messages)}") from None
    return config.with_location(path.parent, path)


# --- error messages -------------------------------------------------------------------------

_EXPECTED = {
    "string_type": "expected a string",
    "bool_type": "expected true or false",
    "int_type": "expected an integer",
    "list_type": "expected an array",
    "model_type": "expected a table",
    "dict_type": "expected a table",
    "model_attributes_type": "expected a table",
}
_CHOICES: dict[str, tuple[str, ...]] = {
    "idempotency": get_args(Idempotency),
    "migration-tool": get_args(MigrationTool),
    "fail-on": get_args(FailOn),
}


def _describe(detail: ErrorDetails, section: str) -> str:
    """One pydantic error in the config's own words: ``key.path: what was expected, got what``."""
    loc = tuple(detail["loc"])
    context = detail.get("ctx") or {}
    if "subkey" in context:
        loc = (*loc, context["subkey"])
    kind = detail["type"]
    value = detail.get("input")

    if kind in ("extra_forbidden", "ddlguard_unknown_key"):
        *parent, key = loc
        hint = f' (did you mean "{context["hint"]}"?)' if "hint" in context else ""
        if not parent or parent in (["naming"], ["sqlfluff"]):
            header = ".".join(filter(None, [section, *map(str, parent)]))
            where = f"[{header}] " if header else ""
        else:
            where = f"{_key_path(tuple(parent), section)}: "
        return f'{where}unknown key "{key}"{hint}'

    if kind.startswith("ddlguard"):
        what = str(context["message"])
    elif kind == "literal_error":
        choices = _CHOICES.get(str(loc[-1]))
        expected = ", ".join(f'"{choice}"' for choice in choices) if choices else ""
        what = f"expected one of {expected}, got {_toml_repr(value)}" if choices else detail["msg"]
    elif kind == "string_too_short":
        what = "expected a non-empty string"
    elif kind in _EXPECTED:
        what = f"{_EXPECTED[kind]}, got {_toml_repr(value)}"
    else:
        what = f"{detail['msg'][:1].lower()}{detail['msg'][1:]}"
    return f"{_key_path(loc, section)}: {what}"


def _key_path(loc: tuple[int | str, ...], section: str) -> str:
    path = section
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or f"[{section}]"


def _toml_repr(value: object, limit: int = 60) -> str:
    """A value as it would be written in TOML, shortened to ``limit`` characters."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    elif isinstance(value, Mapping):
        text = "{ " + ", ".join(f"{key} = {_toml_repr(item)}" for key, item in value.items()) + " }"
        text = "{}" if not value else text
    elif isinstance(value, list | tuple):
        text = "[" + ", ".join(_toml_repr(item) for item in value) + "]"
    elif value is None:
        text = "nothing"
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
