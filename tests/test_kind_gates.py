"""The rule modules skip statement kinds they never look at, with hand-kept sets of kinds; these
tests make sure each set covers every kind its function answers for, on every statement of the
fixtures and examples (a new branch added without its kind would otherwise be skipped silently).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ddlguard.rules import idempotency, naming, safety
from ddlguard.sql.source import DecodeProblem, load
from ddlguard.sql.statements import Statement, parse

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted(
    [
        *(ROOT / "tests" / "fixtures").rglob("*.sql"),
        *(ROOT / "examples").rglob("*.sql"),
    ]
)


def _statements() -> list[Statement]:
    out: list[Statement] = []
    for path in FILES:
        loaded = load(path)
        if not isinstance(loaded, DecodeProblem):
            out.extend(parse(loaded).statements)
    return out


STATEMENTS = _statements()


def test_the_corpus_has_many_kinds() -> None:
    assert len({s.kind for s in STATEMENTS}) > 30


@pytest.mark.parametrize(
    ("name", "kinds", "answer"),
    [
        ("idempotency._gone_keys", idempotency._GONE_KINDS, idempotency._gone_keys),
        ("idempotency._created_keys", idempotency._CREATED_KINDS, idempotency._created_keys),
        ("naming.created_names", naming._CREATING, lambda s: list(naming.created_names(s))),
        (
            "safety.created_relations",
            safety._TRACKED,
            lambda s: safety.created_relations(s, "public"),
        ),
        ("safety.lock_timeout_change", safety._SETS_TIMEOUT, safety.lock_timeout_change),
        ("safety._concurrent", set(safety._CONCURRENT_WHAT), safety._concurrent),
    ],
)
def test_kinds_outside_a_gate_get_no_answer(name: str, kinds: object, answer: object) -> None:
    assert callable(answer) and isinstance(kinds, (set, frozenset))
    answered = {s.kind for s in STATEMENTS if answer(s)}
    assert answered, f"{name} answers for nothing in the corpus: the test would prove nothing"
    assert answered <= kinds, f"{name} answers for kinds outside its set: {answered - kinds}"
