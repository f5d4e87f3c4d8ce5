"""sqlfluff's style rules as ddlguard findings (category ``style``), with ``[sqlfluff] enabled``.

sqlfluff is an optional dependency (``pip install 'ddlguard[sqlfluff]'``) and takes a fifth of a
second to import, so nothing here imports it at module level: it is imported the first time a file
is actually linted, and a run whose results all come from the result cache never imports it.

What sqlfluff reports keeps sqlfluff's own code (``LT01``), its rule name (``layout.spacing``) and
its message, with severity ``warning`` and sqlfluff's line and column (1-based characters, as
ddlguard's own). sqlfluff reads its configuration the way it always does: ``.sqlfluff``,
``setup.cfg``, ``tox.ini``, ``pep8.ini`` and ``[tool.sqlfluff]`` in ``pyproject.toml`` from the
file's folder upward (and ``~/.sqlfluff``), then ``[sqlfluff] config`` when given. The dialect is
``postgres`` unless that configuration names one. ``.sqlfluffignore``, ``ignore_paths``,
``large_file_skip_byte_limit`` and ``-- noqa`` comments are honoured as sqlfluff honours them.

sqlfluff's parse, lex and templating errors are never findings: PostgreSQL's parser is the judge of
syntax (``E001``), and a statement sqlfluff cannot parse (new or rare syntax) gives no style finding.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ddlguard.findings import Category, Finding, Severity, context_digest

if TYPE_CHECKING:
    from ddlguard.configfile import Settings
    from ddlguard.sql.source import SqlFile
    from ddlguard.sql.statements import Parsed, Statement

INSTALL_HINT = "pip install 'ddlguard[sqlfluff]'"
DEFAULT_DIALECT = "postgres"
RULES_URI = "https://docs.sqlfluff.com/en/stable/reference/rules.html"

# Where sqlfluff looks, in each folder from the file's upward (and in the user's folders): its
# configuration files, and .sqlfluffignore. Their contents are part of the result-cache key.
SQLFLUFF_FILES = ("setup.cfg", "tox.ini", "pep8.ini", ".sqlfluff", "pyproject.toml", ".sqlfluffignore")

# sqlfluff's codes are two letters and two digits (LT01, CP01, AM04); a prefix is LT or LT0.
_CODE = re.compile(r"[A-Za-z]{2}[0-9]{0,2}")
# Its rule names are dotted (layout.spacing, aliasing.unique.table).
_NAME = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+")


class StyleError(Exception):
    """sqlfluff cannot run: not installed, or its configuration is broken (exit status 2)."""


def looks_like_selector(selector: str) -> bool:
    """Is ``selector`` shaped like a sqlfluff code, code prefix or rule name (``LT01``, ``LT``,
    ``layout.spacing``)? Decided without sqlfluff, for ``--select``/``--ignore``."""
    sel = selector.strip()
    return bool(_CODE.fullmatch(sel) or _NAME.fullmatch(sel.lower()))


def selector_matches(selector: str, code: str, name: str) -> bool:
    """Does a ``--select``/``--ignore`` entry or suppression code cover the style rule
    ``code``/``name``: ``ALL``, the category ``style``, the rule name, or a code prefix."""
    sel = selector.strip()
    if not sel:
        return False
    low = sel.lower()
    if low in ("all", Category.STYLE.value) or (name and low == name.lower()):
        return True
    return code.upper().startswith(sel.upper())


# --- sqlfluff, found and imported lazily --------------------------------------------------------

_VERSION: str | None = None
_LOGGING_QUIET = False


def installed_version() -> str | None:
    """sqlfluff's version, found without importing it; None when it cannot be imported."""
    global _VERSION
    if _VERSION is not None:
        return _VERSION
    import importlib.util

    try:
        spec = importlib.util.find_spec("sqlfluff")
    except (ImportError, ValueError):
        spec = None
    if spec is None or spec.origin is None:
        return None
    package = Path(spec.origin).parent
    found = sorted(package.parent.glob("sqlfluff-*.dist-info"))
    if len(found) == 1:
        _VERSION = found[0].name[len("sqlfluff-") : -len(".dist-info")]
    else:  # an editable or unusual install: ask the (slower to import) metadata
        import importlib.metadata

        try:
            _VERSION = importlib.metadata.version("sqlfluff")
        except importlib.metadata.PackageNotFoundError:
            try:
                stamp = Path(spec.origin).stat().st_mtime_ns
            except OSError:
                stamp = 0
            _VERSION = f"unknown:{spec.origin}:{stamp}"
    return _VERSION


