"""The Drizzle reader: schema.ts files read statically into the Schema drizzle-kit's SQL gives.

Each fixture schema under tests/fixtures/drizzle/ is compared with a Schema written out by hand
here, and, where npm is available, with the SQL drizzle-kit itself generates for it (installed
once per session into /tmp/ddlguard-drizzle-kit, or $DDLGUARD_DRIZZLE_KIT_DIR).
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ddlguard.schema.model import Column, Constraint, Enum, Index, QName, Schema, Table, View
from ddlguard.schema.normalize import expression, expression_node, is_serial, type_name
from ddlguard.sources.drizzle import (
    DrizzleError,
    DrizzleSchema,
    drizzle_kit_schema,
    drizzle_kit_sql,
    find_drizzle_config,
    read_drizzle,
    read_drizzle_config_casing,
    to_camel_case,
    to_snake_case,
)

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "drizzle"
SHOP = FIXTURES / "shop" / "schema.ts"
SAAS = FIXTURES / "saas" / "schema"
SNAKE = FIXTURES / "snake" / "db" / "schema.ts"
CATALOG = FIXTURES / "catalog" / "schema.ts"
UNVERIFIABLE = FIXTURES / "unverifiable" / "schema.ts"
UCR = ROOT / "examples" / "ucr-manager" / "shared" / "schema.ts"

P = "public"


@pytest.fixture(autouse=True)
def _cwd_is_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    # Origins are relative to the working directory, like every ddlguard path.
    monkeypatch.chdir(ROOT)


# --- helpers ----------------------------------------------------------------------------------


def col(
    name: str,
    type_: str,
    *,
    null: bool = True,
    default: str | None = None,
    identity: Any = None,
    generated: str | None = None,
) -> Column:
    return Column(
        name,
        type_,
        nullable=null,
        default=expression(default, type_) if default is not None else None,
        identity=identity,
        generated=generated,
    )


def serial(table: str, column: str, type_: str = "integer", schema: str = P) -> Column:
    seq = f"{table}_{column}_seq" if schema == P else f"{schema}.{table}_{column}_seq"
    return col(column, type_, null=False, default=f"nextval('{seq}'::regclass)")


def pk(*columns: str) -> Constraint:
    return Constraint("p", columns)


def uq(*columns: str, nulls_not_distinct: bool = False) -> Constraint:
    return Constraint("u", columns, nulls_not_distinct=nulls_not_distinct)


def fk(
    columns: tuple[str, ...] | str,
    ref: tuple[str, str],
    ref_columns: tuple[str, ...] | str = "id",
    *,
    on_delete: Any = "a",
    on_update: Any = "a",
) -> Constraint:
    cols = (columns,) if isinstance(columns, str) else columns
    refs = (ref_columns,) if isinstance(ref_columns, str) else ref_columns
    return Constraint(
        "f",
        cols,
        ref_table=QName(*ref),
        ref_columns=refs,
        on_delete=on_delete,
        on_update=on_update,
    )


def ck(text: str, *columns: str) -> Constraint:
    return Constraint("c", columns, expression=expression(text))


def idx(
    name: str,
    table: tuple[str, str],
    *keys: str,
    unique: bool = False,
    method: str = "btree",
    where: str | None = None,
) -> Index:
    return Index(
        name,
        QName(*table),
        keys,
        unique=unique,
        method=method,
        where=expression(where) if where is not None else None,
    )


def table(schema: str, name: str, columns: Iterable[Column], *constraints: Constraint) -> Table:
    return Table(QName(schema, name), columns=tuple(columns), constraints=tuple(constraints))


def canonical(schema: Schema) -> Schema:
    """The Schema with each table's constraints in one order: PostgreSQL gives constraints no
    order, and two faithful readings may list them differently."""

    def key(k: Constraint) -> tuple[str, ...]:
        return (k.kind, *k.columns, str(k.ref_table), *k.ref_columns, k.expression or "")

    return replace(
        schema,
        tables=tuple(
            replace(t, constraints=tuple(sorted(t.constraints, key=key))) for t in schema.tables
        ),
    )


def assert_same_schema(actual: Schema, expected: Schema) -> None:
    """Schemas equal; on failure, name the first objects that differ."""
    a, e = canonical(actual), canonical(expected)
    if a == e:
        return
    problems: list[str] = []
    a_tables = {t.name: t for t in a.tables}
    e_tables = {t.name: t for t in e.tables}
    for name in sorted(a_tables.keys() | e_tables.keys(), key=str):
        at, et = a_tables.get(name), e_tables.get(name)
        if at is None or et is None:
            problems.append(f"table {name}: {'missing' if at is None else 'unexpected'}")
            continue
        if at.column_names() != et.column_names():
            problems.append(f"{name} columns: {at.column_names()} != {et.column_names()}")
        for ac, ec in zip(at.columns, et.columns, strict=False):
            if ac != ec:
                problems.append(f"{name}.{ac.name}: {ac} != {ec}")
        for k in at.constraints:
            if k not in et.constraints:
                problems.append(f"{name}: unexpected {k.describe()} {k.columns}")
        for k in et.constraints:
            if k not in at.constraints:
                problems.append(f"{name}: missing {k.describe()} {k.columns}")
    for i in set(a.indexes) ^ set(e.indexes):
        problems.append(f"index {'unexpected' if i in a.indexes else 'missing'}: {i}")
    if a.enums != e.enums:
        problems.append(f"enums: {a.enums} != {e.enums}")
    if a.views != e.views:
        problems.append(f"views: {a.views} != {e.views}")
    if a.schemas != e.schemas:
        problems.append(f"schemas: {sorted(a.schemas)} != {sorted(e.schemas)}")
    pytest.fail("schemas differ:\n  " + "\n  ".join(problems or ["(constraint order only)"]))


def read_source(tmp_path: Path, source: str, **files: str) -> DrizzleSchema:
    """Read a schema written inline (plus helper files by name) in a folder of its own."""
    folder = tmp_path / "src"
    folder.mkdir(exist_ok=True)
    (folder / "schema.ts").write_text(source, encoding="utf-8")
    for name, text in files.items():
        path = folder / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return read_drizzle(folder / "schema.ts")


PG = "import { sql } from 'drizzle-orm';\nimport * as p from 'drizzle-orm/pg-core';\n"


# --- the bundled example ----------------------------------------------------------------------

_TS = "timestamp without time zone"


def ucr_expected() -> Schema:
    ct = (P, "customer_tenants")
    uuid_pk = col("id", "uuid", null=False, default="gen_random_uuid()")
    now = "now()"
    return Schema(
        tables=(
            table(
                P,
                "customer_tenants",
                [
                    uuid_pk,
                    col("tenant_id", "text", null=False),
                    col("tenant_name", "text", null=False),
                    col("domain", "text", null=False),
                    col("app_registration_id", "text"),
                    col("is_active", "boolean", default="true"),
                    col("created_at", _TS, default=now),
                    col("updated_at", _TS, default=now),
                ],
                pk("id"),
                uq("tenant_id"),
            ),
            table(
                P,
                "connectwise_credentials",
                [
                    uuid_pk,
                    col("tenant_id", "uuid"),
                    col("base_url", "text", null=False),
                    col("company_id", "text", null=False),
                    col("public_key", "text", null=False),
                    col("private_key", "text", null=False),
                    col("client_id", "text", null=False),
                    col("default_member_identifier", "text"),
                    col("default_time_minutes", "integer", default="15"),
                    col("auto_update_status", "boolean", default="false"),
                    col("default_status_id", "integer"),
                    col("created_at", _TS, default=now),
                    col("updated_at", _TS, default=now),
                    col("created_by", "text"),
                    col("updated_by", "text"),
                ],
                pk("id"),
                uq("tenant_id"),
                fk("tenant_id", ct, on_delete="c"),
            ),
            table(
                P,
                "tenant_3cx_credentials",
                [
                    uuid_pk,
                    col("tenant_id", "uuid"),
                    col("server_url", "text", null=False),
                    col("username", "text", null=False),
                    col("encrypted_password", "text", null=False),
                    col("mfa_enabled", "boolean", default="false"),
                    col("created_at", _TS, default=now),
                    col("updated_at", _TS, default=now),
                    col("created_by", "text"),
                    col("updated_by", "text"),
                ],
                pk("id"),
                uq("tenant_id"),
                fk("tenant_id", ct, on_delete="c"),
            ),
            table(
                P,
                "tenant_powershell_credentials",
                [
                    uuid_pk,
                    col("tenant_id", "uuid", null=False),
                    col("app_id", "text", null=False),
                    col("certificate_thumbprint", "text", null=False),
                    col("username_deprecated", "text"),
                    col("encrypted_password_deprecated", "text"),
                    col("is_active", "boolean", default="true"),
                    col("created_at", _TS, default=now),
                    col("updated_at", _TS, default=now),
                    col("created_by", "text"),
                    col("updated_by", "text"),
                ],
                pk("id"),
                uq("tenant_id"),
                fk("tenant_id", ct, on_delete="c"),
            ),
            table(
                P,
                "phone_number_inventory",
                [
                    uuid_pk,
                    col("tenant_id", "uuid"),
                    col("line_uri", "text", null=False),
                    col("display_name", "text"),
                    col("user_principal_name", "text"),
                    col("online_voice_routing_policy", "text"),
                    col("voice_routing_policy", "text"),
                    col("external_system_type", "text"),
                    col("external_system_id", "text"),
                    col("status", "text", default="'available'"),
                    col("reserved_until", _TS),
                    col("last_assigned_date", _TS),
                    col("last_released_date", _TS),
                    col("aging_started_at", _TS),
                    col("notes", "text"),
                    col("created_at", _TS, default=now),
                    col("created_by", "text"),
                    col("last_modified_at", _TS, default=now),
                    col("last_modified_by", "text"),
                    col("country_code", "text"),
                    col("carrier", "text"),
                    col("location", "text"),
                    col("usage_location", "text"),
                    col("number_type", "text", null=False, default="'did'"),
                    col("reserved_by", "text"),
                    col("reserved_at", _TS),
                    col("aging_until", _TS),
                    col("assigned_at", _TS),
                    col("tags", "text"),
                    col("updated_at", _TS, default=now),
                    col("number_range", "text"),
                ],
                pk("id"),
                uq("tenant_id", "line_uri"),
                ck(
                    "external_system_type IN ('teams', '3cx', 'other')",
                    "external_system_type",
                ),
                ck("status IN ('available', 'reserved', 'used', 'aging')", "status"),
                ck(
                    "number_type IN ('did', 'extension', 'toll-free', 'mailbox')",
                    "number_type",
                ),
                fk("tenant_id", ct, on_delete="c"),
            ),
            table(
                P,
                "country_codes",
                [
                    uuid_pk,
                    col("country_name", "text", null=False),
                    col("iso2", "text", null=False),
                    col("dial_code", "text", null=False),
                    col("created_at", _TS, default=now),
                ],
                pk("id"),
                uq("iso2"),
            ),
        ),
        indexes=(
            idx(
                "idx_connectwise_credentials_tenant_id", (P, "connectwise_credentials"), "tenant_id"
            ),
            idx("idx_phone_number_status", (P, "phone_number_inventory"), "status"),
            idx("idx_phone_number_tenant", (P, "phone_number_inventory"), "tenant_id"),
            idx("idx_phone_number_upn", (P, "phone_number_inventory"), "user_principal_name"),
            idx("idx_phone_number_country_code", (P, "phone_number_inventory"), "country_code"),
            idx("idx_phone_number_line_uri", (P, "phone_number_inventory"), "line_uri"),
        ),
    )


def test_the_example_schema_reads_exactly() -> None:
    read = read_drizzle(UCR)
    assert read.warnings == []
    assert read.files == ["examples/ucr-manager/shared/schema.ts"]
    assert_same_schema(read.schema, ucr_expected())
    assert read.schema == ucr_expected()  # constraint order too: as drizzle-kit writes them


def test_the_example_phone_number_inventory_in_detail() -> None:
    pni = read_drizzle(UCR).schema.table(QName(P, "phone_number_inventory"))
    assert pni is not None
    assert len(pni.columns) == 31
    checks = {k.name: k.expression for k in pni.constraints if k.kind == "c"}
    assert checks == {
        "phone_number_inventory_external_system_type_check": expression(
            "(external_system_type = ANY (ARRAY['teams'::text, '3cx'::text, 'other'::text]))"
        ),
        "phone_number_inventory_status_check": expression(
            "status = ANY (ARRAY['available', 'reserved', 'used', 'aging'])"
        ),
        "phone_number_inventory_number_type_check": expression(
            "number_type IN ('did', 'extension', 'toll-free', 'mailbox')"
        ),
    }
    (unique,) = [k for k in pni.constraints if k.kind == "u"]
    assert unique.columns == ("tenant_id", "line_uri")
    assert unique.name == "phone_number_inventory_tenant_id_line_uri_unique"
    indexes = read_drizzle(UCR).schema.indexes_of(pni.name)
    assert sorted(i.name for i in indexes) == [
        "idx_phone_number_country_code",
        "idx_phone_number_line_uri",
        "idx_phone_number_status",
        "idx_phone_number_tenant",
        "idx_phone_number_upn",
    ]
    number_type = pni.column("number_type")
    assert number_type == Column("number_type", "text", nullable=False, default="'did'")


def test_drizzle_kit_names_are_kept() -> None:
    schema = read_drizzle(UCR).schema
    cw = schema.table(QName(P, "connectwise_credentials"))
    assert cw is not None
    assert {k.kind: k.name for k in cw.constraints} == {
        "p": "connectwise_credentials_pkey",
        "u": "connectwise_credentials_tenant_id_unique",
        "f": "connectwise_credentials_tenant_id_customer_tenants_id_fk",
    }


def test_origins_point_at_the_definitions() -> None:
    schema = read_drizzle(UCR).schema
    lines = UCR.read_text(encoding="utf-8").splitlines()
    cw = schema.table(QName(P, "connectwise_credentials"))
    assert cw is not None and cw.origin is not None
    assert cw.origin.path == "examples/ucr-manager/shared/schema.ts"
    assert "pgTable(" in lines[cw.origin.line - 1]
    base_url = cw.column("base_url")
    assert base_url is not None and base_url.origin is not None
    line = lines[base_url.origin.line - 1]
    assert line[base_url.origin.column - 1 :].startswith("baseUrl: text('base_url')")
    fk_ = next(k for k in cw.constraints if k.kind == "f")
    assert fk_.origin is not None and ".references(" in lines[fk_.origin.line - 1]
    index = schema.index(P, "idx_phone_number_upn")
    assert index is not None and index.origin is not None
    assert "index('idx_phone_number_upn')" in lines[index.origin.line - 1]
    pni = schema.table(QName(P, "phone_number_inventory"))
    assert pni is not None
    check = pni.constraint_named("phone_number_inventory_status_check")
    assert check is not None and check.origin is not None
    assert lines[check.origin.line - 1].strip() == "check("


# --- fixture schemas --------------------------------------------------------------------------


def shop_expected() -> Schema:
    tz = "timestamp with time zone"
    return Schema(
        enums=(
            Enum(QName(P, "order_status"), ("pending", "paid", "shipped", "cancelled")),
            Enum(QName(P, "currency"), ("EUR", "USD", "GBP")),
        ),
        tables=(
            table(
                P,
                "customers",
                [
                    serial("customers", "id"),
                    col("email", "citext", null=False),
                    col("full_name", "character varying(200)", null=False),
                    col("country_code", "character(2)"),
                    col("plan", "text", null=False, default="'free'"),
                    col("marketing_opt_in", "boolean", null=False, default="false"),
                    col("last_login_ip", "inet"),
                    col("birthday", "date"),
                    col("loyalty_points", "bigint", default="0"),
                    col("created_at", tz, null=False, default="now()"),
                    col("updated_at", tz, default="now()"),
                ],
                pk("id"),
            ),
            table(
                P,
                "products",
                [
                    col("id", "uuid", null=False, default="gen_random_uuid()"),
                    col("sku", "character varying(64)", null=False),
                    col("name", "text", null=False),
                    col("description", "text"),
                    col("price_cents", "integer", null=False),
                    col("price", "numeric(12,2)", null=False, default="'0.00'"),
                    col("weight_kg", "real"),
                    col("rating", "double precision"),
                    col("currency", "currency", null=False, default="'EUR'"),
                    col("tags", "text[]", null=False, default="'{}'::text[]"),
                    col("attributes", "jsonb", default="'{}'::jsonb"),
                    col("legacy", "json"),
                    col("stock", "smallint", default="0"),
                    col("active", "boolean", default="true"),
                ],
                pk("id"),
                uq("sku"),
                ck("price_cents >= 0", "price_cents"),
            ),
            table(
                P,
                "orders",
                [
                    serial("orders", "id", "bigint"),
                    col("customer_id", "integer", null=False),
                    col("status", "order_status", null=False, default="'pending'"),
                    col("total_cents", "integer", null=False),
                    col("currency", "currency", null=False),
                    col("placed_at", "timestamp(3) with time zone", null=False, default="now()"),
                    col("delivery_window", "interval"),
                    col("deliver_by", "time without time zone"),
                    col("notes", "text"),
                    col("external_ref", "character varying(100)"),
                ],
                pk("id"),
                ck("total_cents >= 0", "total_cents"),
                fk("customer_id", (P, "customers"), on_delete="r", on_update="c"),
            ),
            table(
                P,
                "order_items",
                [
                    col("order_id", "bigint", null=False),
                    col("product_id", "uuid", null=False),
                    serial("order_items", "line_no", "smallint"),
                    col("quantity", "integer", null=False, default="1"),
                    col("unit_price", "numeric(12,2)", null=False),
                    col("discount", "numeric(5)"),
                ],
                pk("order_id", "line_no"),
                uq("order_id", "product_id"),
                ck("quantity > 0", "quantity"),
                fk("product_id", (P, "products")),
                fk("order_id", (P, "orders"), on_delete="c"),
            ),
            table(
                P,
                "audit_events",
                [
                    col("id", "integer", null=False, identity="always"),
                    col("actor", "character varying(120)"),
                    col("action", "text", null=False),
                    col("payload", "jsonb", null=False, default="'{}'"),
                    col("sequence", "integer", null=False, identity="by default"),
                    col(
                        "occurred_at", "timestamp(6) without time zone", null=False, default="now()"
                    ),
                ],
                pk("id"),
            ),
        ),
        indexes=(
            idx("customers_email_idx", (P, "customers"), "email", unique=True),
            idx("customers_country_idx", (P, "customers"), "country_code"),
            idx(
                "customers_recent_idx",
                (P, "customers"),
                "created_at",
                where="marketing_opt_in = true",
            ),
            idx(
                "products_name_search_idx",
                (P, "products"),
                "(" + expression("to_tsvector('english', name)") + ")",
                method="gin",
            ),
            idx("products_tags_idx", (P, "products"), "tags", method="gin"),
            idx("orders_customer_id_idx", (P, "orders"), "customer_id", "placed_at"),
            idx(
                "orders_open_idx",
                (P, "orders"),
                "placed_at",
                where="status in ('pending', 'paid')",
            ),
        ),
    )


def test_shop_schema() -> None:
    read = read_drizzle(SHOP)
    assert read.warnings == []
    assert_same_schema(read.schema, shop_expected())


def test_shop_names_follow_drizzle_kit() -> None:
    schema = read_drizzle(SHOP).schema
    items = schema.table(QName(P, "order_items"))
    products = schema.table(QName(P, "products"))
    assert items is not None and products is not None
    assert [k.name for k in items.constraints] == [
        "order_items_order_id_line_no_pk",
        "order_items_order_product_key",
        "order_items_quantity_check",
        "order_items_product_id_products_id_fk",
        "order_items_order_fk",
    ]
    assert [k.name for k in products.constraints] == [
        "products_pkey",
        "products_sku_unique",
        "products_price_cents_check",
    ]


def saas_expected() -> Schema:
    tz = "timestamp with time zone"
    stamps = [
        col("created_at", tz, null=False, default="now()"),
        col("updated_at", tz, null=False, default="now()"),
    ]
    uuid_pk = col("id", "uuid", null=False, default="gen_random_uuid()")
    orgs, users = (P, "organizations"), (P, "users")
    return Schema(
        schemas=frozenset({P, "billing"}),
        enums=(
            Enum(QName(P, "member_role"), ("owner", "admin", "member", "viewer")),
            Enum(QName("billing", "invoice_status"), ("draft", "open", "paid", "void")),
        ),
        tables=(
            table(
                P,
                "organizations",
                [
                    uuid_pk,
                    col("slug", "character varying(63)", null=False),
                    col("name", "text", null=False),
                    col("seats", "integer", null=False, default="5"),
                    *stamps,
                    col("created_by", "character varying(255)"),
                    col("updated_by", "character varying(255)"),
                ],
                pk("id"),
                ck("seats between 1 and 10000", "seats"),
            ),
            table(
                P,
                "users",
                [
                    uuid_pk,
                    col("email", "character varying(320)", null=False),
                    col("display_name", "text"),
                    col("email_verified", "boolean", null=False, default="false"),
                    col("deleted_at", "text"),
                    *stamps,
                ],
                pk("id"),
                uq("email"),
            ),
            table(
                P,
                "memberships",
                [
                    col("organization_id", "uuid", null=False),
                    col("user_id", "uuid", null=False),
                    col("role", "member_role", null=False, default="'member'"),
                    col("invited_by", "uuid"),
                    *stamps,
                ],
                pk("organization_id", "user_id"),
                fk("organization_id", orgs, on_delete="c"),
                fk("user_id", users, on_delete="c"),
                fk("invited_by", users, on_delete="n"),
            ),
            table(
                "billing",
                "plans",
                [
                    serial("plans", "id", schema="billing"),
                    col("code", "character varying(32)", null=False),
                    col("monthly_price", "numeric(10,2)", null=False),
                    col("features", "text[]", null=False, default="""'{"sso","audit-log"}'"""),
                ],
                pk("id"),
                uq("code"),
            ),
            table(
                "billing",
                "invoices",
                [
                    uuid_pk,
                    col("organization_id", "uuid", null=False),
                    col("plan_id", "integer"),
                    col("number", "character varying(40)", null=False),
                    col("status", "billing.invoice_status", null=False, default="'draft'"),
                    col("amount", "numeric(12,2)", null=False),
                    col("due_at", tz),
                    *stamps,
                ],
                pk("id"),
                fk("plan_id", ("billing", "plans")),
                fk("organization_id", orgs, on_delete="c"),
            ),
        ),
        indexes=(
            idx("organizations_slug_idx", orgs, "(lower(slug))", unique=True),
            idx("users_active_idx", users, "email", where="deleted_at is null"),
            idx("memberships_user_idx", (P, "memberships"), "user_id"),
            idx(
                "invoices_org_status_idx",
                ("billing", "invoices"),
                "organization_id",
                "status",
            ),
            idx(
                "invoices_due_idx",
                ("billing", "invoices"),
                "due_at DESC NULLS LAST",
                where="status = 'open'",
            ),
        ),
    )


def test_saas_folder_with_helpers_enums_and_a_pg_schema() -> None:
    read = read_drizzle(SAAS)
    assert read.warnings == []
    assert read.files == [
        "tests/fixtures/drizzle/saas/schema/accounts.ts",
        "tests/fixtures/drizzle/saas/schema/billing.ts",
        "tests/fixtures/drizzle/saas/schema/columns.ts",
        "tests/fixtures/drizzle/saas/schema/enums.ts",
    ]
    assert_same_schema(read.schema, saas_expected())


def test_spread_columns_point_at_the_helper_file() -> None:
    schema = read_drizzle(SAAS).schema
    users = schema.table(QName(P, "users"))
    assert users is not None
    created = users.column("created_at")
    assert created is not None and created.origin is not None
    assert created.origin.path == "tests/fixtures/drizzle/saas/schema/columns.ts"
    assert created.origin.line == 5
    ident = users.column("id")
    assert ident is not None and ident.origin is not None
    assert ident.origin.path.endswith("accounts.ts")
    enum = schema.enum(QName(P, "member_role"))
    assert enum is not None and enum.origin is not None
    assert enum.origin.path.endswith("enums.ts") and enum.origin.line == 3


def snake_expected(prefix: str = "blog_") -> Schema:
    tz = "timestamp with time zone"
    authors, posts, tags = f"{prefix}authors", f"{prefix}posts", f"{prefix}post_tags"
    return Schema(
        enums=(Enum(QName(P, "post_state"), ("draft", "published", "archived")),),
        tables=(
            table(
                P,
                authors,
                [
                    col("id", "integer", null=False, identity="always"),
                    col("handle", "character varying(40)", null=False),
                    col("display_name", "text", null=False),
                    col("bio_html", "text"),
                    col("created_at", tz, null=False, default="now()"),
                ],
                pk("id"),
                uq("handle"),
            ),
            table(
                P,
                posts,
                [
                    serial(posts, "id", "bigint"),
                    col("author_id", "integer", null=False),
                    col("title", "character varying(200)", null=False),
                    col("state", "post_state", null=False, default="'draft'"),
                    col("word_count", "integer", default="0"),
                    col("reading_time_minutes", "numeric(6,1)"),
                    col("published_at", "timestamp(3) with time zone"),
                    col("updated_at", tz),
                ],
                pk("id"),
                ck("word_count >= 0", "word_count"),
                fk("author_id", (P, authors), on_delete="c"),
            ),
            table(
                P,
                tags,
                [
                    col("post_id", "bigint", null=False),
                    col("tag_name", "character varying(50)", null=False),
                ],
                pk("post_id", "tag_name"),
                fk("post_id", (P, posts)),
            ),
        ),
        indexes=(
            idx(f"{posts}_author_id_published_at_index", (P, posts), "author_id", "published_at"),
            idx(f"{posts}_title_idx", (P, posts), "author_id", "title", unique=True),
        ),
    )


def test_snake_case_casing_from_drizzle_config() -> None:
    assert find_drizzle_config(SNAKE) == FIXTURES / "snake" / "drizzle.config.ts"
    assert read_drizzle_config_casing(SNAKE) == "snake_case"
    read = read_drizzle(SNAKE)
    assert read.casing == "snake_case"
    assert read.warnings == []
    assert_same_schema(read.schema, snake_expected())
    tags = read.schema.table(QName(P, "blog_post_tags"))
    assert tags is not None
    assert [k.name for k in tags.constraints] == [
        "blog_post_tags_post_id_tag_name_pk",
        "blog_post_tags_post_id_blog_posts_id_fk",
    ]


def test_only_the_top_level_casing_of_the_config_counts(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "schema.ts").write_text("export {};\n", encoding="utf-8")
    config = tmp_path / "drizzle.config.ts"
    config.write_text(
        "export default defineConfig({ introspect: { casing: 'camel' }, dialect: 'postgresql' });\n",
        encoding="utf-8",
    )
    assert read_drizzle_config_casing(tmp_path / "schema.ts") is None
    config.write_text(
        "export default { introspect: { casing: 'preserve' }, casing: 'camelCase' };\n",
        encoding="utf-8",
    )
    assert read_drizzle_config_casing(tmp_path / "schema.ts") == "camelCase"
    config.unlink()
    (tmp_path / "drizzle.config.json").write_text('{"casing": "snake_case"}', encoding="utf-8")
    assert read_drizzle_config_casing(tmp_path / "schema.ts") == "snake_case"


def test_casing_argument_overrides_the_config(tmp_path: Path) -> None:
    read = read_drizzle(SNAKE, casing="camelCase")
    authors = read.schema.table(QName(P, "blog_authors"))
    assert authors is not None
    assert authors.column_names() == ("id", "handle", "displayName", "bioHTML", "createdAt")
    # Without a config, a column declared without a name is named by its key, as it is.
    copy = tmp_path / "schema.ts"
    shutil.copy(SNAKE, copy)
    (tmp_path / ".git").mkdir()  # the repository root: the search for a config stops here
    plain = read_drizzle(copy)
    assert plain.casing is None
    authors = plain.schema.table(QName(P, "blog_authors"))
    assert authors is not None
    assert authors.column_names() == ("id", "handle", "displayName", "bioHTML", "createdAt")
    with pytest.raises(DrizzleError, match="casing"):
        read_drizzle(SNAKE, casing="kebab-case")


@pytest.mark.parametrize(
    ("key", "snake", "camel"),
    [
        ("createdAt", "created_at", "createdAt"),
        ("bioHTML", "bio_html", "bioHTML"),
        ("userID", "user_id", "userID"),
        ("iso2", "iso2", "iso2"),
        ("created_at", "created_at", "createdAt"),
        ("HTMLParser", "html_parser", "htmlParser"),
        ("address2Line", "address2_line", "address2Line"),
    ],
)
def test_casing_functions_match_drizzle_orm(key: str, snake: str, camel: str) -> None:
    assert to_snake_case(key) == snake
    assert to_camel_case(key) == camel


def test_catalog_corners_of_pg_core() -> None:
    read = read_drizzle(CATALOG)
    assert read.warnings == []
    schema = read.schema
    assert schema.views == (
        View(QName(P, "category_counts"), materialized=True),
        View(QName(P, "public_items")),
    )
    assert schema.enum(QName(P, "visibility")) == Enum(
        QName(P, "visibility"), ("public", "unlisted", "private")
    )
    categories = schema.table(QName(P, "categories"))
    items = schema.table(QName(P, "items"))
    assert categories is not None and items is not None
    assert categories.columns[0] == col("id", "integer", null=False, identity="by default")
    assert fk("parent_id", (P, "categories"), on_delete="n") in categories.constraints
    assert uq("slug", nulls_not_distinct=True) in categories.constraints
    assert uq("code", nulls_not_distinct=True) in items.constraints
    assert items.column("title_lower") == col("title_lower", "text", generated="lower(title)")
    assert items.column("visibility") == col(
        "visibility", "visibility", null=False, default="'public'"
    )
    assert items.column("specs") == col(
        "specs", "jsonb", null=False, default="""'{"color":"black","stock":0}'::jsonb"""
    )
    assert items.column("code") == col("code", "text", default="'ITEM-' || 1")
    keys = {i.name: i.keys for i in schema.indexes_of(items.name)}
    assert keys == {
        "items_title_trgm_idx": ("title gin_trgm_ops",),
        "items_recent_idx": ("category_id", "published_at DESC NULLS LAST"),
        "items_views_idx": ("views NULLS FIRST",),
        "items_category_title_idx": ("category_id", "(lower(title))"),
    }


# --- what cannot be verified ------------------------------------------------------------------


def test_unverifiable_things_are_warnings_never_silent() -> None:
    read = read_drizzle(UNVERIFIABLE)
    messages = [(w.line, w.message) for w in read.warnings]
    assert all(w.path == "tests/fixtures/drizzle/unverifiable/schema.ts" for w in read.warnings)
    assert all(m.startswith("cannot verify") for _, m in messages)
    text = "\n".join(m for _, m in messages)
    assert "default of column public.tenants.region: `DEFAULT_REGION`" in text
    assert "type of column public.tenants.api_secret" in text and "customType" in text
    assert "default of column public.tenants.renews_at: `new Date('2030-01-01')`" in text
    assert "default of column public.tenants.seats" in text
    assert "factory function auditTable('tenants')" in text
    assert len(read.warnings) == 5
    objects = read.unverified()
    assert {"public.tenants.region", "public.tenants.api_secret", "public.tenants.seats"} <= objects
    assert {w.table for w in read.warnings if w.object} == {QName(P, "tenants")}
    # The factory warning points at the call that builds the table.
    factory = next(w for w in read.warnings if "factory" in w.message)
    line = UNVERIFIABLE.read_text(encoding="utf-8").splitlines()[factory.line - 1]
    assert line[factory.column - 1 :].startswith("auditTable('tenants')")
    # What can be read still is: the table, its columns, the SQL default, no relations.
    schema = read.schema
    assert [t.name.name for t in schema.tables] == ["tenants"]
    tenants = schema.tables[0]
    assert tenants.column("created_at") == col("created_at", _TS, default="now()")
    region = tenants.column("region")
    assert region is not None and region.default is None and not region.nullable


def test_str_of_a_warning_is_a_location_and_a_message() -> None:
    warning = read_drizzle(UNVERIFIABLE).warnings[0]
    assert str(warning) == f"{warning.path}:{warning.line}:{warning.column}: {warning.message}"


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        (
            "mysql.ts",
            r"^tests/fixtures/drizzle/errors/mysql\.ts:3:22: mysqlTable\(\) declares a MySQL table",
        ),
        (
            "sqlite.ts",
            r"^tests/fixtures/drizzle/errors/sqlite\.ts:3:22: sqliteTable\(\) declares a SQLite",
        ),
        ("broken.ts", r"^tests/fixtures/drizzle/errors/broken\.ts:5:\d+: TypeScript syntax error"),
    ],
)
def test_errors_are_one_line_with_file_line_column(name: str, pattern: str) -> None:
    with pytest.raises(DrizzleError, match=pattern) as info:
        read_drizzle(FIXTURES / "errors" / name)
    assert "\n" not in str(info.value)


def test_missing_path_and_empty_folder_are_errors(tmp_path: Path) -> None:
    with pytest.raises(DrizzleError, match="no such file"):
        read_drizzle(tmp_path / "nope.ts")
    with pytest.raises(DrizzleError, match=r"no \.ts schema files"):
        read_drizzle(tmp_path)


# --- smaller cases, inline --------------------------------------------------------------------


def test_pg_table_creator_tsconfig_alias_and_reexports(tmp_path: Path) -> None:
    (tmp_path / "tsconfig.json").write_text(
        """{
          // comments and trailing commas, as tsconfig allows
          "compilerOptions": { "baseUrl": ".", "paths": { "@shared/*": ["./shared/*"], }, },
        }""",
        encoding="utf-8",
    )
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "cols.ts").write_text(
        "import { timestamp } from 'drizzle-orm/pg-core';\n"
        "export const stamps = () => ({ createdAt: timestamp('created_at').defaultNow() });\n",
        encoding="utf-8",
    )
    (tmp_path / "tables.ts").write_text(
        "import { pgTableCreator, serial } from 'drizzle-orm/pg-core';\n"
        "import { stamps } from '@shared/cols';\n"
        "const APP = 'acme';\n"
        "const table = pgTableCreator((name) => `${APP}_${name}`);\n"
        "export const things = table('things', { id: serial('id').primaryKey(), ...stamps() });\n"
        "const internal = table('internal', { id: serial('id') });\n",
        encoding="utf-8",
    )
    (tmp_path / "index.ts").write_text(
        "export * from './tables.js';\nexport { things as thingsAgain } from './tables';\n",
        encoding="utf-8",
    )
    schema = read_drizzle(tmp_path / "index.ts").schema
    assert [t.name.name for t in schema.tables] == ["acme_things"]  # not exported: not created
    (things,) = schema.tables
    assert things.column_names() == ("id", "created_at")
    assert things.columns[0] == serial("acme_things", "id")


def test_column_features(tmp_path: Path) -> None:
    read = read_source(
        tmp_path,
        PG
        + """
