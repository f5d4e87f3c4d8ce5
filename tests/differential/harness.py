"""ddlguard's static answers against a real PostgreSQL, for one chain of migrations.

For a chain (chains.py), on a fresh database of a throwaway PostgreSQL cluster:

1. **Apply twice.** Each file in chain order runs twice in a row (file 1, file 1 again, file 2,
   file 2 again, ...), statement by statement, in autocommit: the top-level statements of its up
   section as ddlguard's own splitter cuts them (``ddlguard.sql.statements.parse`` with the
   chain's migration tool; a DO block is one statement; psql meta-commands blanked). A file's
   own BEGIN ... COMMIT is kept, with a savepoint around each statement in it, so that one
   failure does not hide the rest (the migration tools' own transactions are not modelled:
   each statement outside such a block runs on its own). Each run of a file starts a clean
   session (``DISCARD ALL``) with a statement timeout. Per statement: did it fail on run 1
   (SQLSTATE, message), did it fail on run 2 only.
2. **Check.** ``ddlguard check --format json --no-cache`` on the same files, in-process, with a
   configuration naming the chain (``migrations``, in order), its ``migration-tool`` and
   ``idempotency = "always"``; only the idempotency rules (and syntax). Each I finding is mapped
   to the top-level statement whose span holds it.
3. **Compare.** A statement is *predicted to fail on re-run* when it has a finding of a code that
   means "fails when run again" (``fail_codes``); the codes that mean "destroys or duplicates
   rows" (``DATA_CODES``) cannot be judged by a failure and are counted apart, and so is I803
   ("fails on the first run", judged against run 1). Statements that failed on run 1 are left
   out of the comparison (counted).
4. **Replay vs catalog.** The database after both runs, introspected into ddlguard's Schema
   (``sources.database.introspect``), against ddlguard's static replay of the chain
   (``schema.replay.replay``), with ``schema.diff.diff``: ``missing-*`` is in PostgreSQL and not
   in the replay, ``extra-*`` in the replay and not in PostgreSQL.

Every stage that calls into ddlguard is guarded: an exception there is recorded in the result
(``errors``) and the other stages still run, so one broken chain does not stop a corpus run.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from differential.chains import Chain, effective_tool

STATEMENT_TIMEOUT_S = 20.0

#: I codes that say "destroys or duplicates rows when run again": PostgreSQL raises no error for
#: them, so a failure (or its absence) cannot judge them.
DATA_CODES = frozenset({"I501", "I601", "I701", "I702", "I703", "I802"})
#: "Fails on the first run": judged against run 1.
FIRST_RUN_CODES = frozenset({"I803"})


def fail_codes() -> frozenset[str]:
    """The I codes that mean "fails when the migration runs again": every idempotency rule of
    this ddlguard but the data-loss and first-run ones."""
    codes: set[str] = set()
    try:
        from ddlguard.rules.registry import all_rules

        codes = {r.code for r in all_rules() if r.code.startswith("I")}
    except ImportError:
        pass
    if not codes:  # the registry moved: the codes of the SPEC's contract
        codes = {
            "I101", "I102", "I103", "I104", "I105", "I106", "I107", "I201", "I202", "I203",
            "I301", "I302", "I303", "I304", "I401", "I402", "I403", "I404", "I405", "I406",
            "I407", "I408", "I801",
        }  # fmt: skip
    return frozenset(codes - DATA_CODES - FIRST_RUN_CODES)


# --- results -------------------------------------------------------------------------------------


@dataclass(slots=True)
class Outcome:
    """One top-level statement of an up section: where it is, what PostgreSQL said on each run,
    and the I codes ddlguard reported on it."""

    path: str
    line: int
    kind: str
    head: str
    run1: tuple[str, str] | None = None  # (SQLSTATE, message) when run 1 failed
    run2: tuple[str, str] | None = None  # (SQLSTATE, message) when run 2 failed
    codes: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(slots=True)
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def add(self, other: Counts) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.tn += other.tn


@dataclass(slots=True)
class Difference:
    bucket: str
    kind: str
    object: str
    message: str


@dataclass(slots=True)
class ChainResult:
    name: str
    tool: str
    ddlguard_tool: str
    note: str = ""
    files: int = 0
    statements: int = 0
    transaction_control: int = 0
    syntax_errors: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    findings: int = 0
    unmapped_findings: int = 0
    unmapped: list[str] = field(default_factory=list)  # "path:line CODE" of those findings
    rerun: Counts = field(default_factory=Counts)
    failed_run1: int = 0
    data_only: int = 0
    data_only_failed_run2: int = 0
    first_run: Counts = field(default_factory=Counts)
    differences: list[Difference] = field(default_factory=list)
    replay_notes: int = 0
    # False when ddlguard check failed on the chain: then nothing is compared (and the chain is
    # left out of the totals), rather than every positive counted as a miss.
    checked: bool = False
    seconds: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def fps(self) -> list[Outcome]:
        """False alarms: flagged as failing on re-run; PostgreSQL ran it again without error."""
        if not self.checked:
            return []
        return [o for o in self.outcomes if _judged(o) and _predicted(o) and o.run2 is None]

    @property
    def fns(self) -> list[Outcome]:
        """Misses: PostgreSQL failed on run 2 only; not flagged."""
        if not self.checked:
            return []
        return [o for o in self.outcomes if _judged(o) and not _predicted(o) and o.run2 is not None]

    def difference_counts(self) -> Counter[str]:
        return Counter(d.bucket for d in self.differences)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["rerun"].update(precision=self.rerun.precision, recall=self.rerun.recall)
        data["first_run"].update(
            precision=self.first_run.precision, recall=self.first_run.recall
        )
        return data


_FAIL: frozenset[str] = frozenset()


def _fail() -> frozenset[str]:
    global _FAIL
    if not _FAIL:
        _FAIL = fail_codes()
    return _FAIL


def _predicted(o: Outcome) -> bool:
    fail = _fail()
    return any(c in fail for c in o.codes)


def _data_only(o: Outcome) -> bool:
    return not _predicted(o) and any(c in DATA_CODES for c in o.codes)


def _judged(o: Outcome) -> bool:
    """In the re-run comparison: ran on run 1, and not flagged with data-loss codes only."""
    return o.run1 is None and not _data_only(o)


# --- the chain's files ---------------------------------------------------------------------------


@dataclass(slots=True)
class ChainFile:
    display: str  # the path relative to the corpus folder (the original file)
    path: Path  # the file ddlguard and PostgreSQL read (a rendered copy when the chain renders)
    file: Any  # ddlguard.sql.source.SqlFile
    statements: list[Any]  # top-level up-section statements to send (ddlguard Statement)
    transaction_control: int
    syntax_errors: int
    # Per statement: whether it stands inside the file's own BEGIN ... COMMIT.
    in_block: list[bool] = field(default_factory=list)


_BEGIN = frozenset({"TRANS_STMT_BEGIN", "TRANS_STMT_START"})
_END = frozenset({"TRANS_STMT_COMMIT", "TRANS_STMT_ROLLBACK", "TRANS_STMT_PREPARE"})


def _render(text: str, rules: Sequence[tuple[str, str]]) -> str:
    for pattern, replacement in rules:
        text = re.sub(pattern, replacement, text)
    return text


def prepare(
    chain: Chain, corpus: Path, workdir: Path, tool: str, render: Sequence[tuple[str, str]]
) -> list[ChainFile]:
    """Load (rendered into ``workdir`` when the chain has placeholders) and split each file."""
    from ddlguard.sql.source import DecodeProblem, load
    from ddlguard.sql.statements import parse

    base = corpus / chain.folder
    out: list[ChainFile] = []
    for original in chain.files(corpus):
        rel = original.relative_to(base).as_posix()
        display = f"{chain.folder}/{rel}"
        path = original
        if render:
            raw = original.read_bytes().decode("utf-8", errors="surrogateescape")
            rendered = _render(raw, render)
            if rendered.count("\n") != raw.count("\n"):
                raise ValueError(f"{display}: rendering changed the number of lines")
            path = workdir / "files" / chain.folder / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(rendered.encode("utf-8", errors="surrogateescape"))
        loaded = load(path, display=display)
        if isinstance(loaded, DecodeProblem):
            out.append(ChainFile(display, path, None, [], 0, 1))
            continue
        parsed = parse(loaded, tool=tool)
        top = [s for s in parsed.top_level() if s.section != "down"]
        send, blocks = [], []
        block = False
        for s in top:
            if s.kind == "TransactionStmt":
                kind = s.node.get("kind", "")
                block = kind in _BEGIN or (block and kind not in _END)
                continue
            send.append(s)
            blocks.append(block)
        out.append(
            ChainFile(display, path, loaded, send, len(top) - len(send), len(parsed.errors),
                      blocks)
        )
    return out


# --- PostgreSQL ----------------------------------------------------------------------------------


def _error(exc: Exception) -> tuple[str, str]:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None)
    if not primary:
        lines = str(exc).strip().splitlines()
        primary = lines[0] if lines else type(exc).__name__
    return str(getattr(exc, "sqlstate", None) or ""), str(primary)


class Session:
    """The chain's connection: reconnects when a statement broke it."""

    def __init__(self, conninfo: str, timeout_s: float) -> None:
        self.conninfo = conninfo
        self.timeout_ms = int(timeout_s * 1000)
        self.conn: Any = None
        self.in_block = False
        self._open()

    def _open(self) -> None:
        from ddlguard.postgres.server import connect

        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
        self.conn = connect(self.conninfo)
        self.in_block = False
        self.conn.prepare_threshold = None  # DISCARD ALL would drop psycopg's prepared statements

    def reset(self) -> None:
        """A clean session for the next run of a file, as a migration tool starts one."""
        if self.conn.closed or self.conn.broken:
            self._open()
        try:
            self.conn.execute("DISCARD ALL")
        except Exception:
            self._open()
        self.conn.execute(f"SET statement_timeout = {self.timeout_ms}")

    def run(self, sql: str, in_block: bool = False) -> tuple[str, str] | None:
        """Run one statement. ``in_block``: inside the file's own BEGIN ... COMMIT, which is
        kept (ON COMMIT DROP tables, LOCK TABLE, SET LOCAL and CONCURRENTLY behave as there),
        each statement under a savepoint so that a failure does not abort the rest."""
        if in_block != self.in_block:
            self._block(in_block)
        try:
            if in_block:
                self.conn.execute("SAVEPOINT differential", prepare=False)
            self.conn.execute(sql, prepare=False)
            if in_block:
                self.conn.execute("RELEASE SAVEPOINT differential", prepare=False)
        except Exception as exc:
            failure = _error(exc)
            if self.conn.closed or self.conn.broken:
                self._open()
            elif in_block:
                try:
                    self.conn.execute("ROLLBACK TO SAVEPOINT differential", prepare=False)
                except Exception:  # the statement ended the transaction itself: a new one
                    self._block(False)
                    self._block(True)
            return failure
        return None

    def _block(self, begin: bool) -> None:
        """Open or commit the file's transaction block."""
        from psycopg import pq

        idle = self.conn.pgconn.transaction_status == pq.TransactionStatus.IDLE
        if begin and idle:
            self.conn.execute("BEGIN", prepare=False)
        elif not begin and not idle:
            try:
                self.conn.execute("COMMIT", prepare=False)
            except Exception:
                with contextlib.suppress(Exception):
                    self.conn.execute("ROLLBACK", prepare=False)
        self.in_block = begin

    def end_file(self) -> None:
        """A file that leaves its block open: committed, as the tools that run it do."""
        if self.in_block:
            self._block(False)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()


