"""No password is ever printed: one redaction (ddlguard.redact) for every DSN form, in every
error message and in every path a DSN becomes (``drift --database-url`` in all five formats).

The database tests run on a real PostgreSQL: a temporary cluster with a role that has a password
(scram-sha-256 authentication, so the password is really used) and a second database that must
come out of every run as it went in.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ddlguard.cli import main
from ddlguard.postgres.server import Cluster, connect, find_binary, temporary_cluster
from ddlguard.redact import redact, remember, scrub

PASSWORD = "Zq7-s3cr3t-Pw9x"
ROLE = "app_owner"
FORMATS = ("text", "json", "sarif", "github", "markdown")

# --- the redaction itself (no database) --------------------------------------------------------

SPECIAL = "p@ss/w:rd?&=#x"
FORMS = {
    "url": (f"postgresql://{ROLE}:{PASSWORD}@db.example.com:5432/app", PASSWORD),
    "url-encoded": ("postgresql://u:p%40ss%2Fw%3Ard@db.example.com/app", "p%40ss%2Fw%3Ard"),
    "url-raw-special": (f"postgresql://u:{SPECIAL}@db.example.com/app", SPECIAL),
    "url-param": (f"postgresql://db.example.com/app?user=u&password={PASSWORD}", PASSWORD),
    "url-param-encoded-key": (f"postgres://db.example.com/app?pass%77ord={PASSWORD}", PASSWORD),
    "url-both": (f"postgresql://u:{PASSWORD}@h/app?sslpassword=Other-S3cret&x=1", "Other-S3cret"),
    "keyvalue": (f"host=db.example.com port=5432 user=u password={PASSWORD} dbname=app", PASSWORD),
    "keyvalue-quoted": (
        "host=db.example.com password='a \\'secret\\' phrase' dbname=app",
        "a 'secret' phrase",
    ),
    "keyvalue-odd-quotes": ("host=db.example.com password='it''s-S3cret' dbname=app", "S3cret"),
    "keyvalue-spaces": (f"host=h password = {PASSWORD} dbname=app", PASSWORD),
    "malformed-ipv6": (f"postgresql://u:{PASSWORD}@[::1/app", PASSWORD),
    "malformed-port": (f"postgresql://u:{PASSWORD}@h:notaport/app", PASSWORD),
    "derived-scratch": (
        f"user=u password={PASSWORD} dbname=ddlguard_scratch_0123456789ab host=/tmp port=5432",
        PASSWORD,
    ),
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_redact_masks_the_password_of_every_form(form: str) -> None:
    dsn, secret = FORMS[form]
    masked = redact(dsn)
    assert secret not in masked, masked
    assert "***" in masked
    # What is not secret stays, so that a person recognises the server.
    for keep in ("db.example.com", "ddlguard_scratch_0123456789ab"):
        if keep in dsn:
            assert keep in masked


@pytest.mark.parametrize("form", sorted(FORMS))
def test_scrub_masks_dsns_and_remembered_passwords_in_any_text(form: str) -> None:
    dsn, secret = FORMS[form]
    message = f'cannot connect to {dsn}: invalid URI: "{dsn}" (while reading {dsn})'
    assert secret not in scrub(message)
    remember(dsn)
    if secret in (PASSWORD, SPECIAL, "a 'secret' phrase"):
        # A remembered password is masked wherever it stands, even outside any DSN.
        assert secret not in scrub(f"server said: password {secret} refused")


def test_a_url_without_password_is_unchanged() -> None:
    for dsn in (
        "postgresql://u@db.example.com:5432/app?sslmode=require",
        "postgresql://db.example.com/app?user=a@b.example",
        "host=/tmp port=5432 dbname=app",
    ):
        assert redact(dsn) == dsn


# --- a real server with a password -----------------------------------------------------------


@dataclass
class Server:
    cluster: Cluster

    def dsn(self, form: str, password: str = PASSWORD, port: int | None = None) -> str:
        c = self.cluster
        port = port or c.port
        return {
            "url": f"postgresql://{ROLE}:{password}@/app?host={c.socket_dir}&port={port}",
            "url-param": (
                f"postgresql:///app?host={c.socket_dir}&port={port}&user={ROLE}&password={password}"
            ),
            "keyvalue": f"host={c.socket_dir} port={port} user={ROLE} password={password} dbname=app",
        }[form]

    def admin(self, dbname: str = "postgres") -> Any:
        return connect(self.cluster.conninfo(dbname))

    def databases(self) -> set[str]:
        conn = self.admin()
        try:
            return {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}
        finally:
            conn.close()

    def precious_rows(self) -> int:
        conn = self.admin("app")
        try:
            return int(conn.execute("SELECT count(*) FROM precious").fetchone()[0])
        finally:
            conn.close()


def _require_postgres() -> None:
    if not (find_binary("initdb") and find_binary("pg_ctl")):
        if os.environ.get("CI"):
            raise RuntimeError("CI must run the PostgreSQL tests: initdb/pg_ctl not found")
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """A temporary cluster: role app_owner with a password (scram-sha-256 for every role but the
    cluster's own superuser), and a database `app` with a table of rows that must survive."""
    _require_postgres()
    with temporary_cluster() as cluster:
        admin = connect(cluster.conninfo())
        admin.execute(f"CREATE ROLE {ROLE} LOGIN CREATEDB PASSWORD '{PASSWORD}'")
        admin.execute(f"CREATE DATABASE app OWNER {ROLE}")
        (cluster.data_dir / "pg_hba.conf").write_text(
            f"local all {cluster.user} trust\nlocal all all scram-sha-256\n"
        )
        admin.execute("SELECT pg_reload_conf()")
        admin.close()
        app = connect(cluster.conninfo("app"))
        app.execute("CREATE TABLE precious (id int PRIMARY KEY)")
        app.execute("INSERT INTO precious SELECT generate_series(1, 10)")
        app.execute(f"ALTER TABLE precious OWNER TO {ROLE}")
        app.close()
        yield Server(cluster)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DDLGUARD_NO_CACHE", "1")
    (tmp_path / "ddlguard.toml").write_text(
        'migrations = ["m/*.sql"]\ncanonical = { sql = "schema.sql" }\n'
    )
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "0001_init.sql").write_text("CREATE TABLE IF NOT EXISTS wanted (id int);\n")
    (tmp_path / "schema.sql").write_text("CREATE TABLE wanted (id int);\n")
    return tmp_path


Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    def _run(*args: str) -> tuple[int, str, str]:
        status = main(list(args))
        out, err = capsys.readouterr()
        return status, out, err

    return _run


