"""The benchmark: ddlguard against squawk, sqlfluff and the parsing floor, on the same files.

Generates a deterministic corpus of PostgreSQL migrations (or takes ``--corpus DIR``), then times,
interleaved round-robin over the tools for ``--runs`` rounds, whole-process wall time of:

- ``ddlguard check --quiet DIR`` with ``DDLGUARD_NO_CACHE=1`` (cold) and with its cache after
  one warm-up run (warm);
- ``squawk FILE...`` (all files in one call);
- ``sqlfluff lint --dialect postgres`` on a fixed random sample of files (scaled per file);
- the parsing floor: pglast ``parse_sql_json`` over every file in one Python process;

plus the pre-commit case (one changed file, one process start, see ``one_file.py``), and the peak
RSS of each tool. Writes ``bench/RESULTS.md``. Usage:

    /tmp/venv/bin/python bench/run.py --size quick
    /tmp/venv/bin/python bench/run.py --size full
    /tmp/venv/bin/python bench/run.py --corpus path/to/migrations
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from one_file import BUDGET_MS, DEFAULT_FILE

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
DEFAULT_CORPUS = Path("/tmp/ddlguard-bench-corpus")
MARKER = ".ddlguard-bench-corpus"
SEED = 20240601
# (minimum files, minimum statements) per size.
SIZES: dict[str, tuple[int, int]] = {"quick": (300, 3_000), "full": (2_200, 22_000)}
SERVICES = ["billing", "accounts", "catalog", "orders", "shipping", "support", "analytics", "auth"]
NOUNS = ["customer", "invoice", "payment", "product", "order", "line_item", "shipment", "ticket",
         "comment", "event", "session", "user", "role", "permission", "address", "coupon",
         "subscription", "plan", "refund", "warehouse", "stock", "supplier", "audit_log", "webhook",
         "api_key", "tag", "category", "price", "tax_rate", "report"]
COLUMN_TYPES = ["text", "varchar(255)", "bigint", "integer", "boolean NOT NULL DEFAULT false",
                "numeric(12,2)", "timestamptz", "date", "jsonb NOT NULL DEFAULT '{}'::jsonb",
                "uuid", "text[]", "smallint"]
ATTRS = ["name", "code", "status", "amount", "email", "notes", "external_id", "quantity",
         "description", "kind", "priority", "currency", "country", "metadata", "starts_on",
         "ends_on", "is_active", "score", "reference", "source"]


# --------------------------------------------------------------------------------------------
# Corpus


@dataclass
class _Schema:
    rng: random.Random
    tables: list[str] = field(default_factory=list)
    columns: dict[str, list[str]] = field(default_factory=dict)
    enums: dict[str, list[str]] = field(default_factory=dict)
    counter: int = 0

    def fresh(self, base: str) -> str:
        self.counter += 1
        return f"{base}_{self.counter}"

    def table(self) -> str:
        if not self.tables or self.rng.random() < 0.15:
            return self.new_table_name()
        return self.rng.choice(self.tables)

    def new_table_name(self) -> str:
        name = f"{self.rng.choice(SERVICES)}.{self.fresh(self.rng.choice(NOUNS))}"
        self.tables.append(name)
        self.columns[name] = ["id"]
        return name

    def column(self, table: str) -> str:
        return self.rng.choice(self.columns.get(table) or ["id"])


def _ine(rng: random.Random, p: float = 0.5) -> str:
    return "IF NOT EXISTS " if rng.random() < p else ""


def _short(table: str) -> str:
    return table.split(".")[-1]


def _create_table(s: _Schema) -> list[str]:
    rng = s.rng
    t = s.new_table_name()
    cols = rng.sample(ATTRS, rng.randint(3, 8))
    s.columns[t] = ["id", *cols]
    lines = ["    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY"]
    lines += [f"    {c} {rng.choice(COLUMN_TYPES)}" for c in cols]
    lines += ["    created_at timestamptz NOT NULL DEFAULT now()",
              "    updated_at timestamptz NOT NULL DEFAULT now()"]
    if len(s.tables) > 1 and rng.random() < 0.5:
        ref = rng.choice(s.tables[:-1])
        lines.insert(1, f"    {_short(ref)}_id bigint NOT NULL")
        lines.append(f"    CONSTRAINT {_short(t)}_{_short(ref)}_fk FOREIGN KEY ({_short(ref)}_id) "
                     f"REFERENCES {ref} (id) ON DELETE CASCADE")
    body = ",\n".join(lines)
    out = [f"CREATE TABLE {_ine(rng, 0.6)}{t} (\n{body}\n);"]
    for c in rng.sample(cols, rng.randint(1, min(3, len(cols)))):
        unique = "UNIQUE " if rng.random() < 0.2 else ""
        out.append(f"CREATE {unique}INDEX {_ine(rng)}{_short(t)}_{c}_idx ON {t} ({c});")
    if rng.random() < 0.5:
        out.append(f"COMMENT ON TABLE {t} IS 'The {_short(t).replace('_', ' ')} records.';")
    if rng.random() < 0.3:
        out.append(f"GRANT SELECT, INSERT, UPDATE ON {t} TO app_rw;")
    return out


def _alter_table(s: _Schema) -> list[str]:
    rng = s.rng
    t = s.table()
    out: list[str] = []
    for _ in range(rng.randint(1, 4)):
        roll = rng.random()
        if roll < 0.35:
            c = s.fresh(rng.choice(ATTRS))
            s.columns.setdefault(t, ["id"]).append(c)
            out.append(f"ALTER TABLE {t} ADD COLUMN {_ine(rng)}{c} {rng.choice(COLUMN_TYPES)};")
        elif roll < 0.5:
            c = s.column(t)
            out.append(f"UPDATE {t} SET {c} = DEFAULT WHERE {c} IS NULL;")
            out.append(f"ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL;")
        elif roll < 0.65:
            c = s.column(t)
            name = s.fresh(f"{_short(t)}_{c}_check")
            out.append(f"ALTER TABLE {t} ADD CONSTRAINT {name} CHECK ({c} IS NOT NULL) NOT VALID;")
            out.append(f"ALTER TABLE {t} VALIDATE CONSTRAINT {name};")
        elif roll < 0.75:
            out.append(f"ALTER TABLE {t} DROP COLUMN IF EXISTS {s.fresh('legacy')};")
        elif roll < 0.85:
            c = s.column(t)
            out.append(f"ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT NULL;")
        elif roll < 0.93:
            out.append(f"ALTER TABLE {t} RENAME COLUMN {s.column(t)} TO {s.fresh('renamed')};")
        else:
            out.append(f"ALTER TABLE IF EXISTS {t} SET (fillfactor = 90);")
    return out


def _create_index(s: _Schema) -> list[str]:
    rng = s.rng
    t = s.table()
    out: list[str] = []
    if rng.random() < 0.5:
        out.append("SET lock_timeout = '2s';")
    for _ in range(rng.randint(1, 3)):
        cols = sorted({s.column(t), s.column(t)})
        conc = "CONCURRENTLY " if rng.random() < 0.4 else ""
        where = " WHERE deleted_at IS NULL" if rng.random() < 0.2 else ""
        using = " USING gin" if rng.random() < 0.1 else ""
        name = s.fresh(f"{_short(t)}_{'_'.join(cols)}_idx")
        out.append(f"CREATE INDEX {conc}{_ine(rng)}{name} ON {t}{using} ({', '.join(cols)}){where};")
    if rng.random() < 0.3:
        out.append(f"DROP INDEX {'CONCURRENTLY ' if rng.random() < 0.5 else ''}IF EXISTS "
                   f"{t.split('.')[0]}.{s.fresh('old_idx')};")
    return out


def _do_block(s: _Schema) -> list[str]:
    rng = s.rng
    out: list[str] = []
    roll = rng.random()
    if roll < 0.4:
        name = s.fresh(f"{rng.choice(NOUNS)}_status")
        labels = rng.sample(["draft", "pending", "active", "paused", "closed", "failed", "done"], 4)
        s.enums[name] = labels
        values = ", ".join(f"'{v}'" for v in labels)
        out.append(
            "DO $$\nBEGIN\n"
            f"    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = '{name}') THEN\n"
            f"        CREATE TYPE {name} AS ENUM ({values});\n"
            "    END IF;\nEND\n$$;")
    elif roll < 0.75:
        t = s.table()
        c = s.column(t)
        name = s.fresh(f"{_short(t)}_{c}_key")
        out.append(
            "DO $$\nBEGIN\n"
            "    IF NOT EXISTS (\n"
            f"        SELECT 1 FROM pg_constraint WHERE conname = '{name}'\n"
            "    ) THEN\n"
            f"        ALTER TABLE {t} ADD CONSTRAINT {name} UNIQUE ({c});\n"
            "    END IF;\nEND\n$$;")
    else:
        out.append(
            "DO $$\nBEGIN\n"
            "    CREATE ROLE app_readonly NOLOGIN;\n"
            "EXCEPTION\n    WHEN duplicate_object THEN NULL;\nEND\n$$;")
        out.append("GRANT USAGE ON SCHEMA billing TO app_readonly;")
    return out


def _function_trigger(s: _Schema) -> list[str]:
    rng = s.rng
    t = s.table()
    schema = t.split(".")[0]
    fn = f"{schema}.{s.fresh('set_updated_at')}"
    trg = s.fresh(f"{_short(t)}_updated_at_trg")
    out = [
        f"CREATE OR REPLACE FUNCTION {fn}()\nRETURNS trigger\nLANGUAGE plpgsql\nAS $$\n"
        "BEGIN\n    NEW.updated_at := now();\n    RETURN NEW;\nEND;\n$$;",
        f"DROP TRIGGER IF EXISTS {trg} ON {t};",
        f"CREATE TRIGGER {trg}\n    BEFORE UPDATE ON {t}\n    FOR EACH ROW\n"
        f"    EXECUTE FUNCTION {fn}();",
    ]
    if rng.random() < 0.4:
        out.append(
            f"CREATE OR REPLACE FUNCTION {schema}.{s.fresh('count_rows')}(p_since timestamptz)\n"
            f"RETURNS bigint LANGUAGE sql STABLE AS $$\n"
            f"    SELECT count(*) FROM {t} WHERE created_at >= p_since\n$$;")
    if rng.random() < 0.3:
        out.append(f"CREATE OR REPLACE VIEW {schema}.{s.fresh('recent')} AS\n"
                   f"    SELECT * FROM {t} WHERE created_at > now() - interval '30 days';")
    return out


def _enum_change(s: _Schema) -> list[str]:
    rng = s.rng
    if not s.enums:
        name = s.fresh("kind")
        s.enums[name] = ["a", "b"]
        return [f"CREATE TYPE {name} AS ENUM ('a', 'b');"]
    name = rng.choice(sorted(s.enums))
    out: list[str] = []
    for _ in range(rng.randint(1, 3)):
        label = s.fresh("state")
        before = f" BEFORE '{s.enums[name][0]}'" if rng.random() < 0.2 else ""
        out.append(f"ALTER TYPE {name} ADD VALUE {_ine(rng, 0.6)}'{label}'{before};")
        s.enums[name].append(label)
    if rng.random() < 0.2:
        new = s.fresh("renamed")
        out.append(f"ALTER TYPE {name} RENAME VALUE '{s.enums[name][-1]}' TO '{new}';")
        s.enums[name][-1] = new
    return out


def _seed(s: _Schema) -> list[str]:
    rng = s.rng
    out: list[str] = []
    for _ in range(rng.randint(1, 3)):
        t = s.table()
        rows = []
        for i in range(rng.randint(300, 2_000)):
            code = f"{_short(t)[:3].upper()}-{i:05d}"
            rows.append(f"    ('{code}', 'Item {i} {rng.choice(NOUNS)}', {rng.randint(0, 99_999)}, "
                        f"{'true' if rng.random() < 0.8 else 'false'}, "
                        f"'{{\"rank\": {rng.randint(1, 9)}}}')")
        out.append(f"INSERT INTO {t} (code, name, amount, is_active, metadata) VALUES\n"
                   + ",\n".join(rows) + "\nON CONFLICT (code) DO NOTHING;")
    return out


_BLOCKS: list[tuple[Callable[[_Schema], list[str]], float]] = [
    (_create_table, 0.30), (_alter_table, 0.25), (_create_index, 0.17), (_do_block, 0.10),
    (_function_trigger, 0.10), (_enum_change, 0.08)]


def generate(folder: Path, size: str) -> tuple[int, int]:
    """Write the corpus into ``folder`` (replacing an earlier one); return (files, statements)."""
    min_files, min_statements = SIZES[size]
    if folder.exists():
        if not (folder / MARKER).exists() and any(folder.iterdir()):
            raise SystemExit(f"{folder} exists and is not a generated corpus; pick another folder")
        shutil.rmtree(folder)
    rng = random.Random(SEED)
    s = _Schema(rng)
    funcs = [b for b, _ in _BLOCKS]
    weights = [w for _, w in _BLOCKS]
    files = statements = 0
    while files < min_files or statements < min_statements:
        service = SERVICES[files % len(SERVICES)]
        seq = files // len(SERVICES) + 1
        if rng.random() < 0.012:
            kind, stmts = "seed_data", _seed(s)
        else:
            stmts = []
            kinds = rng.choices(funcs, weights, k=rng.randint(2, 4))
            for block in kinds:
                stmts += block(s)
            kind = kinds[0].__name__.strip("_")
        if rng.random() < 0.25:
            stmts = ["BEGIN;", *stmts, "COMMIT;"]
        path = folder / service / "migrations" / f"{seq:04d}_{kind}_{s.counter}.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        header = f"-- Migration {seq:04d} for {service}: {kind.replace('_', ' ')}\n\n"
        path.write_text(header + "\n\n".join(stmts) + "\n", encoding="utf-8")
        files += 1
        statements += len(stmts)
    (folder / MARKER).write_text(f"size={size} seed={SEED} files={files} "
                                 f"statements={statements}\n", encoding="utf-8")
    return files, statements


# --------------------------------------------------------------------------------------------
# Timing


@dataclass
class Tool:
    name: str
    cmd: list[str]
    cwd: Path
    env: dict[str, str]
    scope: str
    files: int
    times: list[float] = field(default_factory=list)
    rss_kb: int = 0
    codes: set[int] = field(default_factory=set)
    error: str = ""
    # Run before each (untimed): e.g. empty the result cache for a cold run.
    prepare: Callable[[], None] | None = None


def _run(tool: Tool, capture: bool = False) -> tuple[float, str]:
    """Run once; return (wall seconds, output if captured), recording the exit code."""
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    if tool.prepare is not None:
        tool.prepare()
    t0 = time.perf_counter()
    proc = subprocess.Popen(tool.cmd, cwd=tool.cwd, env=tool.env, stdout=out,
                            stderr=subprocess.PIPE if capture else subprocess.DEVNULL)
    text = ""
    if capture:
        stdout, stderr = proc.communicate()
        text = stdout.decode("utf-8", "replace") + stderr.decode("utf-8", "replace")
    if not capture:
        proc.wait()
    wall = time.perf_counter() - t0
    code = proc.returncode
    tool.codes.add(code)
    return wall, text


def _peak_rss(tool: Tool) -> None:
    """Run the tool once more under /usr/bin/time for its peak RSS (KiB, largest process of its
    tree). Not measured in the timed runs: a child forked from this (large) process would
    inherit this process's high-water mark on Linux."""
    gnu_time = Path("/usr/bin/time")
    if not gnu_time.exists():
        return
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as out:
        subprocess.run([str(gnu_time), "-o", out.name, "-f", "%M", *tool.cmd], cwd=tool.cwd,
                       env=tool.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)
        text = Path(out.name).read_text().strip().splitlines()
    if text and text[-1].isdigit():
        tool.rss_kb = int(text[-1])