def apply_once(session: Session, files: Sequence[ChainFile]) -> int:
    """Each file once, in order (the database the replay is compared with); the failures."""
    failed = 0
    for cf in files:
        session.reset()
        for s, block in zip(cf.statements, cf.in_block, strict=True):
            failed += session.run(cf.file.parse_text[s.start : s.end], block) is not None
        session.end_file()
    return failed


def outcomes_of(cf: ChainFile) -> list[Outcome]:
    """One (empty) outcome per statement of a file."""
    out = []
    for s in cf.statements:
        line = cf.file.index.position(s.start)[0]
        head = " ".join(cf.file.text[s.start : s.end].split())[:100]
        out.append(Outcome(cf.display, line, s.kind, head))
    return out


def apply_twice(
    session: Session, files: Sequence[ChainFile], outcomes: Sequence[list[Outcome]]
) -> None:
    """Each file twice in a row; records both runs' failures in ``outcomes`` (per file, per
    statement)."""
    for cf, per_file in zip(files, outcomes, strict=True):
        for run in (1, 2):
            session.reset()
            for s, o, block in zip(cf.statements, per_file, cf.in_block, strict=True):
                failure = session.run(cf.file.parse_text[s.start : s.end], block)
                if run == 1:
                    o.run1 = failure
                elif o.run1 is None:
                    o.run2 = failure
            session.end_file()


