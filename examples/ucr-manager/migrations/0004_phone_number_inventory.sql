-- 0004_phone_number_inventory.sql
-- Phone number inventory: every DID we hold for a tenant, whether it is free,
-- reserved or assigned to a Teams user, and when it was last released (aging).

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
    UNIQUE (tenant_id, line_uri)
);

-- Lookups used by the inventory grid filters
CREATE INDEX IF NOT EXISTS idx_phone_number_status ON phone_number_inventory(status);
CREATE INDEX IF NOT EXISTS idx_phone_number_tenant ON phone_number_inventory(tenant_id);
-- Search by assigned user
CREATE INDEX idx_phone_number_upn ON phone_number_inventory(user_principal_name);
