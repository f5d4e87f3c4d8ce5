"""How ddlguard's time and memory grow with the input: many small files, and one large file.

Generates, in a temporary folder (deterministic content, standard library only):

- sets of 1,000, 4,000 and 20,000 small migration files (``--sizes``) in a git repository, measured
  twice: untracked (a fresh ``git init``: the pre-commit change set is every file) and committed;
- single SQL files of 5, 20 and 50 MB (``--mb``): DDL mixed with multi-row ``INSERT`` data;

each with a small ``ddlguard.toml`` (``migrations``, a SQL ``canonical`` schema equal to what the
migrations build), and measures the wall time and the peak RSS (``os.wait4``: the largest process
of the run, the parent or one of its workers) of

- ``ddlguard check --quiet`` with the result cache off (``DDLGUARD_NO_CACHE=1``), cold (emptied
  before the run: computed and written) and warm (filled by the cold run);
- ``ddlguard drift --quiet`` (it does not look at git: measured once per size).

Writes ``bench/SCALE.md`` (``--out``): a table per case, with the time per file (per MB) and how it
grows against linear. Every run has a time limit (``--timeout``) and an address-space limit per
process (``--mem-limit-gb``), so a quadratic version of ddlguard is reported, not waited for.

    .venv/bin/python bench/scale.py                       # the full run (about 5 minutes)
    .venv/bin/python bench/scale.py --sizes 250,1000 --mb 1,4 --out /tmp/SCALE.md   # quick look

The ddlguard measured is the one ``--python`` imports (default: this interpreter); set PYTHONPATH
to measure another source tree.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCALE = ROOT / "bench" / "SCALE.md"
CONFIG = """\
migrations = ["{migrations}"]
canonical = {{ sql = "schema.sql" }}
idempotency = "always"
migration-tool = "psql"
"""
GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid",
       "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null"]


# --------------------------------------------------------------------------------------------
# Content


@dataclass
class _Model:
    """What the generated migrations build, to write the canonical schema that matches them."""

    tables: dict[str, list[str]] = field(default_factory=dict)  # name -> column definitions
    indexes: list[str] = field(default_factory=list)
    enums: list[str] = field(default_factory=list)
    views: list[str] = field(default_factory=list)

    def canonical(self) -> str:
        out = [f"CREATE TYPE {e} AS ENUM ('a', 'b');" for e in self.enums]
        for name, cols in self.tables.items():
            out.append(f"CREATE TABLE {name} (\n    " + ",\n    ".join(cols) + "\n);")
        out += self.indexes
        out += self.views
        return "\n".join(out) + "\n"


def _migration(i: int, m: _Model) -> str:
    """The i-th migration: a table with an index, and now and then a change to an older table,
    a concurrent index, a guarded enum in a DO block or a view."""
    t = f"t{i:06d}"
    cols = ["id bigint PRIMARY KEY", "name text NOT NULL",
            f"ref_id bigint REFERENCES t{i - 1:06d} (id)" if i else "ref_id bigint",
            "created_at timestamptz NOT NULL DEFAULT now()"]
    m.tables[t] = list(cols)
    lines = [f"-- {i:06d}: table {t}",
             f"CREATE TABLE IF NOT EXISTS {t} (\n    " + ",\n    ".join(cols) + "\n);",
             f"CREATE INDEX IF NOT EXISTS {t}_name_idx ON {t} (name);"]
    m.indexes.append(f"CREATE INDEX {t}_name_idx ON {t} (name);")
    if i % 5 == 4:
        old = f"t{i - 3:06d}"
        lines.append(f"ALTER TABLE {old} ADD COLUMN IF NOT EXISTS note_{i} text;")
        # Not CONCURRENTLY: a finding when the table is an older one, none in a change that
        # adds it too.
        lines.append(f"CREATE INDEX IF NOT EXISTS {old}_note_{i}_idx ON {old} (note_{i});")
        m.tables[old].append(f"note_{i} text")
        m.indexes.append(f"CREATE INDEX {old}_note_{i}_idx ON {old} (note_{i});")
    if i % 7 == 6:
        old = f"t{i - 5:06d}"
        lines.append(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {old}_created_{i}_idx "
                     f"ON {old} (created_at);")
        m.indexes.append(f"CREATE INDEX {old}_created_{i}_idx ON {old} (created_at);")
    if i % 11 == 10:
        lines.append(f"DO $$\nBEGIN\n    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'e{i}') "
                     f"THEN\n        CREATE TYPE e{i} AS ENUM ('a', 'b');\n    END IF;\nEND\n$$;")
        m.enums.append(f"e{i}")
    if i % 13 == 12:
        view = f"CREATE OR REPLACE VIEW v{i} AS SELECT id, name FROM t{i - 1:06d};"
        lines.append(view)
        m.views.append(view)
    return "\n".join(lines) + "\n"


def _rows(i: int, n: int) -> str:
    values = ",\n".join(
        f"    ({k}, 'row {k} of t{i:06d}: some text to make it a realistic row', "
        f"{'NULL' if k % 3 else k - 1}, '2024-01-{k % 28 + 1:02d} 12:00:00+00')"
        for k in range(1, n + 1)
    )
    return (f"INSERT INTO t{i:06d} (id, name, ref_id, created_at) VALUES\n{values}\n"
            f"ON CONFLICT (id) DO NOTHING;\n")


def _config(folder: Path, migrations: str, model: _Model) -> None:
    (folder / "ddlguard.toml").write_text(CONFIG.format(migrations=migrations), encoding="utf-8")
    (folder / "schema.sql").write_text(model.canonical(), encoding="utf-8")


def make_file_set(folder: Path, files: int) -> None:
    """``files`` migrations under folder/migrations, with the configuration, in a new git
    repository (nothing committed)."""
    model = _Model()
    mig = folder / "migrations"
    mig.mkdir(parents=True)
    for i in range(files):
        (mig / f"{i:06d}_t{i:06d}.sql").write_text(_migration(i, model), encoding="utf-8")
    _config(folder, "migrations/*.sql", model)
    subprocess.run([*GIT, "init", "-q", "."], cwd=folder, check=True)
    (folder / ".gitignore").write_text(".ddlguard_cache/\n", encoding="utf-8")


def commit_all(folder: Path) -> None:
    subprocess.run([*GIT, "add", "-A"], cwd=folder, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "migrations"], cwd=folder, check=True)


def make_large_file(folder: Path, megabytes: float) -> int:
    """One migration of about ``megabytes`` MB: blocks of DDL (as the small migrations) each with
    a 30-row INSERT; the number of statements is returned."""
    model = _Model()
    folder.mkdir(parents=True)
    target = int(megabytes * 1_000_000)
    size = statements = 0
    with (folder / "big.sql").open("w", encoding="utf-8") as fh:
        i = 0
        while size < target:
            block = _migration(i, model) + _rows(i, 30)
            fh.write(block)
            size += len(block)
            statements += block.count(";\n") - block.count("END IF;")
            i += 1
    _config(folder, "big.sql", model)
    return statements


# --------------------------------------------------------------------------------------------
# Measuring


@dataclass
class Run:
    seconds: float
    cpu: float  # user + system time of the process and its workers
    rss_kb: int
    status: str  # "ok", or why the figures are not a result


def measure(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float,
            mem_limit: int) -> Run:
    """One process (and its workers): wall time, and the peak RSS of the largest of them."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (mem_limit, mem_limit))

    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err,
                                preexec_fn=limit, start_new_session=True)
        expired = threading.Event()

        def kill() -> None:
            expired.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, 9)  # workers left behind by a killed run
        err.seek(0)
        tail = err.read().decode("utf-8", "replace").strip().splitlines()[-1:]
    code = proc.returncode
    if expired.is_set():
        state = f"timeout ({timeout:.0f} s)"
    elif code in (0, 1):
        state = "ok"
    elif any("MemoryError" in line or "Cannot allocate" in line for line in tail) or code == -9:
        state = f"out of memory (limit {mem_limit / 2**30:.0f} GiB per process)"
    else:
        state = f"exit {code}: {' '.join(tail)[:120]}"
    return Run(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, state)