export enum Role { Admin = 'admin', Member = 'member' }
export const role = p.pgEnum('role', Role);
export const kind = p.pgEnum('kind', ['a', 'b'] as const);
export const t = p.pgTable('t', {
  id: p.uuid().primaryKey().defaultRandom(),
  status: p.text({ enum: ['on', 'off'] }).default('on'),
  quote: p.text().default("it's"),
  labels: p.varchar({ length: 20 }).array().default(['x', 'y']),
  grid: p.integer().array().array(),
  settings: p.jsonb().notNull().default({ theme: 'dark', size: 2 }),
  list: p.json().default([]),
  role: role().default('member'),
  kinds: kind().array(),
  price: p.numeric({ precision: 8 }),
  ratio: p.decimal(),
  big: p.bigint({ mode: 'bigint' }).default(10n),
  neg: p.integer().default(-1),
  half: p.real().default(0.5),
  code: p.char(),
  full: p.text().generatedAlwaysAs(sql`'x'`),
  email: p.text().unique('t_email_key', { nulls: 'not distinct' }),
  raw: p.text().default(sql.raw(`'raw'`)),
  nothing: p.text().default(null),
  span: p.interval({ fields: 'day' }),
  at: p.time({ precision: 2, withTimezone: true }),
  v: p.vector({ dimensions: 3 }),
  bits: p.bit({ dimensions: 8 }),
  mac: p.macaddr8(),
  net: p.cidr(),
  updated: p.timestamp({ mode: 'date' }).$defaultFn(() => new Date()).$onUpdate(() => new Date()),
});
""",
    )
    assert read.warnings == []
    t = read.schema.table(QName(P, "t"))
    assert t is not None
    got = {c.name: c for c in t.columns}
    assert got["status"] == col("status", "text", default="'on'")
    assert got["quote"] == col("quote", "text", default="'it''s'")
    assert got["labels"] == col("labels", "character varying(20)[]", default="""'{"x","y"}'""")
    assert got["grid"] == col("grid", "integer[]")
    assert got["settings"] == col(
        "settings", "jsonb", null=False, default="""'{"theme":"dark","size":2}'::jsonb"""
    )
    assert got["list"] == col("list", "json", default="'[]'::json")
    assert got["role"] == col("role", "role", default="'member'")
    assert got["kinds"] == col("kinds", "kind[]")
    assert got["price"] == col("price", "numeric(8)")
    assert got["ratio"] == col("ratio", "numeric")
    assert got["big"] == col("big", "bigint", default="10")
    assert got["neg"] == col("neg", "integer", default="-1")
    assert got["half"] == col("half", "real", default="0.5")
    assert got["code"] == col("code", "character(1)")
    assert got["full"].generated == expression("'x'")
    assert got["raw"].default == expression("'raw'", "text")
    assert got["nothing"].default is None
    assert got["span"].type == "interval"
    assert got["at"].type == "time(2) with time zone"
    assert got["v"].type == "vector(3)"
    assert got["bits"].type == "bit(8)"
    assert got["mac"].type == "macaddr8"
    assert got["net"].type == "cidr"
    assert got["updated"] == col("updated", _TS)
    assert uq("email", nulls_not_distinct=True) in t.constraints
    assert t.constraint_named("t_email_key") is not None
    assert read.schema.enum(QName(P, "role")) == Enum(QName(P, "role"), ("admin", "member"))


def test_extra_config_forms_and_index_details(tmp_path: Path) -> None:
    read = read_source(
        tmp_path,
        PG
        + """
