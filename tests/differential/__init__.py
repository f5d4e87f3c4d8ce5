"""The differential suite: ddlguard's static answers against a real PostgreSQL on
../shared/corpus (see chains.py for the chains, harness.py for the comparison)."""
