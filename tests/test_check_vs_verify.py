"""The static idempotency rules and PostgreSQL agree: on a generated corpus of migration sets that
mix guarded and unguarded statements, the statements `check` flags are exactly those that
`verify` sees fail (or destroy data) on a second run.

Needs the PostgreSQL server binaries; skips outside CI when they are missing, fails in CI.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from ddlguard.checker import Checker
from ddlguard.configfile import Settings
from ddlguard.postgres.server import find_binary, temporary_cluster
from ddlguard.postgres.verify import verify
from ddlguard.sql.source import SqlFile, load

if not (find_binary("initdb") and find_binary("pg_ctl")):
    if os.environ.get("CI"):
        raise RuntimeError(
            "CI must run the PostgreSQL tests: initdb/pg_ctl not found (see .ci/run)"
        )
    pytest.skip(
        "PostgreSQL server binaries (initdb, pg_ctl) are not installed", allow_module_level=True
    )

STATIC_RERUN = {  # static codes that mean "fails or destroys data on a second run"
    "I101",
    "I102",
    "I103",
    "I104",
    "I105",
    "I106",
    "I107",
    "I201",
    "I202",
    "I203",
    "I301",
    "I302",
    "I303",
    "I304",
    "I401",
    "I402",
    "I403",
    "I404",
    "I405",
    "I406",
    "I407",
    "I408",
    "I601",
    "I701",
}


def _maybe(rnd: random.Random, guarded: str, bare: str) -> str:
    return guarded if rnd.random() < 0.5 else bare


def generate(seed: int) -> list[str]:
    """One migration set: each statement written either safely or the way hand-written
    migrations often are."""
    rnd = random.Random(seed)
    t = f"t{seed}"
    files = [
        _maybe(
            rnd,
            f"CREATE TABLE IF NOT EXISTS {t} (id int PRIMARY KEY, a text, b int);",
            f"CREATE TABLE {t} (id int PRIMARY KEY, a text, b int);",
        ),
    ]
    body: list[str] = []
    body.append(
        _maybe(
            rnd,
            f"ALTER TABLE {t} ADD COLUMN IF NOT EXISTS c text;",
            f"ALTER TABLE {t} ADD COLUMN c text;",
        )
    )
    body.append(
        _maybe(
            rnd,
            f"CREATE INDEX IF NOT EXISTS idx_{t}_a ON {t} (a);",
            f"CREATE INDEX idx_{t}_a ON {t} (a);",
        )
    )
    body.append(
        _maybe(
            rnd,
            f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'st{seed}') THEN CREATE TYPE st{seed} AS ENUM ('a'); END IF; END $$;",
            f"CREATE TYPE st{seed} AS ENUM ('a');",
        )
    )
    body.append(
        _maybe(
            rnd,
            f"ALTER TYPE st{seed} ADD VALUE IF NOT EXISTS 'b';",
            f"ALTER TYPE st{seed} ADD VALUE 'b';",
        )
    )
    body.append(
        _maybe(
            rnd,
            f"ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {t}_b_check;\nALTER TABLE {t} ADD CONSTRAINT {t}_b_check CHECK (b > 0);",
            f"ALTER TABLE {t} ADD CONSTRAINT {t}_b_check CHECK (b > 0);",
        )
    )
    body.append(
        _maybe(
            rnd,
            f"DO $$ BEGIN IF EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = '{t}' AND column_name = 'a') THEN ALTER TABLE {t} RENAME COLUMN a TO a2; END IF; END $$;",
            f"ALTER TABLE {t} RENAME COLUMN a TO a2;",
        )
    )
    body.append(
        _maybe(
            rnd,
            f"CREATE OR REPLACE VIEW v{seed} AS SELECT id FROM {t};",
            f"CREATE VIEW v{seed} AS SELECT id FROM {t};",
        )
    )
    body.append(
        _maybe(
            rnd,
            f"CREATE OR REPLACE FUNCTION f{seed}() RETURNS int LANGUAGE sql AS 'SELECT 1';",
            f"CREATE FUNCTION f{seed}() RETURNS int LANGUAGE sql AS 'SELECT 1';",
        )
    )
    body.append(_maybe(rnd, f"CREATE SEQUENCE IF NOT EXISTS s{seed};", f"CREATE SEQUENCE s{seed};"))
    body.append(
        _maybe(
            rnd,
            f"INSERT INTO {t} (id, b) VALUES (1, 5) ON CONFLICT DO NOTHING;",
            f"INSERT INTO {t} (id, b) VALUES (1, 5);",
        )
    )
    body.append(
        _maybe(rnd, f"ALTER TABLE {t} DROP COLUMN IF EXISTS c;", f"ALTER TABLE {t} DROP COLUMN c;")
    )
    if rnd.random() < 0.3:
        body.append(
            f"DROP TABLE IF EXISTS scratch{seed};\nCREATE TABLE scratch{seed} (id int);\nINSERT INTO scratch{seed} VALUES (1);"
        )
    rnd.shuffle(body[2:5])  # keep the type created before its ADD VALUE, mostly
    files.append("\n".join(body) + "\n")
    return files


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with temporary_cluster() as c:
        yield f"postgresql://{c.user}@/postgres?host={c.socket_dir}&port={c.port}"


def _load(tmp: Path, texts: list[str]) -> list[SqlFile]:
    files = []
    for i, text in enumerate(texts):
        p = tmp / f"{i:04d}.sql"
        p.write_text(text, encoding="utf-8")
        loaded = load(p, tmp)
        assert isinstance(loaded, SqlFile)
        files.append(loaded)
    return files


SEEDS = range(int(os.environ.get("DDLGUARD_CHECK_VS_VERIFY", "60")))


def test_check_and_verify_agree(server: str, tmp_path: Path) -> None:
    disagreements: list[str] = []
    flagged = 0
    for seed in SEEDS:
        folder = tmp_path / str(seed)
        folder.mkdir()
        files = _load(folder, generate(seed))
        checker = Checker(Settings(root=folder), cwd=folder)
        static: set[tuple[str, int]] = set()
        for f in files:
            for finding in checker.check_file(f.path).findings:
                if finding.code in STATIC_RERUN:
                    static.add((finding.path, finding.line))
        found, _, _ = verify(files, database_url=server)
        assert not [x for x in found if x.code == "I803"], [x.message for x in found]
        dynamic = {(x.path, x.line) for x in found if x.code in ("I801", "I802")}
        flagged += len(static)
        if static != dynamic:
            disagreements.append(
                f"seed {seed}: only check {sorted(static - dynamic)}, only verify {sorted(dynamic - static)}"
            )
    assert flagged > 100  # the corpus really mixes unsafe statements in
    assert disagreements == [], "\n".join(disagreements[:10])
