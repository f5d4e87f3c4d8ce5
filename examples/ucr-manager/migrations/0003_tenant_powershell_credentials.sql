-- 0003_tenant_powershell_credentials.sql
-- Credentials for connecting to Teams PowerShell (MicrosoftTeams module) per tenant.
-- v1: service account username + encrypted password.
-- TODO: move to certificate-based app-only auth once MFA is enforced on service accounts.

CREATE TABLE IF NOT EXISTS tenant_powershell_credentials (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id UUID NOT NULL UNIQUE REFERENCES customer_tenants(id) ON DELETE CASCADE,
    username TEXT NOT NULL,
    encrypted_password TEXT NOT NULL,
    is_active BOOLEAN DEFAULT true,
    created_at TIMESTAMP DEFAULT NOW(),
    updated_at TIMESTAMP DEFAULT NOW(),
    created_by TEXT,
    updated_by TEXT
);