@dataclass
class Case:
    title: str
    unit: str  # "file" or "MB"
    rows: list[tuple[float, Run]] = field(default_factory=list)


class Bench:
    def __init__(self, python: str, timeout: float, mem_limit: int) -> None:
        self.python = python
        self.timeout = timeout
        self.mem_limit = mem_limit
        self.cases: dict[str, Case] = {}
        env = dict(os.environ)
        env.pop("DDLGUARD_NO_CACHE", None)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.env = env

    def case(self, key: str, title: str, unit: str) -> Case:
        return self.cases.setdefault(key, Case(title, unit))

    def run(self, key: str, title: str, unit: str, size: float, cwd: Path, args: list[str],
            *, cache: bool = True) -> None:
        env = dict(self.env)
        if not cache:
            env["DDLGUARD_NO_CACHE"] = "1"
        r = measure([self.python, "-m", "ddlguard", *args], cwd, env, self.timeout,
                    self.mem_limit)
        self.case(key, title, unit).rows.append((size, r))
        print(f"  {title:<52} {size:>8g} {unit:<4} {r.seconds:8.2f} s {r.cpu:8.2f} s CPU "
              f"{r.rss_kb / 1024:9.1f} MiB"
              f"  {'' if r.status == 'ok' else r.status}", flush=True)

    def check_three(self, prefix: str, what: str, unit: str, size: float, cwd: Path) -> None:
        """check with the cache off, then cold (emptied), then warm."""
        self.run(f"{prefix}-off", f"check, {what}, cache off", unit, size, cwd,
                 ["check", "--quiet"], cache=False)
        shutil.rmtree(cwd / ".ddlguard_cache", ignore_errors=True)
        self.run(f"{prefix}-cold", f"check, {what}, cache cold", unit, size, cwd,
                 ["check", "--quiet"])
        self.run(f"{prefix}-warm", f"check, {what}, cache warm", unit, size, cwd,
                 ["check", "--quiet"])


