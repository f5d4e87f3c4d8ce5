"""The GitHub Action's step: ``python -m ddlguard.action.run``.

Everything it is told arrives through the environment, set by ``action.yml``'s ``env:`` block:
the inputs as ``INPUT_CONFIG``, ``INPUT_PATHS``, ``INPUT_BASE_REF``, ``INPUT_FAIL_ON``,
``INPUT_SARIF_FILE``, ``INPUT_ARGS``, ``INPUT_DRIFT``, ``INPUT_DRIFT_ARGS``, ``INPUT_COMMENT``,
``INPUT_GITHUB_TOKEN``, ``INPUT_WORKING_DIRECTORY``, and the runner's own ``GITHUB_*`` variables
(``GITHUB_WORKSPACE``, ``GITHUB_EVENT_NAME``, ``GITHUB_BASE_REF``, ``GITHUB_EVENT_PATH``,
``GITHUB_OUTPUT``, ``GITHUB_STEP_SUMMARY``, ``GITHUB_API_URL``, ``GITHUB_REPOSITORY``). Branch
names, file names and inputs are therefore never parsed by a shell; git and ddlguard get them as
separate arguments, and text that came from the repository is printed between
``::stop-commands::`` markers so that it cannot issue workflow commands.

What it does:

1. on a pull request, fetches the base branch (deepening a shallow checkout until the merge base
   is there), so that ``--diff-base origin/<base>`` works after ``actions/checkout``'s default
   ``fetch-depth: 1``;
2. runs ``ddlguard check --diff-base <base>`` and, when a canonical schema is configured,
   ``ddlguard drift``, each once with ``--format json``;
3. from those findings (paths made relative to the repository root): the annotations (``github``
   format, on standard output), the job summary (``markdown``, appended to
   ``$GITHUB_STEP_SUMMARY``), the SARIF file, the outputs ``findings``, ``sarif-file`` and
   ``exit-code``, and with ``comment: true`` the pull request comment;
4. exits 0 (clean), 1 (something at or above ``fail-on`` was found) or 2 (ddlguard could not run;
   its message becomes an error annotation). On 2 no SARIF file is written: a partial upload
   would close the code scanning alerts of whatever did not run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ddlguard.findings import Category, Edit, Finding, Fix, Result, Severity
from ddlguard.report.github import escape_data, escape_property

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2

# How ``ddlguard`` is started: this interpreter, so the action uses the ddlguard it installed.
_ENTRY = "from ddlguard.cli import entry; entry()"
_PULL_REQUEST_EVENTS = ("pull_request", "pull_request_target")
_DEPTHS = (50, 250, 1000)
_SHA = re.compile(r"^[0-9a-fA-F]{40}([0-9a-fA-F]{24})?$")
# A ref that git would read as an option, or that holds white space or control characters.
_BAD_REF = re.compile(r"^-|[\x00-\x20\x7f]")
# Never handed to git or ddlguard: they need no token.
_SECRET_VARIABLES = ("INPUT_GITHUB_TOKEN", "GITHUB_TOKEN")


class ActionError(Exception):
    """The action cannot run as configured (a bad input): exit status 2 with the message."""


# --- inputs ----------------------------------------------------------------------------------


def _split_words(text: str, name: str) -> tuple[str, ...]:
    try:
        return tuple(shlex.split(text))
    except ValueError as exc:
        raise ActionError(f"input {name}: {exc} in {text!r}") from None


def _boolean(text: str, name: str, default: bool) -> bool:
    word = text.strip().lower()
    if not word:
        return default
    if word in ("true", "yes", "on", "1"):
        return True
    if word in ("false", "no", "off", "0"):
        return False
    raise ActionError(f"input {name}: expected true or false, got {text!r}")


def _choice(text: str, name: str, choices: Sequence[str], default: str) -> str:
    word = text.strip().lower() or default
    if word not in choices:
        raise ActionError(f"input {name}: expected one of {', '.join(choices)}, got {text!r}")
    return word


@dataclass(frozen=True, slots=True)
class Inputs:
    """The action's inputs, as ``action.yml`` passes them in ``INPUT_*`` variables."""

    config: str = ""
    paths: tuple[str, ...] = ()
    base_ref: str = ""
    fail_on: str = ""
    sarif_file: str = "ddlguard.sarif"
    args: tuple[str, ...] = ()
    drift: str = "auto"
    drift_args: tuple[str, ...] = ()
    comment: bool = False
    github_token: str = field(default="", repr=False)
    working_directory: str = "."

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Inputs:
        def get(name: str) -> str:
            return env.get(f"INPUT_{name}", "")

        # ``paths``: one per line, or several on a line separated by spaces (quote a name with
        # spaces in it, as in a shell).
        paths = tuple(p for line in get("PATHS").splitlines() for p in _split_words(line, "paths"))
        fail_on = get("FAIL_ON").strip().lower()
        if fail_on and fail_on not in ("error", "warning", "info"):
            raise ActionError(f"input fail-on: expected error, warning or info, got {fail_on!r}")
        return cls(
            config=get("CONFIG").strip(),
            paths=paths,
            base_ref=get("BASE_REF").strip(),
            fail_on=fail_on,
            sarif_file=get("SARIF_FILE").strip() or "ddlguard.sarif",
            args=_split_words(get("ARGS"), "args"),
            drift=_choice(get("DRIFT"), "drift", ("auto", "true", "false"), "auto"),
            drift_args=_split_words(get("DRIFT_ARGS"), "drift-args"),
            comment=_boolean(get("COMMENT"), "comment", False),
            github_token=get("GITHUB_TOKEN").strip(),
            working_directory=get("WORKING_DIRECTORY").strip() or ".",
        )


