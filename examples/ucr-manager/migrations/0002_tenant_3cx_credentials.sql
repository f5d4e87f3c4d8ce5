-- 0002_tenant_3cx_credentials.sql
-- 3CX phone system credentials, one set per tenant.
-- Password is encrypted by the app (AES-256-GCM, key from ENCRYPTION_KEY) before insert.

CREATE TABLE tenant_3cx_credentials (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id UUID UNIQUE REFERENCES customer_tenants(id) ON DELETE CASCADE,
    server_url TEXT NOT NULL,
    username TEXT NOT NULL,
    encrypted_password TEXT NOT NULL,
    mfa_enabled BOOLEAN DEFAULT false,
    created_at TIMESTAMP DEFAULT NOW(),
    updated_at TIMESTAMP DEFAULT NOW()
);