def _import_sqlfluff(missing: str) -> None:
    """Import sqlfluff (StyleError with ``missing`` when it is not installed), and keep its
    log warnings ("file ignored by .sqlfluffignore", ...) off ddlguard's stderr."""
    global _LOGGING_QUIET
    try:
        import sqlfluff  # noqa: F401
    except ImportError:
        raise StyleError(missing) from None
    if not _LOGGING_QUIET:
        import logging

        logging.getLogger("sqlfluff").addHandler(logging.NullHandler())
        _LOGGING_QUIET = True


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


@dataclass(slots=True)
class _Folder:
    """sqlfluff set up for the files of one folder: its configuration, linter and rules."""

    linter: Any  # sqlfluff.core.Linter
    rules: tuple[tuple[str, str], ...]  # (code, name) of the rules this configuration runs
    skip_bytes: int  # large_file_skip_byte_limit, 0 for none


# One sqlfluff linter per folder and configuration, per process (workers build their own).
_FOLDERS: dict[tuple[str, str], _Folder] = {}
_ALL_RULES: tuple[tuple[str, str], ...] | None = None


def _build_folder(folder: Path, extra: Path | None, shown: str) -> _Folder:
    from sqlfluff.core import FluffConfig, Linter

    try:  # sqlfluff caches what it read per path: make it read an edited .sqlfluff again
        from sqlfluff.core.config import clear_config_caches
    except ImportError:  # pragma: no cover - older sqlfluff
        pass
    else:
        clear_config_caches()
    extra_path = str(extra) if extra is not None else None
    try:
        config = FluffConfig.from_path(
            str(folder), extra_config_path=extra_path, require_dialect=False
        )
        if config.get("dialect") is None:
            # Only when the user's configuration names no dialect: never override theirs.
            config = FluffConfig.from_path(
                str(folder), extra_config_path=extra_path, overrides={"dialect": DEFAULT_DIALECT}
            )
        linter = Linter(config=config)
        rules = tuple((r.code, r.name) for r in linter.get_rulepack(config=config).rules)
        limit = int(config.get("large_file_skip_byte_limit") or 0)
    except Exception as exc:  # SQLFluffUserError, a bad value in .sqlfluff, a missing plugin...
        what = _one_line(exc)
        if isinstance(exc, KeyError):  # sqlfluff's "Unknown dialect" does not say which
            dialect = _configured_dialect(folder, extra_path)
            if dialect is not None:
                what = f"unknown dialect {dialect!r} ({what})"
        raise StyleError(f"sqlfluff configuration for {shown}: {what}") from None
    return _Folder(linter, rules, limit)


def _configured_dialect(folder: Path, extra: str | None) -> str | None:
    try:
        from sqlfluff.core.config import load_config_up_to_path

        core = load_config_up_to_path(str(folder), extra_config_path=extra).get("core", {})
        dialect = core.get("dialect") if isinstance(core, dict) else None
    except Exception:  # pragma: no cover - best effort, for a message
        return None
    return str(dialect) if dialect is not None else None


def _all_rules() -> tuple[tuple[str, str], ...]:
    """Every rule sqlfluff knows (plugins included), whether configured to run or not."""
    global _ALL_RULES
    if _ALL_RULES is None:
        from sqlfluff import list_rules

        _ALL_RULES = tuple((r.code, r.name) for r in list_rules())
    return _ALL_RULES


def _user_dirs() -> list[Path]:
    """The folders sqlfluff reads a user configuration from (a superset, on every platform)."""
    try:
        home = Path.home()
    except RuntimeError:  # pragma: no cover - no home folder at all
        return []
    dirs = [home, home / ".config" / "sqlfluff"]
    xdg = os.environ.get("XDG_CONFIG_HOME")
    if xdg:
        dirs.append(Path(xdg) / "sqlfluff")
    if sys.platform == "darwin":
        dirs.append(home / "Library" / "Application Support" / "sqlfluff")
    local = os.environ.get("LOCALAPPDATA")
    if local:
        dirs.append(Path(local) / "sqlfluff" / "sqlfluff")
    return dirs


