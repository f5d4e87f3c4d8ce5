"""The ruff-style text report: a header line per finding, the source line with a caret under the
span, and a one-line summary.

Columns are 1-based and counted in characters; ``end_column`` points one past the last character
of the span (as in ruff and SARIF), so ``CREATE TABLE`` at column 1 ends at column 13. Tabs are
expanded to the next multiple of ``TAB_SIZE`` and wide (East Asian) characters count as two
cells, so the caret lines up under the text in a terminal.
"""

from __future__ import annotations

import unicodedata

from ddlguard.findings import Finding, Result, Severity
from ddlguard.report._common import (
    FIX_COMMAND,
    file_count,
    is_fixable,
    plural,
    severity_breakdown,
    severity_of,
    sorted_findings,
)

TAB_SIZE = 4

_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_CYAN = "\x1b[36m"
_SEVERITY_COLOR: dict[Severity, str] = {
    Severity.ERROR: "\x1b[31m",
    Severity.WARNING: "\x1b[33m",
    Severity.INFO: "\x1b[34m",
}


def render_text(result: Result, color: bool = False, show_source: bool = True) -> str:
    """Every finding with its source line (when ``show_source`` and the source is known),
    then the summary. Without ``color`` the output holds no escape sequence at all."""
    out: list[str] = []
    for finding in sorted_findings(result):
        out.append(_header(finding, color))
        if show_source:
            out.extend(_snippet(finding, result.source(finding.path), color))
            out.append("")
    out.extend(_summary(result))
    return "\n".join(out) + "\n"


def render_concise(result: Result, color: bool = False, summary: bool = True) -> str:
    """One line per finding, then (unless ``summary`` is False, as for ``--quiet``) the summary."""
    if summary:
        return render_text(result, color=color, show_source=False)
    return "".join(
        _header(f, color) + "\n" for f in sorted(result.findings, key=Finding.sort_key)
    )


def _paint(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{_RESET}" if color else text


def _header(finding: Finding, color: bool) -> str:
    sev_color = _SEVERITY_COLOR[severity_of(finding)]
    path = _paint(_clean(finding.path), _BOLD, color)
    code = _paint(_clean(finding.code), _BOLD + sev_color, color)
    fixable = " " + _paint("[*]", _CYAN, color) if is_fixable(finding) else ""
    message = _clean(finding.message).replace("\n", " ")
    return f"{path}:{finding.line}:{finding.column}: {code}{fixable} {message}"


def _snippet(finding: Finding, source: str | None, color: bool) -> list[str]:
    if source is None:
        return []
    lines = source.split("\n")
    if not 1 <= finding.line <= len(lines):
        return []
    raw = _clean(lines[finding.line - 1].removesuffix("\r"))
    start = max(finding.column, 1) - 1  # 0-based character index
    if finding.end_line == finding.line and finding.end_column > finding.column:
        end = finding.end_column - 1
    elif finding.end_line > finding.line and len(raw.rstrip()) > start:
        end = len(raw.rstrip())  # a multi-line span: underline the rest of its first line
    else:
        end = start + 1
    # A span may run past the end of the line (an insertion point at the end, say): pad it.
    padded = raw + " " * max(0, end - len(raw))
    indent = _width(_expand(padded[:start]))
    carets = max(1, _width(_expand(padded[:end])) - indent)
    number = str(finding.line)
    gutter = " " * len(number) + " |"
    caret_line = " " * indent + _paint(
        "^" * carets, _BOLD + _SEVERITY_COLOR[severity_of(finding)], color
    )
    return [
        gutter,
        f"{number} | {_expand(raw)}".rstrip(),
        f"{gutter} {caret_line}",
        gutter,
    ]


def _summary(result: Result) -> list[str]:
    findings = result.findings
    lines: list[str] = []
    if result.fixed > 0:
        lines.append(f"Fixed {plural(result.fixed, 'problem')}.")
    if not findings:
        lines.append("All checks passed!")
        return lines
    lines.append(
        f"Found {plural(len(findings), 'problem')} ({severity_breakdown(findings)}) "
        f"in {plural(file_count(findings), 'file')}."
    )
    fixable = sum(1 for f in findings if is_fixable(f))
    if fixable:
        lines.append(f"[*] {fixable} fixable with `{FIX_COMMAND}`.")
    return lines


def _clean(text: str) -> str:
    """Replace control characters (escape sequences in a file or a message included) with their
    visible Unicode pictures, one character for one, so columns still line up."""
    if text.isprintable():
        return text
    chars: list[str] = []
    for ch in text:
        code = ord(ch)
        if ch in "\t\n":
            chars.append(ch)
        elif code < 0x20:
            chars.append(chr(0x2400 + code))
        elif code == 0x7F:
            chars.append("\u2421")
        elif 0x80 <= code < 0xA0:
            chars.append("\ufffd")
        else:
            chars.append(ch)
    return "".join(chars)


def _char_width(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) == "Cf":
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _width(text: str) -> int:
    return sum(_char_width(ch) for ch in text)


def _expand(text: str) -> str:
    """Expand tabs to the next multiple of ``TAB_SIZE`` display cells."""
    if "\t" not in text:
        return text
    out: list[str] = []
    cells = 0
    for ch in text:
        if ch == "\t":
            pad = TAB_SIZE - cells % TAB_SIZE
            out.append(" " * pad)
            cells += pad
        else:
            out.append(ch)
            cells += _char_width(ch)
    return "".join(out)


def render_breakdown(result: Result) -> str:
    """For a person reading an audit: how the findings split by category and by file."""
    if not result.findings:
        return ""
    by_category: dict[str, int] = {}
    by_file: dict[str, dict[str, int]] = {}
    for f in result.findings:
        by_category[f.category.value] = by_category.get(f.category.value, 0) + 1
        per = by_file.setdefault(f.path, {})
        per[f.category.value] = per.get(f.category.value, 0) + 1
    lines = ["", "By category:"]
    width = max(len(c) for c in by_category)
    for cat, n in sorted(by_category.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  {cat:<{width}}  {n}")
    lines.append("")
    lines.append("By file:")
    fwidth = max(len(p) for p in by_file)
    for path in sorted(by_file):
        parts = ", ".join(f"{n} {cat}" for cat, n in sorted(by_file[path].items()))
        lines.append(f"  {path:<{fwidth}}  {parts}")
    lines.append("")
    lines.append("`ddlguard rules CODE` explains a rule; `ddlguard check --fix FILE` applies the [*] fixes.")
    return "\n".join(lines) + "\n"
