"""The GitHub Action as the runner runs it: ``python -m ddlguard.action.run`` with the ``GITHUB_*``
variables pointing at temporary files, on a temporary git repository with a base branch and a pull
request branch; the PR comment against a fake GitHub API on 127.0.0.1; and ``action.yml`` and the
workflows validated against their published schemas."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ddlguard.action import run as action_run
from ddlguard.action.comment import GitHubApi, is_report, sync_comment
from ddlguard.findings import Category, Edit, Finding, Fix, Result, Severity
from ddlguard.report import render
from ddlguard.report.markdown import MARKER

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = Path(__file__).resolve().parents[2] / "shared" / "schemas"
SARIF_SCHEMA = SCHEMAS / "sarif-schema-2.1.0.json"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
HAS_GIT = shutil.which("git") is not None
HAS_CHECK_JSONSCHEMA = importlib.util.find_spec("check_jsonschema") is not None

needs_git = pytest.mark.skipif(not HAS_GIT, reason="git is not installed")

BAD = "CREATE TABLE widgets (id integer PRIMARY KEY);\n"
GOOD = "CREATE TABLE IF NOT EXISTS widgets (id integer PRIMARY KEY);\n"
LEGACY = "CREATE TABLE accounts (id integer PRIMARY KEY);\n"  # on main already: not reported

# ``::error file=...,line=...::message``: the command, comma-separated key=value properties whose
# values hold no raw ``,``/``:``/newline, and a message without a raw newline.
ANNOTATION = re.compile(r"^::(error|warning|notice) ((?:[a-zA-Z]+=[^,:\r\n]*)(?:,[a-zA-Z]+=[^,:\r\n]*)*)::(.+)$")
ANNOTATION_KEYS = {"file", "line", "col", "endLine", "endColumn", "title"}


# --- a repository with a base branch and a pull request branch --------------------------------


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=False, env=_git_env()
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
        GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com",
        GIT_CONFIG_NOSYSTEM="1", HOME=os.environ.get("HOME", "/tmp"),
    )
    return env


def commit_file(repo: Path, name: str, text: str, message: str) -> None:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", message)


@dataclass
class Scenario:
    tmp: Path
    origin: Path
    repo: Path
    base: str = "main"
    branch: str = "feature/widgets"
    number: int = 7
    outputs: Path = field(init=False)
    summary: Path = field(init=False)
    event: Path = field(init=False)

    def __post_init__(self) -> None:
        self.outputs = self.tmp / "github_output"
        self.summary = self.tmp / "step_summary.md"
        self.event = self.tmp / "event.json"

    def env(self, **inputs: str) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items()
            if not k.startswith(("GITHUB_", "INPUT_", "RUNNER_", "DDLGUARD_"))
        }
        self.outputs.write_text("", encoding="utf-8")
        self.event.write_text(json.dumps({
            "action": "synchronize",
            "number": self.number,
            "pull_request": {
                "number": self.number,
                "base": {"ref": self.base},
                "head": {"ref": self.branch},
            },
        }), encoding="utf-8")
        env.update(
            GITHUB_ACTIONS="true",
            GITHUB_WORKSPACE=str(self.repo),
            GITHUB_EVENT_NAME="pull_request",
            GITHUB_EVENT_PATH=str(self.event),
            GITHUB_BASE_REF=self.base,
            GITHUB_HEAD_REF=self.branch,
            GITHUB_OUTPUT=str(self.outputs),
            GITHUB_STEP_SUMMARY=str(self.summary),
            GITHUB_REPOSITORY="octo/app",
            GITHUB_API_URL="http://127.0.0.1:9",  # nothing listens there: no comment unless asked
            DDLGUARD_NO_CACHE="1",
        )
        env.update({"INPUT_" + k.upper(): v for k, v in inputs.items()})
        return env

    def run(self, **inputs: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ddlguard.action.run"], cwd=self.repo, env=self.env(**inputs),
            capture_output=True, text=True, timeout=300, check=False,
        )

    def output(self) -> dict[str, str]:
        return parse_outputs(self.outputs.read_text(encoding="utf-8"))


def parse_outputs(text: str) -> dict[str, str]:
    """``$GITHUB_OUTPUT`` as the runner reads it: ``name=value`` lines and ``name<<EOF`` blocks."""
    out: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            block: list[str] = []
            for inner in lines:
                if inner == delimiter:
                    break
                block.append(inner)
            out[name] = "\n".join(block)
        elif "=" in line:
            name, value = line.split("=", 1)
            out[name] = value
    return out


def make_scenario(tmp_path: Path, pr_text: str, *, base: str = "main",
                  shallow: bool = False, subdir: str = "") -> Scenario:
    """A bare ``origin`` with ``base`` (a legacy bad migration, then more commits) and a pull
    request branch adding ``migrations/0002_widgets.sql``; a clone of it checked out at the PR."""
    source = tmp_path / "source"
    source.mkdir()
    git(source, "init", "-q", "-b", base)
    prefix = f"{subdir}/" if subdir else ""
    commit_file(source, f"{prefix}migrations/0001_accounts.sql", LEGACY, "accounts")
    for i in range(3):
        commit_file(source, f"docs/note{i}.txt", f"{i}\n", f"note {i}")
    branch = "feature/widgets"
    git(source, "checkout", "-q", "-b", branch)
    commit_file(source, f"{prefix}migrations/0002_widgets.sql", pr_text, "widgets")
    for i in range(3):
        commit_file(source, f"docs/pr{i}.txt", f"{i}\n", f"pr {i}")
    git(source, "checkout", "-q", base)
    commit_file(source, "docs/later.txt", "later\n", "later on the base branch")
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(source), str(origin))
    repo = tmp_path / "repo"
    if shallow:
        git(tmp_path, "clone", "-q", "--depth", "1", "--branch", branch,
            origin.resolve().as_uri(), str(repo))
    else:
        git(tmp_path, "clone", "-q", str(origin), str(repo))
        git(repo, "checkout", "-q", branch)
    return Scenario(tmp_path, origin, repo, base=base, branch=branch)


def workflow_annotations(stdout: str) -> list[re.Match[str]]:
    found = []
    for line in stdout.splitlines():
        if line.startswith(("::error", "::warning", "::notice")):
            match = ANNOTATION.match(line)
            assert match, f"malformed workflow command: {line!r}"
            keys = {prop.split("=", 1)[0] for prop in match.group(2).split(",")}
            assert keys <= ANNOTATION_KEYS, line
            found.append(match)
    return found


# --- the action's step on a pull request --------------------------------------------------------


@needs_git
def test_pull_request_with_a_bad_migration_fails_with_every_report(tmp_path: Path) -> None:
    s = make_scenario(tmp_path, BAD)
    done = s.run()
    assert done.returncode == 1, done.stdout + done.stderr

    errors = [m for m in workflow_annotations(done.stdout) if m.group(1) == "error"]
    assert len(errors) == 1, done.stdout
    assert "file=migrations/0002_widgets.sql,line=1" in errors[0].group(2)
    assert "title=I101 create-table-without-if-not-exists" in errors[0].group(2)
    assert "0001_accounts" not in done.stdout  # unchanged since the base: not reported
    # No canonical schema: drift is skipped with a notice.
    assert "::notice title=ddlguard::drift not run" in done.stdout

    summary = s.summary.read_text(encoding="utf-8")
    assert summary.splitlines()[0] == MARKER
    assert "changes since origin/main" in summary
    assert "`migrations/0002_widgets.sql`" in summary and "`I101`" in summary

    outputs = s.output()
    assert outputs["findings"] == "1"
    assert outputs["exit-code"] == "1"
    sarif_path = Path(outputs["sarif-file"])
    assert sarif_path == s.repo / "ddlguard.sarif"
    sarif = json.loads(sarif_path.read_text(encoding="utf-8"))
    result = sarif["runs"][0]["results"][0]
    assert result["ruleId"] == "I101"
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "migrations/0002_widgets.sql", "uriBaseId": "%SRCROOT%"}
    assert location["region"]["startLine"] == 1


@needs_git
def test_sarif_file_is_valid_against_the_sarif_schema(tmp_path: Path) -> None:
    if not SARIF_SCHEMA.is_file():
        pytest.skip(f"the SARIF 2.1.0 schema is not at {SARIF_SCHEMA}")
    from jsonschema import Draft4Validator  # type: ignore[import-untyped]

    s = make_scenario(tmp_path, BAD + "CREATE INDEX idx_widgets_id ON widgets (id);\n")
    done = s.run(sarif_file="reports/out.sarif")
    assert done.returncode == 1, done.stdout + done.stderr
    path = Path(s.output()["sarif-file"])
    assert path == s.repo / "reports" / "out.sarif"
    log = json.loads(path.read_text(encoding="utf-8"))
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    errors = sorted(Draft4Validator(schema).iter_errors(log), key=str)
    assert not errors, "\n".join(e.message for e in errors[:5])
    assert len(log["runs"][0]["results"]) == 2


@needs_git
def test_clean_pull_request_passes(tmp_path: Path) -> None:
    s = make_scenario(tmp_path, GOOD)
    done = s.run(fail_on="info")
    assert done.returncode == 0, done.stdout + done.stderr
    assert not [m for m in workflow_annotations(done.stdout) if m.group(1) != "notice"]
    outputs = s.output()
    assert outputs["findings"] == "0"
    assert outputs["exit-code"] == "0"
    assert Path(outputs["sarif-file"]).is_file()
    summary = s.summary.read_text(encoding="utf-8")
    assert summary.startswith(MARKER) and "No problems found" in summary


@needs_git
def test_shallow_clone_gets_the_base_fetched(tmp_path: Path) -> None:
    """``actions/checkout``'s default depth of 1: origin/main is not there, nor the merge base;
    the action fetches and deepens until ``--diff-base`` works."""
    s = make_scenario(tmp_path, BAD, shallow=True)
    assert git(s.repo, "rev-parse", "--is-shallow-repository") == "true"
    done = s.run()
    assert done.returncode == 1, done.stdout + done.stderr
    assert s.output()["findings"] == "1"
    assert "could not run" not in done.stdout
    assert git(s.repo, "merge-base", "origin/main", "HEAD")


@needs_git
def test_base_ref_input_none_checks_everything(tmp_path: Path) -> None:
    s = make_scenario(tmp_path, GOOD)
    done = s.run(base_ref="none", paths="migrations")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "file=migrations/0001_accounts.sql" in done.stdout  # the legacy finding, too
    assert s.output()["findings"] == "1"


@needs_git
def test_hostile_branch_name_reaches_git_as_data(tmp_path: Path) -> None:
    """A base branch named like a shell injection: it is never given to a shell, so nothing
    runs, and the diff against it still works."""
    base = "main$(touch${IFS}pwned)`touch${IFS}pwned2`"
    s = make_scenario(tmp_path, BAD, base=base)
    done = s.run()
    assert done.returncode == 1, done.stdout + done.stderr
    assert s.output()["findings"] == "1"
    assert not list(tmp_path.rglob("pwned*"))
    assert not list(Path.cwd().glob("pwned*"))


@needs_git
def test_working_directory_and_drift_paths_are_relative_to_the_repository(tmp_path: Path) -> None:
    s = make_scenario(tmp_path, GOOD, subdir="app")
    (s.repo / "app" / "db").mkdir()
    (s.repo / "app" / "db" / "schema.sql").write_text(
        "CREATE TABLE accounts (id integer PRIMARY KEY, email text);\n"
        "CREATE TABLE widgets (id integer PRIMARY KEY);\n",
        encoding="utf-8",
    )
    (s.repo / "app" / "ddlguard.toml").write_text(
        'migrations = ["migrations/*.sql"]\ncanonical = { sql = "db/schema.sql" }\n',
        encoding="utf-8",
    )
    done = s.run(working_directory="app")
    assert done.returncode == 1, done.stdout + done.stderr
    found = workflow_annotations(done.stdout)
    assert any("file=app/db/schema.sql" in m.group(2) and "D201" in m.group(2) for m in found), (
        done.stdout
    )
    summary = s.summary.read_text(encoding="utf-8")
    assert "and drift" in summary and "`D201`" in summary
    sarif = json.loads(Path(s.output()["sarif-file"]).read_text(encoding="utf-8"))
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in sarif["runs"][0]["results"]}
    assert "app/db/schema.sql" in uris
    # drift: false leaves it out, with a notice.
    again = s.run(working_directory="app", drift="false")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "drift not run (input drift: false)" in again.stdout


@needs_git
def test_ddlguard_that_cannot_run_fails_with_its_message(tmp_path: Path) -> None:
    s = make_scenario(tmp_path, BAD)
    done = s.run(config="missing.toml")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "::error title=ddlguard check could not run::" in done.stdout
    assert "no such config file" in done.stdout
    outputs = s.output()
    assert outputs["exit-code"] == "2"
    assert outputs["sarif-file"] == ""  # nothing to upload: a partial upload would close alerts
    assert not (s.repo / "ddlguard.sarif").exists()
    assert "could not run" in s.summary.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"fail_on": "fatal"}, "input fail-on"),
        ({"comment": "maybe"}, "input comment"),
        ({"drift": "sometimes"}, "input drift"),
        ({"args": "--select 'I1"}, "input args"),
        ({"base_ref": "--output=/etc/passwd"}, "input base-ref"),
        ({"working_directory": "no/such/dir"}, "input working-directory"),
    ],
)
def test_bad_inputs_fail_with_a_message(
    tmp_path: Path, inputs: dict[str, str], message: str
) -> None:
    s = Scenario(tmp_path, tmp_path / "origin.git", tmp_path)
    done = s.run(**inputs)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"::error title=ddlguard could not run::{message}" in done.stdout
    assert s.output()["exit-code"] == "2"
    assert "Traceback" not in done.stderr


# --- the pull request comment, against a fake GitHub API ----------------------------------------


@dataclass
class FakeGitHub:
    """Issue comments of ``octo/app``, served on 127.0.0.1; every request recorded."""

    url: str = ""
    comments: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, Any] | None]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    refuse: int = 0  # answer every request with this status instead
    # GET /user: the token's account; None answers 403, as GitHub does for a GITHUB_TOKEN.
    viewer: dict[str, str] | None = field(default_factory=lambda: {"login": "x", "type": "Bot"})
    next_id: int = 1000

    def add(self, body: str, user_type: str = "User") -> dict[str, Any]:
        self.next_id += 1
        comment = {"id": self.next_id, "body": body, "user": {"login": "x", "type": user_type}}
        self.comments.append(comment)
        return comment

    def calls(self) -> list[tuple[str, str]]:
        return [(method, urlsplit(path).path) for method, path, _ in self.requests]


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    state = FakeGitHub()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _answer(self, status: int, data: object = None) -> None:
            raw = json.dumps(data).encode() if data is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            state.requests.append((method, self.path, body))
            state.headers.append(dict(self.headers.items()))
            if state.refuse:
                self._answer(state.refuse, {"message": "Resource not accessible by integration"})
                return
            parts = urlsplit(self.path)
            listing = re.fullmatch(r"/repos/octo/app/issues/(\d+)/comments", parts.path)
            single = re.fullmatch(r"/repos/octo/app/issues/comments/(\d+)", parts.path)
            if parts.path == "/user" and method == "GET":
                if state.viewer is None:
                    self._answer(403, {"message": "Resource not accessible by integration"})
                else:
                    self._answer(200, state.viewer)
            elif listing and method == "GET":
                query = parse_qs(parts.query)
                per_page = int(query.get("per_page", ["30"])[0])
                page = int(query.get("page", ["1"])[0])
                self._answer(200, state.comments[(page - 1) * per_page: page * per_page])
            elif listing and method == "POST" and body is not None:
                self._answer(201, state.add(body["body"], user_type="Bot"))
            elif single:
                found = [c for c in state.comments if c["id"] == int(single.group(1))]
                if not found:
                    self._answer(404, {"message": "Not Found"})
                elif method == "PATCH" and body is not None:
                    found[0]["body"] = body["body"]
                    self._answer(200, found[0])
                elif method == "DELETE":
                    state.comments.remove(found[0])
                    self._answer(204)
                else:
                    self._answer(405, {"message": "no"})
            else:
                self._answer(404, {"message": "Not Found"})

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

        def do_DELETE(self) -> None:
            self._handle("DELETE")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _run_commenting(s: Scenario, github: FakeGitHub) -> subprocess.CompletedProcess[str]:
    env = s.env(comment="true", github_token="test-token-123")
    env["GITHUB_API_URL"] = github.url
    return subprocess.run(
        [sys.executable, "-m", "ddlguard.action.run"], cwd=s.repo, env=env,
        capture_output=True, text=True, timeout=300, check=False,
    )


@needs_git
def test_comment_is_created_updated_and_deleted(tmp_path: Path, github: FakeGitHub) -> None:
    s = make_scenario(tmp_path, BAD)
    # 120 comments by people first, so that the report's comment is found on the second page.
    for i in range(120):
        github.add(f"comment {i}")
    listing = "/repos/octo/app/issues/7/comments"

    first = _run_commenting(s, github)
    assert first.returncode == 1, first.stdout + first.stderr
    assert github.calls() == [("GET", listing), ("GET", listing), ("POST", listing)]
    ours = [c for c in github.comments if is_report(c)]
    assert len(ours) == 1
    # The comment is the job summary's report (the summary adds the notes after it).
    assert s.summary.read_text(encoding="utf-8").startswith(ours[0]["body"])
    assert "I101" in ours[0]["body"]
    assert all(h.get("Authorization") == "Bearer test-token-123" for h in github.headers)
    assert "test-token-123" not in first.stdout + first.stderr

    # A later push adds a second problem: the same comment is updated.
    commit_file(s.repo, "migrations/0003_gadgets.sql", "CREATE TABLE gadgets (id int);\n", "gadgets")
    github.requests.clear()
    second = _run_commenting(s, github)
    assert second.returncode == 1, second.stdout + second.stderr
    comment_path = f"/repos/octo/app/issues/comments/{ours[0]['id']}"
    assert github.calls() == [
        ("GET", listing), ("GET", listing), ("GET", "/user"), ("PATCH", comment_path)
    ]
    assert len([c for c in github.comments if is_report(c)]) == 1
    assert "0003_gadgets.sql" in ours[0]["body"]

    # Nothing changed: the comment is left alone.
    github.requests.clear()
    third = _run_commenting(s, github)
    assert third.returncode == 1
    assert [m for m, _ in github.calls()] == ["GET", "GET"]

    # Fixed: the pull request is clean and the comment goes away.
    commit_file(s.repo, "migrations/0002_widgets.sql", GOOD, "fix widgets")
    commit_file(s.repo, "migrations/0003_gadgets.sql",
                "CREATE TABLE IF NOT EXISTS gadgets (id int);\n", "fix gadgets")
    github.requests.clear()
    clean = _run_commenting(s, github)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert github.calls() == [
        ("GET", listing), ("GET", listing), ("GET", "/user"), ("DELETE", comment_path)
    ]
    assert not [c for c in github.comments if is_report(c)]
    assert len(github.comments) == 120  # the people's comments untouched


@needs_git
def test_comment_refused_is_a_warning_not_a_failure(tmp_path: Path, github: FakeGitHub) -> None:
    """A pull request from a fork gets a read-only token: the check still reports, the comment
    is skipped with a warning."""
    s = make_scenario(tmp_path, GOOD)
    github.refuse = 403
    done = _run_commenting(s, github)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "::warning title=ddlguard::could not update the pull request comment" in done.stdout
    assert "pull-requests: write" in done.stdout


@needs_git
def test_comment_outside_a_pull_request_is_a_notice(tmp_path: Path, github: FakeGitHub) -> None:
    s = make_scenario(tmp_path, BAD)
    env = s.env(comment="true", github_token="t", base_ref="origin/main")
    env["GITHUB_API_URL"] = github.url
    env["GITHUB_EVENT_NAME"] = "push"
    done = subprocess.run(
        [sys.executable, "-m", "ddlguard.action.run"], cwd=s.repo, env=env,
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "posts on pull_request events only" in done.stdout
    assert github.requests == []


def test_duplicate_report_comments_are_reduced_to_one(github: FakeGitHub) -> None:
    keep = github.add(f"{MARKER}\nold report", user_type="Bot")
    github.add(f"{MARKER}\nolder duplicate", user_type="Bot")
    quoted = github.add(f"{MARKER}\nsomeone quoting the marker", user_type="User")
    api = GitHubApi(api_url=github.url, repository="octo/app", token="t")
    assert sync_comment(api, 7, f"{MARKER}\nnew report") == "updated"
    assert [c["id"] for c in github.comments] == [keep["id"], quoted["id"]]
    assert keep["body"] == f"{MARKER}\nnew report"
    assert quoted["body"].endswith("someone quoting the marker")


# --- the pieces, in process ---------------------------------------------------------------------


def test_findings_survive_the_json_round_trip() -> None:
    finding = Finding(
        code="I107", rule="add-column-without-if-not-exists", category=Category.IDEMPOTENCY,
        severity=Severity.ERROR, path="migrations/0006_x.sql", line=3, column=5, end_line=3,
        end_column=20, message="ADD COLUMN created_by fails when run again",
        object="public.t.created_by",
        fix=Fix("use ADD COLUMN IF NOT EXISTS", "ADD COLUMN IF NOT EXISTS",
                (Edit(40, 40, " IF NOT EXISTS"),)),
    )
    plain = Finding(
        code="N301", rule="migration-file-name", category=Category.NAMING,
        severity=Severity.WARNING, path="migrations/FIX.sql", line=0, column=0, end_line=0,
        end_column=0, message="bad name",
    )
    result = Result([finding, plain], files=2, statements=9, fixed=1)
    back = action_run.result_from_json(json.loads(render(result, "json")))
    assert back.findings == sorted([finding, plain], key=Finding.sort_key)
    assert (back.files, back.statements, back.fixed) == (2, 9, 1)
    for fmt in ("github", "markdown", "sarif"):
        assert render(back, fmt) == render(result, fmt)


def test_paths_become_relative_to_the_repository(tmp_path: Path) -> None:
    workspace = tmp_path / "repo"
    cwd = workspace / "app"
    assert action_run.repository_path("migrations/a.sql", cwd, workspace) == "app/migrations/a.sql"
    assert action_run.repository_path("../shared/schema.ts", cwd, workspace) == "shared/schema.ts"
    outside = str(tmp_path / "elsewhere.sql")
    assert action_run.repository_path(outside, cwd, workspace) == outside


def test_inputs_from_the_environment() -> None:
    inputs = action_run.Inputs.from_env({
        "INPUT_PATHS": "migrations/0001.sql\n'with space.sql' other.sql\n",
        "INPUT_ARGS": "--ignore naming --baseline 'base line.json'",
        "INPUT_COMMENT": "True",
        "INPUT_FAIL_ON": "ERROR",
        "INPUT_SARIF_FILE": "",
        "INPUT_GITHUB_TOKEN": "secret",
    })
    assert inputs.paths == ("migrations/0001.sql", "with space.sql", "other.sql")
    assert inputs.args == ("--ignore", "naming", "--baseline", "base line.json")
    assert inputs.comment is True
    assert inputs.fail_on == "error"
    assert inputs.sarif_file == "ddlguard.sarif"
    assert inputs.drift == "auto"
    assert "secret" not in repr(inputs)


def test_base_ref_by_event() -> None:
    none = action_run.Inputs()
    pr = {"GITHUB_EVENT_NAME": "pull_request", "GITHUB_BASE_REF": "release/2.x"}
    assert action_run.resolve_base(none, pr, {}) == "origin/release/2.x"
    assert action_run.resolve_base(none, {"GITHUB_EVENT_NAME": "push"}, {}) is None
    from_event = {"pull_request": {"base": {"ref": "main"}}}
    assert action_run.resolve_base(none, {"GITHUB_EVENT_NAME": "pull_request"}, from_event) == "origin/main"
    sha = "a" * 40
    queue = {"merge_group": {"base_sha": sha}}
    assert action_run.resolve_base(none, {"GITHUB_EVENT_NAME": "merge_group"}, queue) == sha
    explicit = action_run.Inputs(base_ref="upstream/main")
    assert action_run.resolve_base(explicit, pr, {}) == "upstream/main"
    assert action_run.resolve_base(action_run.Inputs(base_ref="NONE"), pr, {}) is None
    with pytest.raises(action_run.ActionError):
        action_run.resolve_base(none, {"GITHUB_EVENT_NAME": "pull_request",
                                       "GITHUB_BASE_REF": "-x"}, {})


def test_multiline_output_uses_a_delimiter(tmp_path: Path) -> None:
    target = tmp_path / "out"
    env = {"GITHUB_OUTPUT": str(target)}
    action_run.set_output(env, "one", "1")
    action_run.set_output(env, "two", "a\nb")
    assert parse_outputs(target.read_text(encoding="utf-8")) == {"one": "1", "two": "a\nb"}


def test_untrusted_text_cannot_issue_workflow_commands(capsys: pytest.CaptureFixture[str]) -> None:
    action_run.print_untrusted("ddlguard: warning: 'x\n::error::forged' matches no file\n")
    out = capsys.readouterr().out.splitlines()
    token = out[0].removeprefix("::stop-commands::")
    assert len(token) >= 32 and out[-1] == f"::{token}::"
    assert "::error::forged' matches no file" in out[1:-1]


# --- action.yml and the workflows -------------------------------------------------------------


def _check_jsonschema(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )


needs_check_jsonschema = pytest.mark.skipif(
    not HAS_CHECK_JSONSCHEMA,
    reason="check-jsonschema is not installed (pip install -e '.[dev]'): schemas not validated",
)


@needs_check_jsonschema
@pytest.mark.parametrize(
    ("schema", "files"),
    [
        ("vendor.github-actions", ["action.yml"]),
        ("vendor.github-workflows", [str(p.relative_to(ROOT)) for p in WORKFLOWS]),
        ("custom.github-workflows-require-timeout", [str(p.relative_to(ROOT)) for p in WORKFLOWS]),
    ],
)
def test_files_validate_against_their_published_schema(schema: str, files: list[str]) -> None:
    assert files
    done = _check_jsonschema("--builtin-schema", schema, *files)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_check_jsonschema
def test_the_schema_check_catches_a_broken_action(tmp_path: Path) -> None:
    broken = tmp_path / "action.yml"
    text = (ROOT / "action.yml").read_text(encoding="utf-8")
    broken.write_text(text.replace("using: composite", "using: compost"), encoding="utf-8")
    done = _check_jsonschema("--builtin-schema", "vendor.github-actions", str(broken))
    assert done.returncode == 1, done.stdout + done.stderr


def test_pre_commit_manifest_validates() -> None:
    """check-jsonschema bundles no schema for hook manifests (CI validates against SchemaStore's
    published one, over the network); offline, pre-commit's own manifest schema decides."""
    pre_commit = shutil.which("pre-commit", path=str(Path(sys.executable).parent)) or shutil.which(
        "pre-commit"
    )
    if pre_commit is None:
        pytest.skip("pre-commit is not installed (pip install -e '.[dev]')")
    done = subprocess.run(
        [pre_commit, "validate-manifest", ".pre-commit-hooks.yaml"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _yaml(path: Path) -> Any:
    yaml = pytest.importorskip("ruamel.yaml", reason="ruamel.yaml (from check-jsonschema) is needed")
    return yaml.YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def _steps(doc: Any) -> Iterator[dict[str, Any]]:
    if "runs" in doc:
        yield from doc["runs"].get("steps", [])
    for job in (doc.get("jobs") or {}).values():
        yield from job.get("steps", [])


@needs_check_jsonschema
@pytest.mark.parametrize("path", [ROOT / "action.yml", *WORKFLOWS], ids=lambda p: p.name)
def test_no_expression_is_interpolated_into_a_run_line(path: Path) -> None:
    for step in _steps(_yaml(path)):
        if "run" in step:
            assert "${{" not in step["run"], f"{path.name}: {step.get('name')}: use env: instead"


@needs_check_jsonschema
def test_every_input_reaches_the_script_through_env() -> None:
    action = _yaml(ROOT / "action.yml")
    run_step = next(s for s in action["runs"]["steps"] if s.get("id") == "run")
    expected = {
        "INPUT_" + name.upper().replace("-", "_"): f"${{{{ inputs.{name} }}}}"
        for name in action["inputs"] if name not in ("python-version", "extras")
    }
    env = {k: v for k, v in run_step["env"].items() if k.startswith("INPUT_")}
    assert env == expected
    assert set(action["outputs"]) == {"findings", "sarif-file", "exit-code"}
    assert action["runs"]["using"] == "composite"
    install = next(s for s in action["runs"]["steps"] if s.get("id") == "install")
    assert install["env"]["DDLGUARD_ACTION_PATH"] == "${{ github.action_path }}"
    assert install["env"]["DDLGUARD_EXTRAS"] == "${{ inputs.extras }}"
    assert action["inputs"]["extras"]["default"] == ""
    assert action["inputs"]["python-version"]["default"] == "3.12"
    assert action["inputs"]["github-token"]["default"] == "${{ github.token }}"


@needs_check_jsonschema
def test_example_workflow_asks_for_the_least_permissions() -> None:
    doc = _yaml(ROOT / ".github" / "workflows" / "example-ddlguard.yml")
    assert doc["permissions"] == {"contents": "read"}
    for job in doc["jobs"].values():
        uses = [s.get("uses", "") for s in job["steps"]]
        action = next(s for s in job["steps"] if s.get("uses", "").startswith("ddlguard/"))
        assert action["uses"] == "ddlguard/ddlguard@v0.1.0"
        perms = job.get("permissions", {})
        assert perms.get("contents") == "read"
        uploads = any(u.startswith("github/codeql-action/upload-sarif") for u in uses)
        assert (perms.get("security-events") == "write") == uploads
        comments = str(action.get("with", {}).get("comment", "false")).lower() == "true"
        assert (perms.get("pull-requests") == "write") == comments
        assert set(perms) <= {"contents", "security-events", "pull-requests"}


@needs_check_jsonschema
def test_ci_workflow_runs_tests_lint_and_the_action() -> None:
    doc = _yaml(ROOT / ".github" / "workflows" / "ci.yml")
    jobs = doc["jobs"]
    test = jobs["test"]
    postgres = test["services"]["postgres"]
    assert postgres["image"] == "postgres:15"
    assert "--health-cmd" in postgres["options"]
    assert any(s.get("run") == "bash .ci/run" for s in test["steps"])
    lint = "\n".join(s.get("run", "") for s in jobs["lint"]["steps"])
    assert "ruff check" in lint and "mypy" in lint and "check-jsonschema" in lint
    own = [s for s in jobs["action"]["steps"] if s.get("uses") == "./"]
    assert own and own[0]["with"]["working-directory"] == "examples/ucr-manager"
    assert own[0].get("continue-on-error") is True
    check = "\n".join(s.get("run", "") for s in jobs["action"]["steps"])
    assert '"$OUTCOME" = failure' in check and '"$EXIT_CODE" = 1' in check


# --- issue 19: the comment is edited only when it is ddlguard's own ----------------------------


def _someones(github: FakeGitHub, body: str, login: str, kind: str) -> dict[str, Any]:
    """A comment on the fake pull request written by ``login`` (``kind`` User or Bot)."""
    github.next_id += 1
    comment = {"id": github.next_id, "body": body, "user": {"login": login, "type": kind}}
    github.comments.append(comment)
    return comment


def test_comment_by_a_person_or_another_bot_with_the_marker_is_never_touched(
    github: FakeGitHub,
) -> None:
    """The workflow's GITHUB_TOKEN: GET /user is refused, the comments are github-actions[bot]'s."""
    github.viewer = None
    person = _someones(github, f"{MARKER}\nI quote the report here", "alice", "User")
    other = _someones(github, f"{MARKER}\nanother bot's copy", "renovate[bot]", "Bot")
    api = GitHubApi(api_url=github.url, repository="octo/app", token="t")

    assert sync_comment(api, 7, f"{MARKER}\nreport one") == "created"
    assert ("GET", "/user") in github.calls()
    ours = github.comments[-1]
    ours["user"] = {"login": "github-actions[bot]", "type": "Bot"}  # as GitHub records it
    assert sync_comment(api, 7, f"{MARKER}\nreport two") == "updated"
    assert ours["body"] == f"{MARKER}\nreport two"
    assert sync_comment(api, 7, None) == "deleted"
    assert ours not in github.comments
    assert github.comments == [person, other]
    assert person["body"].endswith("I quote the report here")
    assert other["body"].endswith("another bot's copy")
    writes = [(m, path) for m, path in github.calls() if m in ("PATCH", "DELETE")]
    assert writes == [("PATCH", f"/repos/octo/app/issues/comments/{ours['id']}"),
                      ("DELETE", f"/repos/octo/app/issues/comments/{ours['id']}")]


def test_comment_with_a_personal_token_is_that_users_own(github: FakeGitHub) -> None:
    github.viewer = {"login": "Alice", "type": "User"}
    bot = _someones(github, f"{MARKER}\na bot's report", "ddlguard-bot[bot]", "Bot")
    mine = _someones(github, f"{MARKER}\nmy old report", "alice", "User")
    api = GitHubApi(api_url=github.url, repository="octo/app", token="t")
    assert sync_comment(api, 7, f"{MARKER}\nnew") == "updated"
    assert mine["body"] == f"{MARKER}\nnew"
    assert bot["body"] == f"{MARKER}\na bot's report"
    assert sync_comment(api, 7, None) == "deleted"
    assert github.comments == [bot]


@needs_git
def test_action_leaves_a_persons_marker_comment_alone(tmp_path: Path, github: FakeGitHub) -> None:
    github.viewer = None  # the workflow's GITHUB_TOKEN
    person = _someones(github, f"{MARKER}\n(pasted) ddlguard said ...", "alice", "User")
    s = make_scenario(tmp_path, BAD)
    done = _run_commenting(s, github)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "pull request comment created" in done.stdout
    assert person in github.comments and person["body"].endswith("ddlguard said ...")
    assert [m for m, _ in github.calls()].count("POST") == 1