# --------------------------------------------------------------------------------------------
# Report


def _fmt(x: float, digits: int = 2) -> str:
    return f"{x:,.{digits}f}"


def _table(case: Case) -> Iterator[str]:
    per = "1k files" if case.unit == "file" else "MB"
    scale = 1000.0 if case.unit == "file" else 1.0
    head = "files" if case.unit == "file" else "MB"
    yield f"### {case.title}"
    yield ""
    yield (f"| {head} | wall s | CPU s | peak RSS MiB | CPU s per {per} | MiB per {per} | "
           f"CPU vs linear | memory vs linear | marginal CPU s per {per} | "
           f"marginal MiB per {per} |")
    yield "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    first: tuple[float, Run] | None = None
    prev: tuple[float, Run] | None = None
    for size, r in case.rows:
        mib = r.rss_kb / 1024
        if r.status != "ok":
            yield (f"| {size:,g} | {r.status} | {_fmt(r.cpu)} | {_fmt(mib, 0)} (when stopped) "
                   f"| | | | | | |")
            continue
        units = size / scale
        cells = [f"{size:,g}", _fmt(r.seconds), _fmt(r.cpu), _fmt(mib, 0),
                 _fmt(r.cpu / units, 3), _fmt(mib / units, 1)]
        if first is None:
            first = (size, r)
            cells += ["1.00", "1.00", "", ""]
        else:
            grow = size / first[0]
            cells += [_fmt(r.cpu / first[1].cpu / grow),
                      _fmt(r.rss_kb / first[1].rss_kb / grow)]
            assert prev is not None
            du = (size - prev[0]) / scale
            cells += [_fmt((r.cpu - prev[1].cpu) / du, 3),
                      _fmt((r.rss_kb - prev[1].rss_kb) / 1024 / du, 1)]
        prev = (size, r)
        yield "| " + " | ".join(cells) + " |"
    yield ""


