"""A throwaway PostgreSQL: a temporary cluster from the binaries on PATH, or a scratch database on a
server the user names. Either is removed on exit, on error and on Ctrl-C.

PostgreSQL refuses to run as root; when ddlguard runs as root (containers, CI), the cluster runs
as an unprivileged OS user (``postgres`` if it exists, else ``nobody``) in a temporary directory,
listening on a unix socket in that directory only (no TCP port).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from ddlguard.redact import redact, remember, scrub

__all__ = [
    "Cluster",
    "PostgresError",
    "Terminated",
    "connect",
    "find_binary",
    "interruptible",
    "redact",
    "scratch_database",
    "temporary_cluster",
]


class PostgresError(Exception):
    """PostgreSQL cannot be started or reached (exit status 2)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the program is (like Ctrl-C), so that the running
    statement is cancelled (psycopg does that on KeyboardInterrupt) and every ``finally`` runs:
    the scratch database is dropped, the temporary cluster stopped and deleted."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


# The signals that end a run like Ctrl-C does (SIGINT is KeyboardInterrupt already).
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Terminated` (nested blocks are fine:
    each restores the handlers it found). Outside the main thread, nothing changes."""
    previous: dict[signal.Signals, Any] = {}

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        raise Terminated(signum)

    for sig in _STOP_SIGNALS:
        with contextlib.suppress(ValueError):  # not the main thread
            previous[sig] = signal.signal(sig, _on_signal)
    try:
        yield
    finally:
        _restore(previous)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Cleanup that must finish: SIGINT, SIGTERM and SIGHUP received in the block are held and
    raised when it is done (unless an exception is already on its way). SIGKILL still ends
    the process."""
    pending: list[int] = []

    def _hold(signum: int, frame: FrameType | None) -> None:
        pending.append(signum)

    previous: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGINT, *_STOP_SIGNALS):
        with contextlib.suppress(ValueError):  # not the main thread
            previous[sig] = signal.signal(sig, _hold)
    try:
        yield
    except BaseException:
        _restore(previous)
        raise
    _restore(previous)
    if pending:
        raise KeyboardInterrupt() if pending[0] == signal.SIGINT else Terminated(pending[0])


def _restore(previous: dict[signal.Signals, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def find_binary(name: str) -> str | None:
    """``initdb`` / ``pg_ctl`` from PATH, else the newest Debian/Ubuntu or Homebrew location."""
    found = shutil.which(name)
    if found:
        return found
    found_paths = [
        *Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
        *Path("/usr/local/opt").glob(f"postgresql*/bin/{name}"),
    ]
    candidates = sorted(found_paths, key=lambda p: [int(x) if x.isdigit() else x for x in p.parts])
    return str(candidates[-1]) if candidates else None


@dataclass(slots=True)
class Cluster:
    """A running temporary cluster: connect with ``conninfo``."""

    data_dir: Path
    socket_dir: Path
    port: int
    user: str
    pg_ctl: str
    run_as: str | None

    def conninfo(self, dbname: str = "postgres") -> str:
        return f"host={self.socket_dir} port={self.port} user={self.user} dbname={dbname}"


def _as_user(cmd: list[str], user: str | None) -> list[str]:
    if user is None:
        return cmd
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", user, "--", *cmd]
    return ["su", user, "-s", "/bin/sh", "-c", " ".join(_quote(c) for c in cmd)]


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def _unprivileged_user() -> str:
    import pwd

    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise PostgresError("running as root, and there is no unprivileged user (postgres, nobody) to run PostgreSQL as")


@contextlib.contextmanager
def temporary_cluster() -> Iterator[Cluster]:
    """Start a cluster in a temporary directory; stop it and delete everything on exit, on error
    and on SIGINT/SIGTERM/SIGHUP (raised as KeyboardInterrupt, see :func:`interruptible`)."""
    initdb = find_binary("initdb")
    pg_ctl = find_binary("pg_ctl")
    if not initdb or not pg_ctl:
        raise PostgresError(
            "no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin; "
            "install PostgreSQL, or pass --database-url"
        )
    run_as = _unprivileged_user() if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="ddlguard-pg-"))
    data = root / "data"
    if run_as is not None:
        import pwd

        entry = pwd.getpwnam(run_as)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    user = "ddlguard"
    port = 5432 + secrets.randbelow(20000) + 10000
    cluster = Cluster(data, root, port, user, pg_ctl, run_as)
    started = False
    stack = contextlib.ExitStack()
    stack.enter_context(interruptible())
    try:
        env = {**os.environ, "LC_ALL": "C", "TZ": "UTC"}
        init = subprocess.run(
            _as_user([initdb, "-D", str(data), "-U", user, "-A", "trust", "-E", "UTF8", "--no-sync"], run_as),
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if init.returncode != 0:
            raise PostgresError(f"initdb failed: {_last_line(init.stderr or init.stdout)}")
        options = (
            f"-c listen_addresses='' -c unix_socket_directories='{root}' -p {port} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        start = subprocess.run(
            _as_user([pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "-t", "60", "start"], run_as),
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if start.returncode != 0:
            log = (root / "log").read_text(errors="replace") if (root / "log").exists() else start.stderr
            raise PostgresError(f"the temporary PostgreSQL did not start: {_last_line(log)}")
        started = True
        yield cluster
    finally:
        with stack, _signals_held():
            if started:
                subprocess.run(
                    _as_user([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], run_as),
                    capture_output=True,
                    check=False,
                )
            shutil.rmtree(root, ignore_errors=True)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def connect(conninfo: str, *, autocommit: bool = True) -> Any:
    """A psycopg connection; a one-line PostgresError (password never shown) when it fails."""
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - a dependency
        raise PostgresError("psycopg is not installed (pip install 'psycopg[binary]')") from exc
    remember(conninfo)
    try:
        return psycopg.connect(conninfo, autocommit=autocommit, connect_timeout=10)
    except psycopg.Error as exc:
        message = scrub(_last_line(str(exc)))
        raise PostgresError(f"cannot connect to {redact(conninfo)}: {message}") from None


@contextlib.contextmanager
def scratch_database(conninfo: str) -> Iterator[str]:
    """Create a uniquely named database on the server of ``conninfo``, yield its conninfo, and drop
    it afterwards: on exit, on error, on Ctrl-C, SIGTERM and SIGHUP (the running statement is
    cancelled first; the drop terminates any session left on it). No other database is touched."""
    import psycopg
    from psycopg import sql

    name = f"ddlguard_scratch_{secrets.token_hex(6)}"
    with interruptible():
        admin = connect(conninfo)
        try:
            try:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except psycopg.Error as exc:
                raise PostgresError(
                    f"cannot create a scratch database on {redact(conninfo)}: "
                    f"{scrub(_last_line(str(exc)))}"
                ) from None
            yield psycopg.conninfo.make_conninfo(conninfo, dbname=name)
        finally:
            with _signals_held():
                _drop_database(admin, conninfo, name)


def _drop_database(admin: Any, conninfo: str, name: str) -> None:
    """DROP DATABASE name WITH (FORCE), on the admin connection or, if it broke, on a new one."""
    import psycopg
    from psycopg import sql

    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    for attempt in range(2):
        try:
            if attempt:
                admin = psycopg.connect(conninfo, autocommit=True, connect_timeout=10)
            admin.execute("SET statement_timeout = '60s'")
            admin.execute(drop)
            return
        except psycopg.Error:
            continue
        finally:
            with contextlib.suppress(psycopg.Error):
                admin.close()
