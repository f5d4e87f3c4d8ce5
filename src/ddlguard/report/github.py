"""GitHub Actions workflow commands: one annotation per finding.

``::error file=PATH,line=L,col=C,endLine=EL,endColumn=EC,title=CODE rule-name::message``, with
``::warning`` for warnings and ``::notice`` for info. Columns are given only for a span on one
line (GitHub's annotations accept columns only when start and end line are the same), and
position properties are left out for a whole-file finding (line 0).
"""

from __future__ import annotations

from ddlguard.findings import Finding, Result, Severity
from ddlguard.report._common import severity_of, sorted_findings

_COMMAND: dict[Severity, str] = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "notice",
}


def escape_data(text: str) -> str:
    """Escape a command's message: ``%``, CR and LF."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a property value: as data, plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(finding: Finding) -> str:
    """The workflow command for one finding (no trailing newline)."""
    props: list[tuple[str, str]] = [("file", finding.path.replace("\\", "/"))]
    if finding.line >= 1:
        props.append(("line", str(finding.line)))
        same_line = finding.end_line in (finding.line, 0)
        if same_line and finding.column >= 1:
            props.append(("col", str(finding.column)))
        if finding.end_line >= finding.line:
            props.append(("endLine", str(finding.end_line)))
        if same_line and finding.column >= 1 and finding.end_column >= finding.column:
            props.append(("endColumn", str(finding.end_column)))
    title = f"{finding.code} {finding.rule}".strip()
    props.append(("title", title))
    rendered = ",".join(f"{key}={escape_property(val)}" for key, val in props)
    return f"::{_COMMAND[severity_of(finding)]} {rendered}::{escape_data(finding.message)}"


def render_github(result: Result) -> str:
    """One command per finding, in report order; empty when there is nothing to report."""
    return "".join(command(f) + "\n" for f in sorted_findings(result))
