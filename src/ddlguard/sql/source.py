"""Reading SQL files: decoding, line/column mapping, psql meta-commands."""

from __future__ import annotations

import os
import re
import stat
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

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


def decode(data: bytes) -> tuple[str, bool] | DecodeProblem:
    """Decode a SQL file's bytes: UTF-8, an optional BOM; a NUL byte or bad UTF-8 is a problem."""
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
    parse_text, metas = blank_meta_commands(text)
    return SqlFile(
        path=path,
        display=display if display is not None else display_path(path, cwd),
        text=text,
        bom=bom,
        parse_text=parse_text,
        meta_commands=metas,
    )
