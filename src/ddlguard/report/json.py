"""The JSON report: the object documented in SPEC.md, keys in the SPEC's order.

Additions to the SPEC shape (allowed: add, never rename): ``fix.edits`` when a fix has edits,
and ``summary.by_severity`` and ``summary.fixed``.
"""

from __future__ import annotations

import json
from typing import Any

import ddlguard
from ddlguard.findings import Finding, Fix, Result
from ddlguard.report._common import severity_counts, sorted_findings, value


def finding_to_dict(finding: Finding) -> dict[str, Any]:
    """One finding as in SPEC.md; ``object`` and ``fix`` are left out when there is none."""
    data: dict[str, Any] = {
        "code": finding.code,
        "rule": finding.rule,
        "category": value(finding.category),
        "severity": value(finding.severity),
        "path": finding.path,
        "line": finding.line,
        "column": finding.column,
        "end_line": finding.end_line,
        "end_column": finding.end_column,
    }
    if finding.object is not None:
        data["object"] = finding.object
    data["message"] = finding.message
    if finding.fix is not None:
        data["fix"] = fix_to_dict(finding.fix)
    return data


def fix_to_dict(fix: Fix) -> dict[str, Any]:
    data: dict[str, Any] = {"description": fix.description, "replacement": fix.replacement}
    if fix.edits:
        data["edits"] = [{"start": e.start, "end": e.end, "text": e.text} for e in fix.edits]
    return data


def to_dict(result: Result) -> dict[str, Any]:
    """The whole report as plain JSON-ready data."""
    findings = sorted_findings(result)
    return {
        "tool": "ddlguard",
        "version": ddlguard.__version__,
        "findings": [finding_to_dict(f) for f in findings],
        "summary": {
            "files": result.files,
            "statements": result.statements,
            "findings": len(findings),
            "by_severity": {sev.value: n for sev, n in severity_counts(findings).items()},
            "fixed": result.fixed,
        },
    }


def render_json(result: Result) -> str:
    """``to_dict`` indented by two spaces, UTF-8 text (not ``\\u`` escapes), trailing newline."""
    return json.dumps(to_dict(result), indent=2, ensure_ascii=False) + "\n"
