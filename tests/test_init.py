"""Tests for ``ddlguard init``: detection on realistic repository layouts, and writing the config."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest

from ddlguard.config import Config, load_config
from ddlguard.init import Detection, InitError, detect, render_config, write_config

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "ucr-manager"

TABLE = "CREATE TABLE IF NOT EXISTS {name} (id bigint PRIMARY KEY);\n"


@pytest.fixture(autouse=True)
def _no_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DDLGUARD_NO_CACHE", "1")


def write(root: Path, rel: str, text: str = "") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def tables(*names: str) -> str:
    return "".join(TABLE.format(name=name) for name in names)


def init(root: Path, **kwargs: Any) -> tuple[Path, str, dict[str, Any], Config]:
    """Run init, then read the file back: path, text, parsed TOML and the validated config."""
    path = write_config(root, **kwargs)
    text = path.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    config = load_config(path)  # every generated config must validate
    return path, text, data, config


def expanded(config: Config) -> list[str]:
    files, unmatched = config.migration_files()
    assert unmatched == []
    return [path.relative_to(config.root).as_posix() for path in files]


def comment_above(text: str, key: str) -> str:
    """The comment block right above the line that sets ``key``."""
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(f"{key} ="))
    block: list[str] = []
    for line in reversed(lines[:index]):
        if not line.startswith("#"):
            break
        block.append(line.lstrip("# "))
    return " ".join(reversed(block))


def no_temp_files(root: Path) -> None:
    assert not [p.name for p in root.iterdir() if "ddlguard-tmp" in p.name]


# --- the example from the seed --------------------------------------------------------------------


@pytest.fixture
def ucr(tmp_path: Path) -> Path:
    root = tmp_path / "ucr-manager"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".ddlguard_cache"))
    (root / "ddlguard.toml").unlink()
    return root


def test_ucr_manager(ucr: Path) -> None:
    path, text, data, config = init(ucr)
    assert path == ucr / "ddlguard.toml"
    assert set(data) == {
        "migrations",
        "canonical",
        "snapshots",
        "migration-tool",
        "idempotency",
        "naming",
    }
    # Numbered migrations by glob, then the uppercase and unnumbered scripts one by one, in the
    # order the README's psql commands run them.
    assert data["migrations"] == [
        "migrations/[0-9]*.sql",
        "migrations/FIX_PRODUCTION_SCHEMA.sql",
        "migrations/ADD_PHONE_NUMBER_INVENTORY.sql",
        "migrations/add_country_codes.sql",
    ]
    assert expanded(config) == [
        "migrations/0001_customer_tenants.sql",
        "migrations/0002_tenant_3cx_credentials.sql",
        "migrations/0003_tenant_powershell_credentials.sql",
        "migrations/0004_phone_number_inventory.sql",
        "migrations/0005_country_codes.sql",
        "migrations/0006_connectwise_integration.sql",
        "migrations/FIX_PRODUCTION_SCHEMA.sql",
        "migrations/ADD_PHONE_NUMBER_INVENTORY.sql",
        "migrations/add_country_codes.sql",
    ]
    assert data["canonical"] == {"drizzle": "shared/schema.ts"}
    assert data["snapshots"] == ["migrations/PRODUCTION_DEPLOYMENT.sql"]
    assert data["migration-tool"] == "psql"
    assert data["idempotency"] == "always"
    assert data["naming"] == {"migration-file": r"^\d{4}_[a-z0-9_]+\.sql$"}
    assert config.canonical is not None and config.canonical.kind == "drizzle"

    why = comment_above(text, "migrations")
    assert "6 .sql files in migrations/ named 0001_... (4-digit versions" in why
    assert "without a version number" in why
    assert "must be confirmed by a person" in why
    assert "README.md (lines 30-32)" in why
    assert "PRODUCTION_DEPLOYMENT.sql, a full-schema script" in why
    assert "# no version number: a person must confirm the order of these" in text
    assert "shared/schema.ts: a Drizzle schema" in comment_above(text, "canonical")
    assert "creates 6 tables" in comment_above(text, "snapshots")
    assert "No migration tool found" in comment_above(text, "migration-tool")
    assert "6 of 9 migration files" in text
    assert "FIX_PRODUCTION_SCHEMA.sql" in comment_above(text, "migration-file")
    assert "# pg-version = 15" in text
    no_temp_files(ucr)


def test_ucr_manager_detection(ucr: Path) -> None:
    detection = detect(ucr)
    assert detection.to_confirm == [
        "migrations/FIX_PRODUCTION_SCHEMA.sql",
        "migrations/ADD_PHONE_NUMBER_INVENTORY.sql",
        "migrations/add_country_codes.sql",
    ]
    assert detection.excluded == {"migrations/PRODUCTION_DEPLOYMENT.sql": "snapshot"}
    assert detection.migration_files[0] == "migrations/0001_customer_tenants.sql"
    assert detection.tool_found is False
    summary = "\n".join(detection.summary())
    assert "9 files in migrations/" in summary
    assert "confirm their order" in summary


def test_unnumbered_order_from_the_files_own_comments(ucr: Path) -> None:
    (ucr / "README.md").unlink()  # no documented order: the header comments give a partial one
    detection = detect(ucr)
    # add_country_codes.sql says "run after ADD_PHONE_NUMBER_INVENTORY.sql".
    assert detection.to_confirm == [
        "migrations/ADD_PHONE_NUMBER_INVENTORY.sql",
        "migrations/add_country_codes.sql",
        "migrations/FIX_PRODUCTION_SCHEMA.sql",
    ]
    why = comment_above(render_config(detection), "migrations")
    assert "add_country_codes.sql says to run it after ADD_PHONE_NUMBER_INVENTORY.sql" in why
    assert "must be confirmed by a person" in why


# --- migration tools ---------------------------------------------------------------------------------

GOOSE = """-- +goose Up
{up}
-- +goose Down
DROP TABLE IF EXISTS {name};
"""


def test_goose(tmp_path: Path) -> None:
    write(
        tmp_path,
        "go.mod",
        "module example.com/app\n\nrequire github.com/pressly/goose/v3 v3.20.0\n",
    )
    for number, name in enumerate(["users", "orders", "payments"], start=1):
        write(
            tmp_path,
            f"db/migrations/{number:05d}_create_{name}.sql",
            GOOSE.format(up=tables(name), name=name),
        )
    write(tmp_path, "db/migrations/00004_backfill.go", "package migrations\n")
    _, text, data, config = init(tmp_path)
    assert data["migrations"] == ["db/migrations/*.sql"]
    assert expanded(config) == [
        "db/migrations/00001_create_users.sql",
        "db/migrations/00002_create_orders.sql",
        "db/migrations/00003_create_payments.sql",
    ]
    assert data["migration-tool"] == "goose"
    tool = comment_above(text, "migration-tool")
    assert "3 migrations in db/migrations/ have a -- +goose Up marker" in tool
    assert "go.mod requires github.com/pressly/goose" in tool
    assert "NO TRANSACTION" in tool
    assert "down section" in tool
    assert data["naming"] == {"migration-file": r"^\d{5}_[a-z0-9_]+\.sql$"}
    assert "all 3 migration files are named this way" in comment_above(text, "migration-file")
    assert "(00004_backfill.go): ddlguard reads SQL only" in comment_above(text, "migrations")
    assert "canonical" not in data
    assert "No canonical schema found" in text
    assert "# canonical = { drizzle =" in text


def test_dbmate_with_schema_dump(tmp_path: Path) -> None:
    names = [
        "20240105093000_create_users.sql",
        "20240210120000_add_email.sql",
        "20240301080000_create_orders.sql",
    ]
    for name in names:
        write(
            tmp_path,
            f"db/migrations/{name}",
            f"-- migrate:up\n{tables('t_' + name[15:-4])}\n-- migrate:down\nSELECT 1;\n",
        )
    write(tmp_path, "db/schema.sql", "SET statement_timeout = 0;\n" + tables("users", "orders"))
    write(tmp_path, "docker-compose.yml", "services:\n  db:\n    image: postgres:16-alpine\n")
    _, text, data, config = init(tmp_path)
    assert data["migrations"] == ["db/migrations/*.sql"]
    assert expanded(config) == [f"db/migrations/{name}" for name in names]
    assert data["migration-tool"] == "dbmate"
    assert "-- migrate:up marker" in comment_above(text, "migration-tool")
    assert data["canonical"] == {"sql": "db/schema.sql"}
    assert "dbmate writes it after each migration" in comment_above(text, "canonical")
    assert data["pg-version"] == 16
    assert "docker-compose.yml" in comment_above(text, "pg-version")
    assert data["naming"] == {"migration-file": r"^\d{14}_[a-z0-9_]+\.sql$"}
    assert "14-digit timestamp versions" in comment_above(text, "migrations")


def test_flyway(tmp_path: Path) -> None:
    folder = "src/main/resources/db/migration"
    for name in ["V1__create_users.sql", "V2__create_orders.sql", "V10__add_index.sql"]:
        write(tmp_path, f"{folder}/{name}", tables(name.split("__")[1][:-4]))
    write(tmp_path, f"{folder}/R__refresh_views.sql", "CREATE OR REPLACE VIEW v AS SELECT 1;\n")
    write(tmp_path, f"{folder}/U2__drop_orders.sql", "DROP TABLE orders;\n")
    write(tmp_path, "pom.xml", "<project><artifactId>flyway-core</artifactId></project>\n")
    _, text, data, config = init(tmp_path)
    assert data["migrations"] == [f"{folder}/V*.sql", f"{folder}/R__*.sql"]
    assert expanded(config) == [
        f"{folder}/V1__create_users.sql",
        f"{folder}/V2__create_orders.sql",
        f"{folder}/V10__add_index.sql",
        f"{folder}/R__refresh_views.sql",
    ]
    assert data["migration-tool"] == "flyway"
    tool = comment_above(text, "migration-tool")
    assert "named V<version>__<description>.sql" in tool and "pom.xml uses Flyway" in tool
    why = comment_above(text, "migrations")
    assert "Flyway versions" in why and "repeatable migration" in why
    assert "1 down migration (U*__*.sql, Flyway undo migrations)" in why
    assert data["naming"] == {"migration-file": r"^(?:V\d+(?:[._]\d+)*|R)__[a-z0-9_]+\.sql$"}


def test_flyway_dotted_versions_are_listed_one_by_one(tmp_path: Path) -> None:
    # A glob sorts V1_1__ before V1__ (natural sort); Flyway applies 1 before 1.1.
    for name in ["V1__init.sql", "V1_1__fix.sql", "V2__more.sql"]:
        write(tmp_path, f"db/migration/{name}", tables("t" + name[1]))
    _, text, data, config = init(tmp_path)
    order = ["db/migration/V1__init.sql", "db/migration/V1_1__fix.sql", "db/migration/V2__more.sql"]
    assert data["migrations"] == order
    assert expanded(config) == order
    assert "no glob sorts them the same way" in comment_above(text, "migrations")
    assert data["migration-tool"] == "flyway"


def test_golang_migrate_up_and_down(tmp_path: Path) -> None:
    write(
        tmp_path,
        "go.mod",
        "module x\n\nrequire (\n\tgithub.com/golang-migrate/migrate/v4 v4.17.0\n)\n",
    )
    for number, name in enumerate(["create_users", "create_orders"], start=1):
        write(tmp_path, f"migrations/{number:06d}_{name}.up.sql", tables(name[7:]))
        write(tmp_path, f"migrations/{number:06d}_{name}.down.sql", f"DROP TABLE {name[7:]};\n")
    detection = detect(tmp_path)
    assert detection.excluded == {
        "migrations/000001_create_users.down.sql": "down migration",
        "migrations/000002_create_orders.down.sql": "down migration",
    }
    _, text, data, config = init(tmp_path)
    assert data["migrations"] == ["migrations/*.up.sql"]
    assert expanded(config) == [
        "migrations/000001_create_users.up.sql",
        "migrations/000002_create_orders.up.sql",
    ]
    assert "Left out: 2 down migrations (*.down.sql)" in comment_above(text, "migrations")
    assert data["migration-tool"] == "golang-migrate"
    assert "go.mod requires github.com/golang-migrate/migrate" in comment_above(
        text, "migration-tool"
    )
    assert data["naming"] == {"migration-file": r"^\d{6}_[a-z0-9_]+\.up\.sql$"}


def test_sqlx_reversible(tmp_path: Path) -> None:
    write(tmp_path, "Cargo.toml", '[package]\nname = "app"\n\n[dependencies]\nsqlx = "0.8"\n')
    write(tmp_path, "migrations/20240101000000_users.up.sql", tables("users"))
    write(tmp_path, "migrations/20240101000000_users.down.sql", "DROP TABLE users;\n")
    _, text, data, _ = init(tmp_path)
    assert data["migration-tool"] == "sqlx"
    assert "Cargo.toml depends on sqlx" in comment_above(text, "migration-tool")
    assert data["migrations"] == ["migrations/*.up.sql"]


def test_node_pg_migrate(tmp_path: Path) -> None:
    write(tmp_path, "package.json", json.dumps({"devDependencies": {"node-pg-migrate": "^7.0.0"}}))
    for stamp, name in [(1700000000000, "create-users"), (1700000100000, "create-orders")]:
        write(
            tmp_path,
            f"migrations/{stamp}_{name}.sql",
            f"-- Up Migration\n{tables(name[7:])}-- Down Migration\n",
        )
    _, text, data, _ = init(tmp_path)
    assert data["migration-tool"] == "node-pg-migrate"
    assert "package.json depends on node-pg-migrate" in comment_above(text, "migration-tool")
    assert data["naming"] == {"migration-file": r"^\d{13}_[a-z0-9-]+\.sql$"}


DRIZZLE_SCHEMA = """import { pgTable, text, uuid } from 'drizzle-orm/pg-core';

