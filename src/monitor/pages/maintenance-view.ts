import type { Knex } from 'knex';
import type { MonitorStore } from '../store/index.js';

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
 * more: the seam between them and the maintenance feature, which provides the real one.
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

/** No maintenance windows at all: the default until the maintenance feature plugs its view in. */
export const NO_MAINTENANCE: MaintenanceView = {
  activeFor: () => Promise.resolve(new Set<number>()),
  windows: () => Promise.resolve([]),
};

const views = new WeakMap<MonitorStore, MaintenanceView>();

/** Plugs the maintenance feature in for a store's pages and incidents. */
export function setMaintenanceView(store: MonitorStore, view: MaintenanceView): void {
  views.set(store, view);
}

export function maintenanceView(store: MonitorStore): MaintenanceView {
  return views.get(store) ?? NO_MAINTENANCE;
}
