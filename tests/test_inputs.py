"""Hostile inputs (issue 19, "Inputs and scale" and the PR comment's Markdown): naming regexes
that backtrack, folders with what is not a regular file, COPY data, option-like file names,
DROP DATABASE, UTF-16 files, unknown codes and empty globs in the configuration, mentions and
control characters in the Markdown report.

Most tests drive ``ddlguard.cli.main`` in-process, as tests/test_cli.py does; what could hang
(a backtracking regex, a FIFO) runs in a subprocess with a timeout, and what needs an
unprivileged user runs the CLI as ``nobody`` through ``setpriv`` when this runs as root.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ddlguard.cli import main
from ddlguard.configfile import naming_regex
from helpers import assert_usage_error

REPO = Path(__file__).resolve().parents[1]
HOOKS = REPO / ".pre-commit-hooks.yaml"
TIMEOUT = 60  # seconds: the hangs fixed here never end; a healthy run takes one or two


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in ("NO_COLOR", "FORCE_COLOR", "DDLGUARD_DEBUG", "GITHUB_ACTIONS", "TERM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DDLGUARD_NO_CACHE", "1")
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def write(path: Path | str, content: str | bytes) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return p


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(
    capsys: pytest.CaptureFixture[str], *args: str | Path
) -> tuple[int, dict[str, Any], str]:
    code, out, err = run(capsys, *args, "--format", "json")
    assert "Traceback" not in err
    return code, json.loads(out), err


def found(report: dict[str, Any]) -> set[tuple[str, int, str]]:
    return {(f["path"], f["line"], f["code"]) for f in report["findings"]}


def subprocess_check(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m ddlguard check ARGS`` in ``cwd``; a hang fails the test (TimeoutExpired)."""
    env = {**os.environ, "DDLGUARD_NO_CACHE": "1"}
    env.pop("DDLGUARD_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "ddlguard", "check", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False,
    )


# --- 9. naming regexes that backtrack ---------------------------------------------------------


def test_backtracking_table_pattern_on_a_long_name_finishes(tmp_path: Path) -> None:
    write("ddlguard.toml", "[naming]\ntable = '^(a+)+$'\n")
    # 5,000 characters; PostgreSQL keeps the first 63 bytes, 62 a's and a b: 2**62 steps for a
    # backtracking engine.
    name = "a" * 62 + "b" + "a" * 4937
    write("a.sql", f"CREATE TABLE IF NOT EXISTS {name} (id int);\n"
                   f"CREATE TABLE IF NOT EXISTS {'a' * 62}b (id int);\n")
    done = subprocess_check(tmp_path, "a.sql", "--format", "json")
    assert "Traceback" not in done.stderr
    assert done.returncode == 1, done.stderr
    codes = [(f["line"], f["code"]) for f in json.loads(done.stdout)["findings"]]
    assert (1, "N101") in codes and (2, "N101") in codes, codes


def test_backtracking_migration_file_pattern_finishes(tmp_path: Path) -> None:
    write("ddlguard.toml", "[naming]\nmigration-file = '^(a+)+$'\n")
    name = "a" * 200 + ".sql"  # a file name is at most 255 bytes: 200 is already 2**200 steps
    write(name, "SELECT 1;\n")
    done = subprocess_check(tmp_path, name, "--format", "json")
    assert "Traceback" not in done.stderr
    assert done.returncode == 1, done.stderr
    assert [f["code"] for f in json.loads(done.stdout)["findings"]] == ["N301"]


def test_a_backtracking_pattern_the_linear_engine_cannot_run_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A lookahead needs Python's backtracking engine, and (a+)+ would backtrack exponentially.
    write("ddlguard.toml", "[naming]\ncolumn = '^(?=x)(a+)+$'\n")
    write("a.sql", "SELECT 1;\n")
    assert_usage_error(*run(capsys, "check", "a.sql"), "ddlguard.toml", "naming.column",
                       "exponential")


def test_lookaround_patterns_still_work(capsys: pytest.CaptureFixture[str]) -> None:
    write("ddlguard.toml", "[naming]\ntable = '^(?!tmp_)[a-z_]+$'\n")
    write("a.sql", "CREATE TABLE IF NOT EXISTS tmp_x (id int);\n"
                   "CREATE TABLE IF NOT EXISTS ok_x (id int);\n")
    code, report, _ = run_json(capsys, "check", "a.sql")
    assert code == 1
    assert found(report) == {("a.sql", 1, "N101")}