export const users = pgTable('users', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull(),
});
"""


def test_drizzle_kit_output(tmp_path: Path) -> None:
    write(
        tmp_path,
        "package.json",
        json.dumps(
            {
                "dependencies": {"drizzle-orm": "^0.36.0"},
                "devDependencies": {"drizzle-kit": "^0.28.0"},
            }
        ),
    )
    write(
        tmp_path,
        "drizzle.config.ts",
        """import { defineConfig } from 'drizzle-kit';
// schema: './old/schema.ts' is gone
export default defineConfig({
  out: './drizzle',
  schema: './src/db/schema.ts',
  dialect: 'postgresql',
});
""",
    )
    write(tmp_path, "src/db/schema.ts", DRIZZLE_SCHEMA)
    tags = ["0000_brave_hulk", "0001_silly_wolverine", "0002_quick_storm"]
    for tag in tags:
        write(
            tmp_path,
            f"drizzle/{tag}.sql",
            'CREATE TABLE "x" ("id" uuid);\n--> statement-breakpoint\nSELECT 1;\n',
        )
    write(
        tmp_path,
        "drizzle/meta/_journal.json",
        json.dumps(
            {
                "version": "7",
                "dialect": "postgresql",
                "entries": [
                    {"idx": i, "tag": tag, "when": 1700000000000 + i} for i, tag in enumerate(tags)
                ],
            }
        ),
    )
    write(tmp_path, "drizzle/meta/0000_snapshot.json", "{}")
    _, text, data, config = init(tmp_path)
    assert data["migrations"] == ["drizzle/*.sql"]
    assert expanded(config) == [f"drizzle/{tag}.sql" for tag in tags]
    assert "in the order of meta/_journal.json" in comment_above(text, "migrations")
    assert data["canonical"] == {"drizzle": "src/db/schema.ts"}
    assert "drizzle.config.ts has schema: './src/db/schema.ts'" in comment_above(text, "canonical")
    assert data["migration-tool"] == "drizzle"
    tool = comment_above(text, "migration-tool")
    assert "drizzle/meta/_journal.json is drizzle-kit's migration journal" in tool
    assert "package.json depends on drizzle-kit" in tool
    assert data["naming"] == {"migration-file": r"^\d{4}_[a-z0-9_]+\.sql$"}


def test_drizzle_journal_order_wins_and_unjournaled_files_are_left_out(tmp_path: Path) -> None:
    write(tmp_path, "drizzle/0000_a.sql", tables("a"))
    write(tmp_path, "drizzle/0001_b.sql", tables("b"))
    write(tmp_path, "drizzle/0002_stray.sql", tables("c"))
    write(
        tmp_path,
        "drizzle/meta/_journal.json",
        json.dumps({"entries": [{"idx": 0, "tag": "0000_a"}, {"idx": 1, "tag": "0001_b"}]}),
    )
    detection = detect(tmp_path)
    assert detection.migrations == ["drizzle/0000_a.sql", "drizzle/0001_b.sql"]
    assert "drizzle/0002_stray.sql" in detection.excluded
    text = render_config(detection)
    assert "not in meta/_journal.json" in text
    assert detection.migration_tool == "drizzle"


def test_drizzle_config_with_a_schema_folder_glob(tmp_path: Path) -> None:
    write(
        tmp_path,
        "drizzle.config.ts",
        "export default { schema: './src/db/schema/*', dialect: 'postgresql' };\n",
    )
    write(tmp_path, "src/db/schema/users.ts", DRIZZLE_SCHEMA)
    write(tmp_path, "src/db/schema/orders.ts", DRIZZLE_SCHEMA.replace("users", "orders"))
    _, _, data, config = init(tmp_path)
    assert data["canonical"] == {"drizzle": "src/db/schema"}
    assert config.canonical_path() == tmp_path.resolve() / "src/db/schema"


def test_drizzle_config_for_another_dialect_is_not_used(tmp_path: Path) -> None:
    write(
        tmp_path,
        "drizzle.config.ts",
        "export default { schema: './schema.ts', dialect: 'sqlite' };\n",
    )
    write(tmp_path, "schema.ts", "import { sqliteTable } from 'drizzle-orm/sqlite-core';\n")
    _, text, data, _ = init(tmp_path)
    assert "canonical" not in data
    assert "dialect: 'sqlite'" in text


def test_prisma_layout(tmp_path: Path) -> None:
    for name in ["20240101000000_init", "20240202000000_add_orders"]:
        write(tmp_path, f"prisma/migrations/{name}/migration.sql", tables(name[15:]))
    write(tmp_path, "prisma/migrations/migration_lock.toml", 'provider = "postgresql"\n')
    _, text, data, config = init(tmp_path)
    assert data["migrations"] == ["prisma/migrations/*/migration.sql"]
    assert expanded(config) == [
        "prisma/migrations/20240101000000_init/migration.sql",
        "prisma/migrations/20240202000000_add_orders/migration.sql",
    ]
    assert "naming" not in data
    assert "sub-folders with fixed file names" in text


def test_supabase_with_pg_version(tmp_path: Path) -> None:
    write(tmp_path, "supabase/config.toml", "[db]\nport = 54322\nmajor_version = 15\n")
    write(tmp_path, "supabase/migrations/20240101000000_init.sql", tables("profiles"))
    write(tmp_path, "supabase/seed.sql", "INSERT INTO profiles VALUES (1);\n")
    _, text, data, _ = init(tmp_path)
    assert data["migrations"] == ["supabase/migrations/*.sql"]
    assert data["pg-version"] == 15
    assert "supabase/config.toml" in comment_above(text, "pg-version")


# --- canonical schema and snapshots ----------------------------------------------------------------


def test_sql_schema_and_snapshots_outside_the_migrations(tmp_path: Path) -> None:
    write(tmp_path, "schema.sql", tables("users", "orders", "items"))
    write(tmp_path, "migrations/001_users.sql", tables("users"))
    write(tmp_path, "migrations/002_orders.sql", tables("orders"))
    write(tmp_path, "migrations/003_items.sql", tables("items"))
    write(tmp_path, "deploy/full_schema.sql", tables("users", "orders", "items"))
    write(tmp_path, "docker/init.sql", tables("users"))  # named like one, but one table only
    _, text, data, config = init(tmp_path)
    assert data["canonical"] == {"sql": "schema.sql"}
    assert "schema.sql: a SQL schema file" in comment_above(text, "canonical")
    assert data["migrations"] == ["migrations/*.sql"]
    assert expanded(config) == [
        "migrations/001_users.sql",
        "migrations/002_orders.sql",
        "migrations/003_items.sql",
    ]
    assert data["snapshots"] == ["deploy/full_schema.sql"]
    assert "creates 3 tables" in comment_above(text, "snapshots")
    assert "docker/init.sql is named like a snapshot but creates only 1 table" in text
    assert data["naming"] == {"migration-file": r"^\d{3}_[a-z0-9_]+\.sql$"}


def test_drizzle_schema_preferred_over_sql_schema(tmp_path: Path) -> None:
    write(tmp_path, "db/schema.ts", DRIZZLE_SCHEMA)
    write(tmp_path, "db/schema.sql", tables("users"))
    _, text, data, _ = init(tmp_path)
    assert data["canonical"] == {"drizzle": "db/schema.ts"}
    assert "db/schema.sql was also found" in text


def test_a_schema_ts_that_is_not_drizzle_is_ignored(tmp_path: Path) -> None:
    write(
        tmp_path,
        "src/db/schema.ts",
        "import { z } from 'zod';\nexport const user = z.object({});\n",
    )
    assert detect(tmp_path).canonical is None


def test_numbered_baseline_is_a_migration_not_a_snapshot(tmp_path: Path) -> None:
    write(tmp_path, "migrations/0000_full_schema.sql", tables("a", "b", "c", "d"))
    write(tmp_path, "migrations/0001_more.sql", tables("e"))
    detection = detect(tmp_path)
    assert detection.snapshots == []
    assert detection.migration_files == [
        "migrations/0000_full_schema.sql",
        "migrations/0001_more.sql",
    ]


# --- folders and order -----------------------------------------------------------------------------


def test_natural_order_and_vendored_folders(tmp_path: Path) -> None:
    for number in (1, 2, 10):
        write(tmp_path, f"sql/migrations/{number}_step.sql", tables(f"t{number}"))
    write(tmp_path, "node_modules/pkg/migrations/001_x.sql", tables("x"))
    write(tmp_path, "tests/fixtures/migrations/001_x.sql", tables("x"))
    _, text, data, config = init(tmp_path)
    assert data["migrations"] == ["sql/migrations/*.sql"]
    assert expanded(config) == [
        "sql/migrations/1_step.sql",
        "sql/migrations/2_step.sql",
        "sql/migrations/10_step.sql",
    ]
    assert "natural sort: 2 before 10" in text
    assert "Also found" not in text
    assert data["naming"] == {"migration-file": r"^\d+_[a-z0-9_]+\.sql$"}


def test_several_migration_folders(tmp_path: Path) -> None:
    for number in range(1, 4):
        write(tmp_path, f"db/migrations/{number:03d}_a.sql", tables(f"a{number}"))
    write(tmp_path, "services/billing/migrations/001_b.sql", tables("b"))
    _, text, data, _ = init(tmp_path)
    assert data["migrations"] == ["db/migrations/*.sql"]
    assert "Also found SQL that looks like migrations in services/billing/migrations/" in text


def test_unnumbered_only_folder(tmp_path: Path) -> None:
    write(tmp_path, "migrations/create_users.sql", tables("users"))
    write(tmp_path, "migrations/add_orders.sql", tables("orders"))
    _, text, data, _ = init(tmp_path)
    assert data["migrations"] == ["migrations/add_orders.sql", "migrations/create_users.sql"]
    why = comment_above(text, "migrations")
    assert "in name order" in why and "must be confirmed by a person" in why
    assert "naming" not in data


def test_code_only_migrations_are_explained(tmp_path: Path) -> None:
    write(tmp_path, "migrations/20240101_create_users.js", "exports.up = () => {};\n")
    _, text, data, _ = init(tmp_path)
    assert data == {}
    assert "migrations/ holds migrations written in code, not SQL" in text


# --- an empty repository ---------------------------------------------------------------------------


def test_empty_repository(tmp_path: Path) -> None:
    path, text, data, config = init(tmp_path)
    assert data == {}  # everything commented out
    assert config.migrations == [] and config.canonical is None
    assert "Nothing was found to configure: every key below is commented out" in text
    assert "No migrations found" in text
    assert '# migrations = ["migrations/*.sql"]' in text
    assert "No canonical schema found" in text
    assert '# canonical = { drizzle = "src/db/schema.ts" }' in text
    assert "No snapshot found" in text
    assert "No migration tool found" in text
    assert '# migration-tool = "psql"' in text
    assert "# [naming]" in text
    assert "# migration-file = " in text
    # the commented-out examples are themselves a valid config once uncommented
    uncommented = "\n".join(
        line[2:]
        for line in text.splitlines()
        if line.startswith(
            (
                "# migrations =",
                "# canonical = { drizzle",
                "# snapshots =",
                "# migration-tool =",
                "# idempotency =",
                "# pg-version =",
            )
        )
    )
    assert Config.model_validate(tomllib.loads(uncommented), context={"toml": True})
    assert path.name == "ddlguard.toml"


# --- writing ---------------------------------------------------------------------------------------


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    write(tmp_path, "migrations/0001_a.sql", tables("a"))
    existing = write(tmp_path, "ddlguard.toml", "# mine\n")
    with pytest.raises(InitError) as info:
        write_config(tmp_path)
    message = str(info.value)
    assert "ddlguard.toml already exists" in message and "--force" in message
    assert "\n" not in message
    assert existing.read_text(encoding="utf-8") == "# mine\n"
    _, _, data, _ = init(tmp_path, force=True)
    assert data["migrations"] == ["migrations/*.sql"]
    no_temp_files(tmp_path)


def test_refuses_when_another_config_exists(tmp_path: Path) -> None:
    write(tmp_path, ".ddlguard.toml", "")
    with pytest.raises(InitError, match=r"\.ddlguard\.toml already configures ddlguard"):
        write_config(tmp_path)
    assert write_config(tmp_path, force=True) == tmp_path / "ddlguard.toml"


PYPROJECT = """[project]
name = "app"   # keep this comment
version = "1.0"

