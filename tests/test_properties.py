"""Property tests (hypothesis) for the SQL layer, the fixer and the renderers."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ddlguard.checker import Checker
from ddlguard.configfile import Settings
from ddlguard.findings import Result
from ddlguard.report import render
from ddlguard.sql.source import LineIndex, SqlFile, blank_meta_commands
from ddlguard.sql.statements import parse

# --- positions --------------------------------------------------------------------------------


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_byte_offsets_map_to_the_same_character(text: str) -> None:
    index = LineIndex(text)
    data = text.encode("utf-8")
    for char_offset in range(len(text) + 1):
        byte_offset = len(text[:char_offset].encode("utf-8"))
        assert index.char_offset(byte_offset) == char_offset
    assert len(data) >= len(text)


@given(st.text(max_size=200))
def test_positions_are_one_based_and_consistent(text: str) -> None:
    index = LineIndex(text)
    for offset in range(len(text) + 1):
        line, col = index.position(offset)
        assert line >= 1 and col >= 1
        assert index.line_start(line) + col - 1 == offset
        assert line == text.count("\n", 0, offset) + 1


# --- psql meta-commands -----------------------------------------------------------------------

_STATEMENTS = [
    "CREATE TABLE IF NOT EXISTS t (id int);",
    "SELECT 'a\\b';",
    "SELECT $$\n\\not a meta command\n$$;",
    "/* comment\n\\still comment */ SELECT 1;",
    "-- \\ in a line comment\nSELECT 2;",
    "INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING;",
]
_METAS = ["\\set ON_ERROR_STOP on", "\\connect app", "\\i other.sql", "  \\echo done"]


@given(st.lists(st.one_of(st.sampled_from(_STATEMENTS), st.sampled_from(_METAS)), max_size=12))
def test_meta_commands_are_blanked_in_place(parts: list[str]) -> None:
    text = "\n".join(parts) + "\n"
    blanked, found = blank_meta_commands(text)
    assert len(blanked) == len(text)
    assert [c for c in blanked if c == "\n"] == [c for c in text if c == "\n"]
    assert [cmd for _, cmd in found] == [p.strip() for p in parts if p in _METAS]
    # Everything that is not a meta-command line is unchanged.
    for part in parts:
        if part not in _METAS:
            assert part in blanked
    sql = SqlFile(path=Path("x.sql"), display="x.sql", text=text, parse_text=blanked)
    parsed = parse(sql)
    assert not parsed.errors


# --- the fixer --------------------------------------------------------------------------------

_FIXABLE = [
    ("CREATE TABLE t{n} (id int);", "I101"),
    ("CREATE INDEX idx_t{n} ON t (id);", "I102"),
    ("CREATE UNIQUE INDEX CONCURRENTLY idx_u{n} ON t (id);", "I102"),
    ("CREATE SEQUENCE s{n};", "I103"),
    ("CREATE SCHEMA sc{n};", "I104"),
    ("CREATE EXTENSION ext{n};", "I105"),
    ("CREATE MATERIALIZED VIEW mv{n} AS SELECT 1;", "I106"),
    ("ALTER TABLE t ADD COLUMN c{n} int;", "I107"),
    ("ALTER TABLE t ADD c{n} text, ADD COLUMN d{n} int;", "I107"),
    ("DROP TABLE old{n};", "I201"),
    ("DROP INDEX CONCURRENTLY old_idx{n};", "I201"),
    ("DROP MATERIALIZED VIEW old_mv{n};", "I201"),
    ("ALTER TABLE t DROP COLUMN x{n};", "I202"),
    ("ALTER TABLE t DROP x{n};", "I202"),
    ("ALTER TABLE t DROP CONSTRAINT k{n};", "I203"),
    ("CREATE FUNCTION f{n}() RETURNS int LANGUAGE sql AS 'SELECT 1';", "I301"),
    ("CREATE VIEW v{n} AS SELECT 1;", "I302"),
    ("CREATE TRIGGER trg{n} BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION f();", "I303"),
    ("ALTER TYPE e ADD VALUE 'v{n}';", "I405"),
]
_FILLER = ["-- a comment", "", "/* block */", "SELECT 'héllo ✓';", "   "]


@settings(max_examples=60, deadline=None)
@given(
    picks=st.lists(st.sampled_from(range(len(_FIXABLE))), min_size=1, max_size=8),
    filler=st.lists(st.sampled_from(_FILLER), max_size=8),
    crlf=st.booleans(),
    bom=st.booleans(),
)
def test_fix_round_trip(picks: list[int], filler: list[str], crlf: bool, bom: bool) -> None:
    import tempfile

    lines: list[str] = []
    for i, pick in enumerate(picks):
        if filler:
            lines.append(filler[i % len(filler)])
        lines.append(_FIXABLE[pick][0].format(n=i))
    newline = "\r\n" if crlf else "\n"
    original = (("\ufeff" if bom else "") + newline.join(lines) + newline).encode("utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.sql"
        path.write_bytes(original)
        checker = Checker(Settings(root=Path(tmp)), cwd=Path(tmp))
        result = checker.run([path], fix=True)
        fixed = path.read_bytes()
        assert result.fixed >= len(picks)
        assert not [f for f in result.findings if f.fix and f.fix.applicable]
        # Nothing but the inserted words changed.
        stripped = fixed
        for words in (b" IF NOT EXISTS", b"IF NOT EXISTS ", b" IF EXISTS", b" OR REPLACE"):
            stripped = stripped.replace(words, b"")
        assert stripped == original
        # A second check finds nothing of what was fixed.
        again = Checker(Settings(root=Path(tmp)), cwd=Path(tmp)).run([path])
        fixed_codes = {_FIXABLE[p][1] for p in picks}
        assert not [f for f in again.findings if f.code in fixed_codes]
        # No temporary file left beside the migration; the result cache keeps to its own folder,
        # which ignores itself in git.
        assert sorted(p.name for p in Path(tmp).iterdir()) == [".ddlguard_cache", "m.sql"]
        assert (Path(tmp) / ".ddlguard_cache" / ".gitignore").read_text().strip().endswith("*")


# --- renderers --------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(range(len(_FIXABLE))), min_size=1, max_size=5))
def test_renderers_never_fail_and_text_has_no_escapes(picks: list[int]) -> None:
    import json
    import tempfile

    text = "\n".join(_FIXABLE[p][0].format(n=i) for i, p in enumerate(picks)) + "\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.sql"
        path.write_text(text, encoding="utf-8")
        result: Result = Checker(Settings(root=Path(tmp)), cwd=Path(tmp)).run([path])
    assert "\x1b" not in render(result, "text", color=False)
    data = json.loads(render(result, "json"))
    assert data["summary"]["findings"] == len(result.findings) >= len(picks)
    sarif = json.loads(render(result, "sarif"))
    assert len(sarif["runs"][0]["results"]) == len(result.findings)
    assert render(result, "github").count("::error") == sum(
        1 for f in result.findings if f.severity.value == "error"
    )