# --- ddlguard check ------------------------------------------------------------------------------


@contextlib.contextmanager
def _environment_kept(name: str) -> Iterator[None]:
    """The CLI's ``--no-cache`` sets an environment variable for the process: put it back."""
    before = os.environ.get(name)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def check(files: Sequence[ChainFile], tool: str, workdir: Path) -> list[dict[str, Any]]:
    """``ddlguard check`` on the chain (configured as the migrations, in order): its findings."""
    from ddlguard.cli import main

    config = workdir / "ddlguard.toml"
    listed = ",\n  ".join(_toml_string(str(cf.path)) for cf in files)
    config.write_text(
        f'migrations = [\n  {listed}\n]\nmigration-tool = "{tool}"\n'
        'idempotency = "always"\npg-version = 15\n',
        encoding="utf-8",
    )
    output = workdir / "check.json"
    err = io.StringIO()
    with _environment_kept("DDLGUARD_NO_CACHE"), contextlib.redirect_stderr(err):
        status = main(
            [
                "check", "--config", str(config), "--format", "json", "--no-cache",
                "--select", "idempotency", "--ignore", "naming,safety,integrity",
                "--output", str(output),
            ]
        )  # fmt: skip
    if status not in (0, 1):
        raise RuntimeError(f"ddlguard check exited {status}: {err.getvalue().strip()[-2000:]}")
    findings: list[dict[str, Any]] = json.loads(output.read_text(encoding="utf-8"))["findings"]
    return findings


