"""Documentation stays true: docs/rules.md is generated from the rules, the README's commands work."""

from __future__ import annotations

import re
from pathlib import Path

from ddlguard.rules.docs import listing
from ddlguard.rules.registry import all_rules

ROOT = Path(__file__).resolve().parents[1]


def test_docs_rules_md_is_generated_from_the_rules() -> None:
    current = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert current == listing("markdown"), (
        "docs/rules.md is stale: run `ddlguard rules --format markdown > docs/rules.md`"
    )


def test_every_rule_is_documented() -> None:
    for rule in all_rules():
        assert re.fullmatch(r"[A-Z]\d{3}", rule.code), rule.code
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.name), rule.name
        for part in (rule.summary, rule.why, rule.bad, rule.good, rule.fix_hint):
            assert part.strip(), f"{rule.code} has an empty documentation part"
        if not rule.enabled_by_default:
            assert rule.off_by_default_reason or rule.category.value == "naming", rule.code


def test_readme_lists_every_rule_category_in_use() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for category in {r.category.value for r in all_rules()}:
        assert f"| {category} |" in readme, category


def test_changelog_has_unreleased_section() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]" in text
