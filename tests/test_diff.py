"""schema/diff.py and rules/drift.py: every kind of difference, rename pairing, no false positives,
and the findings that point at the place a person fixes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from ddlguard.findings import Category, Severity
from ddlguard.rules.drift import (
    RULE_OF,
    RULES,
    cannot_verify_findings,
    drift_findings,
    note_difference,
)
from ddlguard.rules.registry import get_rule
from ddlguard.schema.diff import (
    Difference,
    DiffKind,
    compatible_types,
    diff,
    name_similarity,
    pair_renames,
)
from ddlguard.schema.model import (
    Column,
    Constraint,
    Enum,
    Index,
    Origin,
    QName,
    Schema,
    Table,
    View,
)

P = "public"
SNAP = "migrations/PRODUCTION_DEPLOYMENT.sql"
TS = "shared/schema.ts"


def q(name: str, schema: str = P) -> QName:
    return QName(schema, name)


def col(
    name: str,
    type_: str = "text",
    *,
    null: bool = True,
    default: str | None = None,
    line: int | None = None,
    path: str = SNAP,
    identity: str | None = None,
    generated: str | None = None,
) -> Column:
    return Column(
        name,
        type_,
        null,
        default,
        identity=identity,  # type: ignore[arg-type]
        generated=generated,
        origin=Origin(path, line) if line else None,
    )


def table(
    name: str,
    *columns: Column,
    cons: tuple[Constraint, ...] = (),
    line: int | None = None,
    path: str = SNAP,
    schema: str = P,
) -> Table:
    return Table(q(name, schema), columns, cons, origin=Origin(path, line) if line else None)


def pk(*cols: str, name: str = "") -> Constraint:
    return Constraint("p", cols, name=name)


def uq(*cols: str, name: str = "") -> Constraint:
    return Constraint("u", cols, name=name)


def fk(
    cols: tuple[str, ...],
    ref: str,
    ref_cols: tuple[str, ...] = ("id",),
    *,
    name: str = "",
    on_delete: str = "a",
) -> Constraint:
    return Constraint(
        "f", cols, name=name, ref_table=q(ref), ref_columns=ref_cols, on_delete=on_delete
    )  # type: ignore[arg-type]


def ck(expr: str, *cols: str, name: str = "") -> Constraint:
    return Constraint("c", cols, name=name, expression=expr)


def kinds(diffs: list[Difference]) -> list[tuple[str, str]]:
    return [(d.kind.value, d.object_name) for d in diffs]


TENANTS = table("customer_tenants", col("id", "uuid", null=False), cons=(pk("id"),))


# --- the seed's story -----------------------------------------------------------------------------


def seed_snapshot() -> Schema:
    return Schema(
        tables=(
            TENANTS,
            table(
                "connectwise_credentials",
                col("id", "uuid", null=False, default="gen_random_uuid()"),
                col("tenant_id", "uuid"),
                col("server_url", null=False, line=63),
                col("company_id", null=False),
                col("encrypted_public_key", null=False, line=65),
                col("encrypted_private_key", null=False, line=66),
                col("client_id", null=False),
                col("default_time_minutes", "integer", default="15"),
                col("created_at", "timestamp without time zone", default="now()"),
                cons=(
                    pk("id", name="connectwise_credentials_pkey"),
                    uq("tenant_id", name="connectwise_credentials_tenant_id_key"),
                    fk(
                        ("tenant_id",),
                        "customer_tenants",
                        name="connectwise_credentials_tenant_id_fkey",
                        on_delete="c",
                    ),
                ),
                line=60,
            ),
            table(
                "tenant_3cx_credentials",
                col("id", "uuid", null=False),
                col("server_url", null=False),
                col("username", null=False),
                col("encrypted_password", null=False),
                cons=(pk("id"),),
                line=20,
            ),
            table(
                "tenant_powershell_credentials",
                col("id", "uuid", null=False),
                col("tenant_id", "uuid", null=False),
                col("username", line=48),
                col("encrypted_password", line=49),
                col("is_active", "boolean", default="true"),
                cons=(pk("id"), uq("tenant_id")),
                line=45,
            ),
        ),
        indexes=(
            Index(
                "idx_connectwise_credentials_tenant_id",
                q("connectwise_credentials"),
                ("tenant_id",),
            ),
        ),
    )


def seed_canonical() -> Schema:
    return Schema(
        tables=(
            replace(TENANTS, origin=Origin(TS, 10)),
            table(
                "connectwise_credentials",
                col("id", "uuid", null=False, default="gen_random_uuid()"),
                col("tenant_id", "uuid"),
                col("base_url", null=False, line=51, path=TS),
                col("company_id", null=False),
                col("public_key", null=False, line=53, path=TS),
                col("private_key", null=False, line=54, path=TS),
                col("client_id", null=False),
                col("default_time_minutes", "integer", default="15"),
                col("auto_update_status", "boolean", default="false", line=58, path=TS),
                col("default_status_id", "integer", line=59, path=TS),
                col("created_at", "timestamp without time zone", default="now()"),
                cons=(
                    pk("id"),
                    uq("tenant_id"),
                    fk(("tenant_id",), "customer_tenants", on_delete="c"),
                ),
                line=44,
                path=TS,
            ),
            table(
                "tenant_3cx_credentials",
                col("id", "uuid", null=False),
                col("server_url", null=False),
                col("username", null=False),
                col("encrypted_password", null=False),
                col("created_by", line=82, path=TS),
                col("updated_by", line=83, path=TS),
                cons=(pk("id"),),
                line=74,
                path=TS,
            ),
            table(
                "tenant_powershell_credentials",
                col("id", "uuid", null=False),
                col("tenant_id", "uuid", null=False),
                col("app_id", null=False, line=100, path=TS),
                col("certificate_thumbprint", null=False, line=101, path=TS),
                col("username_deprecated", line=102, path=TS),
                col("encrypted_password_deprecated", line=103, path=TS),
                col("is_active", "boolean", default="true"),
                cons=(pk("id"), uq("tenant_id")),
                line=95,
                path=TS,
            ),
        ),
        indexes=(
            Index(
                "idx_connectwise_credentials_tenant_id",
                q("connectwise_credentials"),
                ("tenant_id",),
            ),
        ),
    )


def test_seed_drift_is_exactly_the_seeds_list() -> None:
    got = kinds(diff(seed_snapshot(), seed_canonical()))
    assert got == [
        ("renamed-column", "public.connectwise_credentials.base_url"),
        ("renamed-column", "public.connectwise_credentials.public_key"),
        ("renamed-column", "public.connectwise_credentials.private_key"),
        ("missing-column", "public.connectwise_credentials.auto_update_status"),
        ("missing-column", "public.connectwise_credentials.default_status_id"),
        ("missing-column", "public.tenant_3cx_credentials.created_by"),
        ("missing-column", "public.tenant_3cx_credentials.updated_by"),
        ("renamed-column", "public.tenant_powershell_credentials.username_deprecated"),
        ("renamed-column", "public.tenant_powershell_credentials.encrypted_password_deprecated"),
        ("missing-column", "public.tenant_powershell_credentials.app_id"),
        ("missing-column", "public.tenant_powershell_credentials.certificate_thumbprint"),
    ]


def test_seed_renames_pair_old_and_new_names() -> None:
    pairs = {
        (d.old_column, d.column)
        for d in diff(seed_snapshot(), seed_canonical())
        if d.kind is DiffKind.RENAMED_COLUMN
    }
    assert pairs == {
        ("server_url", "base_url"),
        ("encrypted_public_key", "public_key"),
        ("encrypted_private_key", "private_key"),
        ("username", "username_deprecated"),
        ("encrypted_password", "encrypted_password_deprecated"),
    }


def test_seed_findings_point_where_a_person_fixes(tmp_path: Path) -> None:
    findings = drift_findings(
        diff(seed_snapshot(), seed_canonical()),
        source_label="PRODUCTION_DEPLOYMENT.sql",
        cwd=Path.cwd(),
    )
    by_object = {f.object: f for f in findings}
    rename = by_object["public.connectwise_credentials.base_url"]
    assert (rename.code, rename.rule, rename.path, rename.line) == (
        "D203",
        "renamed-column",
        SNAP,
        63,
    )
    assert rename.message == (
        "connectwise_credentials.server_url in PRODUCTION_DEPLOYMENT.sql is base_url in "
        "shared/schema.ts: rename it"
    )
    missing = by_object["public.connectwise_credentials.auto_update_status"]
    assert (missing.code, missing.path, missing.line) == ("D201", TS, 58)
    assert missing.message == (
        "column connectwise_credentials.auto_update_status (boolean DEFAULT false) is missing from "
        "PRODUCTION_DEPLOYMENT.sql; shared/schema.ts:58 defines it"
    )
    assert missing.category is Category.DRIFT and missing.severity is Severity.ERROR
    assert missing.fix is not None and "ADD COLUMN IF NOT EXISTS auto_update_status boolean" in (
        missing.fix.replacement or ""
    )
    assert not missing.fix.applicable
    assert [f.code for f in findings].count("D203") == 5
    assert [f.code for f in findings].count("D201") == 6
    assert findings == sorted(findings, key=lambda f: f.sort_key())


def test_same_schema_has_no_drift() -> None:
    assert diff(seed_canonical(), seed_canonical()) == []
    assert diff(Schema(), Schema()) == []


# --- tables and columns ---------------------------------------------------------------------------


def test_missing_and_extra_table() -> None:
    a = Schema(tables=(table("legacy", col("id", "integer")),))
    c = Schema(tables=(table("fresh", col("id", "integer"), line=5, path=TS),))
    d = diff(a, c)
    assert kinds(d) == [("missing-table", "public.fresh"), ("extra-table", "public.legacy")]
    assert d[0].canonical_origin == Origin(TS, 5)
    assert (
        d[0].message
        == "table fresh (1 column) is missing from the migrations; the canonical schema defines it"
    )
    assert d[1].message.startswith("table legacy in the migrations is not in the canonical schema")


def test_missing_table_carries_its_indexes_and_reports_them_once() -> None:
    idx = Index("idx_fresh_a", q("fresh"), ("a",))
    c = Schema(tables=(table("fresh", col("a")),), indexes=(idx,))
    d = diff(Schema(), c)
    assert kinds(d) == [("missing-table", "public.fresh")]
    assert d[0].indexes == (idx,)


def test_tables_in_other_schemas_are_qualified() -> None:
    c = Schema(
        tables=(table("invoices", col("id"), schema="billing"),), schemas=frozenset({P, "billing"})
    )
    d = diff(Schema(), c)
    assert kinds(d) == [("missing-table", "billing.invoices")]
    assert "table billing.invoices" in d[0].message


def test_column_order_does_not_matter() -> None:
    a = Schema(tables=(table("t", col("a"), col("b", "integer")),))
    c = Schema(tables=(table("t", col("b", "integer"), col("a")),))
    assert diff(a, c) == []


def test_missing_and_extra_column_of_unrelated_names_are_not_a_rename() -> None:
    a = Schema(tables=(table("t", col("id"), col("notes")),))
    c = Schema(tables=(table("t", col("id"), col("created_by")),))
    assert kinds(diff(a, c)) == [
        ("missing-column", "public.t.created_by"),
        ("extra-column", "public.t.notes"),
    ]


def test_incompatible_types_are_not_a_rename() -> None:
    a = Schema(tables=(table("t", col("server_url")),))
    c = Schema(tables=(table("t", col("base_url", "boolean")),))
    assert [k for k, _ in kinds(diff(a, c))] == ["missing-column", "extra-column"]


def test_rename_with_a_compatible_type_change_reports_both() -> None:
    a = Schema(tables=(table("t", col("user_name", "character varying(50)")),))
    c = Schema(tables=(table("t", col("username", "text")),))
    d = diff(a, c)
    assert kinds(d) == [
        ("renamed-column", "public.t.username"),
        ("column-type", "public.t.username"),
    ]
    assert d[1].old_column == "user_name"
    assert (
        d[1].message
        == "column t.username is character varying(50) in the migrations but text in the canonical schema: change its type"
    )


def test_rename_pairing_is_by_name_not_position() -> None:
    # The extra columns are listed in the opposite order of the missing ones.
    a = Schema(
        tables=(
            table(
                "t", col("encrypted_private_key"), col("encrypted_public_key"), col("server_url")
            ),
        )
    )
    c = Schema(tables=(table("t", col("base_url"), col("public_key"), col("private_key")),))
    pairs = [(d.old_column, d.column) for d in diff(a, c) if d.kind is DiffKind.RENAMED_COLUMN]
    assert pairs == [
        ("server_url", "base_url"),
        ("encrypted_public_key", "public_key"),
        ("encrypted_private_key", "private_key"),
    ]


def test_rename_pairing_prefers_the_exact_type() -> None:
    extra = [col("amount_cents", "bigint"), col("amount_total", "integer")]
    missing = [col("amount", "integer")]
    assert [(o.name, n.name) for o, n in pair_renames(extra, missing)] == [
        ("amount_total", "amount")
    ]


def test_rename_constraints_and_indexes_follow_the_renamed_column() -> None:
    a = Schema(
        tables=(
            table(
                "t",
                col("id", "integer", null=False),
                col("server_url"),
                cons=(pk("id"), uq("server_url")),
            ),
        ),
        indexes=(Index("idx_t_url", q("t"), ("server_url",)),),
    )
    c = Schema(
        tables=(
            table(
                "t",
                col("id", "integer", null=False),
                col("base_url"),
                cons=(pk("id"), uq("base_url")),
            ),
        ),
        indexes=(Index("idx_t_url", q("t"), ("base_url",)),),
    )
    assert kinds(diff(a, c)) == [("renamed-column", "public.t.base_url")]


def test_name_similarity_and_type_compatibility() -> None:
    assert name_similarity("username", "username_deprecated") > 0.55
    assert name_similarity("server_url", "base_url") > 0.55
    assert name_similarity("notes", "created_by") < 0.55
    assert compatible_types("text", "character varying(255)")
    assert compatible_types("integer", "bigint")
    assert compatible_types("timestamp without time zone", "timestamp(3) with time zone")
    assert compatible_types("text[]", "character varying[]")
    assert not compatible_types("text", "text[]")
    assert not compatible_types("uuid", "text")
    assert not compatible_types("boolean", "integer")


@pytest.mark.parametrize(
    ("a_col", "c_col", "kind", "message"),
    [
        (
            col("c", "integer"),
            col("c", "bigint"),
            "column-type",
            "column t.c is integer in the migrations but bigint in the canonical schema: change its type",
        ),
        (
            col("c", "character varying(50)"),
            col("c", "character varying(255)"),
            "column-type",
            "column t.c is character varying(50) in the migrations but character varying(255) in the canonical schema: change its type",
        ),
        (
            col("c"),
            col("c", null=False),
            "column-nullability",
            "column t.c is nullable in the migrations but NOT NULL in the canonical schema: set NOT NULL",
        ),
        (
            col("c", null=False),
            col("c"),
            "column-nullability",
            "column t.c is NOT NULL in the migrations but nullable in the canonical schema: drop NOT NULL",
        ),
        (
            col("c", "boolean"),
            col("c", "boolean", default="false"),
            "column-default",
            "column t.c has no default in the migrations but DEFAULT false in the canonical schema: set the default",
        ),
        (
            col("c", "integer", default="1"),
            col("c", "integer"),
            "column-default",
            "column t.c has DEFAULT 1 in the migrations but no default in the canonical schema: drop the default",
        ),
        (
            col("c", "integer", default="1"),
            col("c", "integer", default="2"),
            "column-default",
            "column t.c has DEFAULT 1 in the migrations but DEFAULT 2 in the canonical schema: set the default",
        ),
        (
            col("c", "integer", null=False),
            col("c", "integer", null=False, identity="always"),
            "column-identity",
            "column t.c is not an identity column in the migrations but GENERATED ALWAYS AS IDENTITY in the canonical schema",
        ),
        (
            col("c", "integer", null=False, identity="by default"),
            col("c", "integer", null=False, identity="always"),
            "column-identity",
            "column t.c is GENERATED BY DEFAULT AS IDENTITY in the migrations but GENERATED ALWAYS AS IDENTITY in the canonical schema",
        ),
        (
            col("c", "integer"),
            col("c", "integer", generated="a + 1"),
            "column-generated",
            "column t.c is not generated in the migrations but GENERATED ALWAYS AS (a + 1) in the canonical schema",
        ),
    ],
)
def test_column_differences(a_col: Column, c_col: Column, kind: str, message: str) -> None:
    d = diff(Schema(tables=(table("t", a_col),)), Schema(tables=(table("t", c_col),)))
    assert [x.kind.value for x in d] == [kind]
    assert d[0].message == message
    assert d[0].object_name == "public.t.c"


def test_messages_show_boolean_defaults_in_lower_case() -> None:
    a = Schema(tables=(table("t", col("id")),))
    c = Schema(tables=(table("t", col("id"), col("on", "boolean", default="FALSE")),))
    assert "(boolean DEFAULT false)" in diff(a, c)[0].message


def test_default_spelling_does_not_matter() -> None:
    a = Schema(
        tables=(
            table(
                "t",
                col("at", "timestamp with time zone", default="CURRENT_TIMESTAMP"),
                col("s", default="'x'::text"),
            ),
        )
    )
    c = Schema(
        tables=(
            table(
                "t", col("at", "timestamp with time zone", default="now()"), col("s", default="'x'")
            ),
        )
    )
    assert diff(a, c) == []


def test_primary_key_and_identity_columns_are_not_null_whatever_the_source_says() -> None:
    a = Schema(
        tables=(
            table(
                "t",
                col("id", "integer", null=True),
                col("n", "integer", null=True, identity="always"),
                cons=(pk("id"),),
            ),
        )
    )
    c = Schema(
        tables=(
            table(
                "t",
                col("id", "integer", null=False),
                col("n", "integer", null=False, identity="always"),
                cons=(pk("id"),),
            ),
        )
    )
    assert diff(a, c) == []


# --- constraints ----------------------------------------------------------------------------------


def _cons_diff(a_cons: tuple[Constraint, ...], c_cons: tuple[Constraint, ...]) -> list[Difference]:
    cols = (col("id", "integer", null=False), col("a", "integer"), col("tenant_id", "uuid"))
    other = (TENANTS, table("accounts", col("id", "uuid", null=False), cons=(pk("id"),)))
    return diff(
        Schema(tables=(table("t", *cols, cons=a_cons), *other)),
        Schema(tables=(table("t", *cols, cons=c_cons), *other)),
    )


def test_implicit_constraint_names_are_not_differences() -> None:
    a_cons = (
        pk("id", name="t_pkey"),
        uq("a", name="t_a_key"),
        fk(("tenant_id",), "customer_tenants", name="t_tenant_id_fkey"),
        ck("a > 0", "a", name="t_a_check"),
    )
    c_cons = (
        pk("id", name="pk_t"),
        uq("a", name="t_a_unique"),
        fk(("tenant_id",), "customer_tenants", name="fk_t_tenant"),
        ck("(a > 0)", name="a_positive"),
    )
    assert _cons_diff(a_cons, c_cons) == []


def test_foreign_key_to_the_primary_key_without_columns_is_the_same() -> None:
    assert (
        _cons_diff(
            (fk(("tenant_id",), "customer_tenants", ()),), (fk(("tenant_id",), "customer_tenants"),)
        )
        == []
    )


def test_unique_constraint_and_unique_index_are_the_same() -> None:
    cols = (col("a", "integer"),)
    a = Schema(tables=(table("t", *cols, cons=(uq("a"),)),))
    c = Schema(
        tables=(table("t", *cols),), indexes=(Index("t_a_idx", q("t"), ("a",), unique=True),)
    )
    assert diff(a, c) == []
    assert diff(c, a) == []


@pytest.mark.parametrize(
    ("a_cons", "c_cons", "expected"),
    [
        ((), (pk("id"),), [("missing-primary-key", "public.t")]),
        ((pk("id", name="t_pkey"),), (), [("extra-primary-key", "public.t.t_pkey")]),
        # PRIMARY KEY (a) made a NOT NULL, and dropping the key would not change that.
        (
            (pk("a"),),
            (pk("id"),),
            [("column-nullability", "public.t.a"), ("primary-key", "public.t")],
        ),
        ((), (uq("a", name="t_a_key"),), [("missing-unique", "public.t.t_a_key")]),
        ((uq("a", name="t_a_key"),), (), [("extra-unique", "public.t.t_a_key")]),
        ((uq("a", name="u"),), (uq("a", "id", name="u"),), [("unique", "public.t.u")]),
        (
            (uq("a", name="t_a_key"),),
            (uq("a", "id", name="t_a_id_key"),),
            [("missing-unique", "public.t.t_a_id_key"), ("extra-unique", "public.t.t_a_key")],
        ),
        ((), (fk(("tenant_id",), "customer_tenants"),), [("missing-foreign-key", "public.t")]),
        (
            (fk(("tenant_id",), "customer_tenants", name="f"),),
            (),
            [("extra-foreign-key", "public.t.f")],
        ),
        (
            (fk(("tenant_id",), "customer_tenants", name="f"),),
            (fk(("tenant_id",), "customer_tenants", name="f", on_delete="c"),),
            [("foreign-key", "public.t.f")],
        ),
        (
            (fk(("tenant_id",), "customer_tenants", name="x"),),
            (fk(("tenant_id",), "accounts", name="y"),),
            [("foreign-key", "public.t.y")],
        ),
        ((), (ck("a > 0", name="t_a_check"),), [("missing-check", "public.t.t_a_check")]),
        ((ck("a > 0", name="c1"),), (), [("extra-check", "public.t.c1")]),
        ((ck("a > 0", name="c1"),), (ck("a >= 0", name="c1"),), [("check", "public.t.c1")]),
        (
            (ck("a > 0", name="c1"),),
            (ck("a >= 0", name="c2"),),
            [("missing-check", "public.t.c2"), ("extra-check", "public.t.c1")],
        ),
    ],
)
def test_constraint_differences(
    a_cons: tuple[Constraint, ...], c_cons: tuple[Constraint, ...], expected: list[tuple[str, str]]
) -> None:
    assert kinds(_cons_diff(a_cons, c_cons)) == expected


def test_check_expressions_compare_as_postgresql_stores_them() -> None:
    a_cons = (ck("status IN ('a', 'b')", name="s"),)
    c_cons = (ck("status = ANY (ARRAY['a'::text, 'b'::text])", name="s"),)
    cols = (col("status"),)
    assert (
        diff(
            Schema(tables=(table("t", *cols, cons=a_cons),)),
            Schema(tables=(table("t", *cols, cons=c_cons),)),
        )
        == []
    )


def test_constraint_messages() -> None:
    d = _cons_diff((), (fk(("tenant_id",), "customer_tenants", on_delete="c"),))
    assert d[0].message == (
        "constraint FOREIGN KEY (tenant_id) REFERENCES public.customer_tenants(id) ON DELETE CASCADE "
        "on t is missing from the migrations; the canonical schema defines it"
    )
    d = _cons_diff((pk("a"),), (pk("id"),))
    assert (
        d[-1].message
        == "primary key of t is PRIMARY KEY (a) in the migrations but PRIMARY KEY (id) in the canonical schema"
    )


# --- indexes --------------------------------------------------------------------------------------


def _idx_diff(a: tuple[Index, ...], c: tuple[Index, ...]) -> list[Difference]:
    t = table("t", col("a"), col("b"))
    return diff(Schema(tables=(t,), indexes=a), Schema(tables=(t,), indexes=c))


def test_index_names_do_not_matter() -> None:
    assert _idx_diff((Index("t_a_idx", q("t"), ("a",)),), (Index("idx_t_a", q("t"), ("a",)),)) == []


def test_index_expression_and_predicate_spelling_does_not_matter() -> None:
    a = (Index("i", q("t"), ("(lower(a))",), where="b IS NOT NULL"),)
    c = (Index("j", q("t"), ("(lower((a)))",), where="(b IS NOT NULL)"),)
    assert _idx_diff(a, c) == []


@pytest.mark.parametrize(
    ("a", "c", "expected"),
    [
        ((), (Index("i", q("t"), ("a",)),), [("missing-index", "public.i")]),
        ((Index("i", q("t"), ("a",)),), (), [("extra-index", "public.i")]),
        ((Index("i", q("t"), ("a",)),), (Index("i", q("t"), ("b",)),), [("index", "public.i")]),
        (
            (Index("i", q("t"), ("a",)),),
            (Index("i", q("t"), ("a",), unique=True),),
            [("index", "public.i")],
        ),
        (
            (Index("i", q("t"), ("a",)),),
            (Index("i", q("t"), ("a",), method="hash"),),
            [("index", "public.i")],
        ),
        (
            (Index("i", q("t"), ("a",)),),
            (Index("i", q("t"), ("a",), where="b IS NULL"),),
            [("index", "public.i")],
        ),
        (
            (Index("i", q("t"), ("a",)),),
            (Index("j", q("t"), ("b",)),),
            [("missing-index", "public.j"), ("extra-index", "public.i")],
        ),
        # Content first: i and j swapped their definitions; nothing is missing.
        (
            (Index("i", q("t"), ("a",)), Index("j", q("t"), ("b",))),
            (Index("j", q("t"), ("a",)), Index("i", q("t"), ("b",))),
            [],
        ),
    ],
)
def test_index_differences(
    a: tuple[Index, ...], c: tuple[Index, ...], expected: list[tuple[str, str]]
) -> None:
    assert kinds(_idx_diff(a, c)) == expected


def test_index_message() -> None:
    d = _idx_diff((), (Index("idx_t_a", q("t"), ("a",), unique=True, where="b IS NOT NULL"),))
    assert d[0].message == (
        "UNIQUE INDEX idx_t_a (a) WHERE b IS NOT NULL on t is missing from the migrations; "
        "the canonical schema defines it"
    )


# --- enums and views ------------------------------------------------------------------------------


def _enum_diff(a: tuple[str, ...] | None, c: tuple[str, ...] | None) -> list[Difference]:
    aa = Schema(enums=(Enum(q("number_status"), a),)) if a is not None else Schema()
    cc = Schema(enums=(Enum(q("number_status"), c),)) if c is not None else Schema()
    return diff(aa, cc)


@pytest.mark.parametrize(
    ("a", "c", "expected"),
    [
        (None, ("a", "b"), ["missing-enum"]),
        (("a", "b"), None, ["extra-enum"]),
        (("a", "b"), ("a", "b", "c"), ["enum-values-missing"]),
        (("a", "c"), ("a", "b", "c"), ["enum-values-missing"]),
        (("b", "a"), ("a", "b"), ["enum-values-order"]),
        (("a", "b", "x"), ("a", "b"), ["enum-values-extra"]),
        (
            ("b", "a", "x"),
            ("a", "b", "c"),
            ["enum-values-missing", "enum-values-order", "enum-values-extra"],
        ),
        (("a", "b"), ("a", "b"), []),
    ],
)
def test_enum_differences(
    a: tuple[str, ...] | None, c: tuple[str, ...] | None, expected: list[str]
) -> None:
    assert [d.kind.value for d in _enum_diff(a, c)] == expected


def test_enum_values_message() -> None:
    d = _enum_diff(("available", "reserved", "used"), ("available", "reserved", "used", "aging"))
    assert d[0].values == ("aging",)
    assert d[0].message == (
        "enum type number_status lacks value 'aging' in the migrations; the canonical schema "
        "defines ('available', 'reserved', 'used', 'aging')"
    )


def test_views() -> None:
    a = Schema(views=(View(q("old_v")),))
    c = Schema(views=(View(q("new_v")),))
    assert kinds(diff(a, c)) == [("missing-view", "public.new_v"), ("extra-view", "public.old_v")]


# --- findings -------------------------------------------------------------------------------------


def test_every_kind_has_a_documented_drift_rule() -> None:
    assert set(RULE_OF) == {k.value for k in DiffKind}
    for code in set(RULE_OF.values()):
        rule = get_rule(code)
        assert rule is not None and rule.category is Category.DRIFT
    # D902 (drizzle-kit disagrees with the static reading) is a cross-check of two canonical
    # readings, not a kind of difference between the migrations and the canonical schema.
    assert {r.code for r in RULES} - {"D902"} == set(RULE_OF.values())
    assert get_rule("renamed-column") is get_rule("D203")


def test_finding_points_at_the_actual_side_for_a_wrong_definition() -> None:
    a = Schema(tables=(table("t", col("c", "integer", line=7)),))
    c = Schema(tables=(table("t", col("c", "bigint", line=3, path=TS)),))
    (f,) = drift_findings(diff(a, c), source_label="the migrations", cwd=Path.cwd())
    assert (f.code, f.path, f.line, f.object) == ("D204", SNAP, 7, "public.t.c")
    assert (
        f.message
        == "column t.c is integer in the migrations but bigint in shared/schema.ts: change its type"
    )


def test_finding_falls_back_to_the_table_origin_then_to_the_given_path() -> None:
    a = Schema(tables=(table("t", col("c"), line=12),))
    c = Schema(tables=(table("t", col("c", null=False)),))
    (f,) = drift_findings(diff(a, c), source_label="the migrations", cwd=Path.cwd())
    assert (f.path, f.line) == (SNAP, 12)
    a = Schema(tables=(table("t", col("c")),))
    (f,) = drift_findings(
        diff(a, c),
        source_label="the migrations",
        cwd=Path.cwd(),
        fallback="migrations/0001_init.sql",
    )
    assert (f.path, f.line, f.column) == ("migrations/0001_init.sql", 1, 1)


def test_finding_paths_are_relative_to_cwd(tmp_path: Path) -> None:
    schema_ts = tmp_path / "shared" / "schema.ts"
    c = Schema(tables=(table("t", col("c", line=4, path=str(schema_ts))),))
    a = Schema(tables=(table("t"),))
    (f,) = drift_findings(diff(a, c), source_label="the migrations", cwd=tmp_path)
    assert (f.path, f.line) == ("shared/schema.ts", 4)
    assert f.message.endswith("shared/schema.ts:4 defines it")


def test_extra_findings_are_warnings_and_name_the_canonical_label() -> None:
    a = Schema(tables=(table("t", col("password_hint", line=9)),))
    c = Schema(tables=(table("t"),))
    (f,) = drift_findings(
        diff(a, c), source_label="PRODUCTION_DEPLOYMENT.sql", cwd=Path.cwd(), canonical_label=TS
    )
    assert (f.code, f.severity) == ("D202", Severity.WARNING)
    assert f.message == (
        "column t.password_hint (text) in PRODUCTION_DEPLOYMENT.sql is not in shared/schema.ts: "
        "drop it, or add it to shared/schema.ts"
    )
    assert f.fix is not None and "WARNING: destructive" in (f.fix.replacement or "")


@dataclass
class _Note:
    message: str
    origin: Origin | None
    table: QName | None = None


def test_replay_notes_become_cannot_model_warnings() -> None:
    note = _Note(
        "cannot model EXECUTE of a dynamic string", Origin("migrations/0007.sql", 4), q("t")
    )
    d = note_difference(note)
    assert d.kind is DiffKind.CANNOT_MODEL
    assert (
        d.message
        == "cannot model EXECUTE of a dynamic string; drift results for table public.t may be incomplete"
    )
    (f,) = drift_findings([], source_label="the migrations", cwd=Path.cwd(), notes=[note])
    assert (f.code, f.rule, f.severity, f.path, f.line, f.object) == (
        "D901",
        "cannot-model",
        Severity.WARNING,
        "migrations/0007.sql",
        4,
        "public.t",
    )
    (g,) = cannot_verify_findings([_Note("cannot verify column t.x: a runtime default", None)])
    assert (g.code, g.message, g.object) == (
        "D901",
        "cannot verify column t.x: a runtime default",
        None,
    )
