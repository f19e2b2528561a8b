import type { Knex } from 'knex';
import * as initial from './0001_initial.js';
import * as claims from './0002_claims.js';
import * as notifications from './0003_notifications.js';
import * as liveCounter from './0004_live_counter.js';
import * as maintenanceWindows from './0020_maintenance_windows.js';
import * as statusPages from './0021_status_pages.js';
import * as incidents from './0022_incidents.js';
import * as notificationChannels from './0030_notification_channels.js';
import * as dependencies from './0031_dependencies.js';
import * as pushMonitors from './0040_push_monitors.js';
import * as assertions from './0041_assertions.js';
import * as certExpiry from './0042_cert_expiry.js';

export interface Migration {
  name: string;
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/** In order; a new migration is appended, never inserted. Modules, not files on disk, so they ship in dist. */
const MIGRATIONS: readonly Migration[] = [
  initial,
  claims,
  notifications,
  liveCounter,
  maintenanceWindows,
  statusPages,
  incidents,
  notificationChannels,
  dependencies,
  pushMonitors,
  assertions,
  certExpiry,
];

/** knex's migration source API over the list above. */
export const migrationSource: Knex.MigrationSource<Migration> = {
  getMigrations: () => Promise.resolve([...MIGRATIONS]),
  getMigrationName: (migration) => migration.name,
  getMigration: (migration) => Promise.resolve(migration),
};

/** knex's bookkeeping tables, prefixed like the rest. */
export const MIGRATION_CONFIG: Knex.MigratorConfig = {
  migrationSource,
  tableName: 'monitor_knex_migrations',
};

/** Applies every pending migration; returns the names applied. */
export async function migrate(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest(MIGRATION_CONFIG)) as [number, string[]];
  return applied;
}
