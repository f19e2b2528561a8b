import type { Knex } from 'knex';
import type { MonitorStore } from '../store/index.js';
import { maintenanceNow, upcomingMaintenance } from '../windows/index.js';

/** A maintenance window as a status page shows it: nothing private (no server names beyond the page's). */
export interface MaintenanceWindowView {
  title: string;
  /** Server ids (of the page's servers only, once filtered by the summary). */
  servers: number[];
  starts_at: string;
  ends_at: string;
}

/**
 * What status pages and incidents need to know about maintenance windows, and nothing
 * more: the seam between them and the maintenance feature (src/monitor/windows/).
 */
export interface MaintenanceView {
  /**
   * The servers of `serverIds` inside a maintenance window at `at` (epoch ms). `db`: the
   * transaction to read in, when the caller holds one (SQLite has one connection: a read
   * outside it would wait for it forever).
   */
  activeFor(serverIds: readonly number[], at: number, db?: Knex | Knex.Transaction): Promise<ReadonlySet<number>>;
  /** The windows of these servers going on at `now` or starting within `horizon` ms, soonest first. */
  windows(serverIds: readonly number[], now: number, horizon: number): Promise<MaintenanceWindowView[]>;
}

const DAY = 86_400_000;

/** The maintenance windows' view for a store's pages and incidents, read from `monitor_maintenance_*`. */
export function maintenanceView(store: MonitorStore): MaintenanceView {
  return {
    async activeFor(serverIds, at, db) {
      return new Set((await maintenanceNow(db ?? store, serverIds, at)).keys());
    },
    async windows(serverIds, now, horizon) {
      const wanted = new Set(serverIds);
      const upcoming = await upcomingMaintenance(store, serverIds, { from: now, days: horizon / DAY });
      return upcoming.map((o) => ({
        title: o.title,
        servers: o.servers.filter((id) => wanted.has(id)),
        starts_at: new Date(o.start).toISOString(),
        ends_at: new Date(o.end).toISOString(),
      }));
    },
  };
}
