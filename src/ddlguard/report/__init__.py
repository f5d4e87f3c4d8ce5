"""Output formats: one module per format, imported only when that format is asked for.

``render(result, fmt)`` is the single entry point the CLI uses. Formats:

- ``text``: ruff-style, a header line per finding with the source line and a caret under it,
  then a summary (``color=True`` adds ANSI colours);
- ``json``: the object documented in SPEC.md (``JSON output``);
- ``sarif``: SARIF 2.1.0 for GitHub code scanning;
- ``github``: GitHub Actions workflow commands (``::error file=...::message``);
- ``markdown``: a report for a PR comment or ``$GITHUB_STEP_SUMMARY``.

``concise`` (one line per finding plus the summary, for ``--quiet``) is accepted by ``render``
as well but is not a user-facing ``--format`` value, so it is not in ``FORMATS``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ddlguard.findings import Result

FORMATS: tuple[str, ...] = ("text", "json", "sarif", "github", "markdown")


def render(result: Result, fmt: str, *, color: bool = False, title: str = "ddlguard") -> str:
    """Render ``result`` in the output format ``fmt`` (one of ``FORMATS``, or ``concise``).

    ``color`` applies to ``text`` and ``concise`` only; ``title`` is the heading of the
    ``markdown`` report. Raises ``ValueError`` for an unknown format.
    """
    name = fmt.strip().lower()
    # Each branch imports its module here, so a run pays only for the format it prints.
    if name == "text":
        from ddlguard.report.text import render_text

        return render_text(result, color=color)
    if name == "concise":
        from ddlguard.report.text import render_concise

        return render_concise(result, color=color)
    if name == "json":
        from ddlguard.report.json import render_json

        return render_json(result)
    if name == "sarif":
        from ddlguard.report.sarif import render_sarif

        return render_sarif(result)
    if name == "github":
        from ddlguard.report.github import render_github

        return render_github(result)
    if name == "markdown":
        from ddlguard.report.markdown import render_markdown

        return render_markdown(result, title=title)
    raise ValueError(f"unknown output format {fmt!r}; expected one of: {', '.join(FORMATS)}")


__all__ = ["FORMATS", "render"]
