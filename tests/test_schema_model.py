"""The Schema model compares by content; normalisation spells things as PostgreSQL stores them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ddlguard.schema.model import Column, Constraint, Enum, Index, Origin, QName, Schema, Table
from ddlguard.schema.normalize import expression, type_from_sql

T = QName("public", "phone_number_inventory")


def _table(*columns: Column, constraints: tuple[Constraint, ...] = ()) -> Table:
    return Table(T, columns=columns, constraints=constraints)


def test_equality_ignores_origins_and_constraint_names() -> None:
    a = _table(
        Column("id", "uuid", nullable=False, origin=Origin("a.sql", 3)),
        constraints=(Constraint("u", ("id",), name="t_id_key"),),
    )
    b = _table(
        Column("id", "uuid", nullable=False, origin=Origin("schema.ts", 9)),
        constraints=(Constraint("u", ("id",), name="t_id_unique"),),
    )
    assert a == b
    assert hash(a) == hash(b)


def test_schema_order_of_construction_does_not_matter() -> None:
    t1 = Table(QName("public", "a"))
    t2 = Table(QName("public", "b"))
    e = Enum(QName("public", "status"), ("a", "b"))
    assert Schema(tables=(t1, t2), enums=(e,)) == Schema(tables=(t2, t1), enums=(e,))


def test_enum_value_order_matters() -> None:
    assert Enum(QName("public", "s"), ("a", "b")) != Enum(QName("public", "s"), ("b", "a"))


def test_derivations_return_new_values() -> None:
    s = Schema()
    t = _table(Column("id", "uuid"))
    s2 = s.with_table(t)
    assert s.table(T) is None and s2.table(T) == t
    t2 = t.with_column(Column("carrier", "text"))
    assert t2.column_names() == ("id", "carrier")
    assert t.column_names() == ("id",)
    t3 = t2.with_column(Column("id", "uuid", nullable=False))
    assert t3.column_names() == ("id", "carrier")  # replaced in place, order kept
    assert t3.column("id") == Column("id", "uuid", nullable=False)


def test_drop_column_drops_its_constraints() -> None:
    t = _table(
        Column("tenant_id", "uuid"),
        Column("line_uri", "text"),
        constraints=(
            Constraint("u", ("tenant_id", "line_uri")),
            Constraint("c", ("line_uri",), expression="x"),
        ),
    )
    assert t.without_column("line_uri").constraints == ()


def test_without_table_drops_its_indexes() -> None:
    s = Schema(
        tables=(_table(Column("status", "text")),), indexes=(Index("idx_s", T, ("status",)),)
    )
    assert s.without_table(T).indexes == ()
    assert s.relation_exists("public", "idx_s")


def test_relation_namespace_includes_constraint_indexes() -> None:
    s = Schema(
        tables=(
            _table(Column("id", "uuid"), constraints=(Constraint("p", ("id",), name="pni_pkey"),)),
        )
    )
    assert s.relation_exists("public", "pni_pkey")
    assert not s.relation_exists("public", "nothing")


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("int", "integer"),
        ("INT4", "integer"),
        ("integer", "integer"),
        ("int8", "bigint"),
        ("bigserial", "bigint"),
        ("serial", "integer"),
        ("smallint", "smallint"),
        ("varchar(255)", "character varying(255)"),
        ("character varying", "character varying"),
        ("char", "character(1)"),
        ("char(3)", "character(3)"),
        ("numeric(10, 2)", "numeric(10,2)"),
        ("decimal", "numeric"),
        ("float8", "double precision"),
        ("double precision", "double precision"),
        ("real", "real"),
        ("bool", "boolean"),
        ("timestamp", "timestamp without time zone"),
        ("timestamp(3)", "timestamp(3) without time zone"),
        ("timestamptz", "timestamp with time zone"),
        ("timestamp with time zone", "timestamp with time zone"),
        ("timetz", "time with time zone"),
        ("text[]", "text[]"),
        ("int[][]", "integer[]"),
        ("varchar(20)[]", "character varying(20)[]"),
        ("jsonb", "jsonb"),
        ("uuid", "uuid"),
        ("number_status", "number_status"),
        ("public.number_status", "number_status"),
        ("billing.currency", "billing.currency"),
    ],
)
def test_types_are_spelled_as_format_type_does(written: str, stored: str) -> None:
    assert type_from_sql(written) == stored


@pytest.mark.parametrize(
    ("a", "b", "column_type"),
    [
        ("now()", "CURRENT_TIMESTAMP", None),
        ("NOW()", "now()", None),
        ("'did'", "'did'::text", "text"),
        ("'did'", "'did'::character varying", "character varying(20)"),
        ("false", "FALSE", "boolean"),
        ("status IN ('a', 'b')", "(status = ANY (ARRAY['a'::text, 'b'::text]))", None),
        (
            "status IN ('a', 'b')",
            "((status)::text = ANY ((ARRAY['a'::character varying, 'b'::character varying])::text[]))",
            None,
        ),
        ("'{}'::jsonb", "'{}'", "jsonb"),
        ("15", "(15)", "integer"),
        ("pg_catalog.now()", "now()", None),
    ],
)
def test_equivalent_expressions_normalise_alike(a: str, b: str, column_type: str | None) -> None:
    assert expression(a, column_type) == expression(b, column_type)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("now()", "gen_random_uuid()"),
        ("'did'", "'extension'"),
        ("status IN ('a', 'b')", "status IN ('b', 'a')"),
        ("x > 0", "x >= 0"),
    ],
)
def test_different_expressions_stay_different(a: str, b: str) -> None:
    assert expression(a) != expression(b)


_ATOMS = st.sampled_from(["1", "'a'", "now()", "x", "y", "true", "NULL", "gen_random_uuid()"])


@given(
    st.recursive(
        _ATOMS,
        lambda inner: st.tuples(inner, st.sampled_from(["+", "=", "<", "AND", "OR"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        max_leaves=6,
    )
)
def test_expression_normalisation_is_idempotent(text: str) -> None:
    once = expression(text)
    assert expression(once) == once
