-- add_country_codes.sql
-- Country calling codes for the number inventory (country picker, E.164 display).
-- Optional but recommended; run after ADD_PHONE_NUMBER_INVENTORY.sql.

CREATE TABLE IF NOT EXISTS country_codes (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    country_name TEXT NOT NULL,
    iso2 TEXT NOT NULL UNIQUE,
    dial_code TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT NOW()
);

INSERT INTO country_codes (country_name, iso2, dial_code) VALUES
    ('United States', 'US', '+1'),
    ('Canada', 'CA', '+1'),
    ('United Kingdom', 'GB', '+44'),
    ('Ireland', 'IE', '+353'),
    ('Germany', 'DE', '+49'),
    ('France', 'FR', '+33'),
    ('Netherlands', 'NL', '+31'),
    ('Australia', 'AU', '+61'),
    ('New Zealand', 'NZ', '+64'),
    ('India', 'IN', '+91'),
    ('Mexico', 'MX', '+52'),
    ('South Africa', 'ZA', '+27');

-- Country of each number in the inventory (dial code, e.g. '+1')
ALTER TABLE phone_number_inventory ADD COLUMN IF NOT EXISTS country_code TEXT;
CREATE INDEX IF NOT EXISTS idx_phone_number_country_code ON phone_number_inventory(country_code);