def test_the_password_really_is_needed(server: Server) -> None:
    """The fixture is honest: without the password, app_owner cannot connect."""
    from ddlguard.postgres.server import PostgresError

    with pytest.raises(PostgresError, match="password authentication failed"):
        connect(server.dsn("keyvalue", password="wrong-one"))
    connect(server.dsn("keyvalue")).close()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("form", ["url", "url-param", "keyvalue"])
def test_drift_database_findings_never_show_the_password(
    server: Server, project: Path, run: Run, form: str, fmt: str
) -> None:
    """The live database's extra table is reported at the database's label: redacted in text,
    JSON, SARIF (uri), GitHub annotations and the markdown PR comment."""
    status, out, err = run("drift", "--database-url", server.dsn(form), "--format", fmt)
    assert status == 1, err
    assert PASSWORD not in out and PASSWORD not in err
    assert "precious" in out  # the finding whose path is the database is there
    if fmt == "json":
        (finding,) = [f for f in json.loads(out)["findings"] if f["object"] == "public.precious"]
        assert "***" in finding["path"] and "app_owner" in finding["path"]
    if fmt == "sarif":
        uris = [
            loc["physicalLocation"]["artifactLocation"]["uri"]
            for r in json.loads(out)["runs"][0]["results"]
            for loc in r["locations"]
        ]
        assert any("%2A%2A%2A" in u or "***" in u for u in uris), uris


@pytest.mark.parametrize("command", ["drift", "verify"])
@pytest.mark.parametrize("form", ["url", "url-param", "keyvalue"])
def test_connection_errors_never_show_the_password(
    server: Server, project: Path, run: Run, form: str, command: str
) -> None:
    wrong = "Wr0ng-Pa55word-Xy"
    for dsn in (server.dsn(form, password=wrong), server.dsn(form, password=wrong, port=1)):
        status, out, err = run(command, "--database-url", dsn)
        assert status == 2
        assert wrong not in err and wrong not in out
        assert err.startswith("ddlguard: error: cannot connect") and err.count("\n") == 1, err
    assert server.precious_rows() == 10


@pytest.mark.parametrize("command", ["drift", "verify"])
def test_a_malformed_url_never_shows_the_password(
    server: Server, project: Path, run: Run, command: str
) -> None:
    for dsn in (
        f"postgresql://{ROLE}:{PASSWORD}@[::1/app",
        f"postgresql://{ROLE}:{PASSWORD}@localhost:notaport/app",
    ):
        status, out, err = run(command, "--database-url", dsn)
        assert status == 2 and err.count("\n") == 1, err
        assert PASSWORD not in err and PASSWORD not in out


@pytest.mark.parametrize("form", ["url", "url-param", "keyvalue"])
def test_unreachable_scratch_database_never_shows_the_password(
    server: Server, project: Path, run: Run, form: str
) -> None:
    """The scratch database's conninfo is derived from the URL (``user=... password=...
    dbname=ddlguard_scratch_...``); when it cannot be reached (here: the role may hold only one
    connection, the one that created it), the message names it without the password, and the
    scratch database is dropped all the same."""
    admin = server.admin()
    admin.execute(f"ALTER ROLE {ROLE} CONNECTION LIMIT 1")
    try:
        before = server.databases()
        status, out, err = run("verify", "--database-url", server.dsn(form))
        assert status == 2, (out, err)
        assert "ddlguard_scratch_" in err and err.count("\n") == 1, err
        assert PASSWORD not in err and PASSWORD not in out
        assert server.databases() == before
    finally:
        admin.execute(f"ALTER ROLE {ROLE} CONNECTION LIMIT -1")
        admin.close()
    assert server.precious_rows() == 10


def test_env_database_url_never_shows_the_password(
    server: Server, project: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", server.dsn("keyvalue", port=1))
    status, out, err = run("drift", "--database-url", "env")
    assert status == 2 and PASSWORD not in err + out, err
