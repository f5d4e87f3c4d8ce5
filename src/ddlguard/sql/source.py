"""Reading SQL files: decoding, line/column mapping, psql meta-commands."""

from __future__ import annotations

import os
import re
import stat
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

# A file larger than this is still read; the number only guards against reading a huge binary.
MAX_BYTES = 64 * 1024 * 1024

_BOM = "\ufeff"


class ReadError(Exception):
    """A file that cannot be read at all (missing, a directory, permissions)."""


@dataclass(frozen=True, slots=True)
class DecodeProblem:
    """Why a file's bytes are not SQL text: a NUL byte (binary) or invalid UTF-8."""

    message: str
    byte_offset: int
    line: int
    column: int


class LineIndex:
    """Maps offsets in a text to 1-based (line, column) positions.

    Character offsets are what Python strings use; byte offsets (into the UTF-8 encoding) are what
    libpg_query reports in parse trees. For ASCII text the two coincide and no byte table is built.
    """

    __slots__ = ("_byte_starts", "_starts", "ascii", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        starts = [0]
        find = text.find
        pos = find("\n")
        while pos != -1:
            starts.append(pos + 1)
            pos = find("\n", pos + 1)
        self._starts = starts
        self.ascii = text.isascii()
        self._byte_starts: list[int] | None = None

    def position(self, offset: int) -> tuple[int, int]:
        """(line, column) of a character offset, both 1-based."""
        offset = max(0, min(offset, len(self.text)))
        i = bisect_right(self._starts, offset) - 1
        return i + 1, offset - self._starts[i] + 1

    def line_start(self, line: int) -> int:
        """Character offset of the start of a 1-based line."""
        line = max(1, min(line, len(self._starts)))
        return self._starts[line - 1]

    @property
    def line_count(self) -> int:
        return len(self._starts)

    def char_offset(self, byte_offset: int) -> int:
        """Character offset of a byte offset into the UTF-8 encoding of the text."""
        if self.ascii:
            return byte_offset
        if self._byte_starts is None:
            acc = 0
            bstarts = []
            prev = 0
            for s in self._starts:
                acc += len(self.text[prev:s].encode("utf-8"))
                bstarts.append(acc)
                prev = s
            self._byte_starts = bstarts
        i = bisect_right(self._byte_starts, byte_offset) - 1
        line_start = self._starts[i]
        line_end = self._starts[i + 1] if i + 1 < len(self._starts) else len(self.text)
        raw = self.text[line_start:line_end].encode("utf-8")
        within = raw[: byte_offset - self._byte_starts[i]].decode("utf-8", errors="ignore")
        return line_start + len(within)


@dataclass(slots=True)
class SqlFile:
    """One SQL file's text as ddlguard sees it.

    ``text`` is the decoded content without a BOM, line ends untouched (CRLF stays CRLF), so every
    offset maps back to the file and an edit written back changes nothing else. ``parse_text`` is
    ``text`` with psql meta-command lines blanked out (same length, same offsets).
    """

    path: Path
    display: str
    text: str
    bom: bool = False
    parse_text: str = ""
    meta_commands: list[tuple[int, str]] = field(default_factory=list)
    index: LineIndex = field(init=False)

    def __post_init__(self) -> None:
        self.index = LineIndex(self.text)
        if not self.parse_text:
            self.parse_text = self.text

    def encode(self, text: str | None = None) -> bytes:
        """The bytes to write back for ``text`` (default: the current text), BOM restored."""
        body = self.text if text is None else text
        return ((_BOM if self.bom else "") + body).encode("utf-8")


@lru_cache(maxsize=4096)
def _resolved_dir(folder: str) -> str:
    return str(Path(folder).resolve())


def _resolved_str(path: Path | str) -> str:
    """``str(path.resolve())``, with each folder resolved once per process: a run over thousands
    of files in a few folders then costs one ``lstat`` per file instead of one per component."""
    name = os.fspath(path)
    if ".." in name or os.path.islink(name):  # noqa: PTH114
        return str(Path(name).resolve())
    folder, base = os.path.split(name)
    if base in ("", "."):  # "dir/", ".": not a file name
        return str(Path(name).resolve())
    if not os.path.isabs(folder):  # noqa: PTH117
        folder = os.path.join(os.getcwd(), folder)  # noqa: PTH109, PTH118
    return os.path.join(_resolved_dir(folder), base)  # noqa: PTH118


def resolved(path: Path) -> Path:
    """``path.resolve()`` (see _resolved_str)."""
    return Path(_resolved_str(path))


def display_path(path: Path, cwd: Path | None = None) -> str:
    """A path as users see it in findings: relative to the working directory when inside it."""
    base = _resolved_dir(os.fspath(cwd) if cwd is not None else os.getcwd())  # noqa: PTH109
    full = _resolved_str(path)
    prefix = base if base.endswith(os.sep) else base + os.sep
    if full.startswith(prefix):
        return full[len(prefix) :].replace(os.sep, "/")
    if full == base:
        return "."
    return path.as_posix()


def read_bytes(path: Path) -> bytes:
    """Read a file, turning OS errors into a one-line ReadError."""
    try:
        with path.open("rb") as fh:
            st = os.fstat(fh.fileno())
            if stat.S_ISREG(st.st_mode) and st.st_size <= MAX_BYTES:
                data = fh.read()  # sized from fstat: no 64 MiB buffer to allocate and shrink
            else:
                data = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ReadError(f"{path}: no such file") from None
    except PermissionError:
        raise ReadError(f"{path}: permission denied") from None
    except IsADirectoryError:
        raise ReadError(f"{path}: is a directory") from None
    except OSError as exc:
        raise ReadError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise ReadError(f"{path}: larger than {MAX_BYTES // (1024 * 1024)} MiB, not read")
    return data


def _position_of_byte(data: bytes, offset: int) -> tuple[int, int]:
    line = data.count(b"\n", 0, offset) + 1
    line_start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[line_start:offset].decode("utf-8", errors="replace")) + 1
    return line, column


