"""Rule cases as data: each SQL file under fixtures/rules states its expectations inline.

Format of a fixture file:

* ``-- expect: I101`` (or ``-- expect: I101, N102``) at the end of a line: a finding with that
  code must start on that line.
* ``-- ok: I101`` at the end of a line: a statement on that line that rule I101 must NOT flag
  (a passing case; these are counted so that every rule keeps several).
* ``-- config: <toml>`` lines at the top: configuration for this file (e.g.
  ``-- config: idempotency = "outside-transaction"``, ``-- config: naming.index = "^idx_{table}_{columns}$"``).

Every rule is enabled (``select = ["ALL"]``), minus the configured ``ignore``. The safety rules
run only in the ``S*.sql`` fixtures, which usually ignore the other categories and the safety
rules they are not about (``-- config: ignore = ["idempotency", "naming", "S5", "S6"]``).

Every finding the checker produces must be expected, and every expectation must be found: the
comparison is exact on (line, code).
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from pathlib import Path

import pytest

from ddlguard.checker import Checker
from ddlguard.config import Config
from ddlguard.rules.registry import all_rules

FIXTURES = Path(__file__).parent / "fixtures" / "rules"
_EXPECT = re.compile(r"--\s*expect:\s*([A-Z0-9, ]+)\s*$")
_OK = re.compile(r"--\s*ok:\s*([A-Z0-9, ]+)\s*$")
_CONFIG = re.compile(r"^--\s*config:\s*(.+)$")


def _codes(group: str) -> list[str]:
    return [c.strip() for c in group.split(",") if c.strip()]


def _parse(path: Path) -> tuple[Counter[tuple[int, str]], Counter[str], dict[str, object]]:
    expected: Counter[tuple[int, str]] = Counter()
    passing: Counter[str] = Counter()
    toml_lines: list[str] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if m := _EXPECT.search(line):
            for code in _codes(m.group(1)):
                expected[(n, code)] += 1
        if m := _OK.search(line):
            for code in _codes(m.group(1)):
                passing[code] += 1
        if m := _CONFIG.match(line):
            toml_lines.append(m.group(1))
    data: dict[str, object] = {}
    for entry in toml_lines:
        parsed = tomllib.loads(entry)
        for key, value in parsed.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key].update(value)  # type: ignore[union-attr]
            else:
                data[key] = value
    return expected, passing, data


FIXTURE_FILES = sorted(FIXTURES.glob("*.sql"))


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=[p.name for p in FIXTURE_FILES])
def test_fixture(path: Path) -> None:
    expected, _, data = _parse(path)
    config = Config.model_validate(data, by_alias=True).with_location(path.parent).to_settings()
    # Safety rules have their own fixtures (S*.sql); in the others they would only add noise.
    ignore = [] if path.name.startswith("S") else ["safety"]
    checker = Checker(config, select=["ALL"], ignore=ignore, cwd=path.parent)
    report = checker.check_file(path)
    got = Counter((f.line, f.code) for f in report.findings)
    missing = expected - got
    unexpected = got - expected
    details = "\n".join(
        f"  line {f.line}: {f.code} {f.message}" for f in report.findings
        if (f.line, f.code) in unexpected
    )
    assert not missing and not unexpected, (
        f"{path.name}: missing {sorted(missing)}; unexpected {sorted(unexpected)}\n{details}"
    )


def test_every_statement_rule_has_cases() -> None:
    """At least 5 failing and 5 passing cases for every idempotency, naming and safety rule."""
    fails: Counter[str] = Counter()
    passes: Counter[str] = Counter()
    for path in FIXTURE_FILES:
        expected, passing, _ = _parse(path)
        for (_, code), n in expected.items():
            fails[code] += n
        passes.update(passing)
    short = []
    for rule in all_rules():
        if rule.category.value not in ("idempotency", "naming", "safety") or rule.code == "N301":
            continue  # N301 is about file names: tested in test_cli.py
        if rule.code in ("I801", "I802", "I803", "I804"):
            continue  # found by `ddlguard verify` on a real PostgreSQL: tested in test_verify.py
        if fails[rule.code] < 5 or passes[rule.code] < 5:
            short.append(f"{rule.code}: {fails[rule.code]} failing, {passes[rule.code]} passing")
    assert not short, "rules with too few fixture cases:\n" + "\n".join(short)
