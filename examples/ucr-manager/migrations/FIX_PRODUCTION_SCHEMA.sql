-- =============================================================================
-- FIX_PRODUCTION_SCHEMA.sql
--
-- Brings a database created from PRODUCTION_DEPLOYMENT.sql in line with
-- shared/schema.ts. Run it right after PRODUCTION_DEPLOYMENT.sql:
--
--   psql -U postgres -d ucrmanager -f migrations/FIX_PRODUCTION_SCHEMA.sql
--
-- Idempotent: renames only happen when the old column is still there, and new
-- columns use ADD COLUMN IF NOT EXISTS, so this is safe to run multiple times.
--
-- Fixes the 500s seen during the production deployment:
--   - Error saving credentials: column "base_url" does not exist
--   - Error saving credentials: column "public_key" does not exist
--   - Error saving credentials: column "auto_update_status" does not exist
--   - Error saving 3CX credentials: column "created_by" does not exist
-- =============================================================================


-- -----------------------------------------------------------------------------
-- 1. connectwise_credentials
--    PRODUCTION_DEPLOYMENT.sql had the pre-0006 column names.
-- -----------------------------------------------------------------------------

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_name = 'connectwise_credentials' AND column_name = 'server_url') THEN
        ALTER TABLE connectwise_credentials RENAME COLUMN server_url TO base_url;
    END IF;
END $$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_name = 'connectwise_credentials' AND column_name = 'encrypted_public_key') THEN
        ALTER TABLE connectwise_credentials RENAME COLUMN encrypted_public_key TO public_key;
    END IF;
END $$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_name = 'connectwise_credentials' AND column_name = 'encrypted_private_key') THEN
        ALTER TABLE connectwise_credentials RENAME COLUMN encrypted_private_key TO private_key;
    END IF;
END $$;

-- Ticket status automation (added in 0006, never made it into PRODUCTION_DEPLOYMENT.sql)
ALTER TABLE connectwise_credentials ADD COLUMN IF NOT EXISTS auto_update_status BOOLEAN DEFAULT false;
ALTER TABLE connectwise_credentials ADD COLUMN IF NOT EXISTS default_status_id INTEGER;

CREATE INDEX IF NOT EXISTS idx_connectwise_credentials_tenant_id ON connectwise_credentials(tenant_id);


-- -----------------------------------------------------------------------------
-- 2. tenant_3cx_credentials: audit columns
-- -----------------------------------------------------------------------------

ALTER TABLE tenant_3cx_credentials ADD COLUMN IF NOT EXISTS created_by TEXT;
ALTER TABLE tenant_3cx_credentials ADD COLUMN IF NOT EXISTS updated_by TEXT;


-- -----------------------------------------------------------------------------
-- 3. tenant_powershell_credentials: certificate-based auth
--    Keep the old username/password values (renamed *_deprecated) until every
--    tenant has uploaded a certificate; then drop them in a later migration.
-- -----------------------------------------------------------------------------

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_name = 'tenant_powershell_credentials' AND column_name = 'username') THEN
        ALTER TABLE tenant_powershell_credentials RENAME COLUMN username TO username_deprecated;
    END IF;

    IF EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_name = 'tenant_powershell_credentials' AND column_name = 'encrypted_password') THEN
        ALTER TABLE tenant_powershell_credentials RENAME COLUMN encrypted_password TO encrypted_password_deprecated;
    END IF;
END $$;

-- 0003 created these as NOT NULL; certificate-based rows have no username/password.
ALTER TABLE tenant_powershell_credentials ALTER COLUMN username_deprecated DROP NOT NULL;
ALTER TABLE tenant_powershell_credentials ALTER COLUMN encrypted_password_deprecated DROP NOT NULL;

ALTER TABLE tenant_powershell_credentials ADD COLUMN IF NOT EXISTS app_id TEXT;
ALTER TABLE tenant_powershell_credentials ADD COLUMN certificate_thumbprint TEXT;

-- Existing username/password rows cannot authenticate with a certificate.
-- Park them (inactive, placeholder values) until the tenant admin uploads a
-- certificate on the Settings > PowerShell page.
UPDATE tenant_powershell_credentials
   SET app_id = COALESCE(app_id, 'PENDING_CERTIFICATE_SETUP'),
       certificate_thumbprint = COALESCE(certificate_thumbprint, 'PENDING_CERTIFICATE_SETUP'),
       is_active = false
 WHERE app_id IS NULL OR certificate_thumbprint IS NULL;

ALTER TABLE tenant_powershell_credentials ALTER COLUMN app_id SET NOT NULL;
ALTER TABLE tenant_powershell_credentials ALTER COLUMN certificate_thumbprint SET NOT NULL;


-- -----------------------------------------------------------------------------
-- Check: should list base_url, public_key, private_key, auto_update_status,
-- default_status_id, created_by, updated_by, app_id, certificate_thumbprint
-- -----------------------------------------------------------------------------
SELECT table_name, column_name, data_type, is_nullable
  FROM information_schema.columns
 WHERE table_name IN ('connectwise_credentials', 'tenant_3cx_credentials', 'tenant_powershell_credentials')
 ORDER BY table_name, ordinal_position;
