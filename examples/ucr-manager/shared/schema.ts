// shared/schema.ts
//
// Single source of truth for the UCR Manager database schema.
// Server routes, storage.ts and the React client all import their types from here.
// If you change a table here, write the matching migration in migrations/ AND
// update migrations/PRODUCTION_DEPLOYMENT.sql.

import { relations, sql } from 'drizzle-orm';
import {
  boolean,
  check,
  index,
  integer,
  pgTable,
  text,
  timestamp,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';
import { createInsertSchema } from 'drizzle-zod';

// ---------------------------------------------------------------------------
// Customer tenants (one row per Microsoft 365 tenant we manage)
// ---------------------------------------------------------------------------

export const customerTenants = pgTable('customer_tenants', {
  id: uuid('id').primaryKey().defaultRandom(),
  // Azure AD / Entra ID directory (tenant) GUID, as text because it comes straight from Graph
  tenantId: text('tenant_id').notNull().unique(),
  tenantName: text('tenant_name').notNull(),
  domain: text('domain').notNull(),
  appRegistrationId: text('app_registration_id'),
  isActive: boolean('is_active').default(true),
  createdAt: timestamp('created_at').defaultNow(),
  updatedAt: timestamp('updated_at')
    .defaultNow()
    .$onUpdate(() => new Date()),
});

// ---------------------------------------------------------------------------
// ConnectWise Manage integration (0006_connectwise_integration.sql)
// ---------------------------------------------------------------------------

export const connectwiseCredentials = pgTable(
  'connectwise_credentials',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .unique()
      .references(() => customerTenants.id, { onDelete: 'cascade' }),
    baseUrl: text('base_url').notNull(),
    companyId: text('company_id').notNull(),
    publicKey: text('public_key').notNull(),
    privateKey: text('private_key').notNull(),
    clientId: text('client_id').notNull(),
    defaultMemberIdentifier: text('default_member_identifier'),
    defaultTimeMinutes: integer('default_time_minutes').default(15),
    autoUpdateStatus: boolean('auto_update_status').default(false),
    defaultStatusId: integer('default_status_id'),
    createdAt: timestamp('created_at').defaultNow(),
    updatedAt: timestamp('updated_at').defaultNow(),
    createdBy: text('created_by'),
    updatedBy: text('updated_by'),
  },
  (table) => ({
    tenantIdx: index('idx_connectwise_credentials_tenant_id').on(table.tenantId),
  }),
);

// ---------------------------------------------------------------------------
// 3CX phone system credentials
// ---------------------------------------------------------------------------

export const tenant3cxCredentials = pgTable('tenant_3cx_credentials', {
  id: uuid('id').primaryKey().defaultRandom(),
  tenantId: uuid('tenant_id')
    .unique()
    .references(() => customerTenants.id, { onDelete: 'cascade' }),
  serverUrl: text('server_url').notNull(),
  username: text('username').notNull(),
  encryptedPassword: text('encrypted_password').notNull(),
  mfaEnabled: boolean('mfa_enabled').default(false),
  createdAt: timestamp('created_at').defaultNow(),
  updatedAt: timestamp('updated_at').defaultNow(),
  createdBy: text('created_by'),
  updatedBy: text('updated_by'),
});

// ---------------------------------------------------------------------------
// Teams PowerShell credentials (certificate-based app-only auth since v2;
// the old username/password columns are kept, renamed, until every tenant
// has been moved to a certificate)
// ---------------------------------------------------------------------------

export const tenantPowershellCredentials = pgTable('tenant_powershell_credentials', {
  id: uuid('id').primaryKey().defaultRandom(),
  tenantId: uuid('tenant_id')
    .notNull()
    .unique()
    .references(() => customerTenants.id, { onDelete: 'cascade' }),
  appId: text('app_id').notNull(),
  certificateThumbprint: text('certificate_thumbprint').notNull(),
  usernameDeprecated: text('username_deprecated'),
  encryptedPasswordDeprecated: text('encrypted_password_deprecated'),
  isActive: boolean('is_active').default(true),
  createdAt: timestamp('created_at').defaultNow(),
  updatedAt: timestamp('updated_at').defaultNow(),
  createdBy: text('created_by'),
  updatedBy: text('updated_by'),
});

