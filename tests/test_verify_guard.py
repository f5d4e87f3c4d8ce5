"""`ddlguard verify` leaves the user's server alone, always ends, and cleans up on any signal;
`ddlguard check` takes its worker processes with it when it is killed.

On a real PostgreSQL: a temporary cluster stands for the user's server, with a role that has a
password and a second database (`app`, with rows) that must survive every run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ddlguard.cli import main
from ddlguard.postgres.server import Cluster, connect, find_binary, temporary_cluster

PASSWORD = "Gv8-verify-S3cret"
ROLE = "migrator"
# Shell commands in the migrations would leave this file behind.
MARKER = "ddlguard-was-here"


@dataclass
class Server:
    cluster: Cluster

    @property
    def url(self) -> str:
        c = self.cluster
        return f"postgresql://{ROLE}:{PASSWORD}@/app?host={c.socket_dir}&port={c.port}"

    def admin(self, dbname: str = "postgres") -> Any:
        return connect(self.cluster.conninfo(dbname))

    def query(self, sql: str, dbname: str = "postgres") -> list[tuple[Any, ...]]:
        conn = self.admin(dbname)
        try:
            return list(conn.execute(sql).fetchall())
        finally:
            conn.close()

    def state(self) -> dict[str, Any]:
        """What a verify run must leave as it found it."""
        return {
            "databases": {r[0] for r in self.query("SELECT datname FROM pg_database")},
            "roles": {r[0] for r in self.query("SELECT rolname FROM pg_roles")},
            "auto.conf": (self.cluster.data_dir / "postgresql.auto.conf").read_text(),
            "precious": self.query("SELECT count(*) FROM precious", "app")[0][0],
            "other_db": self.query("SELECT count(*) FROM keep", "other_db")[0][0],
        }


def _require_postgres() -> None:
    if not (find_binary("initdb") and find_binary("pg_ctl")):
        if os.environ.get("CI"):
            raise RuntimeError("CI must run the PostgreSQL tests: initdb/pg_ctl not found")
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    _require_postgres()
    with temporary_cluster() as cluster:
        admin = connect(cluster.conninfo())
        admin.execute(f"CREATE ROLE {ROLE} LOGIN CREATEDB PASSWORD '{PASSWORD}'")
        admin.execute(f"CREATE DATABASE app OWNER {ROLE}")
        admin.execute(f"CREATE DATABASE other_db OWNER {ROLE}")
        (cluster.data_dir / "pg_hba.conf").write_text(
            f"local all {cluster.user} trust\nlocal all all scram-sha-256\n"
        )
        admin.execute("SELECT pg_reload_conf()")
        admin.close()
        for db, table in (("app", "precious"), ("other_db", "keep")):
            conn = connect(cluster.conninfo(db))
            conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY)")
            conn.execute(f"INSERT INTO {table} SELECT generate_series(1, 5)")
            conn.execute(f"ALTER TABLE {table} OWNER TO {ROLE}")
            conn.close()
        yield Server(cluster)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DDLGUARD_NO_CACHE", "1")
    (tmp_path / "ddlguard.toml").write_text('migrations = ["m/*.sql"]\n')
    (tmp_path / "m").mkdir()

    def write(sql: str) -> Path:
        path = tmp_path / "m" / "0001_init.sql"
        path.write_text(sql)
        return path

    return write


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


# --- refused on the user's server --------------------------------------------------------------

CLUSTER_LEVEL = {
    "drop-database": ("DROP DATABASE IF EXISTS other_db;", "DROP DATABASE"),
    "create-database": ("CREATE DATABASE made_by_a_migration;", "CREATE DATABASE"),
    "alter-database": ("ALTER DATABASE other_db SET work_mem = '64MB';", "ALTER DATABASE"),
    "alter-system": ("ALTER SYSTEM SET work_mem = '64MB';", "ALTER SYSTEM"),
    "create-role": ("CREATE ROLE left_behind;", "CREATE ROLE"),
    "create-user": ("CREATE USER left_behind PASSWORD 'x';", "CREATE USER"),
    "alter-role": (f"ALTER ROLE {ROLE} SET work_mem = '1MB';", "ALTER ROLE"),
    "drop-group": ("DROP GROUP IF EXISTS some_group;", "DROP GROUP"),
    "grant-role": (f"GRANT pg_read_all_data TO {ROLE};", "GRANT/REVOKE of a role"),
    "tablespace": ("CREATE TABLESPACE ts LOCATION '/tmp';", "CREATE TABLESPACE"),
    "create-server": (
        "CREATE SERVER other FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname 'other_db');",
        "CREATE SERVER",
    ),
    "user-mapping": ("CREATE USER MAPPING FOR CURRENT_USER SERVER other;", "CREATE USER MAPPING"),
    "dblink": ("SELECT dblink_connect('c', 'dbname=other_db');", "dblink_connect()"),
    "terminate": ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity;", "pg_terminate_backend()"),
    "in-do-block": (
        "DO $$\nBEGIN\n    CREATE ROLE left_behind;\nEND $$;",
        "CREATE ROLE",
    ),
    "execute-in-do": (
        "DO $$\nBEGIN\n    EXECUTE 'DROP DATABASE other_db';\nEND $$;",
        "DROP DATABASE",
    ),
}


@pytest.mark.parametrize("case", sorted(CLUSTER_LEVEL))
def test_cluster_level_statements_are_refused_on_a_given_server(
    server: Server,
    project: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    case: str,
) -> None:
    statement, what = CLUSTER_LEVEL[case]
    project("CREATE TABLE IF NOT EXISTS t (id int);\n\n" + statement + "\n")
    line = 3 + (2 if statement.startswith("DO") else 0)
    before = server.state()
    status, out, err = _run(capsys, "verify", "--database-url", server.url)
    assert status == 2, (out, err)
    assert err.startswith(f"ddlguard: error: m/0001_init.sql:{line}: {what}"), err
    assert err.count("\n") == 1 and "--database-url" in err and out == ""
    assert PASSWORD not in err
    assert server.state() == before  # nothing ran: no scratch database was even created


SHELL_AND_FILES = {
    "copy-from-program": ("COPY t FROM PROGRAM 'touch {marker}';", "COPY ... FROM PROGRAM"),
    "copy-to-program": ("COPY t TO PROGRAM 'cat > {marker}';", "COPY ... TO PROGRAM"),
    "copy-to-file": ("COPY t TO '{marker}';", "COPY ... TO a server file"),
    "pg-read-file": ("SELECT pg_read_file('/etc/hostname');", "pg_read_file()"),
    "lo-export": ("SELECT lo_export(lo_create(0), '{marker}');", "lo_export()"),
    "lo-import-in-do": (
        "DO $$\nBEGIN\n    PERFORM lo_import('/etc/hostname');\nEND $$;",
        "lo_import()",
    ),
    "copy-program-in-do": (
        "DO $$\nBEGIN\n    EXECUTE 'COPY t TO PROGRAM ''touch {marker}''';\nEND $$;",
        "COPY ... TO PROGRAM",
    ),
}


@pytest.mark.parametrize("on", ["given-server", "temporary-cluster"])
@pytest.mark.parametrize("case", sorted(SHELL_AND_FILES))
def test_shell_commands_and_server_files_are_refused_everywhere(
    server: Server,
    project: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    case: str,
    on: str,
) -> None:
    marker = Path("/tmp") / f"{MARKER}-{os.getpid()}-{case}"
    marker.unlink(missing_ok=True)
    statement, what = SHELL_AND_FILES[case]
    project("CREATE TABLE IF NOT EXISTS t (id int);\n\n" + statement.format(marker=marker) + "\n")
    line = 3 + (2 if statement.startswith("DO") else 0)
    args = ["verify", "--database-url", server.url] if on == "given-server" else ["verify"]
    status, out, err = _run(capsys, *args)
    assert status == 2, (out, err)
    assert err.startswith(f"ddlguard: error: m/0001_init.sql:{line}: {what}"), err
    assert err.count("\n") == 1
    assert not marker.exists()


def test_cluster_level_statements_run_on_the_temporary_cluster(
    project: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --database-url the cluster is ddlguard's own, deleted afterwards: roles and
    databases may come and go there."""
    _require_postgres()
    project(
        "DROP DATABASE IF EXISTS other_db;\n"
        "DO $$ BEGIN\n"
        "    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app_reader') THEN\n"
        "        CREATE ROLE app_reader;\n"
        "    END IF;\n"
        "END $$;\n"
        "CREATE TABLE IF NOT EXISTS t (id int);\n"
    )
    status, out, err = _run(capsys, "verify", "--format", "json")
    assert status == 0, (out, err)
    assert json.loads(out)["findings"] == []


