"""One pull request comment with the markdown report, kept up to date across pushes.

The markdown report's first line is the hidden marker ``<!-- ddlguard-report -->``. A run lists
the pull request's comments, takes the one that starts with the marker AND was written by the
token's own account as its own, and then creates it (none yet), updates it (the report
changed), leaves it (same text) or deletes it (the pull request is clean now). Duplicates, left
behind by two runs racing, are deleted. A comment carrying the marker that someone else wrote (a
person quoting the report, another bot) is never edited or deleted.

The token's account is ``GET /user``'s login for a personal or OAuth token; an integration token
(the workflow's ``GITHUB_TOKEN``) is refused there (HTTP 403) and writes as
``github-actions[bot]``.

The GitHub REST API through ``urllib.request``: ``GET``/``POST /repos/{repo}/issues/{n}/comments``,
``PATCH``/``DELETE /repos/{repo}/issues/comments/{id}``. The token needs ``pull-requests: write``
(``issues: write`` works as well); a pull request from a fork gets a read-only token, so there the
comment fails with HTTP 403 and the caller reports a warning instead of failing the check.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ddlguard.report.markdown import MARKER

Action = Literal["created", "updated", "unchanged", "deleted", "none"]

API_VERSION = "2022-11-28"
USER_AGENT = "ddlguard-action"
PER_PAGE = 100
MAX_PAGES = 100  # 10,000 comments: far more than any pull request has

_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


class CommentError(Exception):
    """The GitHub API refused or could not be reached (a one-line message, no token in it);
    ``status`` is the HTTP status of a refusal."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Author:
    """Who wrote a comment: GitHub's ``user.login`` and ``user.type`` (``User``, ``Bot``)."""

    login: str
    type: str

    def wrote(self, comment: Mapping[str, Any]) -> bool:
        user = comment.get("user")
        if not isinstance(user, dict) or not isinstance(user.get("login"), str):
            return False
        return user["login"].lower() == self.login.lower() and user.get("type") == self.type


#: The account the workflow's GITHUB_TOKEN writes as.
GITHUB_ACTIONS_BOT = Author("github-actions[bot]", "Bot")


@dataclass(frozen=True, slots=True)
class GitHubApi:
    """The few REST calls the comment needs. ``api_url`` is ``GITHUB_API_URL`` (GitHub
    Enterprise Server has its own), ``repository`` is ``GITHUB_REPOSITORY`` (``owner/name``)."""

    api_url: str
    repository: str
    token: str
    timeout: float = 30.0

    def __post_init__(self) -> None:
        scheme = urllib.parse.urlsplit(self.api_url).scheme
        if scheme not in ("http", "https"):
            raise CommentError(f"GITHUB_API_URL {self.api_url!r} is not an http(s) URL")
        if not _REPOSITORY.match(self.repository):
            raise CommentError(f"GITHUB_REPOSITORY {self.repository!r} is not owner/name")
        if not self.token:
            raise CommentError("no token: set the action's github-token input")

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """Send one request; the decoded JSON answer (None for an empty one, as DELETE's 204)."""
        url = self.api_url.rstrip("/") + path
        data = json.dumps(body).encode("utf-8") if body is not None else None
        headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self.token}",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": USER_AGENT,
        }
        if data is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise CommentError(
                f"{method} {path}: HTTP {exc.code}{_detail(exc)}", status=exc.code
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CommentError(f"{method} {path}: {reason}") from None
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise CommentError(f"{method} {path}: the answer is not JSON") from None

    def list_comments(self, number: int) -> list[dict[str, Any]]:
        """Every comment on issue or pull request ``number``, oldest first."""
        comments: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            path = f"/repos/{self.repository}/issues/{number}/comments?per_page={PER_PAGE}&page={page}"
            answer = self.request("GET", path)
            if not isinstance(answer, list):
                raise CommentError(f"GET {path}: expected a list of comments")
            comments.extend(c for c in answer if isinstance(c, dict))
            if len(answer) < PER_PAGE:
                break
        return comments

    def author(self) -> Author:
        """The account this token writes comments as (see the module's documentation)."""
        try:
            answer = self.request("GET", "/user")
        except CommentError as exc:
            if exc.status == 403:  # an integration token: no user of its own
                return GITHUB_ACTIONS_BOT
            raise
        if not isinstance(answer, dict) or not isinstance(answer.get("login"), str):
            raise CommentError("GET /user: expected the token's user")
        kind = answer.get("type")
        return Author(answer["login"], kind if isinstance(kind, str) else "User")

    def create_comment(self, number: int, body: str) -> dict[str, Any]:
        answer = self.request(
            "POST", f"/repos/{self.repository}/issues/{number}/comments", {"body": body}
        )
        return answer if isinstance(answer, dict) else {}

    def update_comment(self, comment_id: int, body: str) -> None:
        self.request("PATCH", f"/repos/{self.repository}/issues/comments/{comment_id}", {"body": body})

    def delete_comment(self, comment_id: int) -> None:
        self.request("DELETE", f"/repos/{self.repository}/issues/comments/{comment_id}")


def _detail(exc: urllib.error.HTTPError) -> str:
    """GitHub's ``message`` from an error answer, and a hint for the usual 403/404."""
    message = ""
    try:
        data = json.loads(exc.read() or b"{}")
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            message = data["message"].splitlines()[0][:200] if data["message"] else ""
    except (ValueError, OSError):
        pass
    text = f" ({message})" if message else ""
    if exc.code in (403, 404):
        text += (
            "; the token needs `pull-requests: write` (a pull request from a fork gets a "
            "read-only token)"
        )
    return text


def is_report(comment: Mapping[str, Any]) -> bool:
    """True for a comment whose first line is the report's marker."""
    body = comment.get("body")
    return isinstance(body, str) and body.lstrip().split("\n", 1)[0].strip() == MARKER


def sync_comment(
    api: GitHubApi, number: int, body: str | None, author: Author | None = None
) -> Action:
    """Make pull request ``number`` carry ``body`` as its one report comment, or none when
    ``body`` is None (the pull request is clean). Only a comment that carries the marker and was
    written by ``author`` (default: the token's account, asked only when a comment with the
    marker is there) is edited or deleted. Returns what was done."""
    if body is not None and not body.startswith(MARKER):
        body = f"{MARKER}\n{body}"
    comments = api.list_comments(number)
    marked = [c for c in comments if is_report(c) and isinstance(c.get("id"), int)]
    if body is not None and len(marked) == 1 and marked[0].get("body") == body:
        return "unchanged"  # nothing would be written: no need to ask who wrote it
    if marked:
        me = author if author is not None else api.author()
        existing = [c for c in marked if me.wrote(c)]
    else:
        existing = []
    if body is None:
        for comment in existing:
            api.delete_comment(comment["id"])
        return "deleted" if existing else "none"
    if not existing:
        api.create_comment(number, body)
        return "created"
    first, duplicates = existing[0], existing[1:]
    for comment in duplicates:
        api.delete_comment(comment["id"])
    if first.get("body") == body:
        return "unchanged"
    api.update_comment(first["id"], body)
    return "updated"
