-- =============================================================================
-- ADD_PHONE_NUMBER_INVENTORY.sql
--
-- Rebuilds phone_number_inventory with the complete schema from shared/schema.ts
-- (31 columns). The table created by PRODUCTION_DEPLOYMENT.sql was missing
-- carrier, location, usage_location, number_type, number_range, reserved_by,
-- reserved_at, aging_until, assigned_at, tags and updated_at, which broke the
-- inventory page ("column "carrier" does not exist").
--
-- REQUIRED FOR PHONE NUMBER MANAGEMENT.
-- NOTE: drops the existing table. Export the inventory first if it has data:
--   \copy phone_number_inventory TO 'phone_number_inventory_backup.csv' CSV HEADER
-- =============================================================================

DROP TABLE IF EXISTS phone_number_inventory CASCADE;

CREATE TABLE phone_number_inventory (
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
    carrier TEXT,
    location TEXT,
    usage_location TEXT,
    number_type TEXT NOT NULL DEFAULT 'did' CHECK (number_type IN ('did', 'extension', 'toll-free', 'mailbox')),
    reserved_by TEXT,
    reserved_at TIMESTAMP,
    aging_until TIMESTAMP,
    assigned_at TIMESTAMP,
    tags TEXT,
    updated_at TIMESTAMP DEFAULT NOW(),
    number_range TEXT,
    UNIQUE (tenant_id, line_uri)
);

CREATE INDEX idx_phone_number_status ON phone_number_inventory(status);
CREATE INDEX idx_phone_number_tenant ON phone_number_inventory(tenant_id);
CREATE INDEX idx_phone_number_upn ON phone_number_inventory(user_principal_name);
CREATE INDEX idx_phone_number_country_code ON phone_number_inventory(country_code);
CREATE INDEX idx_phone_number_line_uri ON phone_number_inventory(line_uri);
