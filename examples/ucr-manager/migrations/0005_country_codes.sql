-- 0005_country_codes.sql
-- Lookup table of country calling codes for the number inventory UI
-- (country picker, E.164 formatting). Rows are loaded by add_country_codes.sql.

CREATE TABLE IF NOT EXISTS country_codes (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    country_name TEXT NOT NULL,
    iso2 TEXT NOT NULL UNIQUE,
    dial_code TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT NOW()
);