# --- workflow commands and files -------------------------------------------------------------


def workflow_command(name: str, message: str, **properties: str) -> str:
    """``::name key=value,...::message`` with GitHub's escaping of properties and message."""
    props = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def print_untrusted(text: str) -> None:
    """Print text that came from the repository (file names in ddlguard's or git's messages)
    with workflow commands switched off, so that a line in it cannot act as one."""
    if not text.strip():
        return
    token = uuid.uuid4().hex
    emit(f"::stop-commands::{token}")
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    emit(f"::{token}::")


def set_output(env: Mapping[str, str], name: str, value: str) -> None:
    """Append an output to ``$GITHUB_OUTPUT`` (a delimited block when it spans lines)."""
    target = env.get("GITHUB_OUTPUT")
    if not target:
        return
    if "\n" in value or "\r" in value:
        delimiter = f"ghadelimiter_{uuid.uuid4().hex}"
        entry = f"{name}<<{delimiter}\n{value}\n{delimiter}\n"
    else:
        entry = f"{name}={value}\n"
    with Path(target).open("a", encoding="utf-8") as fh:
        fh.write(entry)


def append_summary(env: Mapping[str, str], text: str) -> None:
    target = env.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    with Path(target).open("a", encoding="utf-8") as fh:
        fh.write(text if text.endswith("\n") else text + "\n")


