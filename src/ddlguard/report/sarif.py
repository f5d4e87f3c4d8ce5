"""SARIF 2.1.0, as GitHub code scanning accepts it.

One run; ``tool.driver.rules`` holds one reporting descriptor per rule code that appears in the
findings (in code order), and every result points at its rule by ``ruleId`` and ``ruleIndex``.
Paths are relative URIs against ``%SRCROOT%`` (the repository root, for code scanning); columns
are Unicode code points (``columnKind``), ``endColumn`` one past the span as SARIF defines it.
``partialFingerprints["ddlguard/v1"]`` hashes code, path, object and message (not the line), so
GitHub keeps tracking an alert when lines above it move.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import quote

import ddlguard
from ddlguard.findings import Finding, Result, Rule, Severity
from ddlguard.report._common import severity_of, sorted_findings, value
from ddlguard.rules.registry import get_rule

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/ddlguard/ddlguard"
FINGERPRINT_KEY = "ddlguard/v1"
SRCROOT = "%SRCROOT%"

_LEVEL: dict[Severity, str] = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "note",
}


def level(severity: Severity) -> str:
    """SARIF ``level`` of a severity: error, warning, note."""
    return _LEVEL[severity]


def pascal_case(name: str) -> str:
    """``create-table-without-if-not-exists`` -> ``CreateTableWithoutIfNotExists``."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", name) if part)


def artifact_location(path: str) -> dict[str, str]:
    """A relative path becomes a percent-encoded URI with forward slashes against ``%SRCROOT%``;
    an absolute path becomes a ``file:`` URI."""
    posix = path.replace("\\", "/")
    if PureWindowsPath(path).drive or PurePosixPath(posix).is_absolute():
        if PureWindowsPath(path).drive:
            return {"uri": PureWindowsPath(path).as_uri()}
        return {"uri": PurePosixPath(posix).as_uri()}
    while posix.startswith("./"):
        posix = posix[2:]
    return {"uri": quote(posix, safe="/"), "uriBaseId": SRCROOT}


def fingerprint(finding: Finding, occurrence: int = 1) -> str:
    """32 hex characters of SHA-256 over code, path, object and message; the ``occurrence``-th
    identical finding (same four values) hashes differently, so alerts stay distinct."""
    parts = [finding.code, finding.path.replace("\\", "/"), finding.object or "", finding.message]
    if occurrence > 1:
        parts.append(str(occurrence))
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:32]


def _fence(code: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", code)), default=0)
    return "`" * max(3, longest + 1)


def _help(rule: Rule) -> dict[str, str]:
    text: list[str] = []
    markdown: list[str] = []
    if rule.why:
        text.append(rule.why.strip())
        markdown.append(rule.why.strip())
    for label, example in (("Bad", rule.bad), ("Good", rule.good)):
        if example.strip():
            body = example.strip("\n")
            text.append(f"{label}:\n{body}")
            fence = _fence(body)
            markdown.append(f"**{label}**\n\n{fence}sql\n{body}\n{fence}")
    if rule.fix_hint:
        text.append(f"Fix: {rule.fix_hint.strip()}")
        markdown.append(f"**Fix:** {rule.fix_hint.strip()}")
    if not text:
        text.append(rule.summary or rule.name)
        markdown.append(rule.summary or rule.name)
    return {"text": "\n\n".join(text), "markdown": "\n\n".join(markdown)}


def rule_descriptor(code: str, finding: Finding) -> dict[str, Any]:
    """The reporting descriptor of ``code``: from the registry, or a minimal one built from the
    finding when the registry does not know the code (sqlfluff's style codes, say)."""
    rule = get_rule(code)
    if rule is None or rule.code.upper() != code.upper():
        name = finding.rule or code
        minimal: dict[str, Any] = {
            "id": code,
            "name": pascal_case(name) or code,
            "shortDescription": {"text": name},
        }
        if value(finding.category) == "style":  # sqlfluff's rules are documented by sqlfluff
            from ddlguard.style import RULES_URI

            uri = f"{RULES_URI}#rule-{quote(code, safe='')}"
            minimal["helpUri"] = uri
            minimal["help"] = {
                "text": f"sqlfluff rule {code} ({name}): {uri}",
                "markdown": f"sqlfluff rule `{code}` (`{name}`): [documentation]({uri})",
            }
        minimal["defaultConfiguration"] = {"level": level(severity_of(finding))}
        minimal["properties"] = {"tags": [value(finding.category)]}
        return minimal
    descriptor: dict[str, Any] = {
        "id": code,
        "name": pascal_case(rule.name) or code,
        "shortDescription": {"text": rule.summary or rule.name},
    }
    if rule.why:
        descriptor["fullDescription"] = {"text": rule.why.strip()}
    descriptor["help"] = _help(rule)
    descriptor["defaultConfiguration"] = {"level": level(Severity(value(rule.severity)))}
    descriptor["properties"] = {"tags": [value(rule.category)]}
    return descriptor


def _region(finding: Finding) -> dict[str, int]:
    start_line = max(finding.line, 1)
    region: dict[str, int] = {"startLine": start_line}
    if finding.line >= 1 and finding.column >= 1:
        region["startColumn"] = finding.column
    end_line = max(finding.end_line, start_line)
    if finding.line >= 1 and finding.end_line >= 1:
        region["endLine"] = end_line
        if finding.end_column >= 1 and "startColumn" in region:
            end_column = finding.end_column
            if end_line == start_line:
                end_column = max(end_column, finding.column)
            region["endColumn"] = end_column
    return region


def _fixes(finding: Finding) -> list[dict[str, Any]]:
    fix = finding.fix
    if fix is None or not fix.edits:
        return []
    replacements = [
        {
            "deletedRegion": {
                "charOffset": edit.start,
                "charLength": max(edit.end - edit.start, 0),
            },
            "insertedContent": {"text": edit.text},
        }
        for edit in sorted(fix.edits, key=lambda e: (e.start, e.end))
    ]
    return [
        {
            "description": {"text": fix.description or "Apply the fix"},
            "artifactChanges": [
                {"artifactLocation": artifact_location(finding.path), "replacements": replacements}
            ],
        }
    ]


def to_sarif(result: Result) -> dict[str, Any]:
    """The SARIF log as plain JSON-ready data."""
    findings = sorted_findings(result)
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for finding in sorted(findings, key=lambda f: f.code):
        if finding.code not in index:
            index[finding.code] = len(rules)
            rules.append(rule_descriptor(finding.code, finding))

    seen: dict[str, int] = {}
    results: list[dict[str, Any]] = []
    for finding in findings:
        base = fingerprint(finding)
        seen[base] = seen.get(base, 0) + 1
        entry: dict[str, Any] = {
            "ruleId": finding.code,
            "ruleIndex": index[finding.code],
            "level": level(severity_of(finding)),
            "message": {"text": finding.message or finding.rule or finding.code},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": artifact_location(finding.path),
                        "region": _region(finding),
                    }
                }
            ],
            "partialFingerprints": {FINGERPRINT_KEY: fingerprint(finding, seen[base])},
        }
        fixes = _fixes(finding)
        if fixes:
            entry["fixes"] = fixes
        results.append(entry)

    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "ddlguard",
                        "version": ddlguard.__version__,
                        "semanticVersion": ddlguard.__version__,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def render_sarif(result: Result) -> str:
    return json.dumps(to_sarif(result), indent=2, ensure_ascii=False) + "\n"
