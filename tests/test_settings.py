"""The pydantic-free run-time configuration and its cache stay in step with the pydantic model."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from ddlguard.config import Config, Naming
from ddlguard.configfile import CACHE_DIR, NamingSettings, Settings, load_settings


def test_fields_and_defaults_match_the_model(tmp_path: Path) -> None:
    model = Config().with_location(tmp_path).to_settings()
    plain = Settings(root=tmp_path)
    assert model == plain
    settings_fields = {f.name for f in dataclasses.fields(Settings)} - {"path", "root"}
    assert settings_fields == set(Config.model_fields)
    assert {f.name for f in dataclasses.fields(NamingSettings)} == set(Naming.model_fields)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ddlguard.toml"
    path.write_text(text, encoding="utf-8")
    return path


CONFIG = """
migrations = ["migrations/*.sql"]
canonical = { drizzle = "shared/schema.ts" }
idempotency = "outside-transaction"
pg-version = 13
[naming]
index = "^idx_{table}_{columns}$"
table = false
"""


def test_cached_settings_equal_validated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DDLGUARD_NO_CACHE", raising=False)
    _write(tmp_path, CONFIG)
    first = load_settings(start=tmp_path)
    cache_files = list((tmp_path / CACHE_DIR).glob("config-*.json"))
    assert len(cache_files) == 1
    assert (tmp_path / CACHE_DIR / ".gitignore").read_text(encoding="utf-8").strip().endswith("*")
    second = load_settings(start=tmp_path)
    assert second == first
    assert second.pg_version == 13
    assert second.idempotency == "outside-transaction"
    assert second.naming.table is None
    assert second.naming.index == "^idx_{table}_{columns}$"
    assert second.canonical is not None and second.canonical.kind == "drizzle"
    assert second.canonical_path() == tmp_path.resolve() / "shared" / "schema.ts"


def test_cache_is_keyed_by_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DDLGUARD_NO_CACHE", raising=False)
    _write(tmp_path, CONFIG)
    load_settings(start=tmp_path)
    _write(tmp_path, CONFIG.replace("pg-version = 13", "pg-version = 16"))
    assert load_settings(start=tmp_path).pg_version == 16
    assert len(list((tmp_path / CACHE_DIR).glob("config-*.json"))) == 2


def test_a_bad_config_is_never_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ddlguard.configfile import ConfigError

    monkeypatch.delenv("DDLGUARD_NO_CACHE", raising=False)
    _write(tmp_path, 'pg-version = "fifteen"\n')
    for _ in range(2):
        with pytest.raises(ConfigError, match="pg-version: expected an integer"):
            load_settings(start=tmp_path)
    assert not list((tmp_path / CACHE_DIR).glob("config-*.json"))


def test_corrupt_cache_entry_is_validated_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DDLGUARD_NO_CACHE", raising=False)
    _write(tmp_path, CONFIG)
    load_settings(start=tmp_path)
    (entry,) = (tmp_path / CACHE_DIR).glob("config-*.json")
    entry.write_text(json.dumps({"unexpected": 1}), encoding="utf-8")
    assert load_settings(start=tmp_path).pg_version == 13


def test_no_cache_env_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DDLGUARD_NO_CACHE", "1")
    _write(tmp_path, CONFIG)
    assert load_settings(start=tmp_path).pg_version == 13
    assert not (tmp_path / CACHE_DIR).exists()
