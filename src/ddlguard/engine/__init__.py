"""The semantic engine: what PostgreSQL itself would decide about a statement.

One home for PostgreSQL's own rules that every consumer (the drift replay, the idempotency and
safety rules, the readers of canonical schemas) needs the same answer to:

- :mod:`ddlguard.engine.names`: the names PostgreSQL chooses for implicit constraints and
  indexes, and the 63-byte truncation of identifiers;
- :mod:`ddlguard.engine.accept`: whether PostgreSQL accepts a statement against what is known
  of the catalog (a missing referenced table or column, incompatible foreign-key types, a type
  change without a cast, a CHECK with a subquery, ...), with PostgreSQL's SQLSTATE and wording;
- :mod:`ddlguard.engine.rerun`: the symbolic second run of a file, which decides whether a
  statement fails when the migration runs again.
"""