def config_fingerprint(folder: Path, extra: Path | None = None) -> str:
    """A hash of every file sqlfluff may read its configuration (or ignore patterns) from for the
    files of ``folder``: each folder from ``folder`` up to the root, the user's folders, and
    ``extra``. Editing any of them changes the hash (and so invalidates cached results)."""
    h = hashlib.sha256()
    seen: set[Path] = set()
    for directory in [folder, *folder.parents, *_user_dirs()]:
        if directory in seen:
            continue
        seen.add(directory)
        for name in SQLFLUFF_FILES:
            candidate = directory / name
            try:
                data = candidate.read_bytes()
            except OSError:  # absent (the usual case), a folder, unreadable
                continue
            h.update(str(candidate).encode("utf-8", "surrogateescape") + b"\0")
            h.update(hashlib.sha256(data).digest())
    if extra is not None:
        try:
            h.update(b"extra\0" + extra.read_bytes())
        except OSError:
            h.update(b"extra-missing\0")
    return h.hexdigest()[:32]


# --- the linter ddlguard's checker uses --------------------------------------------------------


@dataclass(slots=True)
class StyleLinter:
    """sqlfluff for one ddlguard run: built from the settings, per process (a worker builds its
    own with its Checker), sqlfluff itself set up once per folder and configuration."""

    extra_config: Path | None
    cwd: Path
    ignore: tuple[str, ...]  # ddlguard's --ignore entries (configuration and command line)
    where: str  # the ddlguard configuration, for messages
    _fingerprints: dict[Path, str] = field(default_factory=dict)
    _skipped: dict[Path, bool] = field(default_factory=dict)
    _version: str | None = None

    @classmethod
    def for_settings(cls, config: Settings, cwd: Path, ignore: tuple[str, ...]) -> StyleLinter:
        where = "the configuration"
        if config.path is not None:
            table = "tool.ddlguard.sqlfluff" if config.path.name == "pyproject.toml" else "sqlfluff"
            try:
                shown = config.path.resolve().relative_to(cwd.resolve()).as_posix()
            except ValueError:
                shown = str(config.path)
            where = f"[{table}] in {shown}"
        return cls(config.sqlfluff_config_path(), cwd, ignore, where)

    # Checks that need no sqlfluff import ---------------------------------------------------------
    def require(self) -> str:
        """sqlfluff's version; StyleError when it is not installed or ``config`` is missing."""
        if self._version is not None:
            return self._version
        version = installed_version()
        if version is None:
            raise StyleError(self._missing())
        if self.extra_config is not None and not self.extra_config.is_file():
            raise StyleError(f"{self.where}: config: no such file: {self.extra_config}")
        self._version = version
        return version

    def key(self, path: Path) -> str:
        """What the style findings of ``path`` depend on besides its bytes: sqlfluff's version,
        the sqlfluff configuration that applies to its folder, and ddlguard's --ignore entries."""
        folder = path.resolve().parent
        fp = self._fingerprint(folder)
        return f"sqlfluff {self.require()}|{fp}|{','.join(self.ignore)}|{self.cwd.resolve()}"

    def _fingerprint(self, folder: Path) -> str:
        fp = self._fingerprints.get(folder)
        if fp is None:
            fp = self._fingerprints[folder] = config_fingerprint(folder, self.extra_config)
        return fp

    def _shown(self, folder: Path) -> str:
        try:
            rel = folder.relative_to(self.cwd.resolve()).as_posix()
        except ValueError:
            return str(folder)
        return f"{rel}/" if rel != "." else "./"

    def _missing(self) -> str:
        return (
            f"sqlfluff is enabled (enabled = true in {self.where}) but is not installed; "
            f"install it with: {INSTALL_HINT}"
        )

    def ignored(self, code: str, name: str) -> bool:
        return any(selector_matches(sel, code, name) for sel in self.ignore)

    # sqlfluff itself ---------------------------------------------------------------------------
    def _folder(self, path: Path) -> _Folder:
        self.require()
        folder = path.resolve().parent
        k = (str(folder), self._fingerprint(folder))
        built = _FOLDERS.get(k)
        if built is None:
            _import_sqlfluff(self._missing())
            built = _FOLDERS[k] = _build_folder(folder, self.extra_config, self._shown(folder))
        return built

    def _skips(self, file: SqlFile, folder: _Folder) -> bool:
        """Does sqlfluff leave this file alone (.sqlfluffignore, ignore_paths, a file over
        large_file_skip_byte_limit)?"""
        if folder.skip_bytes and len(file.encode()) > folder.skip_bytes:
            return True
        key = file.path.resolve()
        skipped = self._skipped.get(key)
        if skipped is None:
            skipped = self._skipped[key] = _ignored_by_sqlfluff(file.path, self.cwd)
        return skipped

    def active_rules(self, file: SqlFile) -> list[tuple[str, str]]:
        """The style rules that can report on ``file``: those sqlfluff's configuration runs,
        less ddlguard's --ignore; none when sqlfluff skips the file."""
        folder = self._folder(file.path)
        if self._skips(file, folder):
            return []
        return [(c, n) for c, n in folder.rules if not self.ignored(c, n)]

    def is_rule(self, selector: str) -> bool:
        """Does ``selector`` name a rule sqlfluff knows, or a prefix of one of its codes?"""
        if selector.strip().lower() in ("all", Category.STYLE.value):
            return True
        _import_sqlfluff(self._missing())
        return any(selector_matches(selector, code, name) for code, name in _all_rules())

    def lint(self, file: SqlFile, parsed: Parsed) -> list[Finding]:
        """sqlfluff's findings on ``file``, less ddlguard's --ignore, before suppressions."""
        folder = self._folder(file.path)
        if self._skips(file, folder):
            return []
        from sqlfluff.core.errors import SQLLexError, SQLLintError, SQLParseError

        try:
            linted = folder.linter.lint_string(_lint_text(file), fname=str(file.path))
            violations = linted.get_violations(filter_warning=False)
        except Exception as exc:  # a sqlfluff bug on this file
            raise StyleError(
                f"{file.display}: sqlfluff failed: {type(exc).__name__}: {_one_line(exc)}"
            ) from None
        # Where sqlfluff could not parse: PostgreSQL's parser is the judge of syntax (E001), and
        # what sqlfluff says about text it could not parse is noise.
        bad: list[tuple[tuple[int, int], tuple[int, int]]] = []
        tree = getattr(linted, "tree", None)
        if tree is not None:
            for seg in tree.recursive_crawl("unparsable"):
                span = _span(seg)
                if span is not None:
                    bad.append(span)
        out: list[Finding] = []
        locator = _Locator(file, parsed)
        for v in violations:
            if isinstance(v, SQLParseError | SQLLexError):
                span = _span(getattr(v, "segment", None))
                if span is None:
                    line = int(v.line_no or 1)
                    span = ((line, 1), (line, sys.maxsize))
                bad.append(span)
        for v in violations:
            if not isinstance(v, SQLLintError):
                continue  # templating errors, parse errors, unused-noqa notes
            finding = self._finding(v, file, locator)
            if finding is None:
                continue
            start = (finding.line, finding.column)
            if any(lo <= start <= hi for lo, hi in bad):
                continue
            out.append(finding)
        return out

    def _finding(self, v: Any, file: SqlFile, locator: _Locator) -> Finding | None:
        code = str(v.rule_code())
        info = v.to_dict()
        name = str(info.get("name") or "") or code
        if self.ignored(code, name):
            return None
        line = max(1, int(info.get("start_line_no") or v.line_no or 1))
        column = max(1, int(info.get("start_line_pos") or v.line_pos or 1))
        end_line = int(info.get("end_line_no") or line)
        end_column = int(info.get("end_line_pos") or column)
        if (end_line, end_column) < (line, column):
            end_line, end_column = line, column
        message = str(v.desc()).replace("\r\n", " ").replace("\n", " ").strip()
        anchors, context = locator.locate(line, column, message)
        return Finding(
            code=code,
            rule=name,
            category=Category.STYLE,
            severity=Severity.WARNING,
            path=file.display,
            line=line,
            column=column,
            end_line=end_line,
            end_column=end_column,
            message=message,
            anchor_lines=anchors,
            context=context,
        )