export const users = p.pgTable('users', { id: p.integer().primaryKey() });
export const docs = p.pgTable(
  'docs',
  {
    id: p.integer().notNull(),
    owner: p.integer().notNull(),
    body: p.jsonb(),
    title: p.text(),
  },
  (table) => {
    const byOwner = p.index().on(table.owner, table.title.desc().nullsFirst());
    return {
      byOwner,
      body: p.index('docs_body_idx').using('gin', table.body.op('jsonb_path_ops')),
      pk: p.primaryKey({ columns: [table.id], name: 'docs_pk' }),
      owner: p.foreignKey({ columns: [table.owner], foreignColumns: [users.id] })
        .onDelete('set default')
        .onUpdate('restrict'),
      uniq: p.unique().on(table.owner, table.title).nullsNotDistinct(),
      asc: p.index('docs_title_idx').on(table.title.asc().nullsFirst()),
    };
  },
);
""",
    )
    assert read.warnings == []
    docs = read.schema.table(QName(P, "docs"))
    assert docs is not None
    assert docs.column("id") == col("id", "integer", null=False)
    assert {k.name for k in docs.constraints} == {
        "docs_pk",
        "docs_owner_users_id_fk",
        "docs_owner_title_unique",
    }
    assert fk("owner", (P, "users"), on_delete="d", on_update="r") in docs.constraints
    assert uq("owner", "title", nulls_not_distinct=True) in docs.constraints
    indexes = {i.name: i for i in read.schema.indexes_of(docs.name)}
    assert indexes["docs_owner_title_index"].keys == ("owner", "title DESC")
    assert indexes["docs_body_idx"].keys == ("body jsonb_path_ops",)
    assert indexes["docs_body_idx"].method == "gin"
    assert indexes["docs_title_idx"].keys == ("title NULLS FIRST",)


def test_views_relations_and_ignored_objects(tmp_path: Path) -> None:
    read = read_source(
        tmp_path,
        PG
        + """
