"""A Markdown report for a PR comment or ``$GITHUB_STEP_SUMMARY``.

The first line is the hidden marker ``<!-- ddlguard-report -->``, so a bot can find its own
comment and update it instead of adding a new one. Then a heading and a status line, a table of
counts by category, and per file a table of the findings. Messages are escaped so that ``|``,
backticks, ``*``/``_`` and HTML-looking text show literally; nothing links outside the report.
A word with an ``@`` that GitHub would read as a mention (``@user``, ``@org/team``, in a name,
a message or a file name) is shown as inline code, where GitHub never mentions anyone: nobody is
notified, and the name reads and copies as it is (no invisible character inserted). Control
characters show as their Unicode pictures (a lone carriage return as ``␍``): they cannot end a
table row or start a heading.
The report stays under ``max_chars`` (GitHub refuses comments over 65,536 characters): rows that
do not fit are counted in a closing note instead.
"""

from __future__ import annotations

import re
from collections import defaultdict

from ddlguard.findings import Category, Finding, Result, Severity
from ddlguard.report._common import (
    FIX_COMMAND,
    SEVERITY_ORDER,
    file_count,
    is_fixable,
    plural,
    severity_breakdown,
    severity_counts,
    severity_of,
    sorted_findings,
    value,
)

MARKER = "<!-- ddlguard-report -->"
MAX_CHARS = 60_000

_ICON: dict[Severity, str] = {
    Severity.ERROR: ":x:",
    Severity.WARNING: ":warning:",
    Severity.INFO: ":information_source:",
}
_CATEGORY_ORDER: dict[str, int] = {c.value: i for i, c in enumerate(Category)}

# Characters that Markdown (GFM) would read as syntax inside a table cell; ``_`` only where it can
# open or close emphasis (not inside a word, so snake_case names stay readable in the raw text).
_MD_SPECIAL = re.compile(r"([\\`*\[\]|~]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z]))")


# A word GitHub could read as a mention: an @ followed by a letter or digit (@user, @org/team).
_MENTION_WORD = re.compile(r"\S*@[A-Za-z0-9]\S*")
# Control characters other than tab and line feed (a lone CR is a line end to Markdown), and the
# Unicode line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


_OPENING = "([{\"'"
_CLOSING = ".,;:!?)]}\"'"


def _picture(match: re.Match[str]) -> str:
    code = ord(match[0])
    if code in (0x2028, 0x2029):
        return " "
    if code < 0x20:
        return chr(0x2400 + code)  # the control pictures: ␀ ... ␟
    if code == 0x7F:
        return "\u2421"  # ␡
    return "\ufffd"


def _visible(text: str) -> str:
    """``text`` with CRLF as LF and every other control character as a visible picture."""
    return _CONTROL.sub(_picture, text.replace("\r\n", "\n"))


def _plain(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def escape(text: str) -> str:
    """Text shown literally in a table cell or a paragraph: HTML entities for ``& < >``,
    backslash escapes for Markdown syntax (``|`` included), ``<br>`` for line breaks, control
    characters as pictures, and words that would be @-mentions as inline code."""
    lines = []
    for line in _visible(text).split("\n"):
        line = line.strip()
        parts: list[str] = []
        last = 0
        for match in _MENTION_WORD.finditer(line):
            # The word without the punctuation around it: "(@admins)," shows as (`@admins`),
            start = match.start() + len(match[0]) - len(match[0].lstrip(_OPENING))
            end = match.start() + len(match[0].rstrip(_CLOSING))
            parts.append(_plain(line[last:start]))
            parts.append(code_span(line[start:end]))
            last = end
        parts.append(_plain(line[last:]))
        lines.append("".join(parts))
    return "<br>".join(lines)


def code_span(text: str) -> str:
    """``text`` as inline code, whatever backticks it holds (its ``|`` escaped for tables);
    control characters as pictures, line breaks as spaces."""
    text = _visible(text).replace("\n", " ")
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text.replace('|', chr(92) + '|')}{pad}{fence}"


def render_markdown(result: Result, title: str = "ddlguard", max_chars: int = MAX_CHARS) -> str:
    findings = sorted_findings(result)
    head: list[str] = [MARKER, f"## {escape(title)}", "", _status(result, findings), ""]
    if findings:
        head.extend(_category_table(findings))
        head.append("")

    footer = _footer(result)
    budget = max_chars - _size(head) - _size(footer) - 200  # room for the truncation note
    body: list[str] = []
    shown = 0
    by_file: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_file[finding.path].append(finding)
    for path, file_findings in by_file.items():
        section = [
            f"### {code_span(path)} ({plural(len(file_findings), 'problem')})",
            "",
            "| Line | Code | Message |",
            "| ---: | --- | --- |",
        ]
        if _size(body) + _size(section) > budget:
            break
        rows = 0
        for finding in file_findings:
            row = _row(finding)
            if _size(body) + _size(section) + len(row) + 1 > budget:
                break
            section.append(row)
            rows += 1
        if rows == 0:
            break
        body.extend([*section, ""])
        shown += rows
        if rows < len(file_findings):
            break
    if shown < len(findings):
        body.append(
            f"_… and {plural(len(findings) - shown, 'more problem')} not shown here; "
            "run `ddlguard check` for the full list._"
        )
        body.append("")
    return "\n".join(head + body + footer) + "\n"


def _size(lines: list[str]) -> int:
    return sum(len(line) + 1 for line in lines)


def _status(result: Result, findings: list[Finding]) -> str:
    fixed = f" Fixed {plural(result.fixed, 'problem')}." if result.fixed > 0 else ""
    if not findings:
        return f":white_check_mark: No problems found.{fixed}"
    counts = severity_counts(findings)
    icon = next(_ICON[sev] for sev in SEVERITY_ORDER if counts[sev])
    line = (
        f"{icon} {plural(len(findings), 'problem')} in {plural(file_count(findings), 'file')} "
        f"({severity_breakdown(findings)})."
    )
    fixable = sum(1 for f in findings if is_fixable(f))
    if fixable:
        line += f" {fixable} fixable with `{FIX_COMMAND}`."
    return line + fixed


def _category_table(findings: list[Finding]) -> list[str]:
    counts: dict[str, dict[Severity, int]] = defaultdict(lambda: dict.fromkeys(SEVERITY_ORDER, 0))
    for finding in findings:
        counts[value(finding.category)][severity_of(finding)] += 1
    lines = ["| Category | Errors | Warnings | Info |", "| --- | ---: | ---: | ---: |"]
    for category in sorted(counts, key=lambda c: (_CATEGORY_ORDER.get(c, len(_CATEGORY_ORDER)), c)):
        n = counts[category]
        lines.append(
            f"| {escape(category)} | {n[Severity.ERROR]} | {n[Severity.WARNING]} | {n[Severity.INFO]} |"
        )
    return lines


def _row(finding: Finding) -> str:
    icon = _ICON[severity_of(finding)]
    message = escape(finding.message)
    if finding.fix is not None and finding.fix.description:
        message += f"<br>**Fix:** {escape(finding.fix.description)}"
    line = str(finding.line) if finding.line >= 1 else ""
    return f"| {line} | {icon} {code_span(finding.code)} | {message} |"


def _footer(result: Result) -> list[str]:
    return [
        f"<sub>Checked {plural(result.files, 'file')}, {plural(result.statements, 'statement')}.</sub>"
    ]