def _mib(kb: int) -> str:
    return f"{kb / 1024:.0f}" if kb else "n/a"


def _version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc})"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else "?"


def _exe(name: str) -> str | None:
    return shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)


FLOOR = ("import sys\nfrom pglast.parser import parse_sql_json\n"
         "for p in open(sys.argv[1], encoding='utf-8').read().splitlines():\n"
         "    parse_sql_json(open(p, encoding='utf-8').read())\n")
COUNT = ("import json, sys\nfrom pglast.parser import parse_sql_json\nn = 0\n"
         "for p in open(sys.argv[1], encoding='utf-8').read().splitlines():\n"
         "    n += len(json.loads(parse_sql_json(open(p, encoding='utf-8').read()))['stmts'])\n"
         "print(n)\n")


def _machine() -> list[str]:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return [f"- CPU: {model}, {os.cpu_count()} logical CPUs (affinity: "
            f"{len(os.sched_getaffinity(0))})", f"- Memory: {mem}",
            f"- OS: {platform.platform()}",
            f"- Python: {platform.python_version()} ({sys.executable})"]


def _identity(ddlguard: str, folder: Path, env: dict[str, str]) -> list[str]:
    """``ddlguard check --format json`` on the whole corpus with the result cache off (one worker,
    then every core), cold (an empty cache) and warm: the outputs must be byte for byte equal."""
    cpus = str(os.cpu_count() or 1)
    runs = [
        ("cache off, 1 worker", {"DDLGUARD_NO_CACHE": "1", "DDLGUARD_WORKERS": "1"}, False),
        (f"cache off, {cpus} workers", {"DDLGUARD_NO_CACHE": "1", "DDLGUARD_WORKERS": cpus},
         False),
        (f"cache cold (emptied), {cpus} workers", {"DDLGUARD_WORKERS": cpus}, True),
        ("cache warm, 1 worker", {"DDLGUARD_WORKERS": "1"}, False),
    ]
    digests: list[tuple[str, str, int]] = []
    for label, extra, empty in runs:
        if empty:
            shutil.rmtree(folder / ".ddlguard_cache", ignore_errors=True)
        run_env = {k: v for k, v in env.items() if k not in ("DDLGUARD_NO_CACHE",
                                                             "DDLGUARD_WORKERS")}
        done = subprocess.run([ddlguard, "check", "--format", "json", str(folder)], cwd=folder,
                              env={**run_env, **extra}, capture_output=True, check=False)
        digests.append((label, hashlib.sha256(done.stdout).hexdigest()[:16], len(done.stdout)))
        print(f"identity: {label}: {digests[-1][1]}", flush=True)
    same = len({d for _, d, _ in digests}) == 1
    lines = ["`ddlguard check --format json` on the whole corpus, SHA-256 of the output:", ""]
    lines += [f"- {label}: `{d}` ({n} bytes)" for label, d, n in digests]
    lines += ["", f"Identical: **{'yes' if same else 'NO'}**"]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="quick")
    parser.add_argument("--corpus", type=Path, help="time this folder of .sql files instead")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_CORPUS,
                        help=f"where to generate the corpus (default {DEFAULT_CORPUS})")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sqlfluff-sample", type=int, default=30,
                        help="files given to sqlfluff (0: all of them)")
    parser.add_argument("--sqlfluff-runs", type=int, default=3)
    parser.add_argument("--one-file-runs", type=int, default=20)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    command = " ".join([sys.executable, "bench/run.py", *(argv if argv is not None else
                                                           sys.argv[1:])])

    if args.corpus:
        folder = args.corpus.resolve()
        generated = "given folder"
    else:
        folder = args.out_dir.resolve()
        print(f"generating the {args.size} corpus in {folder} ...", flush=True)
        n_files, n_stmts = generate(folder, args.size)
        generated = f"generated, --size {args.size}, seed {SEED}: {n_files} files, {n_stmts} statements"
    files = sorted(p for p in folder.rglob("*.sql") if ".ddlguard_cache" not in p.parts)
    if not files:
        print(f"no .sql files under {folder}", file=sys.stderr)
        return 2
    total_bytes = sum(p.stat().st_size for p in files)
    tmp = Path(tempfile.mkdtemp(prefix="ddlguard-bench-"))
    listing = tmp / "files.txt"
    listing.write_text("\n".join(str(p) for p in files) + "\n", encoding="utf-8")
    statements = subprocess.run([sys.executable, "-c", COUNT, str(listing)], capture_output=True,
                                text=True, check=False).stdout.strip() or "?"
    print(f"{len(files)} files, {statements} statements (pglast), {total_bytes / 1e6:.1f} MB",
          flush=True)

    # As on a user's machine: Python writes and reuses its bytecode caches (a session that sets
    # PYTHONDONTWRITEBYTECODE would make every ddlguard start compile its modules again).
    base_env = {k: v for k, v in os.environ.items()
                if k not in ("DDLGUARD_NO_CACHE", "PYTHONDONTWRITEBYTECODE", "DDLGUARD_WORKERS")}
    base_env["NO_COLOR"] = "1"
    cold_env = {**base_env, "DDLGUARD_NO_CACHE": "1"}
    ddlguard = _exe("ddlguard")
    squawk = _exe("squawk")
    sqlfluff = _exe("sqlfluff")
    if ddlguard is None:
        print("ddlguard is not installed in this environment", file=sys.stderr)
        return 2
    rng = random.Random(SEED)
    sample = files if args.sqlfluff_sample <= 0 or args.sqlfluff_sample >= len(files) else \
        sorted(rng.sample(files, args.sqlfluff_sample))
    sample_listing = tmp / "sample.txt"
    sample_listing.write_text("\n".join(str(p) for p in sample) + "\n", encoding="utf-8")
    sample_statements = subprocess.run([sys.executable, "-c", COUNT, str(sample_listing)],
                                       capture_output=True, text=True,
                                       check=False).stdout.strip() or "?"

    def empty_cache() -> None:
        shutil.rmtree(folder / ".ddlguard_cache", ignore_errors=True)

    tools: list[Tool] = [
        Tool("ddlguard cold", [ddlguard, "check", "--quiet", str(folder)], folder, base_env,
             "all files, result cache emptied before each run (so it is written too)",
             len(files), prepare=empty_cache),
        Tool("ddlguard cache off", [ddlguard, "check", "--quiet", str(folder)], folder, cold_env,
             "all files, DDLGUARD_NO_CACHE=1", len(files)),
        Tool("ddlguard warm", [ddlguard, "check", "--quiet", str(folder)], folder, base_env,
             "all files, result cache filled by one warm-up run", len(files)),
    ]
    versions = {"ddlguard": _version([ddlguard, "--version"])}
    missing: list[str] = []
    if squawk:
        tools.append(Tool("squawk", [squawk, *map(str, files)], folder, base_env,
                          "all files, one call", len(files)))
        versions["squawk (squawk-cli)"] = _version([squawk, "--version"])
    else:
        missing.append("squawk: not installed (`pip install squawk-cli` failed or was not run)")
    if sqlfluff:
        scope = ("all files" if len(sample) == len(files) else
                 f"random sample of {len(sample)} files ({sample_statements} statements, "
                 f"seed {SEED}), scaled per file")
        tools.append(Tool("sqlfluff", [sqlfluff, "lint", "--dialect", "postgres", "--processes",
                                       "0", "--disable-progress-bar", *map(str, sample)],
                          folder, base_env, scope + ", `--processes 0` (all cores)", len(sample)))
        tiny = tmp / "tiny.sql"
        tiny.write_text("SELECT 1;\n", encoding="utf-8")
        tools.append(Tool("sqlfluff start-up", [sqlfluff, "lint", "--dialect", "postgres",
                                                "--disable-progress-bar", str(tiny)],
                          folder, base_env, "one file `SELECT 1;` (fixed cost)", 0))
        versions["sqlfluff"] = _version([sqlfluff, "--version"])
    else:
        missing.append("sqlfluff: not installed")
    tools.append(Tool("parsing floor", [sys.executable, "-c", FLOOR, str(listing)], folder,
                      base_env, "pglast parse_sql_json over all files, one process", len(files)))
    versions["pglast"] = _version([sys.executable, "-c",
                                   "import pglast; print(pglast.__version__)"])

    # Warm-up: page cache, bytecode caches, and ddlguard's result cache for the warm runs.
    for cache in {folder / ".ddlguard_cache", Path.cwd() / ".ddlguard_cache"}:
        if cache.is_dir() and cache.parent == folder:
            shutil.rmtree(cache)
    findings: dict[str, int] = {}
    for tool in tools:
        print(f"warm-up: {tool.name} ...", flush=True)
        _, text = _run(tool, capture=True)
        findings[tool.name] = sum(1 for line in text.splitlines() if line.strip())
    tools_by_name = {t.name: t for t in tools}
    for tool in tools:
        tool.codes.clear()

    for r in range(args.runs):
        for tool in tools:
            if tool.name.startswith("sqlfluff") and r >= args.sqlfluff_runs:
                continue
            wall, _ = _run(tool)
            tool.times.append(wall)
            print(f"run {r + 1}/{args.runs} {tool.name}: {wall:.3f} s", flush=True)

    print("peak memory pass ...", flush=True)
    for tool in tools:
        _peak_rss(tool)

    # The pre-commit case: one changed file, one process start. The file is changed before every
    # run (a new comment line), so the result cache misses as it does for a commit; the
    # configuration is unchanged, so its validated copy is reused, as on a developer's machine.
    one_src = DEFAULT_FILE if DEFAULT_FILE.exists() else files[0]
    scratch = Path(tempfile.mkdtemp(prefix="ddlguard-bench-one-"))
    repo = scratch / "repo"
    shutil.copytree(one_src.parent.parent if DEFAULT_FILE.exists() else one_src.parent, repo,
                    ignore=shutil.ignore_patterns(".ddlguard_cache"))
    one = repo / one_src.relative_to(one_src.parent.parent if DEFAULT_FILE.exists() else one_src.parent)
    original = one.read_text(encoding="utf-8")
    one_tool = Tool("ddlguard one file", [ddlguard, "check", "--quiet", str(one)], one.parent,
                    base_env, "one file", 1)
    bare = Tool("python -c pass", [sys.executable, "-c", "pass"], one.parent, base_env, "", 0)
    edits = 0

    def _edit() -> None:
        nonlocal edits
        edits += 1
        one.write_text(original + f"-- edit {edits}\n", encoding="utf-8")

    for _ in range(2):
        _edit()
        _run(one_tool)
        _run(bare)
    one_tool.times.clear()
    bare.times.clear()
    for _ in range(args.one_file_runs):
        _edit()
        one_tool.times.append(_run(one_tool)[0])
        bare.times.append(_run(bare)[0])
    _peak_rss(one_tool)
    shutil.rmtree(scratch, ignore_errors=True)

    identity = _identity(ddlguard, folder, base_env)

    # Report.
    def med(name: str) -> float | None:
        t = tools_by_name.get(name)
        return statistics.median(t.times) if t and t.times else None

    def per_file_all(name: str) -> float | None:
        """The tool's median scaled to the whole corpus (per file, for a sample)."""
        t = tools_by_name.get(name)
        m = med(name)
        return None if m is None or t is None or not t.files else m * len(files) / t.files

    lines = ["# ddlguard benchmark results", "",
             f"Produced by `bench/run.py` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
             "", "## Command", "", "```", command, "```", "", "## Machine", "", *_machine(), "",
             "## Versions", "", *(f"- {k}: {v}" for k, v in versions.items()), "",
             "## Corpus", "",
             f"- {folder} ({generated})",
             f"- {len(files)} .sql files, {statements} statements (as pglast counts them), "
             f"{total_bytes / 1e6:.2f} MB", "",
             "## Full runs (whole-process wall time)", "",
             f"Interleaved round-robin over the tools, {args.runs} rounds (sqlfluff: "
             f"{min(args.runs, args.sqlfluff_runs)}), after one warm-up run of each.", "",
             "| tool | scope | runs | median s | min s | max s | whole corpus s (scaled) "
             "| peak RSS MiB | exit codes | output lines |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|---:|"]
    for t in tools:
        if not t.times:
            continue
        scaled = per_file_all(t.name)
        lines.append(
            f"| {t.name} | {t.scope} | {len(t.times)} | {statistics.median(t.times):.3f} | "
            f"{min(t.times):.3f} | {max(t.times):.3f} | "
            f"{'' if scaled is None else f'{scaled:.2f}'} | {_mib(t.rss_kb)} | "
            f"{', '.join(map(str, sorted(t.codes)))} | {findings.get(t.name, 0)} |")
    lines += ["", "## Ratios (medians; lower is better for ddlguard)", ""]
    cold, warm = med("ddlguard cold"), med("ddlguard warm")
    sq, fl, floor = med("squawk"), per_file_all("sqlfluff"), med("parsing floor")

    def ratio(a: float | None, b: float | None, label: str) -> None:
        if a is not None and b:
            lines.append(f"- {label}: **{a / b:.3f}**")
        else:
            lines.append(f"- {label}: n/a")

    ratio(cold, sq, "ddlguard cold / squawk")
    ratio(med("ddlguard cache off"), sq, "ddlguard cache off / squawk")
    ratio(warm, sq, "ddlguard warm / squawk")
    ratio(cold, fl, "ddlguard cold / sqlfluff (sqlfluff scaled per file)")
    if cold and fl:
        lines.append(f"  (ddlguard is {fl / cold:.0f}x faster than sqlfluff)")
    start, fl_med, fl_tool = med("sqlfluff start-up"), med("sqlfluff"), tools_by_name.get("sqlfluff")
    if cold and start is not None and fl_med is not None and fl_tool and fl_tool.files < len(files):
        fixed = start + max(fl_med - start, 0.0) * len(files) / fl_tool.files
        lines.append(f"- ddlguard cold / sqlfluff, conservative scaling (start-up counted once, "
                     f"the rest per file: {fixed:.2f} s for the corpus): **{cold / fixed:.3f}** "
                     f"({fixed / cold:.0f}x)")
        if sample_statements.isdigit() and statements.isdigit():
            per_stmt = start + max(fl_med - start, 0.0) * int(statements) / int(sample_statements)
            lines.append(f"- ddlguard cold / sqlfluff, scaled per statement ({sample_statements} "
                         f"statements in the sample; {per_stmt:.2f} s for the corpus): "
                         f"**{cold / per_stmt:.3f}** ({per_stmt / cold:.0f}x)")
    ratio(cold, floor, "ddlguard cold / parsing floor")
    if cold is not None and floor is not None:
        lines.append(f"- ddlguard cold overhead over the parsing floor: {cold - floor:+.3f} s "
                     "(the floor is one process on one core; ddlguard may use every core)")
    ratio(warm, floor, "ddlguard warm / parsing floor")
    one_med = statistics.median(one_tool.times)
    lines += ["", "## Pre-commit case (one changed file, one process start)", "",
              f"- file: {one_src.relative_to(ROOT) if one_src.is_relative_to(ROOT) else one_src} "
              f"(a copy of its repository), "
              f"changed before every run (result cache misses, the configuration's validated copy "
              f"is reused), {args.one_file_runs} runs interleaved with `python -c pass`",
              f"- ddlguard check --quiet FILE: median **{one_med * 1000:.1f} ms**, "
              f"min {min(one_tool.times) * 1000:.1f} ms, max {max(one_tool.times) * 1000:.1f} ms, "
              f"peak RSS {_mib(one_tool.rss_kb)} MiB",
              f"- python -c pass: median {statistics.median(bare.times) * 1000:.1f} ms",
              f"- budget {BUDGET_MS:.0f} ms: {'within' if one_med * 1000 < BUDGET_MS else 'OVER'}",
              "", "## Notes", "",
              "- Peak RSS: one extra untimed run of each tool under `/usr/bin/time -f %M` (after the "
              "timed runs, so warm ddlguard has its cache): the largest single process of its "
              "tree (worker processes are not summed).",
              "- Output lines count what each tool printed in its warm-up run (findings and "
              "summaries, not comparable between tools).",
              "- squawk is given every file path on one command line (it does not take folders).",
              "- The warm ddlguard figure equals the cold one if the result cache does not exist "
              "or is not used."]
    lines += [f"- {m}" for m in missing]
    lines += ["", "## Same findings whichever way they are computed", "", *identity]
    args.output.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
