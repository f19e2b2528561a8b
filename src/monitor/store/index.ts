import type { Knex } from 'knex';
import { openDatabase, type DatabaseOption, type Dialect, type KnexLog } from '../database.js';
import { MonitorEvents } from '../events.js';
import { migrate } from '../migrations/index.js';
import { NotificationQueries, SettingQueries, UserQueries } from './admin.js';
import { HistoryQueries } from './history.js';
import { IncidentQueries } from './incidents.js';
import { OutboxQueries } from './outbox.js';
import { ResultQueries } from './results.js';
import { ServerQueries } from './servers.js';
import { MaintenanceWindowQueries } from './windows.js';
import { StatusPageQueries } from './status-pages.js';

export interface OpenStoreOptions {
  /** `postgres://…`, a SQLite file name, or a knex instance. Default `monitor.db`. */
  database?: DatabaseOption;
  /** Apply pending migrations on open. Default true. */
  migrate?: boolean;
  /** The hub that server changes are announced on. Default: a new one. */
  events?: MonitorEvents;
  /** Where knex's own warnings go, when the store opens the database. Default: knex's (stdout). */
  log?: KnexLog;
}

/** The monitor's storage: named queries per resource over one knex instance. */
export class MonitorStore {
  readonly servers: ServerQueries;
  readonly results: ResultQueries;
  readonly history: HistoryQueries;
  readonly notifications: NotificationQueries;
  readonly outbox: OutboxQueries;
  readonly users: UserQueries;
  readonly settings: SettingQueries;
  readonly maintenance: MaintenanceWindowQueries;
  readonly statusPages: StatusPageQueries;
  readonly incidents: IncidentQueries;

  constructor(
    readonly db: Knex,
    readonly dialect: Dialect,
    readonly events: MonitorEvents,
    private readonly owned: boolean,
  ) {
    this.servers = new ServerQueries(db, events);
    this.results = new ResultQueries(db);
    this.history = new HistoryQueries(db);
    this.notifications = new NotificationQueries(db);
    this.outbox = new OutboxQueries(db, dialect);
    this.users = new UserQueries(db, dialect);
    this.settings = new SettingQueries(db);
    this.maintenance = new MaintenanceWindowQueries(db);
    this.statusPages = new StatusPageQueries(db);
    this.incidents = new IncidentQueries(db);
  }

  /** Applies pending migrations; returns their names. */
  migrate(): Promise<string[]> {
    return migrate(this.db);
  }

  /** Closes the connections, unless the knex instance was the caller's. */
  async close(): Promise<void> {
    if (this.owned) await this.db.destroy();
  }
}

/**
 * Opens (and by default migrates) the monitor's database.
 *
 * @example
 * const store = await openStore({ database: process.env.DATABASE_URL ?? 'monitor.db' });
 * const page = await store.servers.list({ limit: 50 });
 */
export async function openStore(options: OpenStoreOptions = {}): Promise<MonitorStore> {
  const { db, dialect, owned } = await openDatabase(options.database, options.log ? { log: options.log } : {});
  const store = new MonitorStore(db, dialect, options.events ?? new MonitorEvents(), owned);
  if (options.migrate !== false) {
    try {
      await store.migrate();
    } catch (error) {
      await store.close();
      throw error;
    }
  }
  return store;
}