def _absolute(path: str) -> str:
    p = Path(path)
    return str((p if p.is_absolute() else Path.cwd() / p).resolve())


def map_findings(
    files: Sequence[ChainFile],
    outcomes: Sequence[list[Outcome]],
    findings: list[dict[str, Any]],
    unmapped_out: list[str] | None = None,
) -> tuple[int, int, int]:
    """Attach each I finding's code to the statement whose span holds it. Returns (I findings,
    findings that fall in no statement sent, E001 findings); ``unmapped_out`` collects where
    the latter are."""
    by_path = {str(cf.path.resolve()): i for i, cf in enumerate(files)}
    total = unmapped = syntax = 0
    lost = unmapped_out if unmapped_out is not None else []
    for f in findings:
        code = str(f.get("code", ""))
        if code == "E001":
            syntax += 1
        if not code.startswith("I"):
            continue
        total += 1
        index = by_path.get(_absolute(str(f.get("path", ""))))
        if index is None or files[index].file is None:
            unmapped += 1
            lost.append(f"{f.get('path')}:{f.get('line')} {code}")
            continue
        cf = files[index]
        sqlfile = cf.file
        line = int(f.get("line") or 1)
        column = int(f.get("column") or 1)
        offset = sqlfile.index.line_start(line) + column - 1
        target = None
        for s, o in zip(cf.statements, outcomes[index], strict=True):
            if s.start <= offset <= s.end:
                target = o
                break
        if target is None:  # a column that does not land in a span: the line alone
            for s, o in zip(cf.statements, outcomes[index], strict=True):
                first = sqlfile.index.position(s.start)[0]
                last = sqlfile.index.position(s.end)[0]
                if first <= line <= last:
                    target = o
                    break
        if target is None:
            unmapped += 1
            lost.append(f"{cf.display}:{line} {code}")
            continue
        if code not in target.codes:
            target.codes.append(code)
    return total, unmapped, syntax


