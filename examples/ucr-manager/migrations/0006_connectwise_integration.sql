-- 0006_connectwise_integration.sql
-- ConnectWise Manage integration.
--
-- Stores per-tenant ConnectWise API credentials so that number assignments and
-- policy changes can be logged as time entries on the customer's ticket, and the
-- ticket status can be moved automatically (auto_update_status/default_status_id).
--
-- Keys are encrypted by the app before insert; base_url is the ConnectWise site,
-- e.g. https://api-na.myconnectwise.net

CREATE TABLE connectwise_credentials (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id UUID UNIQUE REFERENCES customer_tenants(id) ON DELETE CASCADE,
    base_url TEXT NOT NULL,
    company_id TEXT NOT NULL,
    public_key TEXT NOT NULL,
    private_key TEXT NOT NULL,
    client_id TEXT NOT NULL,
    default_member_identifier TEXT,
    default_time_minutes INTEGER DEFAULT 15,
    auto_update_status BOOLEAN DEFAULT false,
    default_status_id INTEGER,
    created_at TIMESTAMP DEFAULT NOW(),
    updated_at TIMESTAMP DEFAULT NOW(),
    created_by TEXT,
    updated_by TEXT
);

CREATE INDEX idx_connectwise_credentials_tenant_id ON connectwise_credentials(tenant_id);

-- Audit columns for 3CX credentials: who saved / last changed them (operator UPN).
-- Same pattern as connectwise_credentials above.
ALTER TABLE tenant_3cx_credentials ADD COLUMN created_by TEXT;
ALTER TABLE tenant_3cx_credentials ADD COLUMN updated_by TEXT;
