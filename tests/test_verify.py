"""`ddlguard verify` on a real, throwaway PostgreSQL: re-run failures, data lost on re-run, drift.

Outside CI these tests skip, with the reason, when the PostgreSQL server binaries are missing; in
CI (CI=true) they must run.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from ddlguard.cli import main
from ddlguard.postgres.server import connect, find_binary, temporary_cluster
from ddlguard.rules.registry import get_rule

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "ucr-manager"

if not (find_binary("initdb") and find_binary("pg_ctl")):
    if os.environ.get("CI"):
        raise RuntimeError(
            "CI must run the PostgreSQL tests: initdb/pg_ctl not found (see .ci/run)"
        )
    pytest.skip(
        "PostgreSQL server binaries (initdb, pg_ctl) are not installed", allow_module_level=True
    )


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    repo = tmp_path / "ucr-manager"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns(".ddlguard_cache"))
    monkeypatch.chdir(repo)
    monkeypatch.setenv("DDLGUARD_NO_CACHE", "1")
    return repo


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, Any]]]:
    status = main([*args, "--format", "json"])
    return status, json.loads(capsys.readouterr().out)["findings"]


def test_example_verify_agrees_with_the_static_check(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, verified = _json(capsys, "verify")
    assert status == 1
    rerun = {(f["path"], f["line"]) for f in verified if f["code"] == "I801"}
    assert rerun == {
        ("migrations/0002_tenant_3cx_credentials.sql", 5),
        ("migrations/0004_phone_number_inventory.sql", 32),
        ("migrations/0006_connectwise_integration.sql", 11),
        ("migrations/0006_connectwise_integration.sql", 29),
        ("migrations/0006_connectwise_integration.sql", 33),
        ("migrations/0006_connectwise_integration.sql", 34),
        ("migrations/FIX_PRODUCTION_SCHEMA.sql", 88),
        ("migrations/add_country_codes.sql", 13),
    }
    destroyed = [(f["path"], f["line"], f["object"]) for f in verified if f["code"] == "I802"]
    assert destroyed == [
        ("migrations/ADD_PHONE_NUMBER_INVENTORY.sql", 15, "public.phone_number_inventory")
    ]
    assert not [f for f in verified if f["code"] in ("I803",) or f["category"] == "drift"]
    # PostgreSQL's own words are in the message.
    assert any(
        'relation "connectwise_credentials" already exists' in f["message"] for f in verified
    )
    # The static check says the same, statement for statement.
    _, checked = _json(capsys, "check", "--select", "idempotency")
    static = {(f["path"], f["line"]) for f in checked if f["category"] == "idempotency"}
    assert static == rerun | {(p, line) for p, line, _ in destroyed}


def test_verify_reports_drift_of_the_real_catalog(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (example / "ddlguard.toml").write_text(
        'migrations = ["migrations/PRODUCTION_DEPLOYMENT.sql"]\ncanonical = { drizzle = "shared/schema.ts" }\n'
    )
    status, findings = _json(capsys, "verify")
    assert status == 1
    renames = {f["object"] for f in findings if f["code"] == "D203"}
    assert "public.connectwise_credentials.base_url" in renames
    assert "public.tenant_3cx_credentials.created_by" in {
        f["object"] for f in findings if f["code"] == "D201"
    }


@pytest.mark.parametrize("code", ["I801", "I802", "I803"])
def test_rule_examples_are_what_verify_finds(
    code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rule = get_rule(code)
    assert rule is not None
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DDLGUARD_NO_CACHE", "1")
    (tmp_path / "ddlguard.toml").write_text('migrations = ["m/*.sql"]\n')
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "0001.sql").write_text(rule.bad + "\n")
    _, findings = _json(capsys, "verify")
    assert code in {f["code"] for f in findings}
    (tmp_path / "m" / "0001.sql").write_text(
        "CREATE TABLE IF NOT EXISTS phone_numbers (id uuid PRIMARY KEY);\n"
        + rule.good.replace("(...)", "(id uuid)")
        + "\n"
    )
    _, findings = _json(capsys, "verify")
    assert code not in {f["code"] for f in findings}


def test_scratch_database_on_a_given_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --database-url, a uniquely named database is created, used and dropped; no other
    database is touched."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DDLGUARD_NO_CACHE", "1")
    (tmp_path / "ddlguard.toml").write_text('migrations = ["0001.sql"]\n')
    (tmp_path / "0001.sql").write_text("CREATE TABLE t (id int);\n")
    with temporary_cluster() as cluster:
        admin = connect(cluster.conninfo())
        admin.execute("CREATE DATABASE app")
        admin.close()
        app = connect(cluster.conninfo("app"))
        app.execute("CREATE TABLE precious (id int)")
        app.close()

        def databases() -> set[str]:
            conn = connect(cluster.conninfo())
            names = {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}
            conn.close()
            return names

        before = databases()
        url = f"postgresql://{cluster.user}:pw@/app?host={cluster.socket_dir}&port={cluster.port}"
        status, findings = _json(capsys, "verify", "--database-url", url)
        assert status == 1
        assert [(f["code"], f["line"]) for f in findings] == [("I801", 1)]
        assert databases() == before
        app = connect(cluster.conninfo("app"))
        tables = {
            r[0]
            for r in app.execute(
                "SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
            ).fetchall()
        }
        app.close()
        assert tables == {"precious"}


def test_unreachable_server_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ddlguard.toml").write_text('migrations = ["0001.sql"]\n')
    (tmp_path / "0001.sql").write_text("SELECT 1;\n")
    assert (
        main(["verify", "--database-url", "postgresql://u:topsecret@/x?host=/nonexistent&port=1"])
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("ddlguard: error: cannot connect") and "topsecret" not in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_missing_binaries_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import ddlguard.postgres.server as server

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(server, "find_binary", lambda name: None)
    (tmp_path / "ddlguard.toml").write_text('migrations = ["0001.sql"]\n')
    (tmp_path / "0001.sql").write_text("SELECT 1;\n")
    assert main(["verify"]) == 2
    err = capsys.readouterr().err
    assert "initdb" in err and "--database-url" in err and err.count("\n") == 1