def compare(result: ChainResult) -> None:
    fail = _fail()
    for o in result.outcomes:
        first = any(c in FIRST_RUN_CODES for c in o.codes)
        if first and o.run1 is not None:
            result.first_run.tp += 1
        elif first:
            result.first_run.fp += 1
        elif o.run1 is not None:
            result.first_run.fn += 1
        else:
            result.first_run.tn += 1
        if o.run1 is not None:
            result.failed_run1 += 1
            continue
        predicted = any(c in fail for c in o.codes)
        if not predicted and any(c in DATA_CODES for c in o.codes):
            result.data_only += 1
            result.data_only_failed_run2 += o.run2 is not None
            continue
        actual = o.run2 is not None
        if predicted and actual:
            result.rerun.tp += 1
        elif predicted:
            result.rerun.fp += 1
        elif actual:
            result.rerun.fn += 1
        else:
            result.rerun.tn += 1


# --- replay vs catalog ---------------------------------------------------------------------------


def bucket(kind: str) -> str:
    """The report's group of a difference kind (schema.diff.DiffKind values)."""
    if kind.endswith("-table"):
        return "tables"
    if kind == "column-type":
        return "types"
    if kind in ("column-default", "column-identity", "column-generated"):
        return "defaults"
    if kind == "column-nullability":
        return "nullability"
    if kind.endswith("column"):
        return "columns"
    if any(w in kind for w in ("primary-key", "unique", "foreign-key", "check")):
        return "constraints"
    if kind.endswith("index"):
        return "indexes"
    if "enum" in kind:
        return "enums"
    if kind.endswith("-view"):
        return "views"
    return "other"


BUCKETS = (
    "tables", "columns", "types", "defaults", "nullability", "constraints", "indexes", "enums",
    "views", "other",
)  # fmt: skip


def replay_vs_catalog(conn: Any, files: Sequence[ChainFile], tool: str) -> tuple[list[Difference], int]:
    from ddlguard.schema.diff import diff
    from ddlguard.schema.replay import replay
    from ddlguard.sources.database import introspect

    live = introspect(conn)
    replayed = replay([cf.file for cf in files if cf.file is not None], tool=tool)
    out = []
    for d in diff(replayed.schema, live):
        kind = str(getattr(d.kind, "value", d.kind))
        try:
            message = d.describe("the replay", "PostgreSQL")
        except Exception:  # a message the diff cannot write: the detail will do
            message = str(getattr(d, "detail", ""))
        out.append(Difference(bucket(kind), kind, d.object_name, message))
    return out, len(replayed.notes)


# --- one chain -----------------------------------------------------------------------------------

_counter = iter(range(1_000_000))