def child_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment for git and ddlguard: the token left out, git never prompting."""
    out = {k: v for k, v in env.items() if k not in _SECRET_VARIABLES}
    out["GIT_TERMINAL_PROMPT"] = "0"
    return out


# --- the base ref ----------------------------------------------------------------------------


def check_ref(ref: str, what: str) -> str:
    """Refuse a ref that git could read as an option, or with white space in it (git itself
    then says whether it names a commit)."""
    if not ref or _BAD_REF.search(ref):
        raise ActionError(f"{what}: {ref!r} is not a usable git ref")
    return ref


def resolve_base(inputs: Inputs, env: Mapping[str, str], event: Mapping[str, Any]) -> str | None:
    """The ref ``check --diff-base`` compares with: the ``base-ref`` input (``none``: no diff);
    else ``origin/<base branch>`` on a pull request, the queue's base commit in a merge queue, and
    nothing (everything is checked) on other events."""
    if inputs.base_ref:
        if inputs.base_ref.lower() == "none":
            return None
        return check_ref(inputs.base_ref, "input base-ref")
    event_name = env.get("GITHUB_EVENT_NAME", "")
    if event_name in _PULL_REQUEST_EVENTS:
        branch = env.get("GITHUB_BASE_REF", "")
        if not branch:
            pull = event.get("pull_request")
            base = pull.get("base") if isinstance(pull, dict) else None
            branch = str(base.get("ref", "")) if isinstance(base, dict) else ""
        if branch:
            return "origin/" + check_ref(branch, "the pull request's base branch")
    if event_name == "merge_group":
        group = event.get("merge_group")
        sha = group.get("base_sha") if isinstance(group, dict) else None
        if isinstance(sha, str) and _SHA.match(sha):
            return sha
    return None


@dataclass(slots=True)
class Git:
    cwd: Path
    env: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                ["git", *args], cwd=self.cwd, env=self.env, capture_output=True, text=True,
                check=False, timeout=600,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return subprocess.CompletedProcess(["git", *args], 128, "", str(exc))

    def ok(self, *args: str) -> bool:
        return self.run(*args).returncode == 0

    def out(self, *args: str) -> str:
        done = self.run(*args)
        return done.stdout.strip() if done.returncode == 0 else ""


def ensure_base(base: str, cwd: Path, env: dict[str, str]) -> list[str]:
    """Make ``base`` and its merge base with HEAD available: fetch the base branch (or commit)
    from its remote, and in a shallow clone deepen both sides until they meet (50, 250, 1000
    commits, then the whole history). Returns warnings; a failure here is left to
    ``check --diff-base`` to report, with its own message."""
    git = Git(cwd, env)
    if git.out("rev-parse", "--is-inside-work-tree") != "true":
        return []
    shallow = git.out("rev-parse", "--is-shallow-repository") == "true"
    resolves = git.ok("rev-parse", "--verify", "--quiet", f"{base}^{{commit}}")
    if resolves and (not shallow or git.ok("merge-base", "--end-of-options", base, "HEAD")):
        return []
    remotes = set(git.out("remote").split())
    if _SHA.match(base):
        remote, refspec = ("origin" if "origin" in remotes else ""), base
    else:
        remote, _, branch = base.partition("/")
        if remote not in remotes or not branch:
            return [] if resolves else [f"{base} is not in this checkout and not a remote branch"]
        refspec = f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}"
    if not remote:
        return [] if resolves else [f"{base}: no remote to fetch it from"]
    warnings: list[str] = []
    if not shallow:
        done = git.run("fetch", "--no-tags", "--no-recurse-submodules", remote, refspec)
        if done.returncode != 0:
            warnings.append(f"git fetch {remote} {refspec} failed: {_last_line(done.stderr)}")
        return warnings
    head = git.out("rev-parse", "HEAD")
    for depth in _DEPTHS:
        done = git.run(
            "fetch", "--no-tags", "--no-recurse-submodules", f"--depth={depth}", remote, refspec,
            *([head] if head else []),
        )
        if done.returncode != 0 and head:  # a server that refuses to serve a commit by its id
            done = git.run(
                "fetch", "--no-tags", "--no-recurse-submodules", f"--deepen={depth}", remote,
                refspec,
            )
        if done.returncode != 0:
            warnings.append(f"git fetch {remote} {refspec} failed: {_last_line(done.stderr)}")
            return warnings
        if git.ok("merge-base", "--end-of-options", base, "HEAD"):
            return warnings
    if git.out("rev-parse", "--is-shallow-repository") == "true":
        done = git.run("fetch", "--no-tags", "--no-recurse-submodules", "--unshallow", remote, refspec)
        if done.returncode != 0:
            warnings.append(f"git fetch --unshallow failed: {_last_line(done.stderr)}")
    return warnings


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "failed"


# --- running ddlguard ------------------------------------------------------------------------


@dataclass(slots=True)
class Run:
    """One ddlguard command's outcome: its exit status and findings, or its error message."""

    command: str
    exit_code: int
    result: Result | None = None
    error: str = ""


def run_ddlguard(
    command: str,
    options: Sequence[str],
    paths: Sequence[str],
    cwd: Path,
    env: dict[str, str],
    python: str = sys.executable,
) -> Run:
    """``ddlguard COMMAND [options] --format json --output TMP [-- paths]`` in ``cwd``. The
    action's own ``--format``/``--output`` come after the user's options, so they win."""
    with tempfile.TemporaryDirectory(prefix="ddlguard-action-") as tmp:
        report = Path(tmp) / "report.json"
        argv = [python, "-c", _ENTRY, command, *options, "--format", "json", "--output", str(report)]
        if paths:
            argv += ["--", *paths]
        try:
            done = subprocess.run(
                argv, cwd=cwd, env=env, capture_output=True, text=True, check=False
            )
        except OSError as exc:
            return Run(command, EXIT_ERROR, error=f"cannot start ddlguard: {exc}")
        print_untrusted(done.stdout)
        print_untrusted(done.stderr)
        if done.returncode not in (EXIT_OK, EXIT_FINDINGS):
            message = _last_line(done.stderr) if done.stderr.strip() else ""
            return Run(command, EXIT_ERROR, error=message or f"exited {done.returncode}")
        try:
            data = json.loads(report.read_text(encoding="utf-8"))
            result = result_from_json(data)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return Run(command, EXIT_ERROR, error=f"unreadable JSON report: {exc}")
    return Run(command, done.returncode, result)


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def finding_from_json(data: Mapping[str, Any]) -> Finding:
    """A finding back from its JSON form (``report/json.py``)."""
    fix_data = data.get("fix")
    fix = None
    if isinstance(fix_data, dict):
        edits = tuple(
            Edit(int(e["start"]), int(e["end"]), str(e["text"]))
            for e in fix_data.get("edits") or ()
        )
        replacement = fix_data.get("replacement")
        fix = Fix(
            description=str(fix_data.get("description") or ""),
            replacement=replacement if isinstance(replacement, str) else None,
            edits=edits,
        )
    obj = data.get("object")
    return Finding(
        code=str(data["code"]),
        rule=str(data.get("rule") or ""),
        category=Category(data["category"]),
        severity=Severity(data["severity"]),
        path=str(data["path"]),
        line=_int(data.get("line")),
        column=_int(data.get("column")),
        end_line=_int(data.get("end_line")),
        end_column=_int(data.get("end_column")),
        message=str(data.get("message") or ""),
        object=obj if isinstance(obj, str) else None,
        fix=fix,
    )


