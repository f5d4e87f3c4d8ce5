"""The canonical schema from a Drizzle ORM schema (``schema.ts``), read statically.

No Node is needed: the TypeScript is parsed with tree-sitter and the small part of JavaScript a
Drizzle schema uses (constants, object literals and spreads, imports between the files of the
schema folder, helper functions returning columns, arrow functions passed to ``pgTable``) is
evaluated here. The result is the Schema a replay of the SQL that drizzle-kit generates for the
same schema would give: drizzle-kit's own names (``<table>_<column>_unique``,
``<table>_<columns>_<reftable>_<refcolumns>_fk``), defaults (``defaultNow()`` -> ``now()``,
``defaultRandom()`` -> ``gen_random_uuid()``), serial columns as integers with a sequence default,
``text({enum})`` as plain ``text``, and so on.

What cannot be settled without running the code (a custom type computed at run time, a default
computed at run time, a table built by a factory function) is a :class:`DrizzleWarning` ("cannot
verify ..."), never a silent pass: the column is still there (its type ``unknown`` when the type
is what cannot be read, no default when the default is), the warning names the object
(``schema.table.column``) so that drift can say its result there may be incomplete. A file tree-sitter cannot parse, or a MySQL / SQLite schema, is a
:class:`DrizzleError` with a one-line message naming ``file:line:column``.

tree-sitter is imported only when a schema is read: ``ddlguard check`` never pays for it.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ddlguard.engine.names import make_object_name as _make_object_name
from ddlguard.engine.names import truncate as _truncate
from ddlguard.schema.model import (
    Column,
    Constraint,
    Enum,
    FkAction,
    Index,
    Origin,
    QName,
    Schema,
    Table,
    View,
)
from ddlguard.schema.normalize import expression, type_from_sql
from ddlguard.sql.source import display_path

if TYPE_CHECKING:
    from tree_sitter import Node, Parser

__all__ = [
    "DrizzleError",
    "DrizzleSchema",
    "DrizzleWarning",
    "drizzle_kit_schema",
    "drizzle_kit_sql",
    "find_drizzle_config",
    "read_drizzle",
    "read_drizzle_config_casing",
    "to_camel_case",
    "to_snake_case",
]

# PostgreSQL truncates identifiers to NAMEDATALEN - 1 bytes.
_SCHEMA_SUFFIXES = (".ts", ".mts", ".cts", ".tsx")
_CONFIG_NAMES = (
    "drizzle.config.ts",
    "drizzle.config.mts",
    "drizzle.config.cts",
    "drizzle.config.js",
    "drizzle.config.mjs",
    "drizzle.config.cjs",
    "drizzle.config.json",
)
_MIN_DRIZZLE_KIT = (0, 30, 1)


# --- public API -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DrizzleWarning:
    """Something the static reading cannot settle ("cannot verify X: why"), at its place in the
    schema file. ``object`` names the schema object concerned (``schema.table`` or
    ``schema.table.column``) and ``table`` its table, when there is one, so that drift can say
    its results for that table may be incomplete."""

    path: str
    line: int
    column: int
    message: str
    object: str | None = None
    table: QName | None = None  # the table concerned, when there is one

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


class DrizzleError(Exception):
    """A Drizzle schema ddlguard cannot read at all. The message is one line, ``file:line:col:
    what is wrong``."""


@dataclass(slots=True)
class DrizzleSchema:
    """What :func:`read_drizzle` read: the Schema, the warnings, the files read and the casing
    that applied to columns declared without an SQL name."""

    schema: Schema
    warnings: list[DrizzleWarning] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    casing: str | None = None

    def unverified(self) -> set[str]:
        """The objects (``schema.table`` / ``schema.table.column``) some warning is about."""
        return {w.object for w in self.warnings if w.object}


def read_drizzle(
    path: Path, *, default_schema: str = "public", casing: str | None = None
) -> DrizzleSchema:
    """Read a Drizzle schema file, or every ``.ts`` file of a folder (recursively), into a Schema.

    ``casing`` ("snake_case" or "camelCase") is how columns declared without an SQL name are
    named; when not given it is read from the ``drizzle.config.ts`` next to or above the schema.
    Raises :class:`DrizzleError` for a file that cannot be read or parsed, and for MySQL or SQLite
    tables.
    """
    path = Path(path)
    pattern = str(path)
    if not path.exists() and any(ch in pattern for ch in "*?["):
        # A glob, as drizzle.config.ts's `schema` may be ("./src/db/schema/*.ts").
        base = Path(path.anchor) if path.is_absolute() else Path()
        relative = path.relative_to(path.anchor) if path.is_absolute() else path
        files = sorted(
            p
            for p in base.glob(relative.as_posix())
            if p.name.endswith(_SCHEMA_SUFFIXES) and p.is_file()
        )
        if not files:
            raise DrizzleError(f"{pattern}: no schema file matches")
        return _read_files(files, files[0], default_schema, casing)
    if not path.exists():
        raise DrizzleError(f"{display_path(path)}: no such file or directory")
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file()
            and p.name.endswith(_SCHEMA_SUFFIXES)
            and not p.name.endswith((".d.ts", ".d.mts", ".d.cts"))
            and "node_modules" not in p.relative_to(path).parts
            and not p.name.startswith("drizzle.config.")
        )
        if not files:
            raise DrizzleError(f"{display_path(path)}: no .ts schema files in this folder")
    else:
        files = [path]
    return _read_files(files, path, default_schema, casing)


def _read_files(
    files: Sequence[Path], path: Path, default_schema: str, casing: str | None
) -> DrizzleSchema:
    if casing is None:
        casing = read_drizzle_config_casing(path)
    if casing not in (None, "snake_case", "camelCase"):
        raise DrizzleError(f"casing {casing!r}: expected 'snake_case' or 'camelCase'")
    reader = _Reader(default_schema=default_schema, casing=casing)
    try:
        modules = [reader.module(f) for f in files]
        schema = reader.build(modules)
    except RecursionError:
        raise DrizzleError(
            f"{display_path(path)}: nested too deeply for ddlguard to read"
        ) from None
    return DrizzleSchema(
        schema=schema,
        warnings=reader.sorted_warnings(),
        files=[m.display for m in modules],
        casing=casing,
    )


def find_drizzle_config(path: Path) -> Path | None:
    """The ``drizzle.config.*`` next to or above ``path`` (a schema file or folder), stopping at
    the repository root (the first folder holding ``.git``)."""
    start = path.resolve()
    folder = start if start.is_dir() else start.parent
    for candidate in (folder, *folder.parents):
        for name in _CONFIG_NAMES:
            config = candidate / name
            if config.is_file():
                return config
        if (candidate / ".git").exists():
            return None
    return None


def read_drizzle_config_casing(path: Path) -> str | None:
    """The ``casing`` of the drizzle config found for ``path`` (see :func:`find_drizzle_config`),
    or None when there is no config or it sets no casing."""
    config = find_drizzle_config(path)
    if config is None:
        return None
    try:
        data = config.read_bytes()
    except OSError:
        return None
    if config.suffix == ".json":
        try:
            value = json.loads(data).get("casing")
        except (ValueError, AttributeError):
            return None
        return value if isinstance(value, str) else None
    tree = _parser(config.suffix).parse(data)
    for node in _walk(tree.root_node):
        if node.type != "pair":
            continue
        key = node.child_by_field_name("key")
        value = node.child_by_field_name("value")
        if key is None or value is None or _key_text(key) != "casing":
            continue
        # The top-level `casing`, not introspect.casing (which is for drizzle-kit pull).
        parent = node.parent
        nested = False
        while parent is not None:
            if parent.type == "pair":
                nested = True
                break
            parent = parent.parent
        if not nested and value.type == "string":
            casing = _string_value(value)
            return casing if casing in ("snake_case", "camelCase") else None
    return None


def to_snake_case(name: str) -> str:
    """drizzle-orm's ``toSnakeCase`` (``createdAt`` -> ``created_at``, ``bioHTML`` -> ``bio_html``)."""
    words = _CASING_WORDS.findall(re.sub("['\u2019]", "", name))
    return "_".join(w.lower() for w in words)


def to_camel_case(name: str) -> str:
    """drizzle-orm's ``toCamelCase`` (``created_at`` -> ``createdAt``)."""
    words = _CASING_WORDS.findall(re.sub("['\u2019]", "", name))
    out = ""
    for i, word in enumerate(words):
        out += word.lower() if i == 0 else word[0].upper() + word[1:]
    return out


_CASING_WORDS = re.compile(r"[\da-z]+|[A-Z]+(?![a-z])|[A-Z][\da-z]+")