def _span(segment: Any) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """A sqlfluff segment's source span as ((line, column), (end line, end column))."""
    marker = getattr(segment, "pos_marker", None)
    if marker is None:
        return None
    try:
        d = marker.to_source_dict()
        return (
            (int(d["start_line_no"]), int(d["start_line_pos"])),
            (int(d["end_line_no"]), int(d["end_line_pos"])),
        )
    except (AttributeError, KeyError, TypeError, ValueError):  # pragma: no cover
        return None


def _ignored_by_sqlfluff(path: Path, cwd: Path) -> bool:
    """Would sqlfluff skip this file when given it by name (.sqlfluffignore, ignore_paths)?"""
    try:
        from sqlfluff.core.linter.discovery import paths_from_path
    except ImportError:  # pragma: no cover - older sqlfluff
        return False
    try:
        kept = paths_from_path(
            str(path),
            ignore_non_existent_files=True,
            working_path=str(cwd),
            target_file_exts=(path.suffix.lower(),),
        )
    except Exception:  # a broken ignore file: sqlfluff's own run would say; lint the file
        return False
    return not kept


def _lint_text(file: SqlFile) -> str:
    """The text sqlfluff lints: the file's, with psql meta-command lines (``\\set ...``) turned
    into ``--`` comments of the same length, so positions stay the file's."""
    text = file.text
    if not file.meta_commands:
        return text
    chars = list(text)
    for pos, _ in file.meta_commands:
        end = text.find("\n", pos)
        if end == -1:
            end = len(text)
        if end > pos and text[end - 1] == "\r":
            end -= 1
        n = end - pos
        chars[pos:end] = "-" * n if n >= 2 else " " * n
    return "".join(chars)


