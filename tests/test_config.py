"""Tests for ddlguard.config: discovery, validation, error messages and file expansion."""

from __future__ import annotations

from pathlib import Path

import pytest

from ddlguard.config import (
    SNAKE_CASE,
    Canonical,
    Config,
    ConfigError,
    Naming,
    find_config,
    load_config,
    naming_regex,
    natural_sort_key,
    read_config,
)


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Work inside tmp_path, so that error messages show short relative file names."""
    monkeypatch.chdir(tmp_path)


def write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def load_toml(tmp_path: Path, text: str, name: str = "ddlguard.toml") -> Config:
    return load_config(write(tmp_path / name, text))


def error_of(tmp_path: Path, text: str, name: str = "ddlguard.toml") -> str:
    with pytest.raises(ConfigError) as info:
        load_toml(tmp_path, text, name)
    return str(info.value)


def outside(found: Path | None, tmp_path: Path) -> bool:
    """True when nothing under tmp_path was found (a folder above it may hold a config)."""
    return found is None or tmp_path not in found.parents


# --- discovery ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("ddlguard.toml", 'default-schema = "app"\n'),
        (".ddlguard.toml", 'default-schema = "app"\n'),
        ("pyproject.toml", '[project]\nname = "x"\n\n[tool.ddlguard]\ndefault-schema = "app"\n'),
    ],
)
def test_each_file_is_found_and_read(tmp_path: Path, name: str, text: str) -> None:
    config_file = write(tmp_path / name, text)
    assert find_config(tmp_path) == config_file
    config = load_config(start=tmp_path)
    assert config.default_schema == "app"
    assert config.path == config_file
    assert config.root == tmp_path


@pytest.mark.parametrize("name", ["ddlguard.toml", ".ddlguard.toml", "pyproject.toml"])
def test_search_goes_upward(tmp_path: Path, name: str) -> None:
    text = "[tool.ddlguard]\n" if name == "pyproject.toml" else ""
    config_file = write(tmp_path / name, text)
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    assert find_config(deep) == config_file
    config = load_config(start=deep)
    assert config.path == config_file
    assert config.root == tmp_path


def test_the_nearest_folder_wins(tmp_path: Path) -> None:
    write(tmp_path / "ddlguard.toml", "pg-version = 16\n")
    nearer = write(tmp_path / "svc" / "pyproject.toml", "[tool.ddlguard]\npg-version = 17\n")
    assert find_config(tmp_path / "svc") == nearer
    assert load_config(start=tmp_path / "svc").pg_version == 17
    assert load_config(start=tmp_path).pg_version == 16


def test_start_may_be_a_file(tmp_path: Path) -> None:
    config_file = write(tmp_path / "ddlguard.toml")
    migration = write(tmp_path / "migrations" / "0001_init.sql", "select 1;")
    assert find_config(migration) == config_file
    assert load_config(start=migration).root == tmp_path


def test_start_is_resolved(tmp_path: Path) -> None:
    config_file = write(tmp_path / "ddlguard.toml")
    (tmp_path / "a" / "b").mkdir(parents=True)
    assert find_config(tmp_path / "a" / "b" / ".." / "..") == config_file


def test_pyproject_without_the_table_is_skipped(tmp_path: Path) -> None:
    config_file = write(tmp_path / "ddlguard.toml", "pg-version = 14\n")
    write(tmp_path / "pkg" / "pyproject.toml", '[project]\nname = "pkg"\n\n[tool.ruff]\n')
    assert find_config(tmp_path / "pkg") == config_file
    assert load_config(start=tmp_path / "pkg").pg_version == 14


def test_pyproject_mentioning_ddlguard_elsewhere_is_skipped(tmp_path: Path) -> None:
    config_file = write(tmp_path / ".ddlguard.toml")
    write(
        tmp_path / "pkg" / "pyproject.toml",
        '# run ddlguard in CI\n[project]\ndependencies = ["ddlguard>=0.1"]\n',
    )
    assert find_config(tmp_path / "pkg") == config_file


def test_pyproject_without_table_and_nothing_above(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n')
    assert outside(find_config(tmp_path), tmp_path)


def test_broken_pyproject_that_is_not_ours_is_skipped(tmp_path: Path) -> None:
    config_file = write(tmp_path / "ddlguard.toml")
    write(tmp_path / "pkg" / "pyproject.toml", "[project\nname = ddlguard\n")
    assert find_config(tmp_path / "pkg") == config_file


def test_broken_pyproject_with_our_table_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.ddlguard]\npg-version = = 15\n")
    with pytest.raises(ConfigError) as info:
        find_config(tmp_path)
    assert str(info.value) == "pyproject.toml:2:14: invalid TOML: Invalid value"


def test_pyproject_table_as_inline_table_counts(tmp_path: Path) -> None:
    config_file = write(tmp_path / "pyproject.toml", "[tool]\nddlguard = { pg-version = 12 }\n")
    assert find_config(tmp_path) == config_file
    assert load_config(start=tmp_path).pg_version == 12


def test_no_config_anywhere_gives_defaults_rooted_at_start(tmp_path: Path) -> None:
    start = tmp_path / "empty"
    start.mkdir()
    config = load_config(start=start)
    assert outside(config.path, tmp_path)
    if config.path is None:  # else a folder above tmp_path holds a config
        assert config.root == start
        assert config.model_dump() == Config().model_dump()


def test_start_defaults_to_the_working_directory(tmp_path: Path) -> None:
    config_file = write(tmp_path / "ddlguard.toml", 'fail-on = "error"\n')
    config = load_config()
    assert config.path == config_file
    assert config.fail_on == "error"


# --- preference order -----------------------------------------------------------------------


def test_ddlguard_toml_is_preferred_over_the_others(tmp_path: Path) -> None:
    preferred = write(tmp_path / "ddlguard.toml", "pg-version = 11\n")
    write(tmp_path / ".ddlguard.toml", "pg-version = 12\n")
    write(tmp_path / "pyproject.toml", "[tool.ddlguard]\npg-version = 13\n")
    assert find_config(tmp_path) == preferred
    assert load_config(start=tmp_path).pg_version == 11


def test_hidden_file_is_preferred_over_pyproject(tmp_path: Path) -> None:
    preferred = write(tmp_path / ".ddlguard.toml", "pg-version = 12\n")
    write(tmp_path / "pyproject.toml", "[tool.ddlguard]\npg-version = 13\n")
    assert find_config(tmp_path) == preferred
    assert load_config(start=tmp_path).pg_version == 12


def test_a_broken_preferred_file_is_not_passed_over(tmp_path: Path) -> None:
    write(tmp_path / "ddlguard.toml", "pg-version = \n")
    write(tmp_path / "pyproject.toml", "[tool.ddlguard]\npg-version = 13\n")
    with pytest.raises(ConfigError, match=r"^ddlguard\.toml:1:14: invalid TOML: "):
        load_config(start=tmp_path)


# --- explicit --config ----------------------------------------------------------------------


def test_explicit_config_wins_over_discovery(tmp_path: Path) -> None:
    write(tmp_path / "ddlguard.toml", "pg-version = 11\n")
    explicit = write(tmp_path / "ci" / "strict.toml", 'fail-on = "info"\npg-version = 16\n')
    config = load_config(explicit, start=tmp_path)
    assert config.pg_version == 16
    assert config.fail_on == "info"
    assert config.path == explicit
    assert config.root == tmp_path / "ci"


def test_explicit_relative_path(tmp_path: Path) -> None:
    write(tmp_path / "conf" / "ddlguard.toml", 'migrations = ["m/*.sql"]\n')
    config = load_config(Path("conf/ddlguard.toml"))
    assert config.path == tmp_path / "conf" / "ddlguard.toml"
    assert config.root == tmp_path / "conf"


def test_explicit_pyproject_reads_tool_table(tmp_path: Path) -> None:
    explicit = write(tmp_path / "pyproject.toml", "[tool.ddlguard]\npg-version = 18\n")
    assert load_config(explicit).pg_version == 18
    assert read_config(explicit).pg_version == 18


def test_explicit_pyproject_without_table_is_an_error(tmp_path: Path) -> None:
    explicit = write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n')
    with pytest.raises(ConfigError) as info:
        load_config(explicit)
    assert str(info.value) == "pyproject.toml: no [tool.ddlguard] table"


@pytest.mark.parametrize("given", ["x.toml", "conf/missing.toml"])
def test_explicit_missing_file(tmp_path: Path, given: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(Path(given))
    assert str(info.value) == f"no such config file: {given}"


def test_explicit_directory_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    with pytest.raises(ConfigError, match=r"^conf: cannot read: "):
        load_config(Path("conf"))


def test_config_file_outside_the_working_directory_is_named_absolutely(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file = write(tmp_path / "ddlguard.toml", "pg-version = 3\n")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    with pytest.raises(ConfigError) as info:
        load_config()
    assert str(info.value) == (
        f"{config_file}: pg-version: expected a PostgreSQL major version from 10 to 18, got 3"
    )


# --- defaults and keys ----------------------------------------------------------------------


def check_defaults(config: Config) -> None:
    assert config.migrations == []
    assert config.canonical is None
    assert config.snapshots == []
    assert config.idempotency == "always"
    assert config.default_schema == "public"
    assert config.pg_version == 15
    assert config.migration_tool == "psql"
    assert config.select == []
    assert config.ignore == []
    assert config.fail_on == "warning"
    assert config.database_url_env == "DATABASE_URL"
    assert config.naming == Naming()
    assert config.naming.table == "snake_case"
    assert config.naming.column == "snake_case"
    for key in ("index", "unique", "foreign_key", "primary_key", "check", "migration_file"):
        assert getattr(config.naming, key) is None


def test_defaults_without_a_file() -> None:
    check_defaults(Config())


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("ddlguard.toml", ""),
        (".ddlguard.toml", "[naming]\n"),
        ("pyproject.toml", "[tool.ddlguard]\n"),
        ("pyproject.toml", "[tool.ddlguard.naming]\n"),
    ],
)
def test_defaults_from_an_empty_file(tmp_path: Path, name: str, text: str) -> None:
    check_defaults(load_toml(tmp_path, text, name))


def test_every_kebab_case_key(tmp_path: Path) -> None:
    config = load_toml(
        tmp_path,
        """
