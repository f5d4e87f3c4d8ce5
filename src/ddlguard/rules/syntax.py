"""Syntax rules (``E``): files that cannot be read or parsed, and suppression comments."""

from __future__ import annotations

from ddlguard.findings import Category, Rule, Severity
from ddlguard.rules.registry import register

RULES = [
    Rule(
        code="E001",
        name="syntax-error",
        category=Category.SYNTAX,
        severity=Severity.ERROR,
        summary="SQL that PostgreSQL's parser rejects",
        why="A statement PostgreSQL cannot parse fails the migration wherever it runs; with "
        "`psql -f` and no ON_ERROR_STOP the rest of the file runs on without it. The position is "
        "the one PostgreSQL reports. Statements inside DO blocks and PL/pgSQL functions are "
        "parsed too. Other statements of the file are still checked.",
        bad="CREATE TABLE phone_number_inventory (id uuid PRIMARY KEY,);",
        good="CREATE TABLE phone_number_inventory (id uuid PRIMARY KEY);",
        fix_hint="Correct the SQL at the reported line and column.",
    ),
    Rule(
        code="E002",
        name="invalid-encoding",
        category=Category.SYNTAX,
        severity=Severity.ERROR,
        summary="File that is not UTF-8 text",
        why="A SQL file with bytes that are not UTF-8 (or a binary file with NUL bytes) cannot be "
        "parsed reliably and psql would send it to the server as it is, where it fails or stores "
        "mangled text. The finding names the byte offset of the first bad byte.",
        bad="INSERT INTO country_codes VALUES ('CI', 'C\\xf4te d''Ivoire');  -- saved as Latin-1",
        good="INSERT INTO country_codes VALUES ('CI', 'Côte d''Ivoire');  -- saved as UTF-8",
        fix_hint="Re-save the file as UTF-8 (a BOM is accepted).",
    ),
    Rule(
        code="E003",
        name="empty-file",
        category=Category.SYNTAX,
        severity=Severity.WARNING,
        summary="SQL file with no statements",
        why="An empty migration (or one with only comments) is usually a file created and never "
        "filled in, or one whose content was lost in a merge; a migration tool records it as "
        "applied and the change it was meant to carry never runs.",
        bad="-- 0007_add_tags.sql\n-- TODO",
        good="-- 0007_add_tags.sql\nALTER TABLE phone_number_inventory ADD COLUMN IF NOT EXISTS tags text;",
        fix_hint="Write the migration, or delete the file.",
    ),
    Rule(
        code="E901",
        name="unused-suppression",
        category=Category.SYNTAX,
        severity=Severity.WARNING,
        summary="ddlguard: ignore comment that suppresses nothing",
        why="A suppression that no longer matches a finding hides nothing today but will silently "
        "hide a future problem on that line; it is usually left over from a fixed statement or "
        "names the wrong code.",
        bad="-- ddlguard: ignore[I101]\nCREATE TABLE IF NOT EXISTS tags (id int);",
        good="CREATE TABLE IF NOT EXISTS tags (id int);",
        fix_hint="Remove the comment, or correct the codes it names.",
    ),
    Rule(
        code="E902",
        name="unknown-suppression-code",
        category=Category.SYNTAX,
        severity=Severity.WARNING,
        summary="ddlguard: ignore comment naming a code that does not exist",
        why="A typo in a suppression comment (I10 for I101, a category misspelt) suppresses "
        "nothing, so the finding it was meant to silence still fails the build, or worse, a "
        "prefix matches more rules than meant.",
        bad="-- ddlguard: ignore[I9999]\nCREATE TABLE tags (id int);",
        good="-- ddlguard: ignore[I101]\nCREATE TABLE tags (id int);",
        fix_hint="Use a code listed by `ddlguard rules`, a code prefix, or a category name.",
    ),
]
register(*RULES)