// ---------------------------------------------------------------------------
// Phone number inventory (DID / extension management, 31 columns)
// ---------------------------------------------------------------------------

export const phoneNumberInventory = pgTable(
  'phone_number_inventory',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').references(() => customerTenants.id, { onDelete: 'cascade' }),
    lineUri: text('line_uri').notNull(),
    displayName: text('display_name'),
    userPrincipalName: text('user_principal_name'),
    onlineVoiceRoutingPolicy: text('online_voice_routing_policy'),
    voiceRoutingPolicy: text('voice_routing_policy'),
    externalSystemType: text('external_system_type'),
    externalSystemId: text('external_system_id'),
    status: text('status').default('available'),
    reservedUntil: timestamp('reserved_until'),
    lastAssignedDate: timestamp('last_assigned_date'),
    lastReleasedDate: timestamp('last_released_date'),
    agingStartedAt: timestamp('aging_started_at'),
    notes: text('notes'),
    createdAt: timestamp('created_at').defaultNow(),
    createdBy: text('created_by'),
    lastModifiedAt: timestamp('last_modified_at').defaultNow(),
    lastModifiedBy: text('last_modified_by'),
    countryCode: text('country_code'),
    carrier: text('carrier'),
    location: text('location'),
    usageLocation: text('usage_location'),
    numberType: text('number_type').notNull().default('did'),
    reservedBy: text('reserved_by'),
    reservedAt: timestamp('reserved_at'),
    agingUntil: timestamp('aging_until'),
    assignedAt: timestamp('assigned_at'),
    tags: text('tags'),
    updatedAt: timestamp('updated_at').defaultNow(),
    numberRange: text('number_range'),
  },
  (table) => [
    unique().on(table.tenantId, table.lineUri),
    check(
      'phone_number_inventory_external_system_type_check',
      sql`${table.externalSystemType} IN ('teams', '3cx', 'other')`,
    ),
    check(
      'phone_number_inventory_status_check',
      sql`${table.status} IN ('available', 'reserved', 'used', 'aging')`,
    ),
    check(
      'phone_number_inventory_number_type_check',
      sql`${table.numberType} IN ('did', 'extension', 'toll-free', 'mailbox')`,
    ),
    index('idx_phone_number_status').on(table.status),
    index('idx_phone_number_tenant').on(table.tenantId),
    index('idx_phone_number_upn').on(table.userPrincipalName),
    index('idx_phone_number_country_code').on(table.countryCode),
    index('idx_phone_number_line_uri').on(table.lineUri),
  ],
);

// ---------------------------------------------------------------------------
// Country calling codes (lookup table for the number inventory UI)
// ---------------------------------------------------------------------------

export const countryCodes = pgTable('country_codes', {
  id: uuid('id').primaryKey().defaultRandom(),
  countryName: text('country_name').notNull(),
  iso2: text('iso2').notNull().unique(),
  dialCode: text('dial_code').notNull(),
  createdAt: timestamp('created_at').defaultNow(),
});

// ---------------------------------------------------------------------------
// Relations (query builder only, no DDL)
// ---------------------------------------------------------------------------

export const customerTenantsRelations = relations(customerTenants, ({ many }) => ({
  phoneNumbers: many(phoneNumberInventory),
}));

export const phoneNumberInventoryRelations = relations(phoneNumberInventory, ({ one }) => ({
  tenant: one(customerTenants, {
    fields: [phoneNumberInventory.tenantId],
    references: [customerTenants.id],
  }),
}));

// ---------------------------------------------------------------------------
// Types and insert schemas used by server/routes.ts
// ---------------------------------------------------------------------------

export type CustomerTenant = typeof customerTenants.$inferSelect;
export type ConnectwiseCredentials = typeof connectwiseCredentials.$inferSelect;
export type PhoneNumber = typeof phoneNumberInventory.$inferSelect;
export type InsertPhoneNumber = typeof phoneNumberInventory.$inferInsert;

export const insertConnectwiseCredentialsSchema = createInsertSchema(connectwiseCredentials).omit({
  id: true,
  createdAt: true,
  updatedAt: true,
});