migrations = ["migrations/*.sql", "extra/0100_fix.sql"]
canonical = "shared/schema.ts"
snapshots = ["migrations/PRODUCTION_DEPLOYMENT.sql"]
idempotency = "outside-transaction"
default-schema = "app"
pg-version = 16
migration-tool = "golang-migrate"
select = ["N", "S101"]
ignore = ["I102"]
fail-on = "error"
database-url-env = "PG_URL"

[naming]
table = "^[a-z]+$"
column = "snake_case"
index = "^idx_{table}_{columns}$"
unique = "^{table}_{columns}_key$"
foreign-key = "^{table}_{columns}_fkey$"
primary-key = "^{table}_pkey$"
check = "^{table}_{columns}_check$"
migration-file = '^\\d{4}_[a-z0-9_]+\\.sql$'
""",
    )
    assert config.migrations == ["migrations/*.sql", "extra/0100_fix.sql"]
    assert config.canonical == Canonical(kind="drizzle", path="shared/schema.ts")
    assert config.snapshots == ["migrations/PRODUCTION_DEPLOYMENT.sql"]
    assert config.idempotency == "outside-transaction"
    assert config.default_schema == "app"
    assert config.pg_version == 16
    assert config.migration_tool == "golang-migrate"
    assert config.select == ["N", "S101"]
    assert config.ignore == ["I102"]
    assert config.fail_on == "error"
    assert config.database_url_env == "PG_URL"
    assert config.naming == Naming(
        table="^[a-z]+$",
        column="snake_case",
        index="^idx_{table}_{columns}$",
        unique="^{table}_{columns}_key$",
        foreign_key="^{table}_{columns}_fkey$",
        primary_key="^{table}_pkey$",
        check="^{table}_{columns}_check$",
        migration_file=r"^\d{4}_[a-z0-9_]+\.sql$",
    )


def test_pyproject_naming_table(tmp_path: Path) -> None:
    config = load_toml(
        tmp_path,
        '[tool.ddlguard]\npg-version = 14\n\n[tool.ddlguard.naming]\nforeign-key = "^fk_"\n',
        "pyproject.toml",
    )
    assert config.pg_version == 14
    assert config.naming.foreign_key == "^fk_"


@pytest.mark.parametrize("tool", ["psql", "goose", "dbmate", "flyway", "sqlx", "drizzle"])
def test_migration_tools(tmp_path: Path, tool: str) -> None:
    assert load_toml(tmp_path, f'migration-tool = "{tool}"\n').migration_tool == tool


@pytest.mark.parametrize("version", [10, 13, 18])
def test_supported_pg_versions(tmp_path: Path, version: int) -> None:
    assert load_toml(tmp_path, f"pg-version = {version}\n").pg_version == version


def test_python_code_may_use_field_names_or_aliases() -> None:
    by_name = Config(pg_version=16, fail_on="error", naming=Naming(foreign_key="^fk_"))
    by_alias = Config.model_validate(
        {"pg-version": 16, "fail-on": "error", "naming": {"foreign-key": "^fk_"}}
    )
    assert by_name == by_alias
    assert by_name.naming.foreign_key == "^fk_"


def test_model_dump_by_alias_round_trips() -> None:
    config = Config(pg_version=17, canonical=Canonical(kind="sql", path="db/schema.sql"))
    dumped = config.model_dump(by_alias=True, exclude={"canonical"})
    assert dumped["pg-version"] == 17
    assert dumped["naming"]["foreign-key"] is None
    assert Config.model_validate(dumped).pg_version == 17


def test_naming_false_turns_a_check_off(tmp_path: Path) -> None:
    config = load_toml(tmp_path, "[naming]\ntable = false\ncolumn = false\nindex = false\n")
    assert config.naming.table is None
    assert config.naming.column is None
    assert config.naming.index is None
    assert config.naming.regex("table") is None


# --- canonical ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"shared/schema.ts"', Canonical(kind="drizzle", path="shared/schema.ts")),
        ('"shared/schema"', Canonical(kind="drizzle", path="shared/schema")),
        ('"src/db/"', Canonical(kind="drizzle", path="src/db/")),
        ('"db/schema.sql"', Canonical(kind="sql", path="db/schema.sql")),
        ('"db/SCHEMA.SQL"', Canonical(kind="sql", path="db/SCHEMA.SQL")),
        ('{ drizzle = "db/tables.ts" }', Canonical(kind="drizzle", path="db/tables.ts")),
        ('{ drizzle = "db/schema.js" }', Canonical(kind="drizzle", path="db/schema.js")),
        ('{ sql = "schema.psql" }', Canonical(kind="sql", path="schema.psql")),
        ('{ database-url-env = "PROD_URL" }', Canonical(kind="database", env="PROD_URL")),
    ],
)
def test_canonical_forms(tmp_path: Path, value: str, expected: Canonical) -> None:
    assert load_toml(tmp_path, f"canonical = {value}\n").canonical == expected


def test_canonical_as_a_table_section(tmp_path: Path) -> None:
    config = load_toml(tmp_path, '[canonical]\nsql = "db/schema.sql"\n')
    assert config.canonical == Canonical(kind="sql", path="db/schema.sql")


def test_canonical_from_python() -> None:
    parsed = Config.model_validate({"canonical": "db/schema.sql"})
    assert parsed.canonical == Canonical(kind="sql", path="db/schema.sql")
    given = Canonical(kind="database", env="X")
    assert Config(canonical=given).canonical is given


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            '"db/schema.prisma"',
            'canonical: cannot tell the kind of "db/schema.prisma": expected a .ts file or a '
            'folder (Drizzle) or a .sql file; otherwise write { drizzle = "..." } or '
            '{ sql = "..." }',
        ),
        ('""', 'canonical: expected a path, got ""'),
        (
            "5",
            "canonical: expected a path or a table with one of the keys drizzle, sql, "
            "database-url-env, got 5",
        ),
        ('{ prisma = "x" }', 'canonical: unknown key "prisma"'),
        (
            '{ drizzle = "a.ts", sql = "b.sql" }',
            "canonical: expected exactly one of the keys drizzle, sql, database-url-env, "
            "got drizzle, sql",
        ),
        (
            "{}",
            "canonical: expected exactly one of the keys drizzle, sql, database-url-env, "
            "got an empty table",
        ),
        ("{ drizzle = 5 }", "canonical.drizzle: expected a string, got 5"),
        ('{ sql = "" }', "canonical.sql: expected a non-empty string"),
        ("{ database-url-env = [] }", "canonical.database-url-env: expected a string, got []"),
    ],
)
def test_canonical_errors(tmp_path: Path, value: str, message: str) -> None:
    assert error_of(tmp_path, f"canonical = {value}\n") == f"ddlguard.toml: {message}"


def test_canonical_model_checks_its_fields() -> None:
    with pytest.raises(ValueError, match="needs env"):
        Canonical(kind="database")
    with pytest.raises(ValueError, match="needs path"):
        Canonical(kind="sql", env="X")


# --- unknown keys ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("ddlguard.toml", "migration = []\n", 'ddlguard.toml: unknown key "migration"'),
        (".ddlguard.toml", "rules = 1\n", '.ddlguard.toml: unknown key "rules"'),
        (
            "pyproject.toml",
            '[tool.ddlguard]\nmigration = ["m/*.sql"]\n',
            'pyproject.toml: [tool.ddlguard] unknown key "migration"',
        ),
        ("ddlguard.toml", 'root = "elsewhere"\n', 'ddlguard.toml: unknown key "root"'),
        ("ddlguard.toml", 'path = "elsewhere"\n', 'ddlguard.toml: unknown key "path"'),
        (
            "ddlguard.toml",
            "[tool.ddlguard]\npg-version = 15\n",
            'ddlguard.toml: unknown key "tool"',
        ),
    ],
)
def test_unknown_top_level_key(tmp_path: Path, name: str, text: str, message: str) -> None:
    assert error_of(tmp_path, text, name) == message


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("ddlguard.toml", '[naming]\nidx = "x"\n', 'ddlguard.toml: [naming] unknown key "idx"'),
        (
            "ddlguard.toml",
            'naming = { sequence = "x" }\n',
            'ddlguard.toml: [naming] unknown key "sequence"',
        ),
        (
            "pyproject.toml",
            '[tool.ddlguard.naming]\nforeign-keys = "x"\n',
            'pyproject.toml: [tool.ddlguard.naming] unknown key "foreign-keys"',
        ),
    ],
)
def test_unknown_naming_key(tmp_path: Path, name: str, text: str, message: str) -> None:
    assert error_of(tmp_path, text, name) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'default_schema = "app"\n',
            'ddlguard.toml: unknown key "default_schema" (did you mean "default-schema"?)',
        ),
        (
            "pg_version = 16\n",
            'ddlguard.toml: unknown key "pg_version" (did you mean "pg-version"?)',
        ),
        (
            '[naming]\nforeign_key = "x"\n',
            'ddlguard.toml: [naming] unknown key "foreign_key" (did you mean "foreign-key"?)',
        ),
    ],
)
def test_snake_case_keys_are_not_accepted_from_toml(
    tmp_path: Path, text: str, message: str
) -> None:
    assert error_of(tmp_path, text) == message


def test_several_errors_are_all_named(tmp_path: Path) -> None:
    message = error_of(
        tmp_path,
        'migration = []\npg-version = "16"\n[naming]\nidx = 1\nindex = "["\n',
    )
    assert message == (
        "ddlguard.toml: "
        'pg-version: expected an integer, got "16"; '
        "naming.index: invalid regular expression: unterminated character set at position 0; "
        '[naming] unknown key "idx"; '
        'unknown key "migration"'
    )
    assert "\n" not in message


# --- wrong types ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('pg-version = "fifteen"', 'pg-version: expected an integer, got "fifteen"'),
        ('pg-version = "15"', 'pg-version: expected an integer, got "15"'),
        ("pg-version = 15.0", "pg-version: expected an integer, got 15.0"),
        ("pg-version = true", "pg-version: expected an integer, got true"),
        ("pg-version = 9", "pg-version: expected a PostgreSQL major version from 10 to 18, got 9"),
        (
            "pg-version = 19",
            "pg-version: expected a PostgreSQL major version from 10 to 18, got 19",
        ),
        (
            'migrations = "migrations/*.sql"',
            'migrations: expected an array, got "migrations/*.sql"',
        ),
        ('migrations = ["a.sql", 2]', "migrations[1]: expected a string, got 2"),
        ('migrations = ["a.sql", ""]', 'migrations: expected file names or globs, got ""'),
        ("snapshots = [[1]]", "snapshots[0]: expected a string, got [1]"),
        ("select = 5", "select: expected an array, got 5"),
        ("ignore = [true]", "ignore[0]: expected a string, got true"),
        ("default-schema = 1", "default-schema: expected a string, got 1"),
        ('default-schema = ""', "default-schema: expected a non-empty string"),
        ("database-url-env = { a = 1 }", "database-url-env: expected a string, got { a = 1 }"),
        (
            'idempotency = "sometimes"',
            'idempotency: expected one of "always", "outside-transaction", "off", got "sometimes"',
        ),
        ('fail-on = "fatal"', 'fail-on: expected one of "error", "warning", "info", got "fatal"'),
        ('fail-on = "Error"', 'fail-on: expected one of "error", "warning", "info", got "Error"'),
        (
            'migration-tool = "alembic"',
            'migration-tool: expected one of "psql", "goose", "dbmate", "flyway", '
            '"golang-migrate", "sqlx", "node-pg-migrate", "drizzle", got "alembic"',
        ),
        ('naming = "snake_case"', 'naming: expected a table, got "snake_case"'),
        ("[naming]\ntable = 1", "naming.table: expected a string, got 1"),
        ("[naming]\nindex = true", "naming.index: expected a string, got true"),
    ],
)
def test_wrong_types(tmp_path: Path, text: str, message: str) -> None:
    assert error_of(tmp_path, text + "\n") == f"ddlguard.toml: {message}"


def test_wrong_type_in_pyproject_names_the_full_key(tmp_path: Path) -> None:
    message = error_of(
        tmp_path,
        '[tool.ddlguard]\npg-version = "x"\n[tool.ddlguard.naming]\nindex = "("\n',
        "pyproject.toml",
    )
    assert message == (
        'pyproject.toml: tool.ddlguard.pg-version: expected an integer, got "x"; '
        "tool.ddlguard.naming.index: invalid regular expression: missing ), unterminated "
        "subpattern at position 0"
    )


def test_tool_ddlguard_must_be_a_table(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[tool]\nddlguard = "on"\n', "pyproject.toml")
    assert message == 'pyproject.toml: [tool.ddlguard]: expected a table, got "on"'


def test_long_values_are_shortened(tmp_path: Path) -> None:
    message = error_of(tmp_path, f'pg-version = "{"x" * 100}"\n')
    assert message == f'ddlguard.toml: pg-version: expected an integer, got "{"x" * 56}...'


# --- naming patterns ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "pattern", "error"),
    [
        ("index", "^idx_[a", "unterminated character set at position 5"),
        ("unique", "^{table}_(", "missing ), unterminated subpattern at position 9"),
        ("foreign-key", "^fk_**$", "multiple repeat at position 5"),
        ("check", "(?P<x", "missing >, unterminated name at position 4"),
        ("migration-file", r"^\d{4}_[a-z+\.sql$", "unterminated character set at position 7"),
    ],
)
def test_invalid_regex(tmp_path: Path, key: str, pattern: str, error: str) -> None:
    message = error_of(tmp_path, f"[naming]\n{key} = '{pattern}'\n")
    assert message == f"ddlguard.toml: naming.{key}: invalid regular expression: {error}"


@pytest.mark.parametrize(
    ("pattern", "placeholder"),
    [("^idx_{table}_{column}$", "{column}"), ("^{tbl}_pkey$", "{tbl}")],
)
def test_unknown_placeholder(tmp_path: Path, pattern: str, placeholder: str) -> None:
    message = error_of(tmp_path, f'[naming]\nindex = "{pattern}"\n')
    assert message == (
        f"ddlguard.toml: naming.index: unknown placeholder {placeholder} "
        "(use {table} or {columns})"
    )


@pytest.mark.parametrize(
    "pattern",
    [
        "snake_case",
        "^idx_{table}_{columns}$",
        "^[{table}]$",
        r"^\d{4}_[a-z0-9_]+\.sql$",
        "^x{2,3}$",
        r"^\{literal\}$",
    ],
)
def test_valid_patterns(tmp_path: Path, pattern: str) -> None:
    assert load_toml(tmp_path, f"[naming]\nindex = '{pattern}'\n").naming.index == pattern


def test_naming_regex_fills_placeholders_literally() -> None:
    regex = naming_regex("^idx_{table}_{columns}$", table="orders", columns=["user_id", "day"])
    assert regex.pattern == "^idx_orders_user_id_day$"
    assert regex.search("idx_orders_user_id_day")
    assert naming_regex("^{table}_pkey$", table="a.b").search("a.b_pkey")
    assert not naming_regex("^{table}_pkey$", table="a.b").search("axb_pkey")


def test_naming_regex_presets() -> None:
    assert naming_regex("snake_case").pattern == SNAKE_CASE
    snake = Naming().regex("table")
    assert snake is not None
    assert snake.search("user_accounts2")
    assert not snake.search("user__accounts")
    assert not snake.search("_user_accounts")
    assert not snake.search("user_accounts_")
    assert not snake.search("UserAccounts")
    assert not snake.search("2fa")


def test_naming_regex_method() -> None:
    naming = Naming(foreign_key="^{table}_{columns}_fkey$")
    regex = naming.regex("foreign_key", table="orders", columns=["customer_id"])
    assert regex is not None
    assert regex.search("orders_customer_id_fkey")
    assert naming.regex("index") is None


# --- invalid TOML ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'pg-version = 15\nmigrations = ["a.sql"\nfail-on = "error"\n',
            "3:1: invalid TOML: Unclosed array",
        ),
        ("a = 1\nb = \n", "2:5: invalid TOML: Invalid value"),
        ("a = 1\na = 2\n", "2:6: invalid TOML: Cannot overwrite a value"),
        ("[naming\n", "1:8: invalid TOML: Expected ']' at the end of a table declaration"),
        ("\n\npg-version 15\n", "3:12: invalid TOML: Expected '=' after a key in a key/value pair"),
        ('x = "abc', "1:9: invalid TOML: Unterminated string"),
    ],
)
def test_invalid_toml_names_line_and_column(tmp_path: Path, text: str, message: str) -> None:
    assert error_of(tmp_path, text) == f"ddlguard.toml:{message}"


def test_invalid_toml_in_pyproject(tmp_path: Path) -> None:
    message = error_of(tmp_path, "[tool.ddlguard]\nselect = [\n", "pyproject.toml")
    assert message == "pyproject.toml:3:1: invalid TOML: Invalid value"


def test_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "ddlguard.toml").write_bytes(b"pg-version = 15\n# caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_config(start=tmp_path)
    assert str(info.value) == "ddlguard.toml: invalid TOML: not UTF-8 (byte 0xe9 at offset 21)"


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "ddlguard.toml").write_bytes(b"\xef\xbb\xbfpg-version = 17\n")
    assert load_config(start=tmp_path).pg_version == 17


# --- migration and snapshot files -----------------------------------------------------------


def test_glob_expands_in_natural_order(tmp_path: Path) -> None:
    for name in ["10_x.sql", "2_x.sql", "1_x.sql", "100_x.sql", "20_a.sql", "notes.txt"]:
        write(tmp_path / "migrations" / name)
    config = load_toml(tmp_path, 'migrations = ["migrations/*.sql"]\n')
    files, unmatched = config.migration_files()
    names = [path.name for path in files]
    assert names == ["1_x.sql", "2_x.sql", "10_x.sql", "20_a.sql", "100_x.sql"]
    assert unmatched == []
    assert all(path.is_absolute() for path in files)


def test_natural_order_with_zero_padding_and_dates(tmp_path: Path) -> None:
    for name in ["0002_b.sql", "0010_c.sql", "0001_a.sql", "20240102_x.sql", "20231231_y.sql"]:
        write(tmp_path / "m" / name)
    config = Config(migrations=["m/*.sql"]).with_location(tmp_path)
    names = [path.name for path in config.migration_files()[0]]
    assert names == ["0001_a.sql", "0002_b.sql", "0010_c.sql", "20231231_y.sql", "20240102_x.sql"]


def test_natural_order_is_case_insensitive(tmp_path: Path) -> None:
    for name in ["b_x.sql", "A_x.sql", "a2_x.sql", "B1_x.sql", "a10_x.sql", "C_x.sql"]:
        write(tmp_path / "m" / name)
    config = Config(migrations=["m/*.sql"]).with_location(tmp_path)
    names = [path.name for path in config.migration_files()[0]]
    assert names == ["a2_x.sql", "a10_x.sql", "A_x.sql", "B1_x.sql", "b_x.sql", "C_x.sql"]


def test_names_equal_but_for_case_sort_upper_case_first(tmp_path: Path) -> None:
    for name in ["init.sql", "Init.sql", "INIT.sql"]:
        write(tmp_path / "m" / name)
    if len(list((tmp_path / "m").iterdir())) < 3:
        pytest.skip("the file system folds case")
    config = Config(migrations=["m/*.sql"]).with_location(tmp_path)
    names = [path.name for path in config.migration_files()[0]]
    assert names == ["INIT.sql", "Init.sql", "init.sql"]


def test_natural_sort_key() -> None:
    names = ["x10", "x2", "X1", "x1", "y", "x"]
    assert sorted(names, key=natural_sort_key) == ["x", "X1", "x1", "x2", "x10", "y"]
    assert natural_sort_key("v2_init.sql") < natural_sort_key("V10_more.sql")


def test_recursive_glob_sorts_by_whole_path(tmp_path: Path) -> None:
    for name in ["10/b.sql", "2/a.sql", "2/c.sql", "1/z.sql"]:
        write(tmp_path / "db" / name)
    config = Config(migrations=["db/**/*.sql"]).with_location(tmp_path)
    files, _ = config.migration_files()
    assert [path.relative_to(tmp_path / "db").as_posix() for path in files] == [
        "1/z.sql",
        "2/a.sql",
        "2/c.sql",
        "10/b.sql",
    ]


def test_patterns_keep_their_order_and_duplicates_are_dropped(tmp_path: Path) -> None:
    for name in ["1_a.sql", "2_b.sql", "3_c.sql"]:
        write(tmp_path / "m" / name)
    config = Config(migrations=["m/3_c.sql", "m/*.sql", "m/1_a.sql", "./m/2_b.sql"]).with_location(
        tmp_path
    )
    files, unmatched = config.migration_files()
    assert files == [tmp_path / "m" / name for name in ["3_c.sql", "1_a.sql", "2_b.sql"]]
    assert unmatched == []


def test_overlapping_globs_list_each_file_once(tmp_path: Path) -> None:
    for name in ["1_a.sql", "2_b.sql", "10_fix.sql"]:
        write(tmp_path / "m" / name)
    config = Config(migrations=["m/*_fix.sql", "m/*.sql", "m/*.sql"]).with_location(tmp_path)
    files, _ = config.migration_files()
    assert [path.name for path in files] == ["10_fix.sql", "1_a.sql", "2_b.sql"]


def test_unmatched_patterns_are_returned(tmp_path: Path) -> None:
    write(tmp_path / "m" / "1_a.sql")
    config = Config(
        migrations=["m/*.sql", "missing/*.sql", "m/nope.sql", "m/[0-9]_b.sql"]
    ).with_location(tmp_path)
    files, unmatched = config.migration_files()
    assert files == [tmp_path / "m" / "1_a.sql"]
    assert unmatched == ["missing/*.sql", "m/nope.sql", "m/[0-9]_b.sql"]


def test_no_migrations_configured(tmp_path: Path) -> None:
    assert Config().with_location(tmp_path).migration_files() == ([], [])
    assert Config().with_location(tmp_path).snapshot_files() == ([], [])


def test_a_folder_means_its_sql_files(tmp_path: Path) -> None:
    for name in ["10_b.sql", "9_a.sql", "README.md"]:
        write(tmp_path / "m" / name)
    (tmp_path / "empty").mkdir()
    config = Config(migrations=["m", "empty"]).with_location(tmp_path)
    files, unmatched = config.migration_files()
    assert [path.name for path in files] == ["9_a.sql", "10_b.sql"]
    assert unmatched == ["empty"]


def test_globs_do_not_match_folders(tmp_path: Path) -> None:
    write(tmp_path / "m" / "1_a.sql")
    (tmp_path / "m" / "old.sql").mkdir()
    config = Config(migrations=["m/*.sql"]).with_location(tmp_path)
    assert [path.name for path in config.migration_files()[0]] == ["1_a.sql"]


def test_absolute_patterns(tmp_path: Path) -> None:
    write(tmp_path / "abs" / "2.sql")
    write(tmp_path / "abs" / "1.sql")
    config = Config(migrations=[f"{tmp_path}/abs/*.sql"]).with_location(tmp_path / "elsewhere")
    assert config.migration_files()[0] == [tmp_path / "abs" / "1.sql", tmp_path / "abs" / "2.sql"]


def test_paths_are_relative_to_the_config_file_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        tmp_path / "repo" / "ddlguard.toml",
        'migrations = ["db/*.sql"]\ncanonical = "db/schema.sql"\n',
    )
    write(tmp_path / "repo" / "db" / "1_init.sql")
    (tmp_path / "repo" / "deep" / "er").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "repo" / "deep" / "er")
    config = load_config()
    assert config.migration_files() == ([tmp_path / "repo" / "db" / "1_init.sql"], [])
    assert config.canonical_path() == tmp_path / "repo" / "db" / "schema.sql"


def test_snapshot_files(tmp_path: Path) -> None:
    write(tmp_path / "migrations" / "PRODUCTION_DEPLOYMENT.sql")
    write(tmp_path / "migrations" / "snap_10.sql")
    write(tmp_path / "migrations" / "snap_9.sql")
    config = load_toml(
        tmp_path,
        'snapshots = ["migrations/PRODUCTION_DEPLOYMENT.sql", "migrations/snap_*.sql", "gone.sql"]\n',
    )
    files, unmatched = config.snapshot_files()
    assert [path.name for path in files] == [
        "PRODUCTION_DEPLOYMENT.sql",
        "snap_9.sql",
        "snap_10.sql",
    ]
    assert unmatched == ["gone.sql"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"shared/schema.ts"', "repo/shared/schema.ts"),
        ('{ sql = "../db/schema.sql" }', "db/schema.sql"),
        ('"./src/db/"', "repo/src/db"),
    ],
)
def test_canonical_path(tmp_path: Path, value: str, expected: str) -> None:
    config = load_config(write(tmp_path / "repo" / "ddlguard.toml", f"canonical = {value}\n"))
    assert config.canonical_path() == tmp_path / expected


def test_canonical_path_is_none_without_a_file(tmp_path: Path) -> None:
    assert Config().canonical_path() is None
    config = load_toml(tmp_path, 'canonical = { database-url-env = "DATABASE_URL" }\n')
    assert config.canonical_path() is None


def test_with_location_returns_a_placed_copy(tmp_path: Path) -> None:
    config = Config(pg_version=16)
    placed = config.with_location(tmp_path, tmp_path / "ddlguard.toml")
    assert placed.root == tmp_path
    assert placed.path == tmp_path / "ddlguard.toml"
    assert placed.pg_version == 16
    assert config.path is None
    assert config.root == Path.cwd()
