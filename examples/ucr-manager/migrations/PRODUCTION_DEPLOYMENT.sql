\set ON_ERROR_STOP on
-- =============================================================================
-- UCR Manager - PRODUCTION DEPLOYMENT
-- Full schema for a fresh production database.
--
-- Usage:
--   psql -U postgres -d ucrmanager -f migrations/PRODUCTION_DEPLOYMENT.sql
--
-- Safe to re-run: every object is created with IF NOT EXISTS.
-- =============================================================================

BEGIN;

-- -----------------------------------------------------------------------------
-- Customer tenants
-- -----------------------------------------------------------------------------
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

-- -----------------------------------------------------------------------------
-- 3CX credentials
-- -----------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS tenant_3cx_credentials (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id UUID UNIQUE REFERENCES customer_tenants(id) ON DELETE CASCADE,
    server_url TEXT NOT NULL,
    username TEXT NOT NULL,
    encrypted_password TEXT NOT NULL,
    mfa_enabled BOOLEAN DEFAULT false,
    created_at TIMESTAMP DEFAULT NOW(),
    updated_at TIMESTAMP DEFAULT NOW()
);

-- -----------------------------------------------------------------------------
-- Teams PowerShell credentials
-- -----------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS tenant_powershell_credentials (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id UUID NOT NULL UNIQUE REFERENCES customer_tenants(id) ON DELETE CASCADE,
    username TEXT,
    encrypted_password TEXT,
    is_active BOOLEAN DEFAULT true,
    created_at TIMESTAMP DEFAULT NOW(),
    updated_at TIMESTAMP DEFAULT NOW(),
    created_by TEXT,
    updated_by TEXT
);

-- -----------------------------------------------------------------------------
-- ConnectWise credentials
-- -----------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS connectwise_credentials (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id UUID UNIQUE REFERENCES customer_tenants(id) ON DELETE CASCADE,
    server_url TEXT NOT NULL,
    company_id TEXT NOT NULL,
    encrypted_public_key TEXT NOT NULL,
    encrypted_private_key TEXT NOT NULL,
    client_id TEXT NOT NULL,
    default_member_identifier TEXT,
    default_time_minutes INTEGER DEFAULT 15,
    created_at TIMESTAMP DEFAULT NOW(),
    updated_at TIMESTAMP DEFAULT NOW(),
    created_by TEXT,
    updated_by TEXT
);

CREATE INDEX IF NOT EXISTS idx_connectwise_credentials_tenant_id ON connectwise_credentials(tenant_id);

-- -----------------------------------------------------------------------------
-- Phone number inventory
-- -----------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS phone_number_inventory (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id UUID REFERENCES customer_tenants(id) ON DELETE CASCADE,
    line_uri TEXT NOT NULL,
    display_name TEXT,
    user_principal_name TEXT,
    online_voice_routing_policy TEXT,
    voice_routing_policy TEXT,
    external_system_type TEXT CHECK (external_system_type IN ('teams', '3cx', 'other')),
    external_system_id TEXT,
    status TEXT DEFAULT 'available' CHECK (status IN ('available', 'reserved', 'used', 'aging')),
    reserved_until TIMESTAMP,
    last_assigned_date TIMESTAMP,
    last_released_date TIMESTAMP,
    aging_started_at TIMESTAMP,
    notes TEXT,
    created_at TIMESTAMP DEFAULT NOW(),
    created_by TEXT,
    last_modified_at TIMESTAMP DEFAULT NOW(),
    last_modified_by TEXT,
    country_code TEXT,
    UNIQUE (tenant_id, line_uri)
);

CREATE INDEX IF NOT EXISTS idx_phone_number_status ON phone_number_inventory(status);
CREATE INDEX IF NOT EXISTS idx_phone_number_tenant ON phone_number_inventory(tenant_id);
CREATE INDEX IF NOT EXISTS idx_phone_number_upn ON phone_number_inventory(user_principal_name);
CREATE INDEX IF NOT EXISTS idx_phone_number_country_code ON phone_number_inventory(country_code);
CREATE INDEX IF NOT EXISTS idx_phone_number_line_uri ON phone_number_inventory(line_uri);

-- -----------------------------------------------------------------------------
-- Country codes (rows: see add_country_codes.sql)
-- -----------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS country_codes (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    country_name TEXT NOT NULL,
    iso2 TEXT NOT NULL UNIQUE,
    dial_code TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT NOW()
);

COMMIT;

\echo 'UCR Manager schema deployed.'
