"""Integrity rules (``M``): the migration set as a whole (lock file checksums, versions)."""

from __future__ import annotations

from ddlguard.findings import Category, Severity
from ddlguard.rules.registry import RuleMaker, register

_rule = RuleMaker(Category.INTEGRITY, Severity.ERROR)


_APPLIED = (
    "Migration tools record which files they have applied and never run them again, so an "
    "applied migration is history: "
)

RULES = [
    _rule(
        "M101",
        "edited-migration",
        "Migration changed after it was locked",
        _APPLIED + "an edit to it reaches fresh databases but never the databases that already "
        "ran it. Production and a new staging database then differ, the kind of silent drift "
        "that surfaced as 500s in the seed's story. The lock file (`ddlguard lock`) records "
        "each migration's SHA-256 so that such an edit is caught at commit time.",
        "-- 0006_connectwise_integration.sql, applied in production last month, edited today:\n"
        "ALTER TABLE connectwise_credentials ADD COLUMN IF NOT EXISTS default_status_id integer;",
        "-- a new migration instead:\n-- 0007_connectwise_default_status.sql\n"
        "ALTER TABLE connectwise_credentials ADD COLUMN IF NOT EXISTS default_status_id integer;",
        "Revert the edit and write a new migration. If the edit is deliberate (the migration was "
        "never applied anywhere), run `ddlguard lock` to accept it.",
    ),
    _rule(
        "M102",
        "removed-migration",
        "Locked migration deleted or renamed",
        _APPLIED + "deleting or renaming one does not undo it where it ran, and fresh databases "
        "no longer get it.",
        "git rm migrations/0003_tenant_powershell_credentials.sql",
        "-- keep the file; undo its effect in a new migration if needed",
        "Restore the file, or run `ddlguard lock` if removing it is deliberate.",
    ),
    _rule(
        "M103",
        "unlocked-migration",
        "Migration not recorded in the lock file",
        "A new migration that is not in the lock file is not protected against later edits. "
        "Two branches that each add a migration both change the lock file, so git reports a "
        "conflict: the point where someone must decide the order.",
        "migrations/0007_add_tags.sql   (new, `ddlguard lock` not run)",
        "migrations/0007_add_tags.sql   (and migrations.lock updated by `ddlguard lock`)",
        "Run `ddlguard lock` and commit the lock file with the migration.",
        severity=Severity.WARNING,
    ),
    _rule(
        "M104",
        "migration-out-of-order",
        "New migration that sorts before an already locked one",
        "Tools that apply migrations in order skip a file that sorts before the newest applied "
        "one (or refuse to run), so the change never reaches databases that are ahead.",
        "migrations/0004_add_tags.sql   (new, while 0006_connectwise_integration.sql is locked)",
        "migrations/0007_add_tags.sql",
        "Give the migration a version after the newest locked one.",
    ),
    _rule(
        "M105",
        "lock-file-invalid",
        "Lock file that does not match its own checksum or cannot be read",
        "The lock file's first line is a hash of all its entries; a mismatch means it was "
        "edited by hand or a merge combined two versions of it, so it no longer proves anything.",
        "<<<<<<< HEAD\nmigrations/0007_a.sql h1:...\n=======\nmigrations/0007_b.sql h1:...",
        "h1:... (written by `ddlguard lock`)",
        "Resolve the order of the migrations, then run `ddlguard lock`.",
    ),
    _rule(
        "M106",
        "migrations-reordered",
        "Locked migrations in a different order than when they were locked",
        "The order of migrations is the order databases applied them; a renamed version prefix or "
        "a changed `migrations` list makes fresh databases apply them in another order than "
        "production did.",
        'migrations = ["migrations/FIX_PRODUCTION_SCHEMA.sql", "migrations/0*.sql"]  # was after',
        'migrations = ["migrations/0*.sql", "migrations/FIX_PRODUCTION_SCHEMA.sql"]',
        "Restore the order, or run `ddlguard lock` if the new order is deliberate.",
    ),
    _rule(
        "M201",
        "duplicate-migration-version",
        "Two migrations with the same version prefix",
        "Migration tools identify a migration by its version; two `0006_*.sql` files either "
        "make the tool refuse to run or apply only one of them, depending on the tool.",
        "migrations/0006_connectwise_integration.sql\nmigrations/0006_add_tags.sql",
        "migrations/0006_connectwise_integration.sql\nmigrations/0007_add_tags.sql",
        "Renumber the newer migration.",
    ),
]
register(*RULES)
