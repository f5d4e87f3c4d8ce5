"""The corpus's migration chains: which files each project applies, in which order, with which tool.

From ../shared/corpus/README.md ("How each chain is ordered"). A chain is a list of parts; each
part is a glob under the project's folder whose files are sorted by a named order (``ORDERS``);
the chain is the parts one after the other. Down files (``*.down.sql``, ``*_down.sql``,
``down.sql``) are never part of a chain. Files that are not a chain (a schema dump, a fresh-install
script) are a chain of one file.

``tool`` is the project's migration tool as the README names it; ``ddlguard_tool`` is the
``migration-tool`` value that tells ddlguard where the up and down sections are (see
src/ddlguard/sql/transactions.py). ``render`` lists the placeholders the project's migrator
replaces before the SQL runs (regular expression, replacement), so that both PostgreSQL and
ddlguard see the SQL that really runs; no replacement spans or adds a line. ``setup`` is SQL run
once on the fresh database before the chain (what the project's installer does outside its
migrations, such as creating the schema its templates name); it is not checked.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("DDLGUARD_CORPUS_DIR", ROOT.parent / "shared" / "corpus"))

DOWN = r"(?:^|/)(?:down\.sql|[^/]*[._]down\.sql)$"

Key = tuple[Any, ...]


def _by_name(rel: str) -> Key:
    return (rel,)


def _by_number(rel: str) -> Key:
    """The leading number of the file (or folder) name, compared as a number (2 before 10)."""
    base = rel.rsplit("/", 1)[-1]
    found = re.match(r"\D*?(\d+)", base)
    return (int(found.group(1)) if found else -1, rel)


def _by_diesel_version(rel: str) -> Key:
    """Diesel: the folder's version (the name up to the first ``_``) with ``-`` removed, as a
    string (``20170820180453`` and ``2017-08-31-230457`` then compare right)."""
    folder = rel.split("/")[-2]
    return (folder.split("_", 1)[0].replace("-", ""), rel)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text))


def _by_flyway_version(rel: str) -> Key:
    """Flyway: ``V1_9__x.sql`` before ``V1_10__y.sql``; a baseline ``B<v>__`` before ``V<v>``."""
    base = rel.rsplit("/", 1)[-1]
    found = re.match(r"([BV])([0-9._]+?)__", base)
    if found is None:
        return ((), 2, rel)
    return (_version(found.group(2)), 0 if found.group(1) == "B" else 1, rel)


def _by_version_folder(rel: str) -> Key:
    """memos: ``<version>/<NN>__name.sql``, the folder compared as a version (0.9 before 0.19)."""
    parts = rel.split("/")
    return (_version(parts[-2]), parts[-1])


def _synapse_delta(rel: str) -> Key | None:
    """synapse: ``<db>/delta/<v>/<file>`` for v >= 73 (full_schemas/72 holds the earlier ones),
    ``.sql`` and ``.sql.postgres`` only; all three databases' files of one version together,
    sorted by file name (synapse sorts (file name, path))."""
    parts = rel.split("/")
    if len(parts) < 4 or parts[-3] != "delta" or not parts[-2].isdigit():
        return None
    name = parts[-1]
    if int(parts[-2]) < 73 or not (name.endswith(".sql") or name.endswith(".sql.postgres")):
        return None
    return (int(parts[-2]), name, rel)


_DOLPHIN_STEPS = {"dolphinscheduler_ddl.sql": 0, "dolphinscheduler_dml.sql": 1,
                  "dolphinscheduler_ddl_post.sql": 2}


def _dolphin_upgrade(rel: str) -> Key | None:
    """dolphinscheduler: ``upgrade/<x.y.z>_schema/postgresql/``, by version; ddl, dml, ddl_post."""
    parts = rel.split("/")
    step = _DOLPHIN_STEPS.get(parts[-1])
    if step is None:
        return None
    return (_version(parts[-3]), step)


ORDERS: dict[str, Callable[[str], Key | None]] = {
    "name": _by_name,
    "number": _by_number,
    "diesel": _by_diesel_version,
    "flyway": _by_flyway_version,
    "version-folder": _by_version_folder,
    "synapse-delta": _synapse_delta,
    "dolphin-upgrade": _dolphin_upgrade,
}


@dataclass(frozen=True, slots=True)
class Part:
    """Files matching ``pattern`` (a glob under the project folder), minus those whose path
    (relative to the project folder) matches ``exclude``, sorted by ``ORDERS[order]`` (a key of
    None leaves the file out)."""

    pattern: str
    order: str = "name"
    exclude: str = DOWN


@dataclass(frozen=True, slots=True)
class Chain:
    name: str
    folder: str
    tool: str
    ddlguard_tool: str
    parts: tuple[Part, ...]
    render: tuple[tuple[str, str], ...] = ()
    setup: str = ""

    def files(self, corpus: Path | None = None) -> list[Path]:
        """The chain's files in the order the project's tool applies them."""
        base = (corpus or CORPUS) / self.folder
        out: list[Path] = []
        for part in self.parts:
            keyed: list[tuple[Key, Path]] = []
            order = ORDERS[part.order]
            for path in base.glob(part.pattern):
                if not path.is_file():
                    continue
                rel = path.relative_to(base).as_posix()
                if part.exclude and re.search(part.exclude, rel):
                    continue
                key = order(rel)
                if key is not None:
                    keyed.append((key, path))
            out += [p for _, p in sorted(keyed, key=lambda kp: kp[0])]
        return out


# sql-migrate's annotations, for a ddlguard that does not know the tool: the same sections and
# statement blocks, spelled as goose spells them (``-- +migrate Up notransaction`` loses its
# transaction mode, which the suite does not measure).
SQL_MIGRATE_AS_GOOSE: tuple[tuple[str, str], ...] = (
    (r"(?im)^(--[ \t]*\+)migrate([ \t]+)(up|down|statementbegin|statementend)\b[^\r\n]*",
     r"\1goose\2\3"),
)
FALLBACK_TOOLS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "sql-migrate": ("goose", SQL_MIGRATE_AS_GOOSE),
}


def known_tools() -> frozenset[str]:
    """The ``migration-tool`` values this ddlguard accepts."""
    from typing import get_args

    try:
        from ddlguard.config import MigrationTool

        values = get_args(MigrationTool)
        if values:
            return frozenset(str(v) for v in values)
    except ImportError:
        pass
    from ddlguard.sql.transactions import TOOLS

    return frozenset(TOOLS)


def effective_tool(chain: Chain) -> tuple[str, tuple[tuple[str, str], ...], str]:
    """The tool to give ddlguard for a chain, the extra renderings it needs, and a note when
    ddlguard does not know the chain's tool."""
    tools = known_tools()
    if chain.ddlguard_tool in tools:
        return chain.ddlguard_tool, (), ""
    fallback = FALLBACK_TOOLS.get(chain.ddlguard_tool)
    if fallback is not None and fallback[0] in tools:
        tool, render = fallback
        return tool, render, (
            f"ddlguard has no migration-tool {chain.ddlguard_tool!r}: its annotations are "
            f"rewritten to {tool}'s and checked as {tool}"
        )
    return "psql", (), f"ddlguard has no migration-tool {chain.ddlguard_tool!r}: checked as psql"