import { relations } from 'drizzle-orm';
export const users = p.pgTable('users', { id: p.serial().primaryKey() }).enableRLS();
export const active = p.pgView('active_users').as(sql`select * from users`);
export const stats = p.pgMaterializedView('user_stats', { n: p.integer() }).as(sql`select 1`);
export const legacy = p.pgView('legacy_view', { id: p.integer() }).existing();
export const seq = p.pgSequence('counter', { startWith: 10 });
export const admin = p.pgRole('admin');
export const usersRelations = relations(users, ({ many }) => ({ posts: many(users) }));
""",
    )
    assert read.warnings == []
    assert [(v.name.name, v.materialized) for v in read.schema.views] == [
        ("active_users", False),
        ("user_stats", True),
    ]
    assert [t.name.name for t in read.schema.tables] == ["users"]


def test_long_names_are_truncated_as_postgresql_does(tmp_path: Path) -> None:
    long_table = "a_rather_long_table_name_for_customer_subscription_events"
    read = read_source(
        tmp_path,
        PG
        + f"""
export const parent = p.pgTable('another_long_parent_table_name_for_tests', {{
  id: p.serial('identifier_of_the_parent_row').primaryKey(),
}});
export const child = p.pgTable('{long_table}', {{
  id: p.serial('id').primaryKey(),
  parentId: p.integer('parent_id').references(() => parent.id),
}});
""",
    )
    child = read.schema.table(QName(P, long_table))
    assert child is not None
    names = [k.name for k in child.constraints]
    assert all(len(n.encode()) <= 63 for n in names)
    fk_name = next(k.name for k in child.constraints if k.kind == "f")
    assert (
        fk_name
        == (
            f"{long_table}_parent_id_another_long_parent_table_name_for_tests_"
            "identifier_of_the_parent_row_fk"
        )[:63]
    )
    parent = read.schema.table(QName(P, "another_long_parent_table_name_for_tests"))
    assert parent is not None
    # PostgreSQL's makeObjectName shortens the longer name first: table 40 -> 30, column 28.
    seq = "another_long_parent_table_name_identifier_of_the_parent_row_seq"
    assert len(seq) == 63
    assert parent.columns[0].default == expression(f"nextval('{seq}'::regclass)", "integer")


def test_warnings_for_unreadable_pieces(tmp_path: Path) -> None:
    read = read_source(
        tmp_path,
        PG
        + """
