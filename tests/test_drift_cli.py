"""`ddlguard drift` end to end: the seed's story, the fix round trip, and no false positives."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from ddlguard.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ucr-manager"


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "ucr-manager"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns(".ddlguard_cache"))
    monkeypatch.chdir(target)
    monkeypatch.setenv("DDLGUARD_NO_CACHE", "1")
    return target


def _drift(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, object]]]:
    status = main(["drift", "--format", "json", *args])
    out = capsys.readouterr().out
    return status, json.loads(out)["findings"] if out else []


SEED_RENAMES = {
    ("public.connectwise_credentials.server_url", "base_url"),
    ("public.connectwise_credentials.encrypted_public_key", "public_key"),
    ("public.connectwise_credentials.encrypted_private_key", "private_key"),
    ("public.tenant_powershell_credentials.username", "username_deprecated"),
    ("public.tenant_powershell_credentials.encrypted_password", "encrypted_password_deprecated"),
}
SEED_MISSING = {
    "public.connectwise_credentials.auto_update_status",
    "public.connectwise_credentials.default_status_id",
    "public.tenant_3cx_credentials.created_by",
    "public.tenant_3cx_credentials.updated_by",
    "public.tenant_powershell_credentials.app_id",
    "public.tenant_powershell_credentials.certificate_thumbprint",
    *(
        f"public.phone_number_inventory.{c}"
        for c in ["carrier", "location", "usage_location", "number_type", "number_range", "reserved_by", "reserved_at", "aging_until", "assigned_at", "tags", "updated_at"]
    ),
}


def test_example_reports_exactly_the_seeds_problems(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, findings = _drift(capsys)
    assert status == 1
    # The migrations themselves match shared/schema.ts; every finding is about the snapshot.
    renames = set()
    for f in findings:
        if f["code"] == "D203":
            m = re.match(r"(\w+)\.(\w+) in \S+ is (\w+) in ", str(f["message"]))
            assert m, f["message"]
            renames.add((f"public.{m.group(1)}.{m.group(2)}", m.group(3)))
            assert f["object"] == f"public.{m.group(1)}.{m.group(3)}"
    assert renames == SEED_RENAMES
    missing = {f["object"] for f in findings if f["code"] == "D201"}
    assert missing == SEED_MISSING
    others = [f for f in findings if f["code"] not in ("D201", "D203")]
    # number_type's CHECK goes with the missing column.
    assert [(f["code"], f["object"]) for f in others] == [
        ("D304", "public.phone_number_inventory.phone_number_inventory_number_type_check")
    ] or [f["code"] for f in others] == ["D304"]
    for f in findings:
        if f["code"] == "D203":
            assert f["path"] == "migrations/PRODUCTION_DEPLOYMENT.sql"
        else:
            assert f["path"] == "shared/schema.ts"
        assert "PRODUCTION_DEPLOYMENT.sql" in str(f["message"])


def test_rename_points_at_the_snapshot_line(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, findings = _drift(capsys)
    lines = (example / "migrations" / "PRODUCTION_DEPLOYMENT.sql").read_text().splitlines()
    for f in findings:
        if f["code"] == "D203":
            old = str(f["message"]).split(" in ")[0].rsplit(".", 1)[1]
            assert lines[int(f["line"]) - 1].strip().startswith(old), f  # type: ignore[call-overload]


def test_fix_round_trip(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (example / "ddlguard.toml").write_text(
        'migrations = ["migrations/PRODUCTION_DEPLOYMENT.sql"]\ncanonical = { drizzle = "shared/schema.ts" }\n'
    )
    status, findings = _drift(capsys, "--write-fix", "migrations/9999_fix.sql")
    assert status == 1 and findings
    fix = example / "migrations" / "9999_fix.sql"
    text = fix.read_text()
    assert "RENAME COLUMN server_url TO base_url" in text
    assert "ADD COLUMN IF NOT EXISTS carrier text" in text
    (example / "ddlguard.toml").write_text(
        'migrations = ["migrations/PRODUCTION_DEPLOYMENT.sql", "migrations/9999_fix.sql"]\n'
        'canonical = { drizzle = "shared/schema.ts" }\n'
    )
    assert _drift(capsys) == (0, [])
    # The fix itself is safe to run twice (its renames and SET NOT NULL are safety findings).
    assert main(["check", "--format", "json", "--ignore", "safety", str(fix)]) == 0
    assert json.loads(capsys.readouterr().out)["findings"] == []


def test_matching_sql_canonical_reports_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Type spelling, default spelling, implicit constraint names and column order do not count."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DDLGUARD_NO_CACHE", "1")
    (tmp_path / "db").mkdir()
    (tmp_path / "migrations").mkdir()
    (tmp_path / "db" / "schema.sql").write_text(
        """