_PRISMA = "*/migration.sql"
_AUTH_NAMESPACE = (r'\{\{\s*index\s+\.Options\s+"Namespace"\s*\}\}', "auth")
_GRAPHILE_SCHEMA = (r":GRAPHILE_WORKER_SCHEMA\b", "graphile_worker")
_SYNAPSE_PK = (r"\$%AUTO_INCREMENT_PRIMARY_KEY%\$", "BIGINT PRIMARY KEY GENERATED ALWAYS AS IDENTITY")
# dolphinscheduler's ScriptRunner: `delimiter d//` switches the delimiter until a `d//` line.
_DOLPHIN_DELIMITER = (r"(?im)^[ \t]*(?:delimiter[ \t]+)?d//[ \t\r]*$", "")
_SYNAPSE = "synapse/storage/schema"
_DOLPHIN = "dolphinscheduler-dao/src/main/resources/sql"
_RIVER_TEST = "rivermigrate/migration"

CHAINS: tuple[Chain, ...] = (
    Chain("riverqueue/river", "riverqueue__river", "river migrator", "psql",
          (Part("riverdriver/riverpgxv5/migration/main/*.up.sql", "number"),)),
    Chain("riverqueue/river:test-main", "riverqueue__river", "river migrator", "psql",
          (Part(f"{_RIVER_TEST}/main/*.up.sql", "number"),)),
    Chain("riverqueue/river:test-alternate", "riverqueue__river", "river migrator", "psql",
          (Part(f"{_RIVER_TEST}/alternate/*.up.sql", "number"),)),
    Chain("riverqueue/river:test-commit_required", "riverqueue__river", "river migrator", "psql",
          (Part(f"{_RIVER_TEST}/commit_required/*.up.sql", "number"),)),
    Chain("authelia/authelia", "authelia__authelia", "authelia migrator", "psql",
          (Part("internal/storage/migrations/postgres/*.up.sql", "number"),)),
    Chain("concourse/concourse", "concourse__concourse", "golang-migrate style", "golang-migrate",
          (Part("atc/db/migration/migrations/*.up.sql", "number"),)),
    Chain("supabase/auth", "supabase__auth", "gobuffalo/pop", "psql",
          (Part("migrations/*.up.sql", "number"),),
          render=(_AUTH_NAMESPACE,), setup="CREATE SCHEMA auth;"),
    Chain("openfga/openfga", "openfga__openfga", "goose", "goose",
          (Part("assets/migrations/postgres/*.sql", "number"),)),
    Chain("graphile/worker", "graphile__worker", "graphile-worker migrator", "psql",
          (Part("sql/*.sql"),),
          render=(_GRAPHILE_SCHEMA,), setup="CREATE SCHEMA graphile_worker;"),
    Chain("flipt-io/flipt", "flipt-io__flipt", "golang-migrate", "golang-migrate",
          (Part("config/migrations/postgres/*.up.sql", "number"),)),
    Chain("documenso/documenso", "documenso__documenso", "Prisma Migrate", "psql",
          (Part(f"packages/prisma/migrations/{_PRISMA}"),)),
    Chain("triggerdotdev/trigger.dev", "triggerdotdev__trigger.dev", "Prisma Migrate", "psql",
          (Part(f"internal-packages/database/prisma/migrations/{_PRISMA}"),)),
    Chain("getlago/lago-api", "getlago__lago-api", "Rails structure.sql", "psql",
          (Part("db/structure.sql"),)),
    Chain("supabase/storage:multitenant", "supabase__storage", "postgres-migrations style", "psql",
          (Part("migrations/multitenant/*.sql", "number"),)),
    Chain("supabase/storage:tenant", "supabase__storage", "postgres-migrations style", "psql",
          (Part("migrations/tenant/*.sql", "number"),)),
    Chain("harness/gitness", "harness__gitness", "gitness migrator", "psql",
          (Part("app/store/database/migrate/postgres/*up.sql"),)),
    Chain("element-hq/synapse", "element-hq__synapse", "synapse schema upgrader", "psql",
          (Part(f"{_SYNAPSE}/common/schema_version.sql"),
           Part(f"{_SYNAPSE}/common/full_schemas/72/full.sql.postgres"),
           Part(f"{_SYNAPSE}/main/full_schemas/72/full.sql.postgres"),
           Part(f"{_SYNAPSE}/state/full_schemas/72/full.sql.postgres"),
           Part(f"{_SYNAPSE}/*/delta/*/*", "synapse-delta")),
          render=(_SYNAPSE_PK,)),
    Chain("civitai/civitai", "civitai__civitai", "Prisma Migrate (applied by hand)", "psql",
          (Part(f"packages/civitai-db-schema/prisma/migrations/{_PRISMA}"),
           Part("packages/civitai-db-schema/prisma/programmability/*.sql"))),
    Chain("umami-software/umami", "umami-software__umami", "Prisma Migrate", "psql",
          (Part(f"prisma/migrations/{_PRISMA}"),)),
    Chain("rust-lang/crates.io", "rust-lang__crates.io", "Diesel", "psql",
          (Part("migrations/*/up.sql", "diesel"),)),
    Chain("dani-garcia/vaultwarden", "dani-garcia__vaultwarden", "Diesel", "psql",
          (Part("migrations/postgresql/*/up.sql", "diesel"),)),
    Chain("svix/svix-webhooks", "svix__svix-webhooks", "sqlx", "sqlx",
          (Part("server/svix-server/migrations/*.up.sql", "number"),)),
    Chain("atuinsh/atuin", "atuinsh__atuin", "sqlx", "sqlx",
          (Part("crates/atuin-server-postgres/migrations/*.sql", "number"),)),
    Chain("target/goalert", "target__goalert", "sql-migrate", "sql-migrate",
          (Part("migrate/migrations/*.sql", "number"),)),
    Chain("procrastinate-org/procrastinate:schema", "procrastinate-org__procrastinate",
          "procrastinate (fresh install)", "psql", (Part("procrastinate/sql/schema.sql"),)),
    Chain("procrastinate-org/procrastinate:migrations", "procrastinate-org__procrastinate",
          "procrastinate migrations", "psql", (Part("procrastinate/sql/migrations/*.sql"),)),
    Chain("usememos/memos:latest", "usememos__memos", "memos (fresh install)", "psql",
          (Part("store/migration/postgres/LATEST.sql"),)),
    Chain("usememos/memos:upgrades", "usememos__memos", "memos upgrades", "psql",
          (Part("store/migration/postgres/*/*.sql", "version-folder"),)),
    Chain("kestra-io/kestra", "kestra-io__kestra", "Flyway", "flyway",
          (Part("jdbc-postgres/src/main/resources/migrations/postgres/*.sql", "flyway"),)),
    Chain("langfuse/langfuse", "langfuse__langfuse", "Prisma Migrate", "psql",
          (Part(f"packages/shared/prisma/migrations/{_PRISMA}"),)),
    Chain("heroiclabs/nakama", "heroiclabs__nakama", "sql-migrate", "sql-migrate",
          (Part("migrate/sql/*.sql", "number"),)),
    Chain("ente-io/ente", "ente-io__ente", "golang-migrate", "golang-migrate",
          (Part("server/migrations/*.up.sql", "number"),)),
    Chain("eclipse-hawkbit/hawkbit", "eclipse-hawkbit__hawkbit", "Flyway", "flyway",
          (Part("hawkbit-repository/hawkbit-repository-jpa-flyway/src/main/resources/db/migration/"
                "POSTGRESQL/*.sql", "flyway"),)),
    Chain("apache/dolphinscheduler:install", "apache__dolphinscheduler",
          "dolphinscheduler (fresh install)", "psql",
          (Part(f"{_DOLPHIN}/dolphinscheduler_postgresql.sql"),), render=(_DOLPHIN_DELIMITER,)),
    Chain("apache/dolphinscheduler:upgrades", "apache__dolphinscheduler",
          "dolphinscheduler upgrader", "psql",
          (Part(f"{_DOLPHIN}/upgrade/*/postgresql/*.sql", "dolphin-upgrade",
                exclude=r"3\.2\.1_schema/postgresql/dolphinscheduler_ddl_post\.sql$"),),
          render=(_DOLPHIN_DELIMITER,)),
    Chain("knadh/listmonk", "knadh__listmonk", "listmonk installer", "psql",
          (Part("schema.sql"),)),
)

BY_NAME: dict[str, Chain] = {c.name: c for c in CHAINS}

#: What CI runs (tests/test_differential.py): small chains, one per migration tool, with both
#: false alarms and misses today; their figures are in baseline.json.
CI_SAMPLE: tuple[str, ...] = (
    "openfga/openfga",  # goose
    "flipt-io/flipt",  # golang-migrate
    "atuinsh/atuin",  # sqlx
    "heroiclabs/nakama",  # sql-migrate
)


def select(names: str | None) -> list[Chain]:
    """Chains by comma-separated names; a project name (``owner/repo``) selects all its chains."""
    if not names:
        return list(CHAINS)
    out: list[Chain] = []
    for raw in names.split(","):
        name = raw.strip()
        if not name:
            continue
        found = [c for c in CHAINS if c.name == name or c.name.split(":", 1)[0] == name]
        if not found:
            raise KeyError(f"no chain named {name!r}; known: {', '.join(BY_NAME)}")
        out += [c for c in found if c not in out]
    return out