import { helperColumns } from 'some-package';
const kinds = p.pgEnum('kinds', ['x']);
export const t = p.pgTable(
  'things',
  {
    id: p.integer().primaryKey(),
    ...helperColumns,
    kind: kinds(),
    other: p.integer().references(() => missing.id),
    weird: p.integer().frobnicate(),
  },
  (t) => [p.index().on(sql`lower(${t.id})`), p.check('c', sql`${process.env.X} > 0`)],
);
""",
    )
    text = "\n".join(str(w) for w in read.warnings)
    assert "cannot verify the columns spread into table public.things" in text
    assert "enum kinds used by column public.things.kind is not exported" in text
    assert "cannot verify the foreign key of column public.things.other" in text
    assert "cannot verify .frobnicate() of column public.things.weird" in text
    assert "on an expression has no name" in text
    assert "cannot verify check c of table public.things" in text
    t = read.schema.table(QName(P, "things"))
    assert t is not None
    assert t.column_names() == ("id", "kind", "other", "weird")


def test_a_glob_reads_the_files_it_matches() -> None:
    read = read_drizzle(Path("tests/fixtures/drizzle/saas/schema/*.ts"))
    assert read.schema == read_drizzle(SAAS).schema
    with pytest.raises(DrizzleError, match="no schema file matches"):
        read_drizzle(Path("tests/fixtures/drizzle/nothing-here/*.ts"))


def test_a_folder_leaves_out_configs_declarations_and_node_modules(tmp_path: Path) -> None:
    table = "import { pgTable, text } from 'drizzle-orm/pg-core';\n"
    (tmp_path / "schema.ts").write_text(table + "export const a = pgTable('a', { x: text() });\n")
    (tmp_path / "types.d.ts").write_text("export declare const b: number;\n")
    (tmp_path / "drizzle.config.ts").write_text("export default { casing: 'snake_case' };\n")
    (tmp_path / "node_modules" / "pkg").mkdir(parents=True)
    (tmp_path / "node_modules" / "pkg" / "index.ts").write_text(
        table + "export const c = pgTable('c', { x: text() });\n"
    )
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "more.ts").write_text(
        table + "export const d = pgTable('d', { someColumn: text() });\n"
    )
    read = read_drizzle(tmp_path)
    assert [t.name.name for t in read.schema.tables] == ["a", "d"]
    assert read.casing == "snake_case"
    assert read.schema.tables[1].column_names() == ("some_column",)


_HEADER = (
    "import { sql } from 'drizzle-orm';\n"
    "import { pgTable, text, integer, index, unique, check, foreignKey, primaryKey, pgEnum,"
    " uniqueIndex, pgSchema, customType, pgTableCreator } from 'drizzle-orm/pg-core';\n"
)
ODD_SCHEMAS = [
    "",
    "export default pgTable;",
    "export const t = pgTable();",
    "export const t = pgTable('x', null);",
    "export const a = b; export const b = a;",
    "export * from './schema';",
    "import { x } from './nope'; export const t = pgTable('t', { a: x });",
    "export const t = pgTable('t', { a: integer() }, (t) => [index().on(), check(), foreignKey(),"
    " primaryKey({}), unique().on()]);",
    "export const t = pgTable('t', { a: integer().references(), b: integer().default() });",
    "export const t = pgTable('t', { a: text().default(`a${`b${1}`}`), b: integer().default(0x1f) });",
    "export const e = pgEnum(); export const s = pgSchema(); export const c = pgTableCreator();",
    "export const c = pgTableCreator(); export const t = c('t', { a: text() });",
    "export const t = pgTable('t', { a: text() }, (t) => t.a);",
    "export const t = pgTable('t', { a: text() }, (t) => [index('i').on(sql`lower(${t.zz})`)]);",
    "export const t = pgTable('t', { ['c' + 1]: text(), [Symbol.x]: text() });",
    "export const f = (x) => f(x); export const t = pgTable('t', { a: f(1) });",
    "function g() { if (1) { return pgTable('x', {}); } } export const t = g();",
    "export const t = pgTable('t', { a: customType()('a'), b: customType({ dataType: 1 })() });",
    "export const t = pgTable('t', { a: integer().array(3).default([1, [2, 3]]) });",
    "export const t = pgTable('t', { a: integer().default(1 / 0), b: integer().default(-'x') });",
    "export const t = pgTable('Mixed Case', { 'ü x': text().primaryKey() }, (t) => [index('ï').on(t['ü x'])]);",
    "const x = { ...null, ...undefined }; export const t = pgTable('t', { ...x, a: text() });",
    "enum E { A, B = 5, C } export const e = pgEnum('e', E);",
    "export const t = pgTable('t', { a: integer().references(() => t.a, { onDelete: 'weird' }) });",
    "export const t = pgTable('t', { a: integer() }, function (t) { return [index('ix').on(t.a)]; });",
    "export class Thing {} export const t = pgTable('t', { a: new Thing() });",
]


@pytest.mark.parametrize("source", ODD_SCHEMAS)
def test_odd_schemas_give_warnings_never_tracebacks(tmp_path: Path, source: str) -> None:
    read = read_source(tmp_path, _HEADER + source)
    assert all(
        w.message.startswith(("cannot verify", "an index", "enum", "index")) for w in read.warnings
    )


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="pgTable('x', {a: text()}).,;[]`${}=>/*\n\"", max_size=80))
def test_any_text_reads_or_is_a_one_line_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "schema.ts"
        path.write_text(_HEADER + "export const t = " + text, encoding="utf-8")
        try:
            read_drizzle(path)
        except DrizzleError as exc:
            assert "\n" not in str(exc)


def test_tree_sitter_is_imported_lazily() -> None:
    code = (
        "import sys, ddlguard.sources.drizzle\n"
        "assert 'tree_sitter' not in sys.modules, 'tree_sitter imported eagerly'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# --- drizzle-kit ------------------------------------------------------------------------------

DRIZZLE_KIT_DIR = Path(os.environ.get("DDLGUARD_DRIZZLE_KIT_DIR", "/tmp/ddlguard-drizzle-kit"))


# The example schema imports drizzle-zod (as real projects do): drizzle-kit runs the file.
NPM_PACKAGES = ["drizzle-kit", "drizzle-orm", "drizzle-zod", "zod"]


def _installed(folder: Path) -> bool:
    modules = folder / "node_modules"
    return (modules / ".bin" / "drizzle-kit").exists() and all(
        (modules / name / "package.json").is_file() for name in NPM_PACKAGES[1:]
    )


def _npm_install(folder: Path) -> str | None:
    """Install the packages into ``folder``; the reason when that fails."""
    try:
        proc = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", *NPM_PACKAGES],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if proc.returncode != 0 or not _installed(folder):
        return (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return None


@pytest.fixture(scope="session")
def drizzle_kit() -> Path:
    """A folder with drizzle-kit and drizzle-orm installed from the npm registry, once, and kept
    under /tmp for later sessions (and .ci/run) to reuse."""
    if _installed(DRIZZLE_KIT_DIR):
        return DRIZZLE_KIT_DIR
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("drizzle-kit cross-check skipped: node/npm are not on PATH")
    if DRIZZLE_KIT_DIR.is_dir():
        # An earlier, partial install: complete it in place.
        problem = _npm_install(DRIZZLE_KIT_DIR)
        if problem is not None:
            pytest.skip(f"drizzle-kit cross-check skipped: npm install failed: {problem}")
        return DRIZZLE_KIT_DIR
    DRIZZLE_KIT_DIR.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ddlguard-drizzle-kit-", dir=DRIZZLE_KIT_DIR.parent))
    (work / "package.json").write_text(
        '{"name": "ddlguard-drizzle-kit", "private": true}\n', encoding="utf-8"
    )
    problem = _npm_install(work)
    if problem is not None:
        shutil.rmtree(work, ignore_errors=True)
        pytest.skip(f"drizzle-kit cross-check skipped: npm install failed: {problem}")
    try:
        work.rename(DRIZZLE_KIT_DIR)  # atomic: a concurrent session may have won the race
    except OSError:
        shutil.rmtree(work, ignore_errors=True)
    if not _installed(DRIZZLE_KIT_DIR):
        pytest.skip(f"drizzle-kit cross-check skipped: {DRIZZLE_KIT_DIR} is not usable")
    return DRIZZLE_KIT_DIR


CROSS_CHECKED = [
    pytest.param(UCR, id="ucr-manager"),
    pytest.param(SHOP, id="shop"),
    pytest.param(SAAS, id="saas-folder"),
    pytest.param(SNAKE, id="snake-case"),
    pytest.param(CATALOG, id="catalog"),
]


@pytest.fixture(scope="session")
def kit_sql(drizzle_kit: Path) -> dict[Path, str]:
    out: dict[Path, str] = {}
    for param in CROSS_CHECKED:
        path = param.values[0]
        assert isinstance(path, Path)
        sql = drizzle_kit_sql(path, drizzle_kit=drizzle_kit)
        assert sql is not None, f"drizzle-kit failed on {path}"
        out[path] = sql
    return out


def _mini_replay(sql: str, default_schema: str = P) -> Schema:
    """Just enough of a replay to read the SQL drizzle-kit writes (CREATE SCHEMA / TYPE / TABLE,
    ALTER TABLE ADD CONSTRAINT, CREATE INDEX) into a Schema the way PostgreSQL would store it,
    so that the reader is cross-checked with drizzle-kit even before ddlguard.schema.replay
    exists. Column references qualified with their own table (drizzle-kit writes
    "t"."col" in checks and index predicates) are stored unqualified, as PostgreSQL does."""
    from pglast import enums, parse_sql

    def unqualify(node: Any) -> Any:
        for sub in _nodes(node):
            if type(sub).__name__ == "ColumnRef" and len(sub.fields) > 1:
                sub.fields = (sub.fields[-1],)
        return node

    def qname(rangevar: Any) -> QName:
        return QName(rangevar.schemaname or default_schema, rangevar.relname)

    schema = Schema()
    for raw in parse_sql(sql):
        stmt: Any = raw.stmt
        kind = type(stmt).__name__
        if kind == "CreateSchemaStmt":
            schema = schema.with_schema(stmt.schemaname)
        elif kind == "CreateEnumStmt":
            names = [n.sval for n in stmt.typeName]
            name = QName(*names) if len(names) == 2 else QName(default_schema, names[0])
            schema = schema.with_enum(Enum(name, tuple(v.sval for v in stmt.vals)))
        elif kind == "CreateStmt":
            name = qname(stmt.relation)
            columns: list[Column] = []
            constraints: list[Constraint] = []
            for elt in stmt.tableElts:
                if type(elt).__name__ == "ColumnDef":
                    type_ = type_name(elt.typeName, default_schema)
                    nullable, default, identity, generated = True, None, None, None
                    if is_serial(elt.typeName):
                        seq = f"{name.name}_{elt.colname}_seq"
                        if name.schema != default_schema:
                            seq = f"{name.schema}.{seq}"
                        nullable = False
                        default = expression(f"nextval('{seq}'::regclass)", type_)
                    for c in elt.constraints or ():
                        if c.contype == enums.ConstrType.CONSTR_NOTNULL:
                            nullable = False
                        elif c.contype == enums.ConstrType.CONSTR_PRIMARY:
                            nullable = False
                            constraints.append(Constraint("p", (elt.colname,)))
                        elif c.contype == enums.ConstrType.CONSTR_IDENTITY:
                            nullable = False
                            identity = "always" if c.generated_when == "a" else "by default"
                        elif c.contype == enums.ConstrType.CONSTR_DEFAULT:
                            default = expression_node(c.raw_expr, type_)
                        elif c.contype == enums.ConstrType.CONSTR_GENERATED:
                            generated = expression_node(unqualify(c.raw_expr))
                    columns.append(
                        Column(elt.colname, type_, nullable, default, identity, generated)  # type: ignore[arg-type]
                    )
                elif elt.contype == enums.ConstrType.CONSTR_PRIMARY:
                    pk_keys = tuple(k.sval for k in elt.keys)
                    constraints.append(Constraint("p", pk_keys))
                    columns = [
                        replace(c, nullable=False) if c.name in pk_keys else c for c in columns
                    ]
                elif elt.contype == enums.ConstrType.CONSTR_UNIQUE:
                    constraints.append(
                        Constraint(
                            "u",
                            tuple(k.sval for k in elt.keys),
                            nulls_not_distinct=bool(elt.nulls_not_distinct),
                        )
                    )
                elif elt.contype == enums.ConstrType.CONSTR_CHECK:
                    text = expression_node(unqualify(elt.raw_expr))
                    refs = {
                        s.fields[-1].sval
                        for s in _nodes(elt.raw_expr)
                        if type(s).__name__ == "ColumnRef"
                    }
                    cols = tuple(c.name for c in columns if c.name in refs)
                    constraints.append(Constraint("c", cols, expression=text))
            schema = schema.with_table(Table(name, tuple(columns), tuple(constraints)))
        elif kind == "AlterTableStmt":
            name = qname(stmt.relation)
            for cmd in stmt.cmds:
                if cmd.subtype == enums.AlterTableType.AT_EnableRowSecurity:
                    continue  # row level security is not part of the model
                k = cmd.def_
                assert k.contype == enums.ConstrType.CONSTR_FOREIGN, k
                fk_ = Constraint(
                    "f",
                    tuple(a.sval for a in k.fk_attrs),
                    ref_table=qname(k.pktable),
                    ref_columns=tuple(a.sval for a in k.pk_attrs),
                    on_delete=k.fk_del_action,
                    on_update=k.fk_upd_action,
                )
                t = schema.table(name)
                assert t is not None
                schema = schema.with_table(replace(t, constraints=(*t.constraints, fk_)))
        elif kind == "IndexStmt":
            index_keys: list[str] = []
            for elem in stmt.indexParams:
                if elem.name is None:
                    index_keys.append(f"({expression_node(unqualify(elem.expr))})")
                    continue
                key = elem.name
                if elem.opclass:
                    key += " " + ".".join(o.sval for o in elem.opclass)
                desc = elem.ordering == enums.SortByDir.SORTBY_DESC
                nulls = elem.nulls_ordering
                if desc:
                    key += " DESC" + (
                        " NULLS LAST" if nulls == enums.SortByNulls.SORTBY_NULLS_LAST else ""
                    )
                elif nulls == enums.SortByNulls.SORTBY_NULLS_FIRST:
                    key += " NULLS FIRST"
                index_keys.append(key)
            where = stmt.whereClause
            schema = schema.with_index(
                Index(
                    stmt.idxname,
                    qname(stmt.relation),
                    tuple(index_keys),
                    unique=bool(stmt.unique),
                    method=stmt.accessMethod,
                    where=expression_node(unqualify(where)) if where is not None else None,
                )
            )
        elif kind == "ViewStmt":
            schema = schema.with_view(View(qname(stmt.view)))
        elif kind == "CreateTableAsStmt":
            schema = schema.with_view(View(qname(stmt.into.rel), materialized=True))
        elif kind == "CreateSeqStmt":
            continue  # sequences are not part of the model
        else:
            raise AssertionError(
                f"drizzle-kit wrote a statement the mini replay does not know: {kind}"
            )
    return schema


def _nodes(node: Any) -> Iterable[Any]:
    """Every pglast node under ``node`` (itself included)."""
    from pglast import ast

    if isinstance(node, tuple | list):
        for item in node:
            yield from _nodes(item)
        return
    if not isinstance(node, ast.Node):
        return
    yield node
    for attr in node:
        yield from _nodes(getattr(node, attr))


@pytest.mark.parametrize("path", CROSS_CHECKED)
def test_drizzle_kit_sql_gives_the_same_schema(path: Path, kit_sql: dict[Path, str]) -> None:
    """The reader against the SQL drizzle-kit itself generates for the same schema: tables,
    columns (types, nullability, defaults, identity), every constraint, indexes (keys, method,
    predicate), enums and schemas."""
    expected = _mini_replay(kit_sql[path])
    read = read_drizzle(path).schema
    assert_same_schema(read, expected)
    # Constraint names are drizzle-kit's too (PostgreSQL names an inline primary key t_pkey).
    for table_ in read.tables:
        names = {k.name for k in table_.constraints if k.kind != "p"}
        for k in names:
            assert f'"{k}"' in kit_sql[path] or len(k) == 63, k


@pytest.mark.parametrize("path", CROSS_CHECKED)
def test_drizzle_kit_sql_replayed_gives_the_same_schema(
    path: Path, kit_sql: dict[Path, str], tmp_path: Path
) -> None:
    """The full cross-check: drizzle-kit's SQL replayed by ddlguard equals the reader's Schema."""
    try:
        replay = importlib.import_module("ddlguard.schema.replay").replay
    except ImportError:
        pytest.skip("full drizzle-kit cross-check skipped: ddlguard.schema.replay is not there yet")
    sql_file = tmp_path / "drizzle-kit.sql"
    sql_file.write_text(kit_sql[path], encoding="utf-8")
    replayed = replay([sql_file], default_schema=P)
    assert_same_schema(read_drizzle(path).schema, replayed.schema)
    if path == SHOP:  # the same through the public helper drift's --drizzle-kit can use
        kit_schema = drizzle_kit_schema(path, drizzle_kit=DRIZZLE_KIT_DIR)
        assert kit_schema is not None
        assert_same_schema(read_drizzle(path).schema, kit_schema)


def test_drizzle_kit_sql_without_drizzle_kit_is_none(tmp_path: Path) -> None:
    copy = tmp_path / "schema.ts"
    shutil.copy(SHOP, copy)
    (tmp_path / ".git").mkdir()
    assert drizzle_kit_sql(copy) is None
    fake = tmp_path / "fake"
    (fake / "node_modules" / ".bin").mkdir(parents=True)
    (fake / "node_modules" / ".bin" / "drizzle-kit").write_text("#!/bin/sh\n", encoding="utf-8")
    (fake / "node_modules" / "drizzle-kit").mkdir()
    (fake / "node_modules" / "drizzle-kit" / "package.json").write_text(
        '{"version": "0.24.2"}', encoding="utf-8"
    )
    assert drizzle_kit_sql(copy, drizzle_kit=fake) is None  # too old


def test_drizzle_kit_failure_is_none(drizzle_kit: Path, tmp_path: Path) -> None:
    broken = tmp_path / "schema.ts"
    broken.write_text(
        "import { pgTable, text } from 'drizzle-orm/pg-core';\n"
        "export const t = pgTable('t', { a: text('a') }, (t) => [undefinedThing()]);\n",
        encoding="utf-8",
    )
    assert drizzle_kit_sql(broken, drizzle_kit=drizzle_kit) is None


def test_drift_drizzle_kit_flag_agrees_on_the_example(
    drizzle_kit: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`ddlguard drift --drizzle-kit` with the repository's own drizzle-kit: the two readings of
    the example's schema.ts agree, so no D902; without drizzle-kit the flag is a clear error."""
    import json
    import shutil

    from ddlguard.cli import main

    repo = tmp_path / "ucr-manager"
    shutil.copytree(
        ROOT / "examples" / "ucr-manager", repo, ignore=shutil.ignore_patterns(".ddlguard_cache")
    )
    monkeypatch.chdir(repo)
    monkeypatch.setenv("DDLGUARD_NO_CACHE", "1")
    assert main(["drift", "--drizzle-kit"]) == 2
    assert "no working drizzle-kit" in capsys.readouterr().err
    (repo / "node_modules").symlink_to(drizzle_kit / "node_modules")
    status = main(["drift", "--drizzle-kit", "--format", "json"])
    codes = [f["code"] for f in json.loads(capsys.readouterr().out)["findings"]]
    assert status == 1  # the snapshot's drift, as without the flag
    assert "D902" not in codes and "D201" in codes