def report(bench: Bench, argv: list[str], ddlguard: str, started: float,
           notes: list[str]) -> str:
    lines = [
        "# How ddlguard scales",
        "",
        "Generated by `bench/scale.py` (see bench/README.md); nothing here is asserted by the tests.",
        "",
        f"- Command: `{' '.join(['python', 'bench/scale.py', *argv])}`",
        f"- ddlguard measured: `{ddlguard}`",
        f"- Machine: {platform.platform()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}",
        f"- Whole run: {time.perf_counter() - started:.0f} s",
        "- Wall time of the whole process; CPU time (user + system) of the process and its "
        "workers; peak RSS of the largest process of the run (the parent or a worker). All three "
        "from `os.wait4`. One run per cell. The ratios use CPU time, which other work on the "
        "machine disturbs less than wall time.",
        "- *CPU vs linear*: (CPU time / CPU time at the smallest size) / (size / smallest size); "
        "1.00 is linear, a fixed start-up cost makes it fall below 1, growth faster than linear "
        "makes it rise; *memory vs linear* the same for the peak RSS. *marginal*: the cost of "
        "the files (MB) added since the previous row.",
        *notes,
        "",
    ]
    for case in bench.cases.values():
        lines += list(_table(case))
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------


def _sizes(text: str, kind: Callable[[str], float]) -> list[float]:
    return [kind(x) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,4000,20000", help="file counts (comma-separated)")
    parser.add_argument("--mb", default="5,20,50", help="single-file sizes in MB")
    parser.add_argument("--commands", default="check,drift", help="what to measure")
    parser.add_argument("--out", type=Path, default=SCALE)
    parser.add_argument("--python", default=sys.executable, help="the interpreter running ddlguard")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per run")
    parser.add_argument("--mem-limit-gb", type=float, default=8.0,
                        help="address-space limit per process")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="where to generate (default: a new temporary folder, removed after)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    commands = set(args.commands.split(","))
    bench = Bench(args.python, args.timeout, int(args.mem_limit_gb * 2**30))
    ddlguard = subprocess.run(
        [args.python, "-c", "import ddlguard; print(ddlguard.__version__, ddlguard.__file__)"],
        capture_output=True, text=True, check=True, env=bench.env).stdout.strip()
    print(f"ddlguard {ddlguard}", flush=True)
    notes: list[str] = []
    work = Path(tempfile.mkdtemp(prefix="ddlguard-scale-", dir=args.work_dir))
    try:
        for n in _sizes(args.sizes, int):
            folder = work / f"files-{n:g}"
            t0 = time.perf_counter()
            make_file_set(folder, int(n))
            print(f"{n:g} files generated in {time.perf_counter() - t0:.1f} s", flush=True)
            if "check" in commands:
                bench.check_three("untracked", "files untracked (fresh git init)", "file", n,
                                  folder)
                commit_all(folder)
                bench.check_three("committed", "files committed", "file", n, folder)
            if "drift" in commands:
                bench.run("drift-files", "drift, files", "file", n, folder, ["drift", "--quiet"])
            shutil.rmtree(folder)
        for mb in _sizes(args.mb, float):
            folder = work / f"large-{mb:g}"
            statements = make_large_file(folder, mb)
            notes.append(f"- The {mb:g} MB file holds {statements:,} statements.")
            print(f"{mb:g} MB file generated ({statements:,} statements)", flush=True)
            if "check" in commands:
                bench.run("large-off", "check, one large file, cache off", "MB", mb, folder,
                          ["check", "--quiet"], cache=False)
                bench.run("large-cold", "check, one large file, cache cold", "MB", mb, folder,
                          ["check", "--quiet"])
            if "drift" in commands:
                bench.run("drift-large", "drift, one large file", "MB", mb, folder,
                          ["drift", "--quiet"])
            shutil.rmtree(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = report(bench, argv, ddlguard, started, notes)
    args.out.write_text(text, encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
