-- 0001_customer_tenants.sql
-- Customer tenants: one row per Microsoft 365 tenant that UCR Manager administers.
-- tenant_id is the Entra ID directory GUID as Graph returns it (kept as text).

CREATE TABLE IF NOT EXISTS customer_tenants (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id TEXT NOT NULL UNIQUE,
    tenant_name TEXT NOT NULL,
    domain TEXT NOT NULL,
    app_registration_id TEXT,
    is_active BOOLEAN DEFAULT true,
    created_at TIMESTAMP DEFAULT NOW(),
    updated_at TIMESTAMP DEFAULT NOW()
);