def drizzle_kit_sql(
    schema_path: Path,
    *,
    drizzle_kit: Path | None = None,
    casing: str | None = None,
    timeout: float = 180.0,
) -> str | None:
    """The SQL drizzle-kit generates for ``schema_path``, or None when drizzle-kit is not there or
    fails.

    Uses the ``node_modules/.bin/drizzle-kit`` (version 0.30.1 or later) of the repository (the
    nearest ``node_modules`` above the schema), or of the folder ``drizzle_kit`` names; nothing is
    ever downloaded. Runs ``drizzle-kit export --dialect=postgresql --schema=<path>``; drizzle-kit
    exits 0 on some errors, so empty output or any text on stderr is a failure too. ``export``
    ignores the config's ``casing``, so with a casing (given, or from the schema's
    ``drizzle.config.ts``) ``drizzle-kit generate`` into a temporary folder is run instead.
    """
    schema_path = Path(schema_path).resolve()
    root = _drizzle_kit_root(drizzle_kit, schema_path)
    if root is None or shutil.which("node") is None:
        return None
    binary = root / "node_modules" / ".bin" / "drizzle-kit"
    if casing is None:
        casing = read_drizzle_config_casing(schema_path)
    env = dict(os.environ)
    # The schema imports drizzle-orm: let Node find it even when the schema is elsewhere.
    node_path = str(root / "node_modules")
    env["NODE_PATH"] = node_path + (os.pathsep + env["NODE_PATH"] if env.get("NODE_PATH") else "")
    env.setdefault("NO_COLOR", "1")
    try:
        if casing is None:
            proc = subprocess.run(
                [str(binary), "export", "--dialect=postgresql", f"--schema={schema_path}"],
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
            out = proc.stdout.strip()
            if proc.returncode != 0 or proc.stderr.strip() or not out or not _looks_like_sql(out):
                return None
            return out + "\n"
        with tempfile.TemporaryDirectory(prefix="ddlguard-drizzle-kit-") as tmp:
            out_dir = Path(tmp) / "out"
            config = Path(tmp) / "drizzle.config.ts"
            config.write_text(
                "export default "
                + json.dumps(
                    {
                        "dialect": "postgresql",
                        "schema": str(schema_path),
                        "out": str(out_dir),
                        "casing": casing,
                    }
                )
                + ";\n",
                encoding="utf-8",
            )
            proc = subprocess.run(
                [str(binary), "generate", f"--config={config}", "--name=ddlguard"],
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
            sql_files = sorted(out_dir.glob("*.sql")) if out_dir.is_dir() else []
            if proc.returncode != 0 or len(sql_files) != 1 or "Error" in proc.stderr:
                return None
            text = sql_files[0].read_text(encoding="utf-8").replace("--> statement-breakpoint", "")
            text = text.strip()
            if not text or not _looks_like_sql(text):
                return None
            return text + "\n"
    except (OSError, subprocess.SubprocessError):
        return None


def drizzle_kit_schema(
    schema_path: Path,
    *,
    default_schema: str = "public",
    drizzle_kit: Path | None = None,
    casing: str | None = None,
) -> Schema | None:
    """The Schema of the SQL drizzle-kit generates for ``schema_path`` (see
    :func:`drizzle_kit_sql`), replayed by ddlguard; None when drizzle-kit is not available or
    fails. Compare it with :func:`read_drizzle`'s Schema to cross-check the two readings."""
    import importlib

    sql = drizzle_kit_sql(schema_path, drizzle_kit=drizzle_kit, casing=casing)
    if sql is None:
        return None
    replay = importlib.import_module("ddlguard.schema.replay").replay
    with tempfile.TemporaryDirectory(prefix="ddlguard-drizzle-kit-") as tmp:
        sql_path = Path(tmp) / "drizzle-kit-export.sql"
        sql_path.write_text(sql, encoding="utf-8")
        schema: Schema = replay([sql_path], default_schema=default_schema).schema
    return schema


def _drizzle_kit_root(explicit: Path | None, schema_path: Path) -> Path | None:
    if explicit is not None:
        candidates: Sequence[Path] = [Path(explicit).resolve()]
    else:
        start = schema_path if schema_path.is_dir() else schema_path.parent
        candidates = [start, *start.parents]
    for folder in candidates:
        binary = folder / "node_modules" / ".bin" / "drizzle-kit"
        if binary.exists():
            version = _package_version(folder / "node_modules" / "drizzle-kit" / "package.json")
            return folder if version is not None and version >= _MIN_DRIZZLE_KIT else None
    return None


def _package_version(package_json: Path) -> tuple[int, ...] | None:
    try:
        version = json.loads(package_json.read_text(encoding="utf-8")).get("version", "")
    except (OSError, ValueError, AttributeError):
        return None
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", str(version))
    return tuple(int(g) for g in match.groups()) if match else None


def _looks_like_sql(text: str) -> bool:
    first = text.lstrip().split(None, 1)[0].upper() if text.strip() else ""
    return first in ("CREATE", "ALTER", "DO", "COMMENT", "--", "SET") or first.startswith("--")


# --- tree-sitter ----------------------------------------------------------------------------

_PARSERS: dict[str, Parser] = {}


def _parser(suffix: str = ".ts") -> Parser:
    """A tree-sitter parser for TypeScript (TSX for .tsx), imported and built on first use."""
    kind = "tsx" if suffix in (".tsx", ".jsx") else "ts"
    parser = _PARSERS.get(kind)
    if parser is None:
        import tree_sitter_typescript
        from tree_sitter import Language
        from tree_sitter import Parser as _TSParser

        grammar = (
            tree_sitter_typescript.language_tsx()
            if kind == "tsx"
            else tree_sitter_typescript.language_typescript()
        )
        parser = _TSParser(Language(grammar))
        _PARSERS[kind] = parser
    return parser


def _walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def _text(node: Node) -> str:
    data = node.text
    return data.decode("utf-8", "replace") if data is not None else ""


def _short(node: Node, limit: int = 60) -> str:
    text = " ".join(_text(node).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}


def _unescape(raw: str) -> str:
    def sub(match: re.Match[str]) -> str:
        esc = match.group(1)
        if esc[0] in _ESCAPES and len(esc) == 1:
            return _ESCAPES[esc[0]]
        if esc[0] == "x":
            return chr(int(esc[1:], 16))
        if esc[0] == "u":
            digits = esc[1:].strip("{}")
            return chr(int(digits, 16))
        if esc[0] in "\r\n":
            return ""
        return esc

    return re.sub(r"\\(x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|\r\n|[\s\S])", sub, raw)


def _string_value(node: Node) -> str:
    """The value of a JS string literal node."""
    raw = _text(node)
    return _unescape(raw[1:-1])


def _key_text(node: Node) -> str | None:
    if node.type in ("property_identifier", "identifier", "private_property_identifier"):
        return _text(node)
    if node.type == "string":
        return _string_value(node)
    if node.type == "number":
        return _text(node)
    return None


# --- values of the evaluated JavaScript -----------------------------------------------------


class _UndefinedType:
    _instance: _UndefinedType | None = None

    def __new__(cls) -> _UndefinedType:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "undefined"


UNDEFINED = _UndefinedType()


@dataclass(frozen=True, slots=True)
class _Site:
    path: str
    line: int
    column: int

    def origin(self) -> Origin:
        return Origin(self.path, self.line, self.column)


@dataclass(frozen=True, slots=True)
class _Opaque:
    """A value ddlguard cannot compute statically; ``reason`` says what it is."""

    reason: str
    site: _Site | None = None


@dataclass(frozen=True, slots=True)
class _Ignored:
    """A value with no effect on the SQL schema (relations(), policies, roles, sequences)."""

    what: str


@dataclass(frozen=True, slots=True)
class _Builtin:
    name: str
    package: str  # "pg-core", "orm", "mysql", "sqlite", "gel", "singlestore"
    schema: str | None = None


@dataclass(frozen=True, slots=True)
class _Namespace:
    package: str


class _JsObject(dict[str, Any]):
    """An object literal: its values, where each property was written, and the spreads that could
    not be evaluated."""

    def __init__(self) -> None:
        super().__init__()
        self.sites: dict[str, _Site] = {}
        self.opaque_spreads: list[_Opaque] = []


@dataclass(eq=False, slots=True)
class _JsFunction:
    node: Node
    scope: _Scope
    name: str = "<anonymous>"


@dataclass(frozen=True, slots=True)
class _ModuleNamespace:
    module: _Module


@dataclass(frozen=True, slots=True)
class _Sql:
    """An ``sql`...``` fragment: raw text, column references and parameters."""

    parts: tuple[Any, ...]
    site: _Site | None = None


@dataclass(frozen=True, slots=True)
class _Param:
    value: Any


@dataclass(eq=False, slots=True)
class _EnumValue:
    name: str
    values: tuple[str, ...]
    schema: str | None
    site: _Site


@dataclass(eq=False, slots=True)
class _PgSchema:
    name: str
    site: _Site


@dataclass(eq=False, slots=True)
class _TableCreator:
    name_fn: Any
    schema: str | None
    site: _Site


@dataclass(eq=False, slots=True)
class _CustomType:
    options: Any
    site: _Site


@dataclass(frozen=True, slots=True)
class _Reference:
    target: Any  # a _JsFunction returning a column, evaluated once every table exists
    on_delete: Any
    on_update: Any
    site: _Site


@dataclass(frozen=True, slots=True)
class _ColumnBuilder:
    kind: str  # the pg-core builder: "integer", "serial", "enum", "custom", ...
    sql_type: str | None  # the type as drizzle's getSQLType() spells it (without [])
    name: str | None  # the SQL name given, or None: the property key is the name
    site: _Site
    enum: _EnumValue | None = None
    not_null: bool = False
    primary: bool = False
    default: Any = UNDEFINED  # a JS value, a _Sql, or an _Opaque
    default_site: _Site | None = None
    default_text: str = ""
    unique: bool = False
    unique_name: str | None = None
    unique_nulls_not_distinct: bool = False
    unique_site: _Site | None = None
    references: tuple[_Reference, ...] = ()
    array_dims: int = 0
    identity: Literal["always", "by default"] | None = None
    generated: Any = None
    unverified: str | None = None  # why the type cannot be read
    unknown_methods: tuple[tuple[str, _Site], ...] = ()


@dataclass(eq=False, slots=True)
class _TableValue:
    name: str
    schema: str | None
    columns: dict[str, Any]
    column_sites: dict[str, _Site]
    opaque_spreads: list[_Opaque]
    extra: Any
    site: _Site
    rls: bool = False


@dataclass(frozen=True, slots=True)
class _ColumnRef:
    table: _TableValue
    key: str
    order: Literal["asc", "desc"] | None = None
    nulls: Literal["first", "last"] | None = None
    opclass: str | None = None


@dataclass(frozen=True, slots=True)
class _IndexStart:
    name: str | None
    unique: bool
    site: _Site


@dataclass(frozen=True, slots=True)
class _IndexValue:
    name: str | None
    unique: bool
    columns: tuple[Any, ...]
    site: _Site
    method: str = "btree"
    where: Any = None


@dataclass(frozen=True, slots=True)
class _UniqueStart:
    name: str | None
    site: _Site


@dataclass(frozen=True, slots=True)
class _ConstraintValue:
    kind: Literal["p", "u", "f", "c"]
    name: str | None
    columns: tuple[Any, ...]
    site: _Site
    ref_columns: tuple[Any, ...] = ()
    on_delete: Any = None
    on_update: Any = None
    check: Any = None
    nulls_not_distinct: bool = False


@dataclass(frozen=True, slots=True)
class _ViewValue:
    name: str
    schema: str | None
    materialized: bool
    site: _Site
    existing: bool = False
    defined: bool = False


# Column builders of drizzle-orm/pg-core and their getSQLType().
def _sized(base: str, key: str) -> Any:
    def sql_type(config: dict[str, Any]) -> str | None:
        value = config.get(key)
        if value is None or value is UNDEFINED:
            return base
        if not isinstance(value, int | float):
            return None
        return f"{base}({_js_number(value)})"

    return sql_type


def _numeric(config: dict[str, Any]) -> str | None:
    precision, scale = config.get("precision", UNDEFINED), config.get("scale", UNDEFINED)
    if precision is UNDEFINED:
        return "numeric"
    if not isinstance(precision, int | float) or not isinstance(
        scale, int | float | _UndefinedType
    ):
        return None
    if not isinstance(scale, int | float):
        return f"numeric({_js_number(precision)})"
    return f"numeric({_js_number(precision)}, {_js_number(scale)})"


def _timelike(base: str) -> Any:
    def sql_type(config: dict[str, Any]) -> str | None:
        precision = config.get("precision", UNDEFINED)
        if isinstance(precision, int | float):
            text = f"{base}({_js_number(precision)})"
        elif precision is UNDEFINED:
            text = base
        else:
            return None
        zone = config.get("withTimezone", False)
        if isinstance(zone, _Opaque):
            return None
        return text + (" with time zone" if _truthy(zone) else "")

    return sql_type


def _interval(config: dict[str, Any]) -> str | None:
    fields = config.get("fields", UNDEFINED)
    precision = config.get("precision", UNDEFINED)
    text = "interval"
    if isinstance(fields, str) and fields:
        text += f" {fields}"
    if isinstance(precision, int | float) and precision:
        text += f"({_js_number(precision)})"
    return text


def _dimensions(base: str) -> Any:
    def sql_type(config: dict[str, Any]) -> str | None:
        dims = config.get("dimensions", UNDEFINED)
        if not isinstance(dims, int | float):
            return None
        return f"{base}({_js_number(dims)})"

    return sql_type


def _constant(name: str) -> Any:
    return lambda config: name


_COLUMN_TYPES: dict[str, Any] = {
    "bigint": _constant("bigint"),
    "bigserial": _constant("bigserial"),
    "boolean": _constant("boolean"),
    "char": _sized("char", "length"),
    "cidr": _constant("cidr"),
    "date": _constant("date"),
    "doublePrecision": _constant("double precision"),
    "inet": _constant("inet"),
    "integer": _constant("integer"),
    "interval": _interval,
    "json": _constant("json"),
    "jsonb": _constant("jsonb"),
    "line": _constant("line"),
    "macaddr": _constant("macaddr"),
    "macaddr8": _constant("macaddr8"),
    "numeric": _numeric,
    "decimal": _numeric,
    "point": _constant("point"),
    "geometry": _constant("geometry(point)"),
    "real": _constant("real"),
    "serial": _constant("serial"),
    "smallint": _constant("smallint"),
    "smallserial": _constant("smallserial"),
    "text": _constant("text"),
    "time": _timelike("time"),
    "timestamp": _timelike("timestamp"),
    "uuid": _constant("uuid"),
    "varchar": _sized("varchar", "length"),
    "bit": _dimensions("bit"),
    "halfvec": _dimensions("halfvec"),
    "sparsevec": _dimensions("sparsevec"),
    "vector": _dimensions("vector"),
    "bytea": _constant("bytea"),
}
_CONSTRAINT_WORDS = {"p": "primary key", "u": "unique constraint", "f": "foreign key", "c": "check"}
_SERIAL_TYPES = {"serial": "integer", "smallserial": "smallint", "bigserial": "bigint"}
_FK_ACTIONS: dict[str, FkAction] = {
    "no action": "a",
    "restrict": "r",
    "cascade": "c",
    "set null": "n",
    "set default": "d",
}
_IGNORED_PG = {"pgSequence", "pgRole", "pgPolicy", "pgEnumObject"}
_FOREIGN_DIALECT_TABLES = {
    "mysql": ("mysqlTable", "mysqlTableCreator", "mysqlSchema"),
    "singlestore": ("singlestoreTable", "singlestoreTableCreator", "singlestoreSchema"),
    "sqlite": ("sqliteTable", "sqliteTableCreator"),
    "gel": ("gelTable", "gelTableCreator", "gelSchema"),
}
_DIALECT_NAMES = {"mysql": "MySQL", "singlestore": "SingleStore", "sqlite": "SQLite", "gel": "Gel"}
_PACKAGES = {
    "drizzle-orm/pg-core": "pg-core",
    "drizzle-orm": "orm",
    "drizzle-orm/mysql-core": "mysql",
    "drizzle-orm/singlestore-core": "singlestore",
    "drizzle-orm/sqlite-core": "sqlite",
    "drizzle-orm/gel-core": "gel",
}
# Functions of the evaluated schema that return an unknown value without being an error.
_RUNTIME_GLOBALS = {
    "process",
    "Date",
    "Number",
    "String",
    "Math",
    "crypto",
    "JSON",
    "Object",
    "Array",
    "Boolean",
    "BigInt",
    "globalThis",
    "console",
    "require",
}


def _js_number(value: float | int) -> str:
    """A number as JavaScript's String(n) prints it (for the usual cases)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if math.isfinite(value) and value == int(value) and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def _truthy(value: Any) -> bool:
    if value is UNDEFINED or value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0 and not (isinstance(value, float) and math.isnan(value))
    if isinstance(value, str):
        return value != ""
    return True


def _is_primitive(value: Any) -> bool:
    return value is None or value is UNDEFINED or isinstance(value, str | int | float | bool)


def _js_string(value: Any) -> str:
    if value is None:
        return "null"
    if value is UNDEFINED:
        return "undefined"
    if isinstance(value, bool | int | float):
        return _js_number(value)
    return str(value)


def _json_stringify(value: Any) -> str:
    def plain(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items() if x is not UNDEFINED}
        if isinstance(v, list):
            return [None if x is UNDEFINED else plain(x) for x in v]
        if isinstance(v, float) and v == int(v) and math.isfinite(v):
            return int(v)
        return v

    return json.dumps(plain(value), separators=(",", ":"), ensure_ascii=False)


def _contains_opaque(value: Any) -> _Opaque | None:
    if isinstance(value, _Opaque):
        return value
    if isinstance(value, dict):
        for v in value.values():
            found = _contains_opaque(v)
            if found:
                return found
    if isinstance(value, list):
        for v in value:
            found = _contains_opaque(v)
            if found:
                return found
    return None


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _regclass_ident(name: str) -> str:
    """A name as regclass output prints it: quoted only when it needs to be."""
    if re.fullmatch(r"[a-z_][a-z0-9_$]*", name):
        return name
    return _quote_ident(name)


# --- modules --------------------------------------------------------------------------------


class _Scope:
    def __init__(self, module: _Module, values: dict[str, Any], parent: _Scope | None) -> None:
        self.module = module
        self.values = values
        self.parent = parent

    def lookup(self, name: str) -> Any:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.values:
                return scope.values[name]
            scope = scope.parent
        return self.module.lookup(name)

    def is_local(self, name: str) -> bool:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.values:
                return True
            scope = scope.parent
        return False


class _Module:
    def __init__(self, reader: _Reader, path: Path, data: bytes, root: Node) -> None:
        self.reader = reader
        self.path = path
        self.display = display_path(path)
        self.data = data
        self.root = root
        self.bindings: dict[str, Node] = {}
        self.imports: dict[str, tuple[str, str, Node]] = {}
        self.exports: dict[str, str] = {}
        self.reexports: dict[str, tuple[str, str, Node]] = {}
        self.star_exports: list[tuple[str, Node]] = []
        self.values: dict[str, Any] = {}
        self.busy: set[str] = set()
        self.scope = _Scope(self, {}, None)
        self._line_starts = [0, *(m.end() for m in re.finditer(b"\n", data))]
        self._index()

    # positions
    def site(self, node: Node) -> _Site:
        row, col = node.start_point
        row = min(row, len(self._line_starts) - 1)
        start = self._line_starts[row]
        chars = len(self.data[start : start + col].decode("utf-8", "replace"))
        return _Site(self.display, row + 1, chars + 1)

    # top-level declarations
    def _index(self) -> None:
        for stmt in self.root.named_children:
            self._index_statement(stmt, exported=False)

    def _index_statement(self, stmt: Node, *, exported: bool) -> None:
        kind = stmt.type
        if kind == "import_statement":
            self._index_import(stmt)
        elif kind == "export_statement":
            self._index_export(stmt)
        elif kind in ("lexical_declaration", "variable_declaration"):
            for decl in stmt.named_children:
                if decl.type != "variable_declarator":
                    continue
                name = decl.child_by_field_name("name")
                value = decl.child_by_field_name("value")
                if name is not None and name.type == "identifier" and value is not None:
                    self.bindings[_text(name)] = value
                    if exported:
                        self.exports[_text(name)] = _text(name)
        elif kind in (
            "function_declaration",
            "generator_function_declaration",
            "enum_declaration",
            "class_declaration",
        ):
            name = stmt.child_by_field_name("name")
            if name is not None:
                self.bindings[_text(name)] = stmt
                if exported:
                    self.exports[_text(name)] = _text(name)
        elif kind == "ambient_declaration":
            return

    def _index_import(self, stmt: Node) -> None:
        source = stmt.child_by_field_name("source")
        if source is None or any(c.type == "type" for c in stmt.children):
            return
        spec = _string_value(source)
        for clause in stmt.named_children:
            if clause.type != "import_clause":
                continue
            for part in clause.named_children:
                if part.type == "identifier":
                    self.imports[_text(part)] = (spec, "default", part)
                elif part.type == "namespace_import":
                    for ident in part.named_children:
                        if ident.type == "identifier":
                            self.imports[_text(ident)] = (spec, "*", part)
                elif part.type == "named_imports":
                    for item in part.named_children:
                        if item.type != "import_specifier" or any(
                            c.type == "type" for c in item.children
                        ):
                            continue
                        name = item.child_by_field_name("name")
                        alias = item.child_by_field_name("alias")
                        if name is None:
                            continue
                        local = _text(alias) if alias is not None else _key_text(name) or ""
                        self.imports[local] = (spec, _key_text(name) or "", item)

    def _index_export(self, stmt: Node) -> None:
        if any(c.type == "type" for c in stmt.children[:2]):
            return
        declaration = stmt.child_by_field_name("declaration")
        if declaration is not None:
            self._index_statement(declaration, exported=True)
            if any(c.type == "default" for c in stmt.children):
                name = declaration.child_by_field_name("name")
                if name is not None:
                    self.exports["default"] = _text(name)
            return
        source = stmt.child_by_field_name("source")
        spec = _string_value(source) if source is not None else None
        value = stmt.child_by_field_name("value")
        if value is not None and any(c.type == "default" for c in stmt.children):
            if value.type == "identifier":
                self.exports["default"] = _text(value)
            else:
                self.bindings["*default*"] = value
                self.exports["default"] = "*default*"
            return
        clause = next((c for c in stmt.named_children if c.type == "export_clause"), None)
        if clause is None:
            if spec is not None:
                ns = next((c for c in stmt.named_children if c.type == "namespace_export"), None)
                if ns is not None:
                    names = list(ns.named_children)
                    if names:
                        self.reexports[_key_text(names[-1]) or ""] = (spec, "*", stmt)
                else:
                    self.star_exports.append((spec, stmt))
            return
        for item in clause.named_children:
            if item.type != "export_specifier" or any(c.type == "type" for c in item.children):
                continue
            name = item.child_by_field_name("name")
            alias = item.child_by_field_name("alias")
            if name is None:
                continue
            exported = _key_text(alias) if alias is not None else _key_text(name)
            local = _key_text(name) or ""
            if exported is None:
                continue
            if spec is not None:
                self.reexports[exported] = (spec, local, item)
            else:
                self.exports[exported] = local

    # values
    def lookup(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        if name in self.busy:
            return _Opaque(f"`{name}` is used before it is defined")
        if name in self.imports:
            spec, imported, node = self.imports[name]
            value = self.reader.import_value(self, spec, imported, node)
        elif name in self.bindings:
            self.busy.add(name)
            # A module-level value is the same whoever asks first: evaluate it outside any call.
            reader = self.reader
            saved = (reader.user_call_sites, reader.depth)
            reader.user_call_sites, reader.depth = [], 0
            try:
                value = reader.eval_binding(self, self.bindings[name])
            finally:
                self.busy.discard(name)
                reader.user_call_sites, reader.depth = saved
        elif name == "undefined":
            value = UNDEFINED
        elif name in _RUNTIME_GLOBALS:
            value = _Opaque(f"`{name}` (known only at run time)")
        else:
            value = _Opaque(f"`{name}` is not defined in {self.display}")
        self.values[name] = value
        return value

    def export_names(self, seen: set[Path] | None = None) -> list[str]:
        seen = set() if seen is None else seen
        if self.path in seen:
            return []
        seen.add(self.path)
        names = [*self.exports, *self.reexports]
        for spec, _node in self.star_exports:
            target = self.reader.resolve(self, spec)
            if target is not None:
                names += [n for n in target.export_names(seen) if n != "default" and n not in names]
        return names

    def export(self, name: str, seen: set[Path] | None = None) -> Any:
        seen = set() if seen is None else seen
        if self.path in seen:
            return _Opaque(f"`{name}` is exported in a cycle")
        seen.add(self.path)
        if name in self.exports:
            return self.lookup(self.exports[name])
        if name in self.reexports:
            spec, imported, node = self.reexports[name]
            return self.reader.import_value(self, spec, imported, node)
        for spec, _node in self.star_exports:
            target = self.reader.resolve(self, spec)
            if target is not None and name in target.export_names():
                return target.export(name, seen)
        return _Opaque(f"{self.display} exports no `{name}`")


# --- the reader -----------------------------------------------------------------------------


class _Reader:
    def __init__(self, *, default_schema: str, casing: str | None) -> None:
        self.default_schema = default_schema
        self.casing = casing
        self.modules: dict[Path, _Module] = {}
        self._warnings: dict[tuple[str, int, int, str], DrizzleWarning] = {}
        self.user_call_sites: list[_Site] = []
        self.depth = 0
        self._tsconfig: dict[Path, tuple[Path, list[tuple[str, list[str]]]] | None] = {}
        self._factories: dict[int, bool] = {}
        self.arg_texts: list[str] = []
        self._tables: dict[str, QName] = {}

    # warnings
    def warn(self, site: _Site | None, message: str, obj: str | None = None) -> None:
        if site is None:
            return
        key = (site.path, site.line, site.column, message)
        if key not in self._warnings:
            table = None
            if obj is not None:
                for text, qname in self._tables.items():
                    if obj == text or obj.startswith(text + "."):
                        table = qname
            self._warnings[key] = DrizzleWarning(
                site.path, site.line, site.column, message, obj, table
            )

    def sorted_warnings(self) -> list[DrizzleWarning]:
        return sorted(self._warnings.values(), key=lambda w: (w.path, w.line, w.column, w.message))

    # files
    def module(self, path: Path) -> _Module:
        resolved = path.resolve()
        cached = self.modules.get(resolved)
        if cached is not None:
            return cached
        try:
            data = resolved.read_bytes()
        except OSError as exc:
            raise DrizzleError(
                f"{display_path(path)}: cannot read: {exc.strerror or exc}"
            ) from None
        tree = _parser(resolved.suffix).parse(data)
        module = _Module(self, resolved, data, tree.root_node)
        if tree.root_node.has_error:
            bad = _first_error(tree.root_node)
            site = module.site(bad)
            what = f"missing `{bad.type}`" if bad.is_missing else f"unexpected `{_short(bad, 30)}`"
            raise DrizzleError(
                f"{site.path}:{site.line}:{site.column}: TypeScript syntax error ({what}); "
                "ddlguard cannot read this schema file"
            )
        self.modules[resolved] = module
        return module

    def resolve(self, importer: _Module, spec: str) -> _Module | None:
        """The module a relative (or tsconfig-path) import names, or None."""
        bases: list[Path] = []
        if spec.startswith("."):
            bases.append(importer.path.parent / spec)
        else:
            bases += self._tsconfig_candidates(importer.path.parent, spec)
        for base in bases:
            for candidate in _candidates(base):
                if candidate.is_file():
                    return self.module(candidate)
        return None

    def _tsconfig_candidates(self, folder: Path, spec: str) -> list[Path]:
        config = self._find_tsconfig(folder)
        if config is None:
            return []
        base, paths = config
        out: list[Path] = []
        for pattern, targets in paths:
            if pattern.endswith("*"):
                prefix = pattern[:-1]
                if not spec.startswith(prefix):
                    continue
                rest = spec[len(prefix) :]
                out += [base / t.replace("*", rest) for t in targets]
            elif pattern == spec:
                out += [base / t for t in targets]
        return out

    def _find_tsconfig(self, folder: Path) -> tuple[Path, list[tuple[str, list[str]]]] | None:
        if folder in self._tsconfig:
            return self._tsconfig[folder]
        result: tuple[Path, list[tuple[str, list[str]]]] | None = None
        config = folder / "tsconfig.json"
        if config.is_file():
            result = _read_tsconfig_paths(config)
        elif folder.parent != folder and not (folder / ".git").exists():
            result = self._find_tsconfig(folder.parent)
        self._tsconfig[folder] = result
        return result

    def import_value(self, module: _Module, spec: str, imported: str, node: Node) -> Any:
        package = _PACKAGES.get(spec)
        if package is None and spec.startswith("drizzle-orm/pg-core/"):
            package = "pg-core"
        if package is not None:
            if imported == "*":
                return _Namespace(package)
            return _Builtin(imported, package)
        target = self.resolve(module, spec)
        if target is None:
            return _Opaque(f"`{imported}` imported from '{spec}'", module.site(node))
        if imported == "*":
            return _ModuleNamespace(target)
        return target.export(imported)

    # evaluation
    def eval_binding(self, module: _Module, node: Node) -> Any:
        if node.type in ("function_declaration", "generator_function_declaration"):
            name = node.child_by_field_name("name")
            return _JsFunction(
                node, module.scope, _text(name) if name is not None else "<anonymous>"
            )
        if node.type == "enum_declaration":
            return self._ts_enum(module, node)
        if node.type == "class_declaration":
            return _Opaque(f"class {_short(node, 30)}", module.site(node))
        return self.eval(node, module.scope)

    def _ts_enum(self, module: _Module, node: Node) -> Any:
        body = node.child_by_field_name("body")
        out = _JsObject()
        counter = 0
        for member in body.named_children if body is not None else []:
            if member.type == "enum_assignment":
                key_node = member.child_by_field_name("name")
                value_node = member.child_by_field_name("value")
                key = _key_text(key_node) if key_node is not None else None
                value = self.eval(value_node, module.scope) if value_node is not None else UNDEFINED
            else:
                key = _key_text(member)
                value = counter
            if key is None:
                continue
            out[key] = value
            if isinstance(value, int):
                counter = value + 1
        return out

    def eval(self, node: Node, scope: _Scope) -> Any:
        kind = node.type
        module = scope.module
        if kind == "string":
            return _string_value(node)
        if kind == "template_string":
            return self._template(node, scope)
        if kind == "number":
            return _number(_text(node))
        if kind == "true":
            return True
        if kind == "false":
            return False
        if kind == "null":
            return None
        if kind == "undefined":
            return UNDEFINED
        if kind == "identifier":
            value = scope.lookup(_text(node))
            if isinstance(value, _Opaque) and value.site is None:
                return _Opaque(value.reason, module.site(node))
            return value
        if kind in ("parenthesized_expression", "non_null_expression"):
            inner = node.named_children
            return self.eval(inner[0], scope) if inner else UNDEFINED
        if kind in ("as_expression", "satisfies_expression"):
            return self.eval(node.named_children[0], scope)
        if kind == "type_assertion":
            return self.eval(node.named_children[-1], scope)
        if kind == "object":
            return self._object(node, scope)
        if kind == "array":
            out: list[Any] = []
            for item in node.named_children:
                if item.type == "spread_element":
                    spread = self.eval(item.named_children[0], scope)
                    if isinstance(spread, list):
                        out += spread
                    else:
                        out.append(
                            _Opaque(f"...{_short(item.named_children[0])}", module.site(item))
                        )
                elif item.type != "comment":
                    out.append(self.eval(item, scope))
            return out
        if kind == "member_expression":
            obj_node = node.child_by_field_name("object")
            prop = node.child_by_field_name("property")
            if obj_node is None or prop is None:
                return _Opaque(_short(node), module.site(node))
            obj = self.eval(obj_node, scope)
            return self.get_attr(obj, _text(prop), node, module)
        if kind == "subscript_expression":
            obj_node = node.child_by_field_name("object")
            index_node = node.child_by_field_name("index")
            if obj_node is None or index_node is None:
                return _Opaque(_short(node), module.site(node))
            obj = self.eval(obj_node, scope)
            index = self.eval(index_node, scope)
            if isinstance(obj, list) and isinstance(index, int) and not isinstance(index, bool):
                return obj[index] if 0 <= index < len(obj) else UNDEFINED
            if isinstance(index, str | int) and not isinstance(index, bool):
                return self.get_attr(obj, str(index), node, module)
            return _Opaque(_short(node), module.site(node))
        if kind == "call_expression":
            return self.call(node, scope)
        if kind in ("arrow_function", "function_expression", "function"):
            name = node.child_by_field_name("name")
            return _JsFunction(node, scope, _text(name) if name is not None else "<anonymous>")
        if kind == "binary_expression":
            return self._binary(node, scope)
        if kind == "unary_expression":
            op = node.child_by_field_name("operator")
            arg_node = node.child_by_field_name("argument")
            if op is None or arg_node is None:
                return _Opaque(_short(node), module.site(node))
            arg = self.eval(arg_node, scope)
            operator = _text(op)
            if operator == "-" and isinstance(arg, int | float) and not isinstance(arg, bool):
                return -arg
            if operator == "+" and isinstance(arg, int | float) and not isinstance(arg, bool):
                return arg
            if operator == "!" and _is_primitive(arg):
                return not _truthy(arg)
            return _Opaque(_short(node), module.site(node))
        if kind == "ternary_expression":
            cond_node = node.child_by_field_name("condition")
            cond = self.eval(cond_node, scope) if cond_node is not None else UNDEFINED
            if isinstance(cond, _Opaque):
                return _Opaque(_short(node), module.site(node))
            branch = node.child_by_field_name("consequence" if _truthy(cond) else "alternative")
            return self.eval(branch, scope) if branch is not None else UNDEFINED
        return _Opaque(_short(node), module.site(node))

    def _template(self, node: Node, scope: _Scope) -> Any:
        pieces: list[str] = []
        for raw, sub in _template_parts(node):
            pieces.append(_unescape(raw))
            if sub is not None:
                value = self.eval(sub, scope)
                if not _is_primitive(value):
                    return _Opaque(_short(node), scope.module.site(node))
                pieces.append(_js_string(value))
        return "".join(pieces)

    def _object(self, node: Node, scope: _Scope) -> _JsObject:
        module = scope.module
        out = _JsObject()
        for item in node.named_children:
            if item.type == "pair":
                key_node = item.child_by_field_name("key")
                value_node = item.child_by_field_name("value")
                if key_node is None or value_node is None:
                    continue
                if key_node.type == "computed_property_name":
                    computed = self.eval(key_node.named_children[0], scope)
                    key = _js_string(computed) if _is_primitive(computed) else None
                else:
                    key = _key_text(key_node)
                if key is None:
                    out.opaque_spreads.append(_Opaque(_short(item), module.site(item)))
                    continue
                out[key] = self.eval(value_node, scope)
                out.sites[key] = module.site(item)
            elif item.type == "shorthand_property_identifier":
                key = _text(item)
                out[key] = scope.lookup(key)
                out.sites[key] = module.site(item)
            elif item.type == "method_definition":
                name_node = item.child_by_field_name("name")
                key = _key_text(name_node) if name_node is not None else None
                if key is not None:
                    out[key] = _JsFunction(item, scope, key)
                    out.sites[key] = module.site(item)
            elif item.type == "spread_element":
                spread = self.eval(item.named_children[0], scope)
                if isinstance(spread, dict):
                    for key, value in spread.items():
                        out[key] = value
                        if isinstance(spread, _JsObject) and key in spread.sites:
                            out.sites[key] = spread.sites[key]
                        else:
                            out.sites[key] = module.site(item)
                    if isinstance(spread, _JsObject):
                        out.opaque_spreads += spread.opaque_spreads
                elif spread is None or spread is UNDEFINED:
                    continue
                else:
                    reason = spread.reason if isinstance(spread, _Opaque) else "not an object"
                    out.opaque_spreads.append(
                        _Opaque(
                            f"...{_short(item.named_children[0])} ({reason})", module.site(item)
                        )
                    )
        return out

    def _binary(self, node: Node, scope: _Scope) -> Any:
        module = scope.module
        op_node = node.child_by_field_name("operator")
        left_node = node.child_by_field_name("left")
        right_node = node.child_by_field_name("right")
        if op_node is None or left_node is None or right_node is None:
            return _Opaque(_short(node), module.site(node))
        op = _text(op_node)
        left = self.eval(left_node, scope)
        if op in ("??", "||", "&&"):
            if isinstance(left, _Opaque):
                return _Opaque(_short(node), module.site(node))
            if op == "??":
                return self.eval(right_node, scope) if left is None or left is UNDEFINED else left
            if op == "||":
                return left if _truthy(left) else self.eval(right_node, scope)
            return self.eval(right_node, scope) if _truthy(left) else left
        right = self.eval(right_node, scope)
        if not (_is_primitive(left) and _is_primitive(right)):
            return _Opaque(_short(node), module.site(node))
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right))
        if op == "+":
            if numbers:
                return left + right
            return _js_string(left) + _js_string(right)
        if numbers and op in ("-", "*", "/", "%", "**"):
            try:
                result = {
                    "-": lambda a, b: a - b,
                    "*": lambda a, b: a * b,
                    "/": lambda a, b: a / b,
                    "%": lambda a, b: a % b,
                    "**": lambda a, b: a**b,
                }[op](left, right)
            except (ZeroDivisionError, OverflowError):
                return _Opaque(_short(node), module.site(node))
            return result
        if op in ("===", "=="):
            return left == right
        if op in ("!==", "!="):
            return left != right
        return _Opaque(_short(node), module.site(node))

    # calls
    def _args(self, node: Node, scope: _Scope) -> list[Any]:
        out: list[Any] = []
        for arg in node.named_children:
            if arg.type == "comment":
                continue
            if arg.type == "spread_element":
                spread = self.eval(arg.named_children[0], scope)
                if isinstance(spread, list):
                    out += spread
                else:
                    out.append(_Opaque(_short(arg), scope.module.site(arg)))
            else:
                out.append(self.eval(arg, scope))
        return out

    def call(self, node: Node, scope: _Scope) -> Any:
        module = scope.module
        site = module.site(node)
        fn_node = node.child_by_field_name("function")
        args_node = node.child_by_field_name("arguments")
        if fn_node is None or args_node is None:
            return _Opaque(_short(node), site)
        if args_node.type == "template_string":
            tag = self.eval(fn_node, scope)
            if isinstance(tag, _Builtin) and tag.package == "orm" and tag.name == "sql":
                return self._sql_template(args_node, scope)
            return _Opaque(_short(node), site)
        args = self._args(args_node, scope)
        arg_texts = [_short(a) for a in args_node.named_children if a.type != "comment"]
        if fn_node.type == "member_expression":
            obj_node = fn_node.child_by_field_name("object")
            prop = fn_node.child_by_field_name("property")
            if obj_node is None or prop is None:
                return _Opaque(_short(node), site)
            obj = self.eval(obj_node, scope)
            method_site = module.site(prop)
            self.arg_texts = arg_texts
            return self.call_method(obj, _text(prop), args, node, site, method_site, scope)
        if fn_node.type == "import":
            return _Opaque("dynamic import()", site)
        callee = self.eval(fn_node, scope)
        return self.call_value(callee, args, node, site, scope)

    def _sql_template(self, node: Node, scope: _Scope) -> _Sql:
        parts: list[Any] = []
        for raw, sub in _template_parts(node):
            if raw:
                parts.append(_unescape(raw))
            if sub is not None:
                value = self.eval(sub, scope)
                if _is_primitive(value) or isinstance(value, list):
                    parts.append(_Param(value))
                else:
                    parts.append(value)
        return _Sql(tuple(parts), scope.module.site(node))

    def call_value(
        self, callee: Any, args: list[Any], node: Node, site: _Site, scope: _Scope
    ) -> Any:
        if isinstance(callee, _Builtin):
            return self.call_builtin(callee, args, node, site, scope)
        if isinstance(callee, _JsFunction):
            return self.call_user(callee, args, node, site)
        if isinstance(callee, _EnumValue):
            name, _config = _name_and_config(args)
            return _ColumnBuilder("enum", None, name, site, enum=callee)
        if isinstance(callee, _CustomType):
            return self._custom_column(callee, args, site)
        if isinstance(callee, _TableCreator):
            return self.make_table(args, node, site, schema=callee.schema, creator=callee)
        if isinstance(callee, _Opaque):
            return _Opaque(callee.reason, site)
        return _Opaque(f"{_short(node)} (not a function)", site)

    def call_user(self, fn: _JsFunction, args: list[Any], node: Node, site: _Site) -> Any:
        """A call, in the schema's own code, of a function the schema defines."""
        if self._builds_tables(fn, set()):
            outer = self.user_call_sites[0] if self.user_call_sites else site
            shown = ", ".join(repr(a) if isinstance(a, str) else "..." for a in args)
            self.warn(
                outer,
                f"cannot verify the table built by the factory function {fn.name}({shown}): "
                "drizzle-kit runs it, ddlguard reads schemas statically; declare the table with "
                "pgTable(...) to have it checked",
            )
            return _Opaque(f"a table built by {fn.name}()", site)
        self.user_call_sites.append(site)
        try:
            return self.invoke(fn, args)
        finally:
            self.user_call_sites.pop()

    def invoke(self, fn: _JsFunction, args: list[Any]) -> Any:
        """Run a function of the schema with ``args``: its parameters bound, its body evaluated
        (an expression, or ``const`` declarations and a ``return``)."""
        module = fn.scope.module
        if self.depth > 40:
            return _Opaque(f"{fn.name}() calls itself too deeply", module.site(fn.node))
        scope = _Scope(module, {}, fn.scope)
        params = fn.node.child_by_field_name("parameters")
        single = fn.node.child_by_field_name("parameter")
        if single is not None:
            scope.values[_text(single)] = args[0] if args else UNDEFINED
        elif params is not None:
            i = 0
            for param in params.named_children:
                if param.type not in ("required_parameter", "optional_parameter", "identifier"):
                    continue
                pattern = (
                    param.child_by_field_name("pattern") if param.type != "identifier" else param
                )
                default = param.child_by_field_name("value") if param.type != "identifier" else None
                value = args[i] if i < len(args) else UNDEFINED
                i += 1
                if value is UNDEFINED and default is not None:
                    value = self.eval(default, scope)
                if pattern is None:
                    continue
                if pattern.type == "identifier":
                    scope.values[_text(pattern)] = value
                elif pattern.type == "rest_pattern":
                    inner = pattern.named_children
                    if inner:
                        scope.values[_text(inner[0])] = list(args[i - 1 :])
                elif pattern.type == "object_pattern":
                    self._destructure(pattern, value, scope)
        body = fn.node.child_by_field_name("body")
        if body is None:
            return _Opaque(f"{fn.name}()", module.site(fn.node))
        self.depth += 1
        try:
            if body.type != "statement_block":
                return self.eval(body, scope)
            for stmt in body.named_children:
                if stmt.type in ("lexical_declaration", "variable_declaration"):
                    for decl in stmt.named_children:
                        if decl.type != "variable_declarator":
                            continue
                        name = decl.child_by_field_name("name")
                        value_node = decl.child_by_field_name("value")
                        value = (
                            self.eval(value_node, scope) if value_node is not None else UNDEFINED
                        )
                        if name is None:
                            continue
                        if name.type == "identifier":
                            scope.values[_text(name)] = value
                        elif name.type == "object_pattern":
                            self._destructure(name, value, scope)
                elif stmt.type == "return_statement":
                    inner = [c for c in stmt.named_children if c.type != "comment"]
                    return self.eval(inner[0], scope) if inner else UNDEFINED
                elif stmt.type in ("comment", "empty_statement", "expression_statement"):
                    continue
                else:
                    return _Opaque(
                        f"{fn.name}() (its body is more than declarations and a return)",
                        module.site(stmt),
                    )
            return UNDEFINED
        finally:
            self.depth -= 1

    def _destructure(self, pattern: Node, value: Any, scope: _Scope) -> None:
        for item in pattern.named_children:
            if item.type == "shorthand_property_identifier_pattern":
                key = _text(item)
                scope.values[key] = self.get_attr(value, key, item, scope.module)
            elif item.type == "pair_pattern":
                key_node = item.child_by_field_name("key")
                target = item.child_by_field_name("value")
                prop = _key_text(key_node) if key_node is not None else None
                if prop is not None and target is not None and target.type == "identifier":
                    scope.values[_text(target)] = self.get_attr(value, prop, item, scope.module)

    def _builds_tables(self, fn: _JsFunction, seen: set[int]) -> bool:
        """Whether calling ``fn`` creates a table (pgTable and friends are called in its body)."""
        key = id(fn.node)
        if key in self._factories:
            return self._factories[key]
        if key in seen:
            return False
        seen.add(key)
        module = fn.scope.module
        result = False
        body = fn.node.child_by_field_name("body")
        for node in _walk(body) if body is not None else iter(()):
            if node.type != "call_expression":
                continue
            callee = node.child_by_field_name("function")
            if callee is None:
                continue
            target: Any = None
            if callee.type == "identifier":
                name = _text(callee)
                if name in module.bindings or name in module.imports:
                    target = module.lookup(name)
            elif callee.type == "member_expression":
                obj = callee.child_by_field_name("object")
                prop = callee.child_by_field_name("property")
                if obj is not None and prop is not None and obj.type == "identifier":
                    name = _text(obj)
                    if name in module.bindings or name in module.imports:
                        base = module.lookup(name)
                        method = _text(prop)
                        result = (
                            (isinstance(base, _PgSchema) and method == "table")
                            or (isinstance(base, _Namespace) and method == "pgTable")
                            or (isinstance(base, _Builtin) and base.name == "pgTable")
                        )
            if (isinstance(target, _Builtin) and target.name == "pgTable") or isinstance(
                target, _TableCreator
            ):
                result = True
            elif isinstance(target, _JsFunction) and target is not fn:
                result = result or self._builds_tables(target, seen)
            if result:
                break
        self._factories[key] = result
        return result

    def call_builtin(
        self, fn: _Builtin, args: list[Any], node: Node, site: _Site, scope: _Scope
    ) -> Any:
        name, package = fn.name, fn.package
        if package in _FOREIGN_DIALECT_TABLES:
            if name in _FOREIGN_DIALECT_TABLES[package]:
                raise DrizzleError(
                    f"{site.path}:{site.line}:{site.column}: {name}() declares a "
                    f"{_DIALECT_NAMES[package]} table; ddlguard checks PostgreSQL schemas "
                    "(pgTable from drizzle-orm/pg-core)"
                )
            return _Opaque(f"{name}() from drizzle-orm/{package}-core", site)
        if package == "orm":
            if name == "relations":
                return _Ignored("relations")
            if name == "sql":
                return _Opaque("sql(...) called as a function", site)
            return _Opaque(f"{name}() from drizzle-orm", site)
        if package != "pg-core":
            return _Opaque(f"{name}()", site)
        if name == "pgTable":
            return self.make_table(args, node, site, schema=fn.schema)
        if name == "pgTableCreator":
            return _TableCreator(args[0] if args else UNDEFINED, fn.schema, site)
        if name == "pgEnum":
            return self._enum(args, site, fn.schema)
        if name == "pgSchema":
            schema_name = args[0] if args else UNDEFINED
            if not isinstance(schema_name, str):
                self.warn(site, "cannot verify pgSchema(...): its name is computed at run time")
                return _Opaque("pgSchema(...) with a computed name", site)
            return _PgSchema(schema_name, site)
        if name in ("pgView", "pgMaterializedView"):
            view_name = args[0] if args else UNDEFINED
            if not isinstance(view_name, str):
                return _Opaque(f"{name}(...) with a computed name", site)
            return _ViewValue(view_name, fn.schema, name == "pgMaterializedView", site)
        if name in _COLUMN_TYPES:
            col_name, config = _name_and_config(args)
            sql_type = _COLUMN_TYPES[name](config)
            builder = _ColumnBuilder(name, sql_type, col_name, site)
            if sql_type is None:
                builder = replace(
                    builder,
                    unverified=f"{name}() with a configuration computed at run time",
                )
            return builder
        if name == "customType":
            return _CustomType(args[0] if args else UNDEFINED, site)
        if name in ("index", "uniqueIndex"):
            index_name = args[0] if args and isinstance(args[0], str) else None
            return _IndexStart(index_name, name == "uniqueIndex", site)
        if name == "unique":
            return _UniqueStart(args[0] if args and isinstance(args[0], str) else None, site)
        if name == "primaryKey":
            if args and isinstance(args[0], dict):
                config = args[0]
                columns = config.get("columns", [])
                pk_name = config.get("name")
                return _ConstraintValue(
                    "p",
                    pk_name if isinstance(pk_name, str) else None,
                    tuple(columns) if isinstance(columns, list) else (columns,),
                    site,
                )
            return _ConstraintValue("p", None, tuple(args), site)
        if name == "foreignKey":
            config = args[0] if args and isinstance(args[0], dict) else {}
            columns = config.get("columns", [])
            foreign = config.get("foreignColumns", [])
            fk_name = config.get("name")
            return _ConstraintValue(
                "f",
                fk_name if isinstance(fk_name, str) else None,
                tuple(columns) if isinstance(columns, list) else (columns,),
                site,
                ref_columns=tuple(foreign) if isinstance(foreign, list) else (foreign,),
            )
        if name == "check":
            check_name = args[0] if args and isinstance(args[0], str) else None
            return _ConstraintValue(
                "c", check_name, (), site, check=args[1] if len(args) > 1 else None
            )
        if name in _IGNORED_PG:
            return _Ignored(name)
        return _Opaque(f"{name}() from drizzle-orm/pg-core", site)

    def _enum(self, args: list[Any], site: _Site, schema: str | None) -> Any:
        name = args[0] if args else UNDEFINED
        values = args[1] if len(args) > 1 else UNDEFINED
        if isinstance(values, dict):
            values = list(values.values())
        if (
            not isinstance(name, str)
            or not isinstance(values, list)
            or not all(isinstance(v, str) for v in values)
        ):
            self.warn(
                site, "cannot verify pgEnum(...): its name or values are computed at run time"
            )
            return _Opaque("pgEnum(...) with computed values", site)
        return _EnumValue(name, tuple(values), schema, site)

    def _custom_column(self, custom: _CustomType, args: list[Any], site: _Site) -> _ColumnBuilder:
        name, config = _name_and_config(args)
        options = custom.options
        data_type = options.get("dataType") if isinstance(options, dict) else None
        sql_type: Any = None
        if isinstance(data_type, _JsFunction):
            sql_type = self.invoke(data_type, [config if config else UNDEFINED])
        if isinstance(sql_type, str) and sql_type.strip():
            return _ColumnBuilder("custom", sql_type.strip(), name, site)
        return _ColumnBuilder(
            "custom",
            None,
            name,
            site,
            unverified="its customType's dataType() is computed at run time",
        )

    def make_table(
        self,
        args: list[Any],
        node: Node,
        site: _Site,
        *,
        schema: str | None,
        creator: _TableCreator | None = None,
    ) -> Any:
        if self.depth > 0 and self.user_call_sites:
            self.warn(
                self.user_call_sites[0],
                "cannot verify a table built inside a function: drizzle-kit runs it, ddlguard "
                "reads schemas statically",
            )
            return _Opaque("a table built inside a function", site)
        name = args[0] if args else UNDEFINED
        if creator is not None and isinstance(name, str):
            if isinstance(creator.name_fn, _JsFunction):
                name = self.invoke(creator.name_fn, [name, UNDEFINED])
            else:
                name = _Opaque("pgTableCreator without a naming function")
        if not isinstance(name, str):
            self.warn(site, "cannot verify this table: its name is computed at run time")
            return _Opaque("a table with a computed name", site)
        columns_arg = args[1] if len(args) > 1 else UNDEFINED
        if isinstance(columns_arg, _JsFunction):
            columns_arg = self.invoke(columns_arg, [_Namespace("pg-core")])
        if not isinstance(columns_arg, dict):
            qname = QName(schema or self.default_schema, name)
            self._tables[str(qname)] = qname
            self.warn(
                site,
                f"cannot verify table {qname}: its columns are computed at run time",
                str(qname),
            )
            return _Opaque(f"table {name} with computed columns", site)
        sites = columns_arg.sites if isinstance(columns_arg, _JsObject) else {}
        spreads = columns_arg.opaque_spreads if isinstance(columns_arg, _JsObject) else []
        return _TableValue(
            name=name,
            schema=schema,
            columns=dict(columns_arg),
            column_sites=dict(sites),
            opaque_spreads=list(spreads),
            extra=args[2] if len(args) > 2 else None,
            site=site,
        )

    def get_attr(self, obj: Any, name: str, node: Node, module: _Module) -> Any:
        site = module.site(node)
        if isinstance(obj, dict):
            return obj.get(name, UNDEFINED)
        if isinstance(obj, _Namespace):
            return _Builtin(name, obj.package)
        if isinstance(obj, _ModuleNamespace):
            return obj.module.export(name)
        if isinstance(obj, _TableValue):
            if name in obj.columns:
                return _ColumnRef(obj, name)
            return _Opaque(f"{obj.name}.{name}", site)
        if isinstance(obj, _EnumValue):
            if name == "enumValues":
                return list(obj.values)
            if name == "enumName":
                return obj.name
            if name == "schema":
                return obj.schema if obj.schema is not None else UNDEFINED
        if isinstance(obj, _PgSchema):
            if name == "schemaName":
                return obj.name
            if name in ("table", "enum", "view", "materializedView", "sequence"):
                mapping = {
                    "table": "pgTable",
                    "enum": "pgEnum",
                    "view": "pgView",
                    "materializedView": "pgMaterializedView",
                    "sequence": "pgSequence",
                }
                return _Builtin(mapping[name], "pg-core", obj.name)
        if isinstance(obj, list) and name == "length":
            return len(obj)
        if isinstance(obj, str) and name == "length":
            return len(obj)
        if isinstance(obj, _Builtin) and obj.name == "pgTable" and name == "withRLS":
            return obj
        if isinstance(obj, _Opaque):
            return _Opaque(obj.reason, obj.site or site)
        return _Opaque(_short(node), site)

    def call_method(
        self,
        obj: Any,
        method: str,
        args: list[Any],
        node: Node,
        site: _Site,
        method_site: _Site,
        scope: _Scope,
    ) -> Any:
        if isinstance(obj, _ColumnBuilder):
            return self._column_method(obj, method, args, method_site)
        if isinstance(obj, _ColumnRef):
            if method == "asc":
                return replace(obj, order="asc")
            if method == "desc":
                return replace(obj, order="desc")
            if method == "nullsFirst":
                return replace(obj, nulls="first")
            if method == "nullsLast":
                return replace(obj, nulls="last")
            if method == "op":
                return replace(obj, opclass=args[0] if args and isinstance(args[0], str) else None)
            return _Opaque(f"{obj.table.name}.{obj.key}.{method}()", site)
        if isinstance(obj, _IndexStart):
            if method in ("on", "onOnly"):
                return _IndexValue(obj.name, obj.unique, tuple(args), obj.site)
            if method == "using":
                method_name = args[0] if args and isinstance(args[0], str) else "btree"
                return _IndexValue(
                    obj.name, obj.unique, tuple(args[1:]), obj.site, method=method_name
                )
            return _Opaque(f"index(...).{method}()", site)
        if isinstance(obj, _IndexValue):
            if method == "where":
                return replace(obj, where=args[0] if args else None)
            if method in ("concurrently", "with", "nullsNotDistinct"):
                return obj
            return _Opaque(f"index(...).{method}()", site)
        if isinstance(obj, _UniqueStart):
            if method == "on":
                return _ConstraintValue("u", obj.name, tuple(args), obj.site)
            return _Opaque(f"unique(...).{method}()", site)
        if isinstance(obj, _ConstraintValue):
            if method == "nullsNotDistinct":
                return replace(obj, nulls_not_distinct=True)
            if method == "onDelete":
                return replace(obj, on_delete=args[0] if args else None)
            if method == "onUpdate":
                return replace(obj, on_update=args[0] if args else None)
            return _Opaque(f"constraint.{method}()", site)
        if isinstance(obj, _Sql):
            if method in ("as", "mapWith", "inlineParams", "getSQL"):
                return obj
            return _Opaque(f"sql`...`.{method}()", site)
        if isinstance(obj, _ViewValue):
            if method == "as":
                return replace(obj, defined=True)
            if method == "existing":
                return replace(obj, existing=True)
            if method in ("with", "using", "tablespace", "withNoData"):
                return obj
            return _Opaque(f"view.{method}()", site)
        if isinstance(obj, _TableValue):
            if method == "enableRLS":
                obj.rls = True
                return obj
            return _Opaque(f"{obj.name}.{method}()", site)
        if isinstance(obj, _Builtin) and obj.package == "orm" and obj.name == "sql":
            if method == "raw":
                text = args[0] if args else ""
                if isinstance(text, str):
                    return _Sql((text,), site)
                return _Opaque("sql.raw(...) of a computed text", site)
            if method == "empty":
                return _Sql((), site)
            if method == "identifier":
                ident = args[0] if args else ""
                if isinstance(ident, str):
                    return _Sql((_quote_ident(ident),), site)
            return _Opaque(f"sql.{method}(...)", site)
        if isinstance(obj, _Builtin) and obj.name == "pgTable" and method == "withRLS":
            table = self.make_table(args, node, site, schema=obj.schema)
            if isinstance(table, _TableValue):
                table.rls = True
            return table
        callee = self.get_attr(obj, method, node, scope.module)
        if isinstance(callee, _Builtin | _JsFunction | _EnumValue | _CustomType | _TableCreator):
            return self.call_value(callee, args, node, site, scope)
        if isinstance(callee, _Opaque):
            return _Opaque(callee.reason, site)
        return _Opaque(_short(node), site)

    def _column_method(self, col: _ColumnBuilder, method: str, args: list[Any], site: _Site) -> Any:
        if method == "notNull":
            return replace(col, not_null=True)
        if method == "primaryKey":
            return replace(col, primary=True, not_null=True)
        if method == "default":
            text = self.arg_texts[0] if self.arg_texts else ""
            return replace(
                col, default=args[0] if args else UNDEFINED, default_site=site, default_text=text
            )
        if method == "defaultNow":
            return replace(col, default=_Sql(("now()",), site), default_site=site)
        if method == "defaultRandom":
            return replace(col, default=_Sql(("gen_random_uuid()",), site), default_site=site)
        if method == "unique":
            name = args[0] if args and isinstance(args[0], str) else None
            config = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
            return replace(
                col,
                unique=True,
                unique_name=name,
                unique_nulls_not_distinct=config.get("nulls") == "not distinct",
                unique_site=site,
            )
        if method == "references":
            actions = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
            ref = _Reference(
                args[0] if args else UNDEFINED,
                actions.get("onDelete"),
                actions.get("onUpdate"),
                site,
            )
            return replace(col, references=(*col.references, ref))
        if method == "array":
            return replace(col, array_dims=col.array_dims + 1)
        if method == "generatedAlwaysAs":
            return replace(col, generated=args[0] if args else None)
        if method == "generatedAlwaysAsIdentity":
            return replace(col, identity="always", not_null=True)
        if method == "generatedByDefaultAsIdentity":
            return replace(col, identity="by default", not_null=True)
        if method in (
            "$type",
            "$default",
            "$defaultFn",
            "$onUpdate",
            "$onUpdateFn",
            "$comment",
            "$dbName",
        ):
            return col
        return replace(col, unknown_methods=(*col.unknown_methods, (method, site)))

    # --- building the Schema ------------------------------------------------------------------

    def build(self, modules: Sequence[_Module]) -> Schema:
        exported: list[tuple[str, Any]] = []
        for module in modules:
            for name in module.export_names():
                exported.append((name, module.export(name)))
        tables: list[_TableValue] = []
        enums: list[_EnumValue] = []
        schemas: list[_PgSchema] = []
        views: list[_ViewValue] = []
        seen: set[int] = set()
        for _name, value in exported:
            if id(value) in seen:
                continue
            seen.add(id(value))
            if isinstance(value, _TableValue):
                tables.append(value)
            elif isinstance(value, _EnumValue):
                enums.append(value)
            elif isinstance(value, _PgSchema):
                schemas.append(value)
            elif isinstance(value, _ViewValue):
                views.append(value)
        names = {"public"} | {self.default_schema}
        names |= {s.name for s in schemas if s.name != "public"}
        schema = Schema(schemas=frozenset(names))
        exported_enums = {id(e) for e in enums}
        for enum in enums:
            qname = QName(enum.schema or self.default_schema, enum.name)
            if schema.enum(qname) is not None:
                self.warn(enum.site, f"enum {qname} is declared twice; drizzle-kit keeps the last")
            schema = schema.with_enum(Enum(qname, enum.values, origin=enum.site.origin()))
        table_names: dict[QName, _TableValue] = {}
        for table in tables:
            qname = self._qname(table)
            if qname in table_names:
                self.warn(
                    table.site,
                    f"table {qname} is declared twice (also at {table_names[qname].site.path}:"
                    f"{table_names[qname].site.line}); drizzle-kit keeps the last",
                )
            table_names[qname] = table
        for qname, table in table_names.items():
            if table.schema is not None and table.schema not in names:
                self.warn(
                    table.site,
                    f"schema {table.schema} of table {qname} is not exported: drizzle-kit will not "
                    "create it",
                )
            model, indexes = self._table(table, exported_enums)
            schema = schema.with_table(model)
            for index in indexes:
                if schema.index(index.table.schema, index.name) is not None:
                    origin = index.origin
                    self.warn(
                        _Site(origin.path, origin.line, origin.column) if origin else None,
                        f"index name {index.name} is used twice in schema {index.table.schema}",
                    )
                schema = schema.with_index(index)
        for view in views:
            if view.existing:
                continue
            qname = QName(view.schema or self.default_schema, view.name)
            schema = schema.with_view(View(qname, view.materialized, origin=view.site.origin()))
        return schema

    def _qname(self, table: _TableValue) -> QName:
        schema = table.schema if table.schema not in (None, "public") else None
        return QName(_truncate(schema or self.default_schema), _truncate(table.name))

    def _column_name(self, key: str, builder: _ColumnBuilder) -> str:
        if builder.name:
            return builder.name
        if self.casing == "snake_case":
            return to_snake_case(key)
        if self.casing == "camelCase":
            return to_camel_case(key)
        return key

    def _table(self, table: _TableValue, exported_enums: set[int]) -> tuple[Table, list[Index]]:
        qname = self._qname(table)
        self._tables[str(qname)] = qname
        tname = table.name
        for spread in table.opaque_spreads:
            self.warn(
                spread.site or table.site,
                f"cannot verify the columns spread into table {qname}: {spread.reason}",
                str(qname),
            )
        # Column names first: references to them may come from anywhere.
        builders: dict[str, _ColumnBuilder] = {}
        sql_names: dict[str, str] = {}
        for key, value in table.columns.items():
            site = table.column_sites.get(key, table.site)
            if isinstance(value, _ColumnBuilder):
                builders[key] = value
                sql_names[key] = self._column_name(key, value)
            elif value is UNDEFINED or value is None:
                continue
            else:
                reason = value.reason if isinstance(value, _Opaque) else "not a column builder"
                self.warn(site, f"cannot verify column {qname}.{key}: {reason}", f"{qname}.{key}")
        table_ctx = _TableContext(self, table, qname, sql_names)

        columns: list[Column] = []
        constraints: list[Constraint] = []
        pk_columns: set[str] = set()
        extra_items = self._extra_items(table, qname)
        for item in extra_items:
            if isinstance(item, _ConstraintValue) and item.kind == "p":
                pk_columns |= set(table_ctx.column_names(item.columns, item.site) or ())

        column_types: dict[str, str] = {}
        for key, builder in builders.items():
            name = _truncate(sql_names[key])
            site = table.column_sites.get(key, builder.site)
            column, col_type = self._column(table_ctx, key, name, builder, site, exported_enums)
            if name in pk_columns and column.nullable:
                column = replace(column, nullable=False)
            columns.append(column)
            column_types[name] = col_type

        # Constraints in the order drizzle-kit writes them: inline primary key, composite
        # primary key, unique constraints (columns first), checks, then foreign keys.
        for key, builder in builders.items():
            if builder.primary:
                constraints.append(
                    Constraint(
                        "p",
                        (_truncate(sql_names[key]),),
                        name=_make_object_name(qname.name, "", "pkey"),
                        origin=table.column_sites.get(key, builder.site).origin(),
                    )
                )
        for item in extra_items:
            if isinstance(item, _ConstraintValue) and item.kind == "p":
                cols = table_ctx.column_names(item.columns, item.site)
                if cols is None:
                    continue
                name = item.name or f"{tname}_{'_'.join(cols)}_pk"
                constraints.append(
                    Constraint("p", tuple(cols), name=_truncate(name), origin=item.site.origin())
                )
        for key, builder in builders.items():
            if builder.unique:
                config_name = builder.name or key
                name = builder.unique_name or f"{tname}_{config_name}_unique"
                constraints.append(
                    Constraint(
                        "u",
                        (_truncate(sql_names[key]),),
                        name=_truncate(name),
                        nulls_not_distinct=builder.unique_nulls_not_distinct,
                        origin=(builder.unique_site or builder.site).origin(),
                    )
                )
        for item in extra_items:
            if isinstance(item, _ConstraintValue) and item.kind == "u":
                cols = table_ctx.column_names(item.columns, item.site)
                if cols is None:
                    continue
                name = item.name or f"{tname}_{'_'.join(cols)}_unique"
                constraints.append(
                    Constraint(
                        "u",
                        tuple(cols),
                        name=_truncate(name),
                        nulls_not_distinct=item.nulls_not_distinct,
                        origin=item.site.origin(),
                    )
                )
        for item in extra_items:
            if isinstance(item, _ConstraintValue) and item.kind == "c":
                if not isinstance(item.check, _Sql | str):
                    reason = (
                        item.check.reason
                        if isinstance(item.check, _Opaque)
                        else "it has no sql`...` expression"
                    )
                    self.warn(
                        item.site,
                        f"cannot verify {_label('check', item.name)} of table {qname}: {reason}",
                        str(qname),
                    )
                    continue
                text = table_ctx.render(item.check, item.site, _label("check", item.name))
                if text is None:
                    continue
                expr = expression(text)
                constraints.append(
                    Constraint(
                        "c",
                        _referenced_columns(expr, [c.name for c in columns]),
                        name=_truncate(item.name or f"{tname}_check"),
                        expression=expr,
                        origin=item.site.origin(),
                    )
                )
        for key, builder in builders.items():
            for ref in builder.references:
                fk = self._inline_fk(table_ctx, key, builder, ref)
                if fk is not None:
                    constraints.append(fk)
        for item in extra_items:
            if isinstance(item, _ConstraintValue) and item.kind == "f":
                fk = self._config_fk(table_ctx, item)
                if fk is not None:
                    constraints.append(fk)

        indexes: list[Index] = []
        for item in extra_items:
            if isinstance(item, _IndexValue):
                index = self._index(table_ctx, item)
                if index is not None:
                    indexes.append(index)
        model = Table(
            qname,
            columns=tuple(columns),
            constraints=tuple(constraints),
            origin=table.site.origin(),
        )
        return model, indexes

    def _extra_items(self, table: _TableValue, qname: QName) -> list[Any]:
        extra = table.extra
        if extra is None or extra is UNDEFINED:
            return []
        if isinstance(extra, _JsFunction):
            extra = self.invoke(extra, [table, table.columns])
        if isinstance(extra, dict):
            items = list(extra.values())
        elif isinstance(extra, list):
            items = list(extra)
        else:
            reason = extra.reason if isinstance(extra, _Opaque) else "not an object or array"
            self.warn(
                table.site,
                f"cannot verify the indexes and constraints of table {qname}: {reason}",
                str(qname),
            )
            return []
        out: list[Any] = []
        for item in items:
            if isinstance(item, _IndexValue | _ConstraintValue) and (
                item.columns or (isinstance(item, _ConstraintValue) and item.kind == "c")
            ):
                out.append(item)
            elif isinstance(item, _IndexValue | _ConstraintValue):
                what = "index" if isinstance(item, _IndexValue) else _CONSTRAINT_WORDS[item.kind]
                self.warn(
                    item.site,
                    f"cannot verify {_label(what, item.name)} of table {qname}: it names no columns",
                    str(qname),
                )
            elif isinstance(item, _Ignored) or item is None or item is UNDEFINED:
                continue
            elif isinstance(item, _IndexStart):
                self.warn(
                    item.site, f"{_label('index', item.name)} of table {qname} has no .on(...)"
                )
            elif isinstance(item, _UniqueStart):
                self.warn(
                    item.site, f"{_label('unique', item.name)} of table {qname} has no .on(...)"
                )
            else:
                site = item.site if isinstance(item, _Opaque) and item.site else table.site
                reason = item.reason if isinstance(item, _Opaque) else "not an index or constraint"
                self.warn(
                    site,
                    f"cannot verify an index or constraint of table {qname}: {reason}",
                    str(qname),
                )
        return out

    def _column(
        self,
        ctx: _TableContext,
        key: str,
        name: str,
        builder: _ColumnBuilder,
        site: _Site,
        exported_enums: set[int],
    ) -> tuple[Column, str]:
        qname = ctx.qname
        obj = f"{qname}.{name}"
        for method, method_site in builder.unknown_methods:
            self.warn(
                method_site,
                f"cannot verify .{method}() of column {obj}: not a Drizzle modifier ddlguard knows",
                obj,
            )
        sql_type = builder.sql_type
        serial = builder.kind in _SERIAL_TYPES
        if builder.kind == "enum" and builder.enum is not None:
            enum = builder.enum
            if id(enum) not in exported_enums:
                self.warn(
                    site,
                    f"enum {enum.name} used by column {obj} is not exported: drizzle-kit will not "
                    "create the type",
                )
            enum_schema = enum.schema if enum.schema not in (None, "public") else None
            sql_type = _quote_ident(enum.name)
            sql_type = f"{_quote_ident(enum_schema or self.default_schema)}.{sql_type}"
        col_type = "unknown"
        if sql_type is None:
            self.warn(site, f"cannot verify the type of column {obj}: {builder.unverified}", obj)
        else:
            text = sql_type + "[]" * builder.array_dims
            try:
                col_type = type_from_sql(text, self.default_schema)
            except ValueError:
                self.warn(
                    site,
                    f"cannot verify the type of column {obj}: `{text}` is not an SQL type",
                    obj,
                )
                col_type = text.lower()
        if serial and not builder.array_dims:
            col_type = _SERIAL_TYPES[builder.kind]
        default: str | None = None
        if serial and not builder.array_dims:
            seq = _make_object_name(qname.name, name, "seq")
            seq_text = _regclass_ident(seq)
            if qname.schema != self.default_schema:
                seq_text = f"{_regclass_ident(qname.schema)}.{seq_text}"
            default = expression(f"nextval('{seq_text}'::regclass)", col_type)
        if builder.default is not UNDEFINED:
            default_text = self._default_sql(ctx, builder, obj, col_type)
            if default_text is not None:
                default = expression(default_text, col_type)
        generated: str | None = None
        if builder.generated is not None:
            value = builder.generated
            if isinstance(value, _JsFunction):
                value = self.invoke(value, [])
            if isinstance(value, str):
                value = _Sql((value,), builder.site)
            generated_text = ctx.render(value, site, f"the generated expression of column {obj}")
            if generated_text is not None:
                generated = expression(generated_text)
        nullable = not (builder.not_null or builder.primary or serial or builder.identity)
        column = Column(
            name,
            col_type,
            nullable=nullable,
            default=default if builder.identity is None else None,
            identity=builder.identity,
            generated=generated,
            origin=site.origin(),
        )
        return column, col_type

    def _default_sql(
        self, ctx: _TableContext, builder: _ColumnBuilder, obj: str, col_type: str
    ) -> str | None:
        """The DEFAULT drizzle-kit writes for ``.default(value)``."""
        value = builder.default
        site = builder.default_site or builder.site
        if isinstance(value, _Sql):
            return ctx.render(value, site, f"the default of column {obj}")
        opaque = _contains_opaque(value)
        if opaque is not None or not (_is_primitive(value) or isinstance(value, dict | list)):
            shown = builder.default_text or (opaque.reason if opaque is not None else "")
            self.warn(
                site,
                f"cannot verify the default of column {obj}: `{shown}` is computed at run time",
                obj,
            )
            return None
        if value is None or value is UNDEFINED:
            return None  # DEFAULT NULL: PostgreSQL stores no default
        sql_type = (builder.sql_type or "").lower()
        if builder.array_dims:
            sql_type += "[]"
        if isinstance(value, str):
            return "'" + value.replace("'", "''") + "'"
        if sql_type in ("json", "jsonb"):
            return "'" + _json_stringify(value).replace("'", "''") + "'::" + sql_type
        if sql_type.endswith("]") and isinstance(value, list):
            return "'" + _pg_array_literal(value, sql_type.split("[")[0]).replace("'", "''") + "'"
        if isinstance(value, dict | list):
            self.warn(
                site,
                f"cannot verify the default of column {obj}: an object for a {col_type} column",
                obj,
            )
            return None
        return _js_string(value)

    def _fk_action(self, value: Any, site: _Site, obj: str) -> FkAction:
        if value is None or value is UNDEFINED:
            return "a"
        if isinstance(value, str) and value.lower() in _FK_ACTIONS:
            return _FK_ACTIONS[value.lower()]
        self.warn(site, f"cannot verify the ON DELETE/ON UPDATE action of {obj}: {value!r}", obj)
        return "a"

    def _inline_fk(
        self, ctx: _TableContext, key: str, builder: _ColumnBuilder, ref: _Reference
    ) -> Constraint | None:
        name = _truncate(ctx.sql_names[key])
        obj = f"{ctx.qname}.{name}"
        target = ref.target
        if isinstance(target, _JsFunction):
            target = self.invoke(target, [])
        if not isinstance(target, _ColumnRef):
            reason = target.reason if isinstance(target, _Opaque) else "not a column"
            self.warn(
                ref.site,
                f"cannot verify the foreign key of column {obj}: it references {reason}",
                obj,
            )
            return None
        ref_table = target.table
        ref_ctx = ctx.other(ref_table)
        ref_col = ref_ctx.sql_names.get(target.key)
        if ref_col is None:
            self.warn(
                ref.site,
                f"cannot verify the foreign key of column {obj}: {ref_table.name}.{target.key} is not a column",
                obj,
            )
            return None
        fk_name = f"{ctx.table.name}_{name}_{ref_table.name}_{ref_col}_fk"
        return Constraint(
            "f",
            (name,),
            name=_truncate(fk_name),
            ref_table=self._qname(ref_table),
            ref_columns=(_truncate(ref_col),),
            on_delete=self._fk_action(ref.on_delete, ref.site, obj),
            on_update=self._fk_action(ref.on_update, ref.site, obj),
            origin=ref.site.origin(),
        )

    def _config_fk(self, ctx: _TableContext, item: _ConstraintValue) -> Constraint | None:
        cols = ctx.column_names(item.columns, item.site)
        refs = list(item.ref_columns)
        if cols is None:
            return None
        if not refs or not all(isinstance(r, _ColumnRef) for r in refs):
            self.warn(
                item.site,
                f"cannot verify {_label('foreign key', item.name)} of table {ctx.qname}: its "
                "foreignColumns are not columns ddlguard can read",
                str(ctx.qname),
            )
            return None
        ref_table = refs[0].table
        ref_ctx = ctx.other(ref_table)
        ref_cols = ref_ctx.column_names(tuple(refs), item.site)
        if ref_cols is None:
            return None
        name = item.name or (
            f"{ctx.table.name}_{'_'.join(cols)}_{ref_table.name}_{'_'.join(ref_cols)}_fk"
        )
        obj = f"{ctx.qname}.{name}"
        return Constraint(
            "f",
            tuple(cols),
            name=_truncate(name),
            ref_table=self._qname(ref_table),
            ref_columns=tuple(ref_cols),
            on_delete=self._fk_action(item.on_delete, item.site, obj),
            on_update=self._fk_action(item.on_update, item.site, obj),
            origin=item.site.origin(),
        )

    def _index(self, ctx: _TableContext, item: _IndexValue) -> Index | None:
        keys: list[str] = []
        name_parts: list[str] = []
        for col in item.columns:
            if isinstance(col, _ColumnRef) and col.table is ctx.table:
                name = _truncate(ctx.sql_names.get(col.key, col.key))
                name_parts.append(name)
                key = name
                if col.opclass:
                    key += f" {col.opclass}"
                if col.order == "desc":
                    key += " DESC" if col.nulls == "first" else " DESC NULLS LAST"
                elif col.nulls == "first":
                    key += " NULLS FIRST"
                keys.append(key)
            elif isinstance(col, _Sql):
                if item.name is None:
                    self.warn(
                        item.site,
                        f"an index of table {ctx.qname} on an expression has no name: drizzle-kit "
                        "refuses it",
                        str(ctx.qname),
                    )
                    return None
                text = ctx.render(col, item.site, f"index {item.name}")
                if text is None:
                    return None
                expr = expression(text)
                keys.append(expr if _is_identifier(expr) else f"({expr})")
            else:
                reason = col.reason if isinstance(col, _Opaque) else "not a column of this table"
                self.warn(
                    item.site,
                    f"cannot verify {_label('index', item.name)} of table {ctx.qname}: {reason}",
                    str(ctx.qname),
                )
                return None
        name = item.name or f"{ctx.table.name}_{'_'.join(name_parts)}_index"
        where: str | None = None
        if item.where is not None and item.where is not UNDEFINED:
            text = ctx.render(item.where, item.site, f"the WHERE of index {name}")
            if text is None:
                return None
            where = expression(text)
        return Index(
            _truncate(name),
            ctx.qname,
            tuple(keys),
            unique=item.unique,
            method=item.method.lower(),
            where=where,
            origin=item.site.origin(),
        )


class _TableContext:
    """A table being turned into the model: its SQL column names, and SQL rendering."""

    def __init__(
        self, reader: _Reader, table: _TableValue, qname: QName, sql_names: dict[str, str]
    ) -> None:
        self.reader = reader
        self.table = table
        self.qname = qname
        self.sql_names = sql_names

    def other(self, table: _TableValue) -> _TableContext:
        if table is self.table:
            return self
        names = {
            key: self.reader._column_name(key, value)
            for key, value in table.columns.items()
            if isinstance(value, _ColumnBuilder)
        }
        return _TableContext(self.reader, table, self.reader._qname(table), names)

    def column_names(self, refs: Sequence[Any], site: _Site) -> list[str] | None:
        out: list[str] = []
        for ref in refs:
            if isinstance(ref, _ColumnRef) and ref.key in self.other(ref.table).sql_names:
                out.append(_truncate(self.other(ref.table).sql_names[ref.key]))
            else:
                reason = ref.reason if isinstance(ref, _Opaque) else "not a column of the table"
                self.reader.warn(
                    site,
                    f"cannot verify a constraint of table {self.qname}: {reason}",
                    str(self.qname),
                )
                return None
        return out

    def render(self, value: Any, site: _Site, what: str) -> str | None:
        """The SQL text of an ``sql`...``` value, column references unqualified (as PostgreSQL
        stores them), or None with a warning when part of it is computed at run time."""
        try:
            return self._render(value)
        except _Unrenderable as exc:
            self.reader.warn(
                site, f"cannot verify {what} of table {self.qname}: {exc}", str(self.qname)
            )
            return None

    def _render(self, value: Any) -> str:
        if isinstance(value, _Sql):
            return "".join(self._render(p) for p in value.parts)
        if isinstance(value, str):
            return value
        if isinstance(value, _ColumnRef):
            ctx = self.other(value.table)
            name = ctx.sql_names.get(value.key)
            if name is None:
                raise _Unrenderable(f"{value.table.name}.{value.key} is not a column")
            if value.table is self.table:
                return _quote_ident(_truncate(name))
            return f"{_quote_ident(ctx.qname.name)}.{_quote_ident(_truncate(name))}"
        if isinstance(value, _Param):
            return _sql_literal(value.value)
        if isinstance(value, _TableValue):
            q = self.reader._qname(value)
            if q.schema == self.reader.default_schema:
                return _quote_ident(q.name)
            return f"{_quote_ident(q.schema)}.{_quote_ident(q.name)}"
        if isinstance(value, _Opaque):
            raise _Unrenderable(value.reason)
        if isinstance(value, _JsFunction):
            result = self.reader.invoke(value, [])
            return self._render(result)
        raise _Unrenderable(f"{type(value).__name__.lstrip('_')} inside sql`...`")


class _Unrenderable(Exception):
    pass


def _label(kind: str, name: str | None) -> str:
    return f"{kind} {name}" if name else f"a {kind}" if kind[0] not in "aeiou" else f"an {kind}"


def _sql_literal(value: Any) -> str:
    if value is None or value is UNDEFINED:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _js_number(value)
    if isinstance(value, list):
        return "(" + ", ".join(_sql_literal(v) for v in value) + ")"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise _Unrenderable(f"{value!r} inside sql`...`")


def _pg_array_literal(values: list[Any], base_type: str) -> str:
    """drizzle-kit's buildArrayString: the text of an array default."""
    out: list[str] = []
    for value in values:
        if isinstance(value, bool):
            out.append("true" if value else "false")
        elif isinstance(value, int | float):
            out.append(_js_number(value))
        elif isinstance(value, list):
            out.append(_pg_array_literal(value, base_type))
        elif isinstance(value, dict):
            out.append('"' + _json_stringify(value).replace('"', '\\"') + '"')
        else:
            out.append(f'"{_js_string(value)}"')
    return "{" + ",".join(out) + "}"


def _is_identifier(text: str) -> bool:
    return re.fullmatch(r"[a-z_][a-z0-9_$]*", text) is not None


def _referenced_columns(expr: str, table_columns: Sequence[str]) -> tuple[str, ...]:
    """The table's columns an expression refers to, in table order (as pg_constraint.conkey)."""
    try:
        from pglast import parse_sql
        from pglast.visitors import Visitor
    except ImportError:  # pragma: no cover - pglast is a dependency
        return ()

    found: set[str] = set()

    class _Refs(Visitor):
        def visit_ColumnRef(self, ancestors: Any, node: Any) -> None:
            fields = [getattr(f, "sval", None) for f in node.fields or ()]
            if fields and isinstance(fields[-1], str):
                found.add(fields[-1])

    try:
        _Refs()(parse_sql(f"SELECT {expr}"))
    except Exception:
        return ()
    return tuple(c for c in table_columns if c in found)


def _first_error(root: Node) -> Node:
    for node in _walk(root):
        if node.type == "ERROR" or node.is_missing:
            return node
    return root


def _template_parts(node: Node) -> list[tuple[str, Node | None]]:
    """A template literal as (raw text, substitution expression) pairs, in order."""
    data = node.text or b""
    base = node.start_byte
    parts: list[tuple[str, Node | None]] = []
    cursor = base + 1  # after the opening backtick
    for child in node.named_children:
        if child.type != "template_substitution":
            continue
        raw = data[cursor - base : child.start_byte - base].decode("utf-8", "replace")
        inner = [c for c in child.named_children if c.type != "comment"]
        parts.append((raw, inner[0] if inner else None))
        cursor = child.end_byte
    tail = data[cursor - base : node.end_byte - base - 1].decode("utf-8", "replace")
    parts.append((tail, None))
    return parts


def _number(text: str) -> int | float:
    cleaned = text.replace("_", "").rstrip("n")
    lower = cleaned.lower()
    try:
        if lower.startswith("0x"):
            return int(lower, 16)
        if lower.startswith("0o"):
            return int(lower[2:], 8)
        if lower.startswith("0b"):
            return int(lower[2:], 2)
        if re.fullmatch(r"\d+", cleaned):
            return int(cleaned)
        return float(cleaned)
    except ValueError:
        return math.nan


def _name_and_config(args: Sequence[Any]) -> tuple[str | None, dict[str, Any]]:
    """drizzle-orm's getColumnNameAndConfig: ``(name?, config?)``."""
    first = args[0] if args else UNDEFINED
    second = args[1] if len(args) > 1 else UNDEFINED
    name = first if isinstance(first, str) and first else None
    config = first if isinstance(first, dict) else second
    return name, (config if isinstance(config, dict) else {})


def _candidates(base: Path) -> Iterator[Path]:
    text = str(base)
    yield base
    for suffix in (".ts", ".tsx", ".mts", ".cts"):
        yield Path(text + suffix)
    for js, ts in ((".js", ".ts"), (".mjs", ".mts"), (".cjs", ".cts"), (".jsx", ".tsx")):
        if text.endswith(js):
            yield Path(text[: -len(js)] + ts)
    for index in ("index.ts", "index.tsx", "index.mts"):
        yield base / index


def _read_tsconfig_paths(config: Path) -> tuple[Path, list[tuple[str, list[str]]]] | None:
    try:
        text = config.read_text(encoding="utf-8")
    except OSError:
        return None
    # tsconfig.json is JSON with comments and trailing commas.
    text = re.sub(r'("(?:\\.|[^"\\])*")|//[^\n]*|/\*[\s\S]*?\*/', lambda m: m.group(1) or "", text)
    text = re.sub(r",(\s*[}\]])", r"\1", text)
    try:
        options = json.loads(text).get("compilerOptions") or {}
    except (ValueError, AttributeError):
        return None
    paths = options.get("paths") or {}
    base = config.parent / str(options.get("baseUrl") or ".")
    if not isinstance(paths, dict):
        return None
    out = [(str(k), [str(t) for t in v]) for k, v in paths.items() if isinstance(v, list)]
    return base, out
