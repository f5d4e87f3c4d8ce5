"""The rule registry: every rule ddlguard knows, by code."""

from __future__ import annotations

from collections.abc import Iterable

from ddlguard.findings import Category, Finding, Rule, Severity

RULES: dict[str, Rule] = {}


class RuleMaker:
    """Builds the rules of one category with its default severity: ``_rule = RuleMaker(...)``
    in each category module, then ``_rule(code, name, summary, why, bad, good, fix_hint)``."""

    def __init__(self, category: Category, severity: Severity) -> None:
        self.category = category
        self.severity = severity

    def __call__(
        self,
        code: str,
        name: str,
        summary: str,
        why: str,
        bad: str,
        good: str,
        fix_hint: str,
        *,
        severity: Severity | None = None,
        fixable: bool = False,
        default: bool = True,
        off_reason: str = "",
    ) -> Rule:
        return Rule(
            code=code,
            name=name,
            category=self.category,
            severity=severity or self.severity,
            summary=summary,
            why=why,
            bad=bad,
            good=good,
            fix_hint=fix_hint,
            enabled_by_default=default,
            fixable=fixable,
            off_by_default_reason=off_reason,
        )


_BY_NAME: dict[str, Rule] = {}


def register(*rules: Rule) -> None:
    for rule in rules:
        if rule.code in RULES or rule.name in _BY_NAME:
            raise ValueError(f"duplicate rule {rule.code} {rule.name}")
        RULES[rule.code] = rule
        _BY_NAME[rule.name] = rule


def get_rule(code_or_name: str) -> Rule | None:
    """Look a rule up by its code (case-insensitive) or its kebab-case name."""
    _load_all()
    return RULES.get(code_or_name.upper()) or _BY_NAME.get(code_or_name.lower())


def make_finding(
    code: str,
    path: str,
    message: str,
    *,
    line: int = 1,
    column: int = 1,
    end_line: int | None = None,
    end_column: int | None = None,
    obj: str | None = None,
) -> Finding:
    """A finding of rule ``code`` that no FileContext produced (file-level, integrity, verify)."""
    _load_all()
    rule = RULES[code]
    return Finding(
        code=code,
        rule=rule.name,
        category=rule.category,
        severity=rule.severity,
        path=path,
        line=line,
        column=column,
        end_line=end_line if end_line is not None else line,
        end_column=end_column if end_column is not None else column,
        message=message,
        object=obj,
        anchor_lines=(line,),
    )


def all_rules() -> list[Rule]:
    _load_all()
    return sorted(RULES.values(), key=lambda r: (_CATEGORY_ORDER[r.category], r.code))


_CATEGORY_ORDER = {c: i for i, c in enumerate(Category)}


def _load_all() -> None:
    # Importing the category modules registers their rules.
    from ddlguard.rules import drift, idempotency, integrity, naming, safety, syntax  # noqa: F401


def matches(selector: str, rule: Rule) -> bool:
    """Does a --select/--ignore entry (code, code prefix, rule name, category or ALL) cover rule?"""
    sel = selector.strip()
    if not sel:
        return False
    low = sel.lower()
    if low == "all":
        return True
    if low == rule.category.value or low == rule.name:
        return True
    return rule.code.upper().startswith(sel.upper())


def known_selector(selector: str, *, style: bool = False) -> bool:
    """A code, code prefix, rule name, category or ALL; with ``style`` (sqlfluff enabled), also
    anything shaped like a sqlfluff code, prefix or rule name (``LT01``, ``LT``, ``layout.spacing``)."""
    _load_all()
    low = selector.strip().lower()
    if low == "all" or low in {c.value for c in Category}:
        return True
    if any(matches(selector, r) for r in RULES.values()):
        return True
    if style:
        from ddlguard.style import looks_like_selector

        return looks_like_selector(selector)
    return False


def resolve(select: Iterable[str], ignore: Iterable[str]) -> set[str]:
    """The enabled rule codes: defaults, plus ``select``, minus ``ignore`` (ignore wins)."""
    _load_all()
    select = list(select)
    ignore = list(ignore)
    enabled = {code for code, r in RULES.items() if r.enabled_by_default}
    for sel in select:
        enabled |= {code for code, r in RULES.items() if matches(sel, r)}
    for ign in ignore:
        enabled -= {code for code, r in RULES.items() if matches(ign, r)}
    return enabled