[tool.ruff]
line-length = 100
"""


def test_pyproject_appends_and_keeps_the_file(tmp_path: Path) -> None:
    write(tmp_path, "migrations/0001_a.sql", tables("a"))
    write(tmp_path, "migrations/0002_b.sql", tables("b"))
    pyproject = write(tmp_path, "pyproject.toml", PYPROJECT)
    before = pyproject.read_bytes()
    path, text, data, config = init(tmp_path, pyproject=True)
    assert path == pyproject
    after = pyproject.read_bytes()
    assert after.startswith(before)
    assert "[tool.ddlguard]" in text and "[tool.ddlguard.naming]" in text
    table = data["tool"]["ddlguard"]
    assert table["migrations"] == ["migrations/*.sql"]
    assert table["naming"] == {"migration-file": r"^\d{4}_[a-z0-9_]+\.sql$"}
    assert data["tool"]["ruff"] == {"line-length": 100}
    assert config.path == pyproject.resolve()
    assert expanded(config) == ["migrations/0001_a.sql", "migrations/0002_b.sql"]
    assert load_config(start=tmp_path).path == pyproject.resolve()  # found by discovery too
    assert not (tmp_path / "ddlguard.toml").exists()

    # A second run refuses; --force replaces the table and keeps everything else.
    with pytest.raises(InitError, match=r"already has a \[tool\.ddlguard\] table; use --force"):
        write_config(tmp_path, pyproject=True)
    assert pyproject.read_bytes() == after
    write(tmp_path, "migrations/0003_c.sql", tables("c"))
    _, text2, data2, config2 = init(tmp_path, pyproject=True, force=True)
    assert text2.startswith(before.decode())
    assert text2.count("[tool.ddlguard]") == 1
    assert text2.count("written by `ddlguard init`") == 1
    assert data2["project"] == {"name": "app", "version": "1.0"}
    assert expanded(config2)[-1] == "migrations/0003_c.sql"
    no_temp_files(tmp_path)


def test_pyproject_without_final_newline_and_empty_detection(tmp_path: Path) -> None:
    pyproject = write(tmp_path, "pyproject.toml", '[project]\nname = "app"')
    _, text, data, config = init(tmp_path, pyproject=True)
    assert text.startswith('[project]\nname = "app"\n')
    assert data["tool"] == {"ddlguard": {}}
    assert config.migrations == []
    assert pyproject.read_text(encoding="utf-8").count("[tool.ddlguard]") == 1


def test_pyproject_force_replaces_a_table_with_subtables(tmp_path: Path) -> None:
    write(
        tmp_path,
        "pyproject.toml",
        PYPROJECT + '\n[tool.ddlguard]\nmigrations = ["old/*.sql"]\n'
        "\n[tool.ddlguard.naming]\ntable = false\n\n# black's settings\n[tool.black]\n"
        "line-length = 88\n",
    )
    _, text, data, _ = init(tmp_path, pyproject=True, force=True)
    assert "# black's settings\n[tool.black]\n" in text
    assert "old/*.sql" not in text and "table = false" not in text
    assert data["tool"]["ddlguard"] == {}
    assert data["tool"]["black"] == {"line-length": 88}
    assert data["tool"]["ruff"] == {"line-length": 100}


def test_pyproject_inline_table_cannot_be_replaced(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool]\nddlguard = { migrations = ["x.sql"] }\n')
    with pytest.raises(InitError, match="remove them by hand"):
        write_config(tmp_path, pyproject=True, force=True)


def test_pyproject_refusals(tmp_path: Path) -> None:
    with pytest.raises(InitError, match="no such file; run without --pyproject"):
        write_config(tmp_path, pyproject=True)
    write(tmp_path, "pyproject.toml", "[project\n")
    with pytest.raises(InitError, match="invalid TOML"):
        write_config(tmp_path, pyproject=True)
    write(tmp_path, "pyproject.toml", PYPROJECT)
    write(tmp_path, "ddlguard.toml", "")
    with pytest.raises(InitError, match=r"takes precedence over pyproject\.toml"):
        write_config(tmp_path, pyproject=True)


def test_pyproject_crlf_is_kept(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_bytes(PYPROJECT.replace("\n", "\r\n").encode())
    before = pyproject.read_bytes()
    init(tmp_path, pyproject=True)
    after = pyproject.read_bytes()
    assert after.startswith(before)
    assert b"\n" not in after.replace(b"\r\n", b"")


def test_render_is_deterministic_and_write_uses_a_given_detection(ucr: Path) -> None:
    detection = detect(ucr)
    assert render_config(detection) == render_config(detect(ucr))
    path = write_config(ucr, detection=detection)
    assert path.read_text(encoding="utf-8") == render_config(detection)


def test_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(InitError, match="not a folder"):
        write_config(tmp_path / "missing")


def test_detection_is_plain_data(tmp_path: Path) -> None:
    detection = detect(tmp_path)
    assert isinstance(detection, Detection)
    assert detection.root == tmp_path.resolve()
    assert detection.migration_tool == "psql" and not detection.tool_found


def test_init_through_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`ddlguard init` writes a config that `check` and `drift` then use as is."""
    import shutil

    from ddlguard.cli import main

    repo = tmp_path / "ucr-manager"
    example = Path(__file__).resolve().parents[1] / "examples" / "ucr-manager"
    shutil.copytree(
        example, repo, ignore=shutil.ignore_patterns(".ddlguard_cache", "ddlguard.toml")
    )
    monkeypatch.chdir(repo)
    monkeypatch.setenv("DDLGUARD_NO_CACHE", "1")
    assert main(["init", "--stdout"]) == 0
    printed = capsys.readouterr().out
    assert 'canonical = { drizzle = "shared/schema.ts" }' in printed
    assert not (repo / "ddlguard.toml").exists()
    assert main(["init"]) == 0
    out = capsys.readouterr().out
    assert "wrote ddlguard.toml" in out
    assert (repo / "ddlguard.toml").read_text() == printed
    assert main(["init"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["drift", "-q"]) == 1
    assert "D203" in capsys.readouterr().out
    assert main(["init", "--force"]) == 0
