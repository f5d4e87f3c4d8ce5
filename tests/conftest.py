"""Fixtures shared by the tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A throwaway PostgreSQL cluster for the module's tests (as an unprivileged user when the
    tests run as root). Outside CI the tests skip, with the reason, when the server binaries are
    missing or the cluster cannot start; in CI (CI=true) they must run, so that fails instead."""
    from ddlguard.postgres.server import PostgresError, find_binary, temporary_cluster

    if not (find_binary("initdb") and find_binary("pg_ctl")):
        if os.environ.get("CI"):
            raise RuntimeError("CI must run the PostgreSQL tests: initdb/pg_ctl not found (see .ci/run)")
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    try:
        with temporary_cluster() as c:
            yield c
    except PostgresError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"cannot start a temporary PostgreSQL: {exc}")