def test_down_sections_and_comments_are_not_refused(
    server: Server, project: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    project(
        "-- DROP DATABASE other_db; would be bad\n"
        "CREATE TABLE IF NOT EXISTS t (id int);\n"
        "COMMENT ON TABLE t IS 'never CREATE ROLE here, nor COPY t FROM PROGRAM';\n"
    )
    before = server.state()
    status, out, err = _run(capsys, "verify", "--database-url", server.url)
    assert status == 0, (out, err)
    assert server.state() == before


# --- timeouts --------------------------------------------------------------------------------


@pytest.mark.parametrize("prelude", ["", "SET statement_timeout = 0;\n", "RESET ALL;\n"])
def test_a_statement_that_never_ends_is_a_finding(
    server: Server,
    project: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    prelude: str,
) -> None:
    """`SELECT pg_sleep(1000)` is cancelled (by the server, or by ddlguard when the migration
    turned the server's timeout off) and reported at its line, once; verify goes on."""
    project(prelude + "CREATE TABLE IF NOT EXISTS t (id int);\nSELECT pg_sleep(1000);\n")
    before = server.state()
    started = time.monotonic()
    status, out, err = _run(
        capsys, "verify", "--database-url", server.url, "--statement-timeout", "1",
        "--format", "json",
    )
    assert time.monotonic() - started < 30
    assert status == 1, (out, err)
    findings = json.loads(out)["findings"]
    assert [(f["code"], f["line"]) for f in findings] == [("I804", prelude.count("\n") + 2)]
    assert "statement timeout (1 s)" in findings[0]["message"]
    assert server.state() == before


def test_a_statement_waiting_for_a_lock_is_a_finding(
    server: Server, project: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Another session holds a lock on the scratch database's table: the migration's ALTER
    waits, lock_timeout cancels it, I804 names its line."""
    project(
        "CREATE TABLE IF NOT EXISTS t (id int);\n"
        "SELECT pg_sleep(3);\n"
        "ALTER TABLE t ADD COLUMN IF NOT EXISTS c int;\n"
    )
    stop = threading.Event()
    locked = threading.Event()

    def hold_lock() -> None:
        deadline = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < deadline:
            names = [
                r[0]
                for r in server.query(
                    "SELECT datname FROM pg_database WHERE datname LIKE 'ddlguard_scratch_%'"
                )
            ]
            if names:
                try:
                    conn = connect(server.cluster.conninfo(names[0]), autocommit=False)
                    conn.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
                except Exception:
                    time.sleep(0.05)
                    continue
                locked.set()
                # Hold it until the migration's ALTER has waited for it and given up.
                waited = False
                while not stop.is_set() and time.monotonic() < deadline:
                    waiting = server.query(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        f"AND datname = '{names[0]}' AND query LIKE 'ALTER TABLE%'"
                    )[0][0]
                    if waiting:
                        waited = True
                    elif waited:
                        break
                    time.sleep(0.02)
                conn.rollback()
                conn.close()
                return
            time.sleep(0.05)

    holder = threading.Thread(target=hold_lock, daemon=True)
    holder.start()
    try:
        status, out, err = _run(
            capsys, "verify", "--database-url", server.url, "--lock-timeout", "1",
            "--statement-timeout", "20", "--format", "json",
        )
    finally:
        stop.set()
        holder.join(10)
    assert locked.is_set()
    assert status == 1, (out, err)
    found = [(f["code"], f["line"]) for f in json.loads(out)["findings"]]
    assert ("I804", 3) in found, found
    assert any("lock timeout (1 s)" in f["message"] for f in json.loads(out)["findings"])


@pytest.mark.parametrize("value", ["abc", "-1", "nan"])
def test_timeout_flags_reject_bad_values(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["verify", "--statement-timeout", value])
    assert exc.value.code == 2
    assert "--statement-timeout" in capsys.readouterr().err


def test_verify_help_says_what_runs_where_and_what_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["verify", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for needle in (
        "temporary cluster",
        "ddlguard_scratch_",
        "SIGTERM",
        "ALTER SYSTEM",
        "COPY ... PROGRAM",
        "pg_read_file",
        "--statement-timeout",
        "--lock-timeout",
        "I804",
    ):
        assert needle in text, needle


# --- signals ---------------------------------------------------------------------------------


def _scratch_sessions(server: Server) -> list[tuple[Any, ...]]:
    return server.query(
        "SELECT datname, query FROM pg_stat_activity WHERE datname LIKE 'ddlguard_scratch_%'"
    )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_cancels_the_statement_and_drops_the_scratch_database(
    server: Server, project: Callable[[str], Path], tmp_path: Path, signum: int
) -> None:
    project("CREATE TABLE IF NOT EXISTS t (id int);\nSELECT pg_sleep(1000);\n")
    before = server.state()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ddlguard", "verify", "--database-url", server.url],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "DDLGUARD_NO_CACHE": "1"},
    )
    try:
        deadline = time.monotonic() + 30
        while not any("pg_sleep" in str(q) for _, q in _scratch_sessions(server)):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the migration never started"
            time.sleep(0.05)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signum, (out, err)
    assert b"interrupted" in err and b"Traceback" not in err
    assert _scratch_sessions(server) == []
    assert server.state() == before


# --- check's worker processes ----------------------------------------------------------------


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found |= {int(x) for x in (task / "children").read_text().split()}
        except OSError:
            continue
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it holds nothing open)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_check_workers_do_not_outlive_a_killed_parent(tmp_path: Path, signum: int) -> None:
    """The caller reads stdout to the end: it must end soon after ddlguard does, whatever
    killed it (SIGKILL, the OOM killer, SIGTERM)."""
    body = "\n".join(
        f"CREATE TABLE t{i} (id int PRIMARY KEY, name text);\n"
        f"ALTER TABLE t{i} ADD COLUMN c{i} int;\nCREATE INDEX idx_t{i} ON t{i} (id);"
        for i in range(40)
    )
    for n in range(400):
        (tmp_path / f"{n:04d}_m.sql").write_text(body + "\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ddlguard", "check", "--no-cache", "."],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "DDLGUARD_WORKERS": "2", "DDLGUARD_NO_CACHE": "1"},
    )
    # Drain both pipes from the start, as pre-commit and the Action do: a parent blocked on a full
    # pipe that nobody reads would not be ddlguard's fault.
    drains = [
        threading.Thread(target=stream.read, daemon=True)
        for stream in (proc.stdout, proc.stderr)
        if stream is not None
    ]
    for drain in drains:
        drain.start()
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while len(workers) < 2:
            assert proc.poll() is None, "check ended before its workers were seen"
            assert time.monotonic() < deadline
            workers = _children(proc.pid)
            time.sleep(0.02)
        time.sleep(0.3)
        os.kill(proc.pid, signum)
        proc.wait(timeout=30)
        for drain in drains:
            drain.join(10)  # EOF: nobody holds the pipes open any more
        assert not any(d.is_alive() for d in drains), "a pipe is still open: a worker outlived ddlguard"
        deadline = time.monotonic() + 5
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [w for w in workers if _alive(w)]
    finally:
        for w in workers:
            if _alive(w):
                os.kill(w, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