CREATE TYPE number_status AS ENUM ('available', 'reserved', 'used');
CREATE TABLE customer_tenants (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name character varying(255) NOT NULL,
    created_at timestamp with time zone DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE phone_numbers (
    id serial PRIMARY KEY,
    tenant_id uuid REFERENCES customer_tenants (id) ON DELETE CASCADE,
    status number_status NOT NULL DEFAULT 'available',
    kind text CHECK (kind IN ('did', 'extension')),
    UNIQUE (tenant_id, id)
);
CREATE INDEX phone_numbers_status_idx ON phone_numbers (status);
"""
    )
    (tmp_path / "migrations" / "0001_init.sql").write_text(
        """
CREATE TYPE number_status AS ENUM ('available', 'reserved');
CREATE TABLE IF NOT EXISTS customer_tenants (
    created_at TIMESTAMPTZ DEFAULT now(),
    id UUID DEFAULT gen_random_uuid(),
    name VARCHAR(255) NOT NULL,
    CONSTRAINT tenants_pk PRIMARY KEY (id)
);
"""
    )
    (tmp_path / "migrations" / "0002_numbers.sql").write_text(
        """
ALTER TYPE number_status ADD VALUE IF NOT EXISTS 'used';
CREATE TABLE IF NOT EXISTS phone_numbers (
    id int4 NOT NULL DEFAULT nextval('phone_numbers_id_seq'::regclass),
    tenant_id UUID,
    status number_status NOT NULL DEFAULT 'available'::number_status,
    kind TEXT,
    CONSTRAINT phone_numbers_pkey PRIMARY KEY (id)
);
ALTER TABLE phone_numbers ADD CONSTRAINT fk_tenant FOREIGN KEY (tenant_id) REFERENCES customer_tenants (id) ON DELETE CASCADE;
ALTER TABLE phone_numbers ADD CONSTRAINT kind_ok CHECK (kind = ANY (ARRAY['did'::text, 'extension'::text]));
ALTER TABLE phone_numbers ADD CONSTRAINT uq UNIQUE (tenant_id, id);
CREATE INDEX IF NOT EXISTS idx_numbers_status ON phone_numbers USING btree (status);
"""
    )
    (tmp_path / "ddlguard.toml").write_text(
        'migrations = ["migrations/*.sql"]\ncanonical = { sql = "db/schema.sql" }\n'
    )
    status, findings = _drift(capsys)
    assert findings == [] and status == 0


def test_drift_without_canonical_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ddlguard.toml").write_text('migrations = ["m.sql"]\n')
    (tmp_path / "m.sql").write_text("SELECT 1;\n")
    assert main(["drift"]) == 2
    err = capsys.readouterr().err
    assert "canonical" in err and err.count("\n") == 1 and "Traceback" not in err


def test_missing_canonical_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ddlguard.toml").write_text(
        'migrations = ["m.sql"]\ncanonical = "shared/schema.ts"\n'
    )
    (tmp_path / "m.sql").write_text("SELECT 1;\n")
    assert main(["drift"]) == 2
    assert "shared/schema.ts" in capsys.readouterr().err
