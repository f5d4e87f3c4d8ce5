"""The hot path's shortcuts give exactly what the scanner-based way gives (hypothesis).

`find_tokens` looks for a keyword with a plain-text match when nothing before it can hide a word,
and `alter_table_cmd_spans` splits commands on commas when the statement holds no comment, string
or quoted name; both fall back to pglast's scanner otherwise. Each property runs both ways on
generated statements (with comments, strings and quoted names mixed in, so that the fallback is
exercised too) and compares.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ddlguard.sql import nodes
from ddlguard.sql.source import SqlFile
from ddlguard.sql.statements import Statement, Token, parse

_SPACE = st.sampled_from([" ", "  ", "\n", "\t", " \n  "])
_NAME = st.sampled_from(
    ["t", "orders", "public.t", "app . orders", "t_1", "x$y", '"Quoted"', "col·leccions", "tëst"]
)
_COLUMN = st.sampled_from(["a", "b_2", "created_at", '"Mixed"', "naïve", "a→b"])
_TYPE = st.sampled_from(["int", "numeric(10, 2)", "varchar(20)", "text", "timestamptz"])
_NOISE = st.sampled_from(["", "", "", " /* c */", " -- note\n", " "])


@st.composite
def _command(draw: st.DrawFn) -> str:
    col, typ = draw(_COLUMN), draw(_TYPE)
    sp = draw(_SPACE)
    return draw(
        st.sampled_from(
            [
                f"ADD COLUMN{sp}{col} {typ}",
                f"ADD COLUMN IF NOT EXISTS {col} {typ} DEFAULT 'a,b'",
                f"DROP COLUMN{sp}{col}",
                f"ALTER COLUMN {col} TYPE {typ}",
                f"ALTER COLUMN {col} SET DEFAULT (1 + (2 * 3))",
                f"ADD CONSTRAINT c_{abs(hash(col)) % 7} CHECK ({col} IN (1, 2, 3))",
                f"ADD CONSTRAINT u UNIQUE ({col}, other)",
                "ADD PRIMARY KEY (id)",
            ]
        )
    )


def _statements(sql: str) -> list[Statement]:
    file = SqlFile(path=Path("t.sql"), display="t.sql", text=sql)
    parsed = parse(file)
    assert not parsed.errors, (sql, parsed.errors)
    return parsed.statements


@settings(max_examples=150, deadline=None)
@given(
    name=_NAME,
    commands=st.lists(_command(), min_size=1, max_size=5),
    sep=st.sampled_from([", ", ",\n  ", " ,", ","]),
    noise=_NOISE,
    lead=_SPACE,
)
def test_command_spans_match_the_scanner(
    name: str, commands: list[str], sep: str, noise: str, lead: str
) -> None:
    sql = f"ALTER TABLE{lead}{name}{noise} {sep.join(commands)};"
    (stmt,) = _statements(sql)
    fast = nodes.alter_table_cmd_spans(stmt)
    saved = nodes._LEXICAL
    nodes._LEXICAL = re.compile(r"(?s).")
    try:
        stmt._tokens = None
        slow = nodes.alter_table_cmd_spans(stmt)
    finally:
        nodes._LEXICAL = saved
    assert fast == slow
    assert fast is not None and len(fast) == len(commands)


@settings(max_examples=150, deadline=None)
@given(
    unique=st.booleans(),
    concurrently=st.booleans(),
    noise=_NOISE,
    space=_SPACE,
    name=st.sampled_from(
        ["idx_a", "index_a", "a_index", '"INDEX"', "idx$index", "é_index", "idx→index", "idx→on"]
    ),
)
def test_keyword_search_matches_the_scanner(
    unique: bool, concurrently: bool, noise: str, space: str, name: str
) -> None:
    sql = (
        f"CREATE{noise}{space}{'UNIQUE ' if unique else ''}INDEX{space}"
        f"{'CONCURRENTLY ' if concurrently else ''}{name} ON t (a);"
    )
    (stmt,) = _statements(sql)
    for words in (("INDEX",), ("CONCURRENTLY",), ("ON",), ("UNIQUE", "INDEX")):
        fast = nodes.find_tokens(stmt, words, stmt.start)
        saved = nodes._LEXICAL
        nodes._LEXICAL = re.compile(r"(?s).")
        try:
            slow = nodes.find_tokens(stmt, words, stmt.start)
        finally:
            nodes._LEXICAL = saved
        assert _at(fast) == _at(slow), (sql, words)


def _at(tok: Token | None) -> tuple[int, int] | None:
    return None if tok is None else (tok.start, tok.end)


def test_a_word_hidden_in_a_comment_or_string_is_not_found() -> None:
    for sql, want in (
        ("CREATE /* INDEX */ INDEX i ON t (a);", 19),
        ("CREATE -- INDEX\nINDEX i ON t (a);", 16),
        ("ALTER TABLE t ADD COLUMN c text DEFAULT 'a, b', DROP COLUMN d;", None),
    ):
        (stmt,) = _statements(sql)
        if want is None:
            assert nodes.alter_table_cmd_spans(stmt) == [(14, 46), (48, 61)]
            continue
        (stmt,) = _statements(sql)
        tok = nodes.find_tokens(stmt, ("INDEX",), stmt.start)
        assert tok is not None and tok.start == want


def test_resolved_matches_path_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """source._resolved_str (each folder resolved once) against Path.resolve, with linked
    folders and files, `..`, `.`, relative and absolute paths, and names that do not exist."""
    from ddlguard.sql.source import _resolved_str, display_path

    real = tmp_path / "real"
    (real / "sub").mkdir(parents=True)
    (real / "sub" / "a.sql").write_text("SELECT 1;\n")
    (tmp_path / "linked").symlink_to(real)
    (real / "sub" / "b.sql").symlink_to(real / "sub" / "a.sql")
    monkeypatch.chdir(tmp_path)
    for name in (
        "real/sub/a.sql",
        "linked/sub/a.sql",
        "real/sub/b.sql",
        "linked/sub/../sub/a.sql",
        "./real/sub/a.sql",
        ".",
        "real/",
        "missing/x.sql",
        str(tmp_path / "linked" / "sub" / "a.sql"),
    ):
        assert _resolved_str(Path(name)) == str(Path(name).resolve()), name
        want = Path(name).resolve().relative_to(tmp_path.resolve()).as_posix()
        assert display_path(Path(name), tmp_path) == want, name


def test_a_linked_file_is_checked_once(tmp_path: Path) -> None:
    from ddlguard.checker import expand_paths

    (tmp_path / "0001_a.sql").write_text("SELECT 1;\n")
    (tmp_path / "0002_link.sql").symlink_to(tmp_path / "0001_a.sql")
    assert [p.name for p in expand_paths([tmp_path])] == ["0001_a.sql"]
    assert [p.name for p in expand_paths([tmp_path, tmp_path / "0001_a.sql"])] == ["0001_a.sql"]


def test_folder_listing_matches_os_walk(tmp_path: Path) -> None:
    """The scandir walk lists what os.walk (not following linked folders) lists."""
    import os

    from ddlguard.checker import sql_files_under

    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    (tmp_path / "node_modules").mkdir()
    for name in ("a/1.sql", "a/b/2.SQL", "a/b/3.txt", ".git/4.sql", "node_modules/5.sql", "6.sql"):
        (tmp_path / name).write_text("SELECT 1;\n")
    (tmp_path / "linked.sql").symlink_to(tmp_path / "a")  # a folder named like a file
    (tmp_path / "linked_dir").symlink_to(tmp_path / "a")
    (tmp_path / "dangling.sql").symlink_to(tmp_path / "missing.sql")
    walked = sorted(
        str(Path(d) / f)
        for d, dirs, files in os.walk(tmp_path)
        if not any(part in (".git", "node_modules") for part in Path(d).parts)
        for f in files
        if f.lower().endswith(".sql") and f != "dangling.sql"  # left out, with a warning
    )
    assert sorted(map(str, sql_files_under(tmp_path))) == walked