def test_python_meaning_of_word_and_digit_classes_is_kept() -> None:
    assert naming_regex(r"^\w+$").search("café")
    assert naming_regex(r"^\d+$").search("١٢٣")  # Arabic-Indic digits are \d in Python
    assert not naming_regex(r"^\w+$").search("a-b")
    assert naming_regex(r"^[\w]+_{table}$", table="a.b").search("x_a.b")
    assert not naming_regex(r"^[\w]+_{table}$", table="a.b").search("x_axb")


# --- 11. what is not a regular, readable file inside a folder ---------------------------------

BAD = "CREATE TABLE widgets (id int);\n"


def _folder_with(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    write(folder / "0001_widgets.sql", BAD)
    return folder


def test_dangling_symlink_in_a_folder_is_skipped_with_a_warning(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = _folder_with(tmp_path)
    (folder / ".#0001_widgets.sql").symlink_to("root@host.12345:1700000000")  # an editor's lock
    code, report, err = run_json(capsys, "check", "migrations")
    assert code == 1, err
    assert found(report) == {("migrations/0001_widgets.sql", 1, "I101")}
    assert "warning" in err and ".#0001_widgets.sql" in err and "does not exist" in err


def test_looping_symlink_in_a_folder_is_skipped_with_a_warning(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = _folder_with(tmp_path)
    (folder / "loop.sql").symlink_to("loop.sql")
    code, report, err = run_json(capsys, "check", "migrations")
    assert code == 1, err
    assert "internal error" not in err
    assert found(report) == {("migrations/0001_widgets.sql", 1, "I101")}
    assert "loop.sql" in err and "loop" in err


def test_fifo_in_a_folder_and_named_is_skipped_not_waited_for(tmp_path: Path) -> None:
    folder = _folder_with(tmp_path)
    os.mkfifo(folder / "0002_pipe.sql")
    for args in (("migrations",), ("migrations/0002_pipe.sql", "migrations/0001_widgets.sql")):
        done = subprocess_check(tmp_path, *args, "--quiet")
        assert done.returncode == 1, done.stderr
        assert "0001_widgets.sql:1:1: I101" in done.stdout
        assert "0002_pipe.sql: skipped: a FIFO" in done.stderr


def test_folder_that_cannot_be_listed_is_reported_not_skipped_silently(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scandir failure simulated (as root every folder can be listed; the real thing, as an
    unprivileged user, is the next test)."""
    _folder_with(tmp_path)
    write(tmp_path / "migrations" / "locked" / "0002.sql", BAD)
    real = os.scandir

    def scandir(path: Any) -> Any:
        if os.fspath(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    code, report, err = run_json(capsys, "check", "migrations")
    assert code == 1
    assert found(report) == {("migrations/0001_widgets.sql", 1, "I101")}
    assert "migrations/locked: skipped: cannot list this folder (permission denied)" in err


def _unprivileged() -> list[str] | None:
    """The command prefix that runs a program as an unprivileged user, or None."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    prefix = [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    probe = subprocess.run([*prefix, sys.executable, "-c", "import ddlguard"],
                           capture_output=True, timeout=TIMEOUT, check=False)
    return prefix if probe.returncode == 0 else None


def test_unreadable_folder_and_file_as_an_unprivileged_user() -> None:
    prefix = _unprivileged()
    if prefix is None:
        pytest.skip("no way to run as an unprivileged user here")
    root = Path(tempfile.mkdtemp(prefix="ddlguard-inputs-"))
    try:
        root.chmod(0o755)
        folder = root / "migrations"
        write(folder / "0001_widgets.sql", BAD)
        write(folder / "locked" / "0002.sql", BAD)
        write(folder / "0003_secret.sql", BAD)
        for p in (root, folder, folder / "0001_widgets.sql"):
            p.chmod(0o755 if p.is_dir() else 0o644)
        (folder / "locked").chmod(0)
        (folder / "0003_secret.sql").chmod(0)
        env = {**os.environ, "DDLGUARD_NO_CACHE": "1", "HOME": str(root)}
        done = subprocess.run(
            [*prefix, sys.executable, "-m", "ddlguard", "check", "migrations", "--quiet"],
            cwd=root, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False,
        )
        assert done.returncode == 1, done.stderr
        assert "0001_widgets.sql:1:1: I101" in done.stdout
        assert "migrations/locked: skipped: cannot list this folder" in done.stderr
        assert "migrations/0003_secret.sql: skipped: permission denied" in done.stderr
    finally:
        for p in root.rglob("*"):
            if not p.is_symlink():
                p.chmod(0o700)
        shutil.rmtree(root, ignore_errors=True)


# --- 12. COPY data, option-like names, DROP DATABASE, UTF-16, unknown codes -------------------

PG_DUMP = (
    "SET client_encoding = 'UTF8';\n"
    "CREATE TABLE IF NOT EXISTS public.customers (id int, name text, note text);\n"
    "COPY public.customers (id, name, note) FROM stdin;\n"
    "1\tO'Brien\t\\N\n"
    "2\tSmith; DROP TABLE x\tsemi;colons\n"
    "3\t\"quoted\tCREATE TABLE ( oops\n"
    "\\.\n"
    "\n"
    "COPY public.customers FROM STDIN WITH (FORMAT csv, DELIMITER ';');\n"
    "4;it's;x\n"
    "\\.\n"
    "CREATE TABLE after_copy (id int);\n"
)


def test_copy_from_stdin_data_is_not_parsed_as_sql(capsys: pytest.CaptureFixture[str]) -> None:
    write("dump.sql", PG_DUMP)
    code, report, err = run_json(capsys, "check", "dump.sql")
    # Only the table after the data: no syntax error in the rows, the SQL after them checked.
    assert found(report) == {("dump.sql", 12, "I101")}, report["findings"]
    assert code == 1, err


def test_file_named_like_an_option_through_main(capsys: pytest.CaptureFixture[str]) -> None:
    write("-x.sql", BAD)
    write("a.sql", "SELECT 1;\n")
    code, out, err = run(capsys, "check", "--quiet", "a.sql", "-x.sql")
    assert code == 1, err
    assert "-x.sql:1:1: I101" in out
    code, out, err = run(capsys, "check", "--quiet", "--", "-x.sql")
    assert code == 1, err
    assert "-x.sql:1:1: I101" in out


@pytest.mark.parametrize("hook_id", ["ddlguard", "ddlguard-fix"])
@pytest.mark.parametrize("user_args", [None, ["--quiet"]])
def test_file_named_like_an_option_through_the_hook(
    tmp_path: Path, hook_id: str, user_args: list[str] | None
) -> None:
    """The command pre-commit runs: the hook's entry, its args (or the user's `args:`, which
    replace them), then the file names."""
    import yaml

    hooks = {h["id"]: h for h in yaml.safe_load(HOOKS.read_text(encoding="utf-8"))}
    hook = hooks[hook_id]
    cmd = shlex.split(hook["entry"])
    assert cmd[0] == "ddlguard"
    if user_args is None:
        assert hook.get("args", [])[-1:] == ["--"]  # the hook ends its options itself
    args = hook.get("args", []) if user_args is None else user_args
    write("-x.sql", BAD)
    write("a.sql", "SELECT 1;\n")
    env = {**os.environ, "DDLGUARD_NO_CACHE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "ddlguard", *cmd[1:], *args, "a.sql", "-x.sql"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False,
    )
    assert "Traceback" not in done.stderr
    if hook_id == "ddlguard-fix":
        assert done.returncode == 0, done.stdout + done.stderr
        assert (tmp_path / "-x.sql").read_text() == "CREATE TABLE IF NOT EXISTS widgets (id int);\n"
    else:
        assert done.returncode == 1, done.stdout + done.stderr
        assert "-x.sql:1:1" in done.stdout and "I101" in done.stdout


def test_drop_database_without_if_exists_is_i201(capsys: pytest.CaptureFixture[str]) -> None:
    write("a.sql", "DROP DATABASE legacy;\nDROP DATABASE IF EXISTS legacy_two;\n")
    code, report, _ = run_json(capsys, "check", "a.sql", "--ignore", "safety")
    assert code == 1
    assert found(report) == {("a.sql", 1, "I201")}
    (finding,) = report["findings"]
    assert finding["fix"]["replacement"] == "DROP DATABASE IF EXISTS legacy"
    assert run(capsys, "check", "a.sql", "--ignore", "safety", "--fix")[0] == 0
    assert Path("a.sql").read_text().startswith("DROP DATABASE IF EXISTS legacy;\n")


@pytest.mark.parametrize(
    ("encoding", "bom", "expected"),
    [
        ("utf-16", True, "UTF-16 encoded (little-endian, with a byte order mark)"),
        ("utf-16-le", False, "UTF-16 encoded (little-endian)"),
        ("utf-16-be", False, "UTF-16 encoded (big-endian)"),
        ("utf-32", True, "UTF-32 encoded"),
    ],
)
def test_utf16_file_is_called_utf16_not_binary(
    capsys: pytest.CaptureFixture[str], encoding: str, bom: bool, expected: str
) -> None:
    write("a.sql", "CREATE TABLE IF NOT EXISTS t (id int);\n".encode(encoding))
    _, report, _ = run_json(capsys, "check", "a.sql")
    (finding,) = report["findings"]
    assert finding["code"] == "E002"
    assert expected in finding["message"]
    assert "convert it to UTF-8" in finding["message"]
    assert "binary" not in finding["message"]


def test_binary_file_is_still_binary(capsys: pytest.CaptureFixture[str]) -> None:
    write("a.sql", b"\x00\x01\x02\x03garbage\x00\xff")
    _, report, _ = run_json(capsys, "check", "a.sql")
    assert "binary file" in report["findings"][0]["message"]


@pytest.mark.parametrize(
    ("name", "text", "needles"),
    [
        ("ddlguard.toml", 'select = ["I1", "X999"]\n', ("ddlguard.toml", "select", "X999")),
        ("pyproject.toml", '[tool.ddlguard]\nignore = ["nope"]\n',
         ("pyproject.toml", "tool.ddlguard.ignore", "nope")),
    ],
)
def test_unknown_code_in_the_config_names_the_key_and_file(
    capsys: pytest.CaptureFixture[str], name: str, text: str, needles: tuple[str, ...]
) -> None:
    write(name, text)
    write("a.sql", "SELECT 1;\n")
    code, out, err = run(capsys, "check", "a.sql")
    assert_usage_error(code, out, err, *needles)
    assert "--select" not in err and "--ignore" not in err


def test_unknown_code_on_the_command_line_still_names_the_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    write("a.sql", "SELECT 1;\n")
    assert_usage_error(*run(capsys, "check", "a.sql", "--select", "X999"), "--select", "X999")


# --- 13. a migrations glob that matches nothing -----------------------------------------------


def test_migrations_glob_matching_nothing_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    write("ddlguard.toml", 'migrations = ["migration/*.sql"]\n')  # the folder is "migrations"
    write("migrations/0001_a.sql", "SELECT 1;\n")
    assert_usage_error(*run(capsys, "check"), "ddlguard.toml", "migrations", "'migration/*.sql'",
                       "matches no file")


def test_snapshot_matching_nothing_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    write("pyproject.toml", '[tool.ddlguard]\nmigrations = ["m/*.sql"]\n'
                            'snapshots = ["PRODUCTION_DEPLOYMENT.sql"]\n')
    write("m/0001_a.sql", "SELECT 1;\n")
    assert_usage_error(*run(capsys, "check"), "pyproject.toml", "tool.ddlguard.snapshots",
                       "PRODUCTION_DEPLOYMENT.sql")


# --- 14. the Markdown report: mentions and control characters ---------------------------------

_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)*?\1")
_MENTION = re.compile(r"(?<![A-Za-z0-9_])@[A-Za-z0-9]")


def _outside_code(markdown: str) -> str:
    return _CODE_SPAN.sub("", markdown)


def test_markdown_mentions_do_not_ping_and_control_characters_stay_in_the_cell(
    capsys: pytest.CaptureFixture[str],
) -> None:
    write("migrations/@octo-org/platform/0001_@admins.sql",
          'CREATE TABLE "@admins" (id int);\n'
          'CREATE TABLE "@octo-org/platform" (id int);\n'
          'CREATE TABLE "x\r## pwned @here\r| a | b |" (id int);\n')
    code, out, err = run(capsys, "check", "migrations", "--format", "markdown",
                         "--ignore", "naming")
    assert code == 1, err
    # No @name outside inline code, where GitHub would turn it into a mention.
    assert not _MENTION.search(_outside_code(out)), out
    assert "`@admins`" in out and "`@octo-org/platform`" in out
    # One line per row: a lone CR neither ends the row nor starts a heading.
    lines = out.split("\n")
    assert "\r" not in out
    headings = [line for line in lines if line.startswith("#")]
    assert all(h.startswith(("## ddlguard", "### `")) for h in headings), headings
    rows = [line for line in lines if line.startswith("| ") and "I101" in line]
    assert len(rows) == 3, out
    assert all(row.endswith(" |") for row in rows)
    assert any("x␍## pwned" in row for row in rows)