class _Locator:
    """Which statement a style finding belongs to: for suppression comments (the statement's
    first line, and the finding's own line) and for baselines (the statement's text)."""

    def __init__(self, file: SqlFile, parsed: Parsed) -> None:
        self.file = file
        self.tops: list[Statement] = sorted(parsed.top_level(), key=lambda s: s.start)
        self.starts = [s.start for s in self.tops]
        # Statements inside DO blocks and function bodies (few, usually none).
        self.nested = [s for s in parsed.statements if s.parent is not None]

    def locate(self, line: int, column: int, message: str) -> tuple[tuple[int, ...], str]:
        index = self.file.index
        text = self.file.text
        offset = min(index.line_start(line) + column - 1, len(text))
        lines = {line}
        owner: Statement | None = None
        i = bisect_right(self.starts, offset) - 1
        if i >= 0:
            top = self.tops[i]
            # A statement owns the rest of its last line too (its semicolon, a trailing comment).
            last = text.find("\n", max(top.end - 1, top.start))
            if offset <= (len(text) if last == -1 else last):
                owner = top
        if owner is not None:
            lines.add(index.position(owner.start)[0])
            for s in self.nested:
                if s.start <= offset < s.end:
                    lines.add(index.position(s.start)[0])
            context = owner.context_digest()
        else:
            start = index.line_start(line)
            end = text.find("\n", start)
            own_line = " ".join(text[start : len(text) if end == -1 else end].split())
            context = context_digest(own_line) if own_line else context_digest(message, fold=False)
        return tuple(sorted(lines)), context


def explain(code: str, fmt: str = "text") -> str | None:
    """``ddlguard rules LT01``: what sqlfluff says about one of its rules (``fmt`` text, json or
    markdown), or None when ``code`` is not a sqlfluff rule or sqlfluff is not installed."""
    if not looks_like_selector(code) or installed_version() is None:
        return None
    try:
        _import_sqlfluff("")
        from sqlfluff import list_rules

        rules = list_rules()
    except Exception:
        return None
    want = code.strip().lower()
    for r in rules:
        if want not in (r.code.lower(), r.name.lower()):
            continue
        uri = f"{RULES_URI}#rule-{r.code}"
        if fmt == "json":
            import json

            data = {
                "code": r.code,
                "name": r.name,
                "category": Category.STYLE.value,
                "severity": Severity.WARNING.value,
                "summary": r.description,
                "documentation": uri,
            }
            return json.dumps(data, indent=2) + "\n"
        if fmt == "markdown":
            return (
                f"## {r.code} `{r.name}`\n\n*style, warning, from sqlfluff*\n\n"
                f"**What it checks.** {r.description}\n\n[sqlfluff's documentation]({uri})\n"
            )
        return (
            f"{r.code} {r.name} (style, warning; a sqlfluff rule, checked with "
            f"[sqlfluff] enabled = true)\n\n{r.description}\n\n"
            f"sqlfluff's documentation: {uri}\n\n"
            f"Suppress one statement with `-- ddlguard: ignore[{r.code}]` on the line above it, or "
            f"turn the rule off for the repository with `exclude_rules = {r.code}` in .sqlfluff.\n"
        )
    return None
