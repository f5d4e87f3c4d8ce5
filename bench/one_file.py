"""The pre-commit budget: one changed file, one ddlguard process, Python start-up included.

Runs `ddlguard check FILE` (default: the ucr-manager example's 0006 migration, with its
configuration) several times and prints the median, the spread, and a bare interpreter start-up
for comparison. Usage:

    .venv/bin/python bench/one_file.py [--runs 30] [FILE]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILE = ROOT / "examples" / "ucr-manager" / "migrations" / "0006_connectwise_integration.sql"
BUDGET_MS = 150.0


def _time(cmd: list[str], cwd: Path, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args(argv)
    exe = shutil.which("ddlguard", path=str(Path(sys.executable).parent)) or shutil.which("ddlguard")
    if exe is None:
        print("ddlguard is not installed in this environment", file=sys.stderr)
        return 2
    target = args.file.resolve()
    cwd = target.parent
    # Warm the OS page cache and Python's bytecode cache once, as a developer's machine has them.
    _time([exe, "check", "--quiet", str(target)], cwd, 2)
    _time([sys.executable, "-c", "pass"], cwd, 2)
    # Interleave the two so that machine noise hits both alike.
    tool: list[float] = []
    bare: list[float] = []
    for _ in range(args.runs):
        tool += _time([exe, "check", "--quiet", str(target)], cwd, 1)
        bare += _time([sys.executable, "-c", "pass"], cwd, 1)
    med = statistics.median(tool)
    print(f"file: {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
    print(f"runs: {args.runs}")
    print(f"ddlguard check (one file): median {med:.1f} ms, min {min(tool):.1f} ms, "
          f"p90 {statistics.quantiles(tool, n=10)[-1]:.1f} ms")
    print(f"python -c pass:            median {statistics.median(bare):.1f} ms")
    print(f"budget {BUDGET_MS:.0f} ms: {'within' if med < BUDGET_MS else 'OVER'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
