"""A canonical schema written as SQL: one file (a hand-kept schema.sql, a ``pg_dump --schema-only``
dump) or a folder of .sql files applied in natural order, replayed with the same code as the
migrations."""

from __future__ import annotations

from pathlib import Path

from ddlguard.schema.replay import Replayed, replay


def read_sql_schema(path: Path, *, default_schema: str = "public") -> Replayed:
    """Replay a schema file, or every .sql file below a folder in natural order."""
    if path.is_dir():
        from ddlguard.checker import sql_files_under

        files = sql_files_under(path)
    else:
        files = [path]
    return replay(files, default_schema=default_schema)
