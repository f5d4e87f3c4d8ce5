"""The differential suite (tests/differential/): ddlguard's answers against a real PostgreSQL.

A tiny synthetic chain whose answer is known proves the harness; a sample of real corpus chains
(``CI_SAMPLE``: small, one per migration tool) must reach at least the precision and recall
recorded in tests/differential/baseline.json (a ratchet: raise the figures there when ddlguard
gets better, with ``.venv/bin/python bench/differential.py --write-baseline``). The whole corpus
is ``bench/differential.py`` (bench/README.md).

Needs the PostgreSQL server binaries (initdb, pg_ctl): outside CI the database tests skip when
they are missing; in CI (CI=true) they fail instead. The corpus tests skip when ../shared/corpus
is absent (``DDLGUARD_CORPUS_DIR`` names another place).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from ddlguard.postgres.server import find_binary
from differential.chains import BY_NAME, CHAINS, CI_SAMPLE, CORPUS, Chain, Part
from differential.harness import ChainResult, Counts, run_chain

BASELINE = Path(__file__).parent / "differential" / "baseline.json"
HAS_SERVER = bool(find_binary("initdb") and find_binary("pg_ctl"))
if not HAS_SERVER and os.environ.get("CI"):
    raise RuntimeError("CI must run the PostgreSQL tests: initdb/pg_ctl not found (see .ci/run)")

needs_server = pytest.mark.skipif(
    not HAS_SERVER, reason="PostgreSQL server binaries (initdb, pg_ctl) are not installed"
)
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"{CORPUS} is absent")


def _synthetic(tmp_path: Path, files: dict[str, str], tool: str = "psql") -> tuple[Chain, Path]:
    folder = tmp_path / "chain"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return Chain("synthetic", "chain", tool, tool, (Part("*.sql", "number"),)), tmp_path


def _by_head(result: ChainResult, head: str) -> Any:
    (found,) = [o for o in result.outcomes if o.head.startswith(head)]
    return found


@needs_server
def test_known_truth(cluster: Any, tmp_path: Path) -> None:
    chain, corpus = _synthetic(
        tmp_path,
        {
            "1_t.sql": "CREATE TABLE t (id int);\n",
            "2_u.sql": "CREATE TABLE IF NOT EXISTS u (id int);\n",
            "3_broken.sql": "ALTER TABLE nowhere ADD COLUMN x int;\n",
            "4_do.sql": (
                "DO $$ BEGIN\n  CREATE TABLE IF NOT EXISTS v (id int);\n"
                "  CREATE INDEX IF NOT EXISTS v_id ON v (id);\nEND $$;\n"
            ),
        },
    )
    result = run_chain(chain, cluster=cluster, corpus=corpus)
    assert result.errors == [] and result.checked
    assert result.files == 4 and result.statements == 4  # the DO block is one statement
    create = _by_head(result, "CREATE TABLE t")
    assert create.run1 is None and create.run2 is not None and create.run2[0] == "42P07"
    assert "I101" in create.codes
    guarded = _by_head(result, "CREATE TABLE IF NOT EXISTS u")
    assert guarded.run1 is None and guarded.run2 is None and guarded.codes == []
    broken = _by_head(result, "ALTER TABLE nowhere")
    assert broken.run1 is not None and broken.run1[0] == "42P01"
    block = _by_head(result, "DO $$")
    assert block.run1 is None and block.run2 is None and block.line == 1
    assert (result.rerun.tp, result.rerun.fp, result.rerun.fn, result.rerun.tn) == (1, 0, 0, 2)
    assert result.failed_run1 == 1
    assert [(d.kind, d.object) for d in result.differences] == []


@needs_server
def test_down_sections_are_not_sent(cluster: Any, tmp_path: Path) -> None:
    chain, corpus = _synthetic(
        tmp_path,
        {
            "001_g.sql": (
                "-- +goose Up\nCREATE TABLE IF NOT EXISTS g (id int);\nBEGIN;\n"
                "ALTER TABLE g ADD COLUMN c text;\nCOMMIT;\n-- +goose Down\nDROP TABLE g;\n"
            )
        },
        tool="goose",
    )
    result = run_chain(chain, cluster=cluster, corpus=corpus)
    assert [o.head for o in result.outcomes] == [
        "CREATE TABLE IF NOT EXISTS g (id int)",
        "ALTER TABLE g ADD COLUMN c text",
    ]
    assert result.transaction_control == 2
    add = _by_head(result, "ALTER TABLE g")
    assert add.run2 is not None and add.run2[0] == "42701" and "I107" in add.codes
    assert result.rerun.fn == 0 and result.rerun.fp == 0


@needs_server
def test_transaction_blocks_are_kept(cluster: Any, tmp_path: Path) -> None:
    """A file's own BEGIN ... COMMIT holds: an ON COMMIT DROP table lives until the COMMIT, and
    a failure inside the block does not abort the statements after it."""
    chain, corpus = _synthetic(
        tmp_path,
        {
            "1_block.sql": (
                "BEGIN;\nCREATE TEMP TABLE tmp ON COMMIT DROP AS SELECT 1 AS x;\n"
                "SELECT * FROM nowhere;\nCREATE TABLE IF NOT EXISTS w AS SELECT x FROM tmp;\n"
                "LOCK TABLE w IN SHARE MODE;\nCOMMIT;\nSELECT x FROM w;\n"
            )
        },
    )
    result = run_chain(chain, cluster=cluster, corpus=corpus)
    runs = [(o.head.split(" ")[0], o.run1 and o.run1[0], o.run2 and o.run2[0])
            for o in result.outcomes]
    assert runs == [
        ("CREATE", None, None),
        ("SELECT", "42P01", None),
        ("CREATE", None, None),
        ("LOCK", None, None),
        ("SELECT", None, None),
    ]


# --- the corpus ----------------------------------------------------------------------------------


@needs_corpus
def test_every_project_has_its_chains() -> None:
    folders = {c.folder for c in CHAINS}
    projects = {p.name for p in CORPUS.iterdir() if p.is_dir()}
    assert folders == projects and len(projects) == 29
    down = re.compile(r"(?:^|/)(?:down\.sql|[^/]*[._]down\.sql)$")
    for chain in CHAINS:
        files = chain.files()
        assert files, chain.name
        assert len(set(files)) == len(files), chain.name
        assert not any(down.search(p.as_posix()) for p in files), chain.name


def _names(chain: str) -> list[str]:
    c = BY_NAME[chain]
    base = CORPUS / c.folder
    return [p.relative_to(base).as_posix() for p in c.files()]


@needs_corpus
@pytest.mark.parametrize(
    ("chain", "before", "after"),
    [
        ("flipt-io/flipt", "9_", "10_"),  # numeric, not lexicographic
        ("ente-io/ente", "/9_", "/10_"),
        ("supabase/storage:tenant", "0009-", "00010-"),
        ("kestra-io/kestra", "V1_9__", "V1_10__"),
        ("rust-lang/crates.io", "20170820180453_", "2017-08-31-230457_"),  # Diesel's '-' removed
        ("eclipse-hawkbit/hawkbit", "B1_20_0__", "V1_20_1__"),
        ("element-hq/synapse", "full_schemas/72", "delta/73/"),
        ("apache/dolphinscheduler:upgrades", "3.2.0_schema/postgresql/dolphinscheduler_dml",
         "3.2.0_schema/postgresql/dolphinscheduler_ddl_post"),
    ],
)
def test_chain_order(chain: str, before: str, after: str) -> None:
    names = _names(chain)
    first = [i for i, n in enumerate(names) if after in n]
    assert first, (chain, after)
    earlier = [i for i, n in enumerate(names) if before in n]
    assert earlier, (chain, before)
    assert max(earlier) < min(first), (chain, names[: min(first) + 1])


@needs_corpus
def test_chain_details() -> None:
    synapse = _names("element-hq/synapse")
    assert synapse[0].endswith("common/schema_version.sql")
    assert all("/delta/7" not in n or not n.split("/delta/")[1].startswith("72/") for n in synapse)
    assert not any(n.endswith(".sqlite") for n in synapse)
    civitai = _names("civitai/civitai")
    assert "programmability" in civitai[-1] and "migrations" in civitai[0]
    assert not any("data_oauth_github" in n for n in _names("rust-lang/crates.io"))
    posts = [n for n in _names("apache/dolphinscheduler:upgrades") if "ddl_post" in n]
    assert posts == [
        "dolphinscheduler-dao/src/main/resources/sql/upgrade/3.2.0_schema/postgresql/"
        "dolphinscheduler_ddl_post.sql"
    ]
    memos = _names("usememos/memos:upgrades")
    assert memos[0].startswith("store/migration/postgres/0.19/")
    assert memos[-1].startswith("store/migration/postgres/0.31/")
    assert len(_names("langfuse/langfuse")) == 434  # the "... copy" folders included


@needs_server
@needs_corpus
def test_corpus_sample_ratchet(cluster: Any) -> None:
    baseline = json.loads(BASELINE.read_text(encoding="utf-8"))
    assert sorted(baseline["chains"]) == sorted(CI_SAMPLE)
    total = Counts()
    report = []
    for name in CI_SAMPLE:
        result = run_chain(BY_NAME[name], cluster=cluster)
        assert result.errors == [], (name, result.errors)
        assert result.checked and result.files > 0 and result.statements > 0, name
        assert any(o.run2 is not None for o in result.outcomes), name  # PostgreSQL said something
        total.add(result.rerun)
        report += [f"FP {o.where} {o.codes} {o.head[:60]}" for o in result.fps]
        report += [f"FN {o.where} {o.run2} {o.head[:60]}" for o in result.fns]
    detail = "\n".join(report)
    assert total.tp + total.fn > 0
    assert total.precision >= baseline["precision"] - 1e-9, (total, detail)
    assert total.recall >= baseline["recall"] - 1e-9, (total, detail)
