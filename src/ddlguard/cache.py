"""The result cache: each file's findings, keyed by its content, in one index per configuration.

``.ddlguard_cache/results-<key>.msgpack`` holds, for one combination of ddlguard version, cache
format, configuration and command-line rule selection (the ``key``), an entry per checked file:
the BLAKE2 digest of the bytes that were checked, the file's size, mtime, ctime and inode when it
was read, and the findings. A file is a hit when its digest matches; the digest is computed again only
when the file's ``stat`` changed, or when the entry was written less than a second after the file
was last modified (a change within the same timestamp tick would not show in ``stat``), as git
does for its index. A warm run therefore costs one ``stat`` per file and one read of the index.

The index is read once per run and written once at its end, atomically (a temporary file, then a
rename), merged with what another run wrote meanwhile; an unreadable index is an empty one. Every
entry is self-validating, so concurrent runs never produce a wrong result, at worst a miss.
``DDLGUARD_NO_CACHE=1`` turns the cache off.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path

import msgspec

from ddlguard import __version__
from ddlguard.findings import Finding

_FORMAT = 6
# A file modified this close to the moment it was read may change again within the same mtime
# tick: its stat is not trusted until its content has been hashed again on a later run.
_RACY_NS = 1_000_000_000


def enabled() -> bool:
    return not os.environ.get("DDLGUARD_NO_CACHE")


def digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def key(settings: str) -> str:
    """The index a configuration uses: ``settings`` describes everything besides the file that
    decides its findings (configuration, selected rules); the version and format are added."""
    h = hashlib.sha256()
    for part in (__version__, str(_FORMAT), settings):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:24]


class Stamp(msgspec.Struct, array_like=True):
    """What a check read: the digest of the bytes and the file's stat taken before reading."""

    digest: bytes
    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int
    read_ns: int


class Entry(msgspec.Struct, array_like=True):
    stamp: Stamp  # the bytes checked, and the file's stat when they were read
    context: str  # what else decides this file's findings (see Checker._file_context)
    statements: int
    findings: msgspec.Raw  # msgpack of list[Finding], decoded on a hit only


class _Index(msgspec.Struct):
    version: str
    entries: dict[str, Entry]


_DECODER = msgspec.msgpack.Decoder(_Index)
_ENCODER = msgspec.msgpack.Encoder()
_FINDINGS = msgspec.msgpack.Decoder(list[Finding])


def encode_findings(findings: list[Finding]) -> bytes:
    """A file's findings as an index entry keeps them (and as worker processes send them)."""
    return _ENCODER.encode(findings)


def decode_findings(data: bytes | msgspec.Raw) -> list[Finding]:
    return _FINDINGS.decode(data)


def stamp(path: Path, data: bytes, before: os.stat_result | None) -> Stamp | None:
    """The stamp of ``data`` read from ``path``; ``before`` is the stat taken before reading
    (None when there was none: the entry is then hashed again next time)."""
    if before is None:
        return None
    return Stamp(
        digest(data),
        before.st_size,
        before.st_mtime_ns,
        before.st_ctime_ns,
        before.st_ino,
        time.time_ns(),
    )


class Index:
    """One configuration's entries, loaded once and saved once per run."""

    def __init__(self, folder: Path, index_key: str) -> None:
        self.path = folder / f"results-{index_key}.msgpack"
        self.entries: dict[str, Entry] = {}
        self.changed = False
        self._loaded_mtime: int | None = None
        self._load()

    def _load(self) -> None:
        try:
            st = self.path.stat()
            index = _DECODER.decode(self.path.read_bytes())
        except (OSError, msgspec.DecodeError, msgspec.ValidationError):
            return
        if index.version != __version__:
            return
        self.entries = index.entries
        self._loaded_mtime = st.st_mtime_ns

    def lookup(self, path: Path, display: str, context: str) -> tuple[list[Finding], int] | None:
        """The findings and statement count of ``path`` when its content and context are
        unchanged, else None."""
        entry = self.entries.get(display)
        if entry is None or entry.context != context:
            return None
        try:
            st = path.stat()
        except OSError:
            return None
        mark = entry.stamp
        if (
            st.st_size == mark.size
            and st.st_mtime_ns == mark.mtime_ns
            and st.st_ctime_ns == mark.ctime_ns
            and st.st_ino == mark.ino
            and mark.read_ns - mark.mtime_ns > _RACY_NS
        ):
            return decode_findings(entry.findings), entry.statements
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if digest(data) != mark.digest:
            return None
        # Same content, new stat (a checkout, a touch): refresh it so the next run skips the read.
        fresh = Stamp(
            mark.digest, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, time.time_ns()
        )
        self.entries[display] = Entry(fresh, context, entry.statements, entry.findings)
        self.changed = True
        return decode_findings(entry.findings), entry.statements

    def put(
        self, display: str, context: str, mark: Stamp, statements: int, findings: bytes
    ) -> None:
        """Record a file's result; ``findings`` as encode_findings gives them."""
        self.entries[display] = Entry(mark, context, statements, msgspec.Raw(findings))
        self.changed = True

    def save(self) -> None:
        """Write the index if this run changed it, merged with entries another run wrote since
        it was loaded (this run's entries win). A read-only checkout runs without the cache."""
        if not self.changed:
            return
        entries = self.entries
        try:
            if self.path.stat().st_mtime_ns != self._loaded_mtime:
                other = _DECODER.decode(self.path.read_bytes())
                if other.version == __version__:
                    entries = {**other.entries, **entries}
        except (OSError, msgspec.DecodeError, msgspec.ValidationError):
            pass
        import shutil

        # The one-file-per-entry layout of ddlguard before the index: no longer read.
        shutil.rmtree(self.path.parent / "results", ignore_errors=True)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".results-", suffix=".tmp", dir=self.path.parent)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(_ENCODER.encode(_Index(__version__, entries)))
                Path(tmp).replace(self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError:
            return
        self.changed = False