def result_from_json(data: object) -> Result:
    """The ``Result`` that ``ddlguard ... --format json`` printed."""
    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        raise ValueError("no findings list")
    summary = data.get("summary")
    summary = summary if isinstance(summary, dict) else {}
    return Result(
        findings=[finding_from_json(f) for f in data["findings"]],
        files=_int(summary.get("files")),
        statements=_int(summary.get("statements")),
        fixed=_int(summary.get("fixed")),
    )


def repository_path(path: str, cwd: Path, workspace: Path) -> str:
    """A finding's path (relative to ddlguard's working directory) relative to the repository
    root, which is what annotations and code scanning expect; kept as is when outside it."""
    candidate = Path(path)
    absolute = candidate if candidate.is_absolute() else cwd / candidate
    try:
        return Path(os.path.normpath(absolute)).relative_to(workspace).as_posix()
    except ValueError:
        return path


def merge(results: Sequence[Result], cwd: Path, workspace: Path) -> Result:
    """One result from check's and drift's, paths relative to the repository root; a finding
    both report (a syntax error in a migration, say) appears once."""
    seen: set[tuple[str, str, int, int, str]] = set()
    findings: list[Finding] = []
    for result in results:
        for finding in result.findings:
            moved = dataclasses.replace(finding, path=repository_path(finding.path, cwd, workspace))
            key = (moved.code, moved.path, moved.line, moved.column, moved.message)
            if key not in seen:
                seen.add(key)
                findings.append(moved)
    return Result(
        findings=sorted(findings, key=Finding.sort_key),
        files=max((r.files for r in results), default=0),
        statements=max((r.statements for r in results), default=0),
        fixed=sum(r.fixed for r in results),
    )


def drift_plan(inputs: Inputs, cwd: Path) -> str | None:
    """None to run drift; else why it is not run (shown as a notice)."""
    if inputs.drift == "false":
        return "drift not run (input drift: false)"
    if inputs.drift == "true":
        return None
    from ddlguard.configfile import load_settings

    try:
        settings = load_settings(cwd / inputs.config if inputs.config else None, cwd)
    except Exception:  # a bad configuration: `ddlguard check` reports it with its own message
        return ""
    if settings.canonical is None:
        return "drift not run: no canonical schema is configured (`canonical` in ddlguard.toml)"
    if settings.canonical.kind == "database":
        return "drift not run: the canonical schema is a live database, which the action does not reach"
    return None


# --- the pull request ------------------------------------------------------------------------


def load_event(env: Mapping[str, str]) -> dict[str, Any]:
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def pull_request_number(env: Mapping[str, str], event: Mapping[str, Any]) -> int | None:
    if env.get("GITHUB_EVENT_NAME") not in _PULL_REQUEST_EVENTS:
        return None
    pull = event.get("pull_request")
    number = pull.get("number") if isinstance(pull, dict) else event.get("number")
    return number if isinstance(number, int) and not isinstance(number, bool) else None


def update_comment(
    inputs: Inputs, env: Mapping[str, str], event: Mapping[str, Any], body: str | None
) -> None:
    """Create, update or delete the pull request comment; a failure is a warning only."""
    from ddlguard.action.comment import CommentError, GitHubApi, sync_comment

    number = pull_request_number(env, event)
    if number is None:
        emit(workflow_command("notice", "comment: true posts on pull_request events only; "
                              "no comment on this event", title="ddlguard"))
        return
    try:
        api = GitHubApi(
            api_url=env.get("GITHUB_API_URL") or "https://api.github.com",
            repository=env.get("GITHUB_REPOSITORY", ""),
            token=inputs.github_token,
        )
        action = sync_comment(api, number, body)
    except CommentError as exc:
        emit(workflow_command("warning", f"could not update the pull request comment: {exc}",
                              title="ddlguard"))
        return
    emit(f"ddlguard: pull request comment {action}")