@contextlib.contextmanager
def fresh_database(cluster: Any) -> Iterator[str]:
    """A new database on ``cluster``; afterwards it is dropped, and so are the roles created
    while it existed (roles are cluster-wide: the next chain must not see them)."""
    from ddlguard.postgres.server import connect

    name = f"diff_{next(_counter)}_{int(time.time() * 1000) % 100000}"
    admin = connect(cluster.conninfo())
    try:
        admin.execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'postgres') THEN "
            "CREATE ROLE postgres SUPERUSER LOGIN; END IF; END $$"
        )
        roles = {r[0] for r in admin.execute("SELECT rolname FROM pg_roles").fetchall()}
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield cluster.conninfo(name)
        finally:
            with contextlib.suppress(Exception):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            now = {r[0] for r in admin.execute("SELECT rolname FROM pg_roles").fetchall()}
            for role in sorted(now - roles):
                quoted = '"' + role.replace('"', '""') + '"'
                try:
                    admin.execute(f"DROP ROLE IF EXISTS {quoted}")
                except Exception:
                    with contextlib.suppress(Exception):
                        admin.execute(f"DROP OWNED BY {quoted} CASCADE")
                        admin.execute(f"DROP ROLE IF EXISTS {quoted}")
    finally:
        admin.close()


def _stage(result: ChainResult, stage: str) -> contextlib.AbstractContextManager[None]:
    @contextlib.contextmanager
    def guard() -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        except Exception as exc:
            tail = traceback.format_exc().strip().splitlines()[-3:]
            result.errors.append(f"{stage}: {type(exc).__name__}: {exc} | {' / '.join(tail)}"[:800])
        finally:
            result.seconds[stage] = round(time.perf_counter() - t0, 2)

    return guard()


def _setup(chain: Chain, session: Session, result: ChainResult) -> None:
    if chain.setup:
        session.reset()
        failure = session.run(chain.setup)
        if failure is not None:
            result.errors.append(f"setup: {failure[0]} {failure[1]}")


def run_chain(
    chain: Chain,
    *,
    cluster: Any = None,
    corpus: Path | None = None,
    timeout_s: float = STATEMENT_TIMEOUT_S,
) -> ChainResult:
    """Everything above for one chain. ``cluster``: a running ``temporary_cluster`` (one is
    started, and stopped afterwards, when None)."""
    from differential.chains import CORPUS

    if cluster is None:
        from ddlguard.postgres.server import temporary_cluster

        with temporary_cluster() as own:
            return run_chain(chain, cluster=own, corpus=corpus, timeout_s=timeout_s)
    tool, extra, note = effective_tool(chain)
    result = ChainResult(chain.name, chain.tool, tool, note)
    workdir = Path(tempfile.mkdtemp(prefix="ddlguard-diff-"))
    try:
        files: list[ChainFile] = []
        with _stage(result, "prepare"):
            files = prepare(chain, corpus or CORPUS, workdir, tool, (*chain.render, *extra))
        result.files = len(files)
        result.statements = sum(len(cf.statements) for cf in files)
        result.transaction_control = sum(cf.transaction_control for cf in files)
        result.syntax_errors = sum(cf.syntax_errors for cf in files)
        outcomes = [outcomes_of(cf) for cf in files]
        with fresh_database(cluster) as conninfo:
            session = Session(conninfo, timeout_s)
            try:
                _setup(chain, session, result)
                with _stage(result, "apply"):
                    apply_twice(session, files, outcomes)
            finally:
                session.close()
        # The replay is compared with the chain applied once, as a deployment applies it (a
        # second run adds copies of unnamed constraints and indexes, which no replay models).
        with fresh_database(cluster) as conninfo:
            session = Session(conninfo, timeout_s)
            try:
                _setup(chain, session, result)
                with _stage(result, "replay"):
                    apply_once(session, files)
                    session.reset()
                    result.differences, result.replay_notes = replay_vs_catalog(
                        session.conn, files, tool
                    )
            finally:
                session.close()
        result.outcomes = [o for per_file in outcomes for o in per_file]
        with _stage(result, "check"):
            findings = check(files, tool, workdir) if files else []
            result.findings, result.unmapped_findings, _ = map_findings(
                files, outcomes, findings, result.unmapped
            )
            result.checked = True
        if result.checked:
            compare(result)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return result