_WIDE_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32", "little-endian"),
    (b"\x00\x00\xfe\xff", "UTF-32", "big-endian"),
    (b"\xff\xfe", "UTF-16", "little-endian"),
    (b"\xfe\xff", "UTF-16", "big-endian"),
)


def _wide_encoding(data: bytes) -> tuple[str, str] | None:
    """For a file saved as UTF-16 or UTF-32: what it is (``UTF-16 encoded (little-endian)``) and
    iconv's name for it. Known by its byte order mark, or, without one, by the NUL bytes of
    mostly-ASCII UTF-16 text (every other byte, always on the same side)."""
    for bom, name, order in _WIDE_BOMS:
        if data.startswith(bom):
            return f"{name} encoded ({order}, with a byte order mark)", name
    head = data[:4096]
    half = len(head) // 2
    if half < 2:
        return None
    even, odd = head[0 : 2 * half : 2].count(0), head[1 : 2 * half : 2].count(0)
    if odd >= 0.6 * half and even == 0:
        return "UTF-16 encoded (little-endian)", "UTF-16LE"
    if even >= 0.6 * half and odd == 0:
        return "UTF-16 encoded (big-endian)", "UTF-16BE"
    return None


def decode(data: bytes) -> tuple[str, bool] | DecodeProblem:
    """Decode a SQL file's bytes: UTF-8, an optional BOM; a NUL byte or bad UTF-8 is a problem
    (a UTF-16 or UTF-32 file is named as such)."""
    if data[:1] in (b"\xff", b"\xfe", b"\x00") or b"\x00" in data[:4096]:
        wide = _wide_encoding(data)
        if wide is not None:
            what, name = wide
            return DecodeProblem(
                f"{what}; convert it to UTF-8 (iconv -f {name} -t UTF-8)", 0, 1, 1
            )
    nul = data.find(b"\x00")
    if nul != -1:
        line, col = _position_of_byte(data, nul)
        return DecodeProblem(
            f"binary file: NUL byte at byte offset {nul}; SQL files must be UTF-8 text",
            nul,
            line,
            col,
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _position_of_byte(data, exc.start)
        bad = data[exc.start : exc.start + 1].hex()
        return DecodeProblem(
            f"not valid UTF-8: byte 0x{bad} at byte offset {exc.start}; save the file as UTF-8",
            exc.start,
            line,
            col,
        )
    bom = text.startswith(_BOM)
    if bom:
        text = text[1:]
    return text, bom


_META_CANDIDATE = re.compile(r"(?m)^[ \t]*\\")


def blank_meta_commands(text: str) -> tuple[str, list[tuple[int, str]]]:
    """Blank out psql meta-command lines (``\\set``, ``\\connect``, ``\\i``...) outside literals.

    psql treats a backslash outside quotes as the start of a meta-command that runs to the end of
    the line. Migration files run with ``psql -f`` often carry a few; they are not SQL, so they are
    replaced by spaces (keeping every offset) before parsing. Returns the new text and the
    (offset, command) pairs found.
    """
    if "\\" not in text:
        return text, []
    candidates = [m.end() - 1 for m in _META_CANDIDATE.finditer(text)]
    if not candidates:
        return text, []
    from pglast.parser import scan

    found: list[tuple[int, str]] = []
    chars = list(text)
    for pos in candidates:
        prefix = "".join(chars[:pos])
        try:
            scan(prefix + " ;")
        except Exception:  # the scanner's error means: inside a literal or a /* comment */
            continue
        end = text.find("\n", pos)
        if end == -1:
            end = len(text)
        line_end = end - 1 if end > pos and text[end - 1] == "\r" else end
        found.append((pos, text[pos:line_end].strip()))
        for i in range(pos, line_end):
            chars[i] = " "
    return "".join(chars), found


_STDIN_SPELLINGS = ("stdin", "STDIN", "Stdin")
_META_COPY = re.compile(r"(?i)[ \t]*\\copy\b.*\bfrom\s+stdin\b")
_META_LINE = re.compile(r"(?m)^[ \t]*\\[^\n]*")
# The line that ends the data of a COPY ... FROM STDIN.
_END_OF_DATA = re.compile(r"(?m)^\\\.[ \t]*\r?$")
# How many semicolons after a STDIN are tried as the end of its statement (bounds the work
# where an unterminated quote makes none of them one).
_MAX_TRIES = 64


def _next_stdin(text: str, pos: int) -> int:
    """The offset of the next word STDIN (spelled stdin, STDIN or Stdin: a case-insensitive
    regular expression costs seconds on a 50 MB file, str.find milliseconds), or -1."""
    while True:
        found = [i for i in (text.find(w, pos) for w in _STDIN_SPELLINGS) if i != -1]
        if not found:
            return -1
        at = min(found)
        before = text[at - 1 : at] if at else ""
        after = text[at + 5 : at + 6]
        if not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_"):
            return at
        pos = at + 5


def blank_copy_data(text: str) -> str:
    """Blank out the data rows of ``COPY ... FROM STDIN`` (and of psql's ``\\copy ... from
    stdin``), as in pg_dump's output and psql scripts: psql sends the lines after the statement,
    up to a line ``\\.`` or the end of the file, to the server as data, not as SQL. The rows
    become spaces (line ends kept, so every offset stays); the ``\\.`` line is left to
    blank_meta_commands."""
    at = _next_stdin(text, 0)
    if at == -1:
        return text
    from pglast.parser import ParseError, scan

    chars: list[str] | None = None
    pos = 0
    while at != -1:
        data_start = _copy_data_start(text, pos, at, scan, ParseError)
        if data_start is None:
            at = _next_stdin(text, at + 5)
            continue
        if data_start < 0:  # the statement ends at -data_start - 1, it is not a COPY FROM STDIN
            pos = -data_start
            at = _next_stdin(text, max(pos, at + 5))
            continue
        end = _END_OF_DATA.search(text, data_start)
        stop = end.start() if end is not None else len(text)
        if chars is None:
            chars = list(text)
        for i in range(data_start, stop):
            if chars[i] not in "\r\n":
                chars[i] = " "
        pos = max(stop, at + 5)
        at = _next_stdin(text, pos)
    return text if chars is None else "".join(chars)


def _copy_data_start(
    text: str, pos: int, at: int, scan: Any, parse_error: type[Exception]
) -> int | None:
    """For the STDIN at ``at``, in the statement that begins after ``pos``: where its COPY data
    begins (the next line); ``-(end + 1)`` when the statement ending at ``end`` is something
    else; None when its end cannot be told (then the word is passed over)."""
    line_start = text.rfind("\n", 0, at) + 1
    line_end = text.find("\n", at)
    if _META_COPY.match(text, line_start, at + 5):  # psql's \copy: one line, no semicolon
        try:
            # fails inside a literal or a /* comment */
            scan(_META_LINE.sub(lambda m: " " * len(m[0]), text[pos:line_start]) + " ;")
        except parse_error:
            return None
        return len(text) if line_end == -1 else line_end + 1
    semi = text.find(";", at)
    for _ in range(_MAX_TRIES):
        if semi == -1:
            return None
        # psql's meta-command lines (\\connect, the \\. that ended earlier data) are not SQL.
        segment = _META_LINE.sub(lambda m: " " * len(m[0]), text[pos : semi + 1])
        try:
            tokens = scan(segment)
        except parse_error:
            tokens = None
        if tokens and tokens[-1].name == "ASCII_59":  # the semicolon is a token: the end
            break
        semi = text.find(";", semi + 1)
    else:
        return None
    names = [t.name for t in tokens if t.name not in ("SQL_COMMENT", "C_COMMENT")]
    cut = max((i for i, name in enumerate(names[:-1]) if name == "ASCII_59"), default=-1)
    names = names[cut + 1 : -1]
    is_copy = names[:1] == ["COPY"] and any(
        a == "FROM" and b == "STDIN" for a, b in pairwise(names)
    )
    if not is_copy:
        return -(semi + 1)
    newline = text.find("\n", semi)
    return len(text) if newline == -1 else newline + 1


def load(
    path: Path, cwd: Path | None = None, data: bytes | None = None, display: str | None = None
) -> SqlFile | DecodeProblem:
    """Read (unless ``data`` holds the bytes already) and decode one file; ReadError for files
    that cannot be read at all."""
    if data is None:
        data = read_bytes(path)
    decoded = decode(data)
    if isinstance(decoded, DecodeProblem):
        return decoded
    text, bom = decoded
    parse_text, metas = blank_meta_commands(blank_copy_data(text))
    return SqlFile(
        path=path,
        display=display if display is not None else display_path(path, cwd),
        text=text,
        bom=bom,
        parse_text=parse_text,
        meta_commands=metas,
    )