# --- main ------------------------------------------------------------------------------------


def _fail(env: Mapping[str, str], message: str) -> int:
    emit(workflow_command("error", message, title="ddlguard could not run"))
    append_summary(env, f"### ddlguard could not run\n\n{_code(message)}\n")
    set_output(env, "findings", "")
    set_output(env, "sarif-file", "")
    set_output(env, "exit-code", str(EXIT_ERROR))
    return EXIT_ERROR


def main(environ: Mapping[str, str] | None = None) -> int:
    """Run the action's step; ``environ`` defaults to the process environment."""
    env: Mapping[str, str] = os.environ if environ is None else environ
    try:
        inputs = Inputs.from_env(env)
    except ActionError as exc:
        return _fail(env, str(exc))
    workspace = Path(os.path.normpath(Path(env.get("GITHUB_WORKSPACE") or Path.cwd()).resolve()))
    cwd = Path(os.path.normpath(workspace / inputs.working_directory))
    if not cwd.is_dir():
        return _fail(env, f"input working-directory: {inputs.working_directory}: no such directory")
    event = load_event(env)
    children = child_env(env)
    try:
        base = resolve_base(inputs, env, event)
    except ActionError as exc:
        return _fail(env, str(exc))

    if base is not None:
        for warning in ensure_base(base, cwd, children):
            emit(workflow_command("warning", warning, title="ddlguard"))

    common: list[str] = []
    if inputs.config:
        common += ["--config", inputs.config]
    if inputs.fail_on:
        common += ["--fail-on", inputs.fail_on]
    check_options = [*inputs.args, *common, *(["--diff-base", base] if base else [])]
    runs = [run_ddlguard("check", check_options, inputs.paths, cwd, children)]
    notes: list[str] = []
    skip_drift = drift_plan(inputs, cwd)
    if skip_drift is None:
        runs.append(run_ddlguard("drift", [*inputs.drift_args, *common], (), cwd, children))
    elif skip_drift:
        emit(workflow_command("notice", skip_drift, title="ddlguard"))
        notes.append(skip_drift)

    errors = [r for r in runs if r.exit_code == EXIT_ERROR]
    merged = merge([r.result for r in runs if r.result is not None], cwd, workspace)
    exit_code = max(r.exit_code for r in runs)

    from ddlguard.report import render

    annotations = render(merged, "github")
    if annotations:
        sys.stdout.write(annotations)
        sys.stdout.flush()
    for run in errors:
        emit(workflow_command("error", f"ddlguard {run.command}: {run.error}",
                              title=f"ddlguard {run.command} could not run"))

    parts = [f"check of the changes since {base}" if base else "check"]
    if skip_drift is None:
        parts.append("drift")
    report = render(merged, "markdown", title=f"ddlguard: {' and '.join(parts)}")
    extra = [f"> {note}" for note in notes]
    extra += [f"> :x: `ddlguard {r.command}` could not run: {_code(r.error)}" for r in errors]
    # A report that says "no problems" when a command did not run would mislead: then only the
    # error (and whatever the other command found) is shown.
    shown = report if merged.findings or not errors else "### ddlguard could not run\n"
    append_summary(env, shown + ("\n" + "\n\n".join(extra) + "\n" if extra else ""))

    sarif_path = ""
    if not errors:
        target = Path(os.path.normpath(workspace / inputs.sarif_file))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(render(merged, "sarif"), encoding="utf-8")
            sarif_path = str(target)
        except OSError as exc:
            emit(workflow_command("warning", f"cannot write the SARIF file {target}: {exc}",
                                  title="ddlguard"))

    set_output(env, "findings", str(len(merged.findings)))
    set_output(env, "sarif-file", sarif_path)
    set_output(env, "exit-code", str(exit_code))

    if inputs.comment and not errors:
        update_comment(inputs, env, event, report if merged.findings else None)
    return exit_code


def _code(text: str) -> str:
    """Text as inline markdown code, backticks in it made harmless."""
    return "`" + text.replace("`", "'").replace("\n", " ") + "`"


if __name__ == "__main__":
    sys.exit(main())
