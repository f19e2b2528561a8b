import type { Knex } from 'knex';
import type { MonitorStore } from '../store/index.js';
import { MaintenanceWindowQueries } from '../store/windows.js';
import type { ServerStatus } from '../types.js';
import { mergeIntervals, type Interval } from '../uptime.js';
import { occurrences, type MaintenanceWindow, type Occurrence } from './schedule.js';

export type { MaintenanceWindow, MaintenanceWindowInput, Occurrence } from './schedule.js';
export { WindowCache } from './cache.js';

type Db = Knex | Knex.Transaction;
const dbOf = (source: MonitorStore | Db): Db => ('maintenance' in source ? source.db : source);
const DAY = 86_400_000;

/** The windows covering any of `serverIds` (all servers when omitted). */
function windowsOf(source: MonitorStore | Db, serverIds?: readonly number[]): Promise<MaintenanceWindow[]> {
  return new MaintenanceWindowQueries(dbOf(source)).list({ db: dbOf(source), ...(serverIds ? { serverIds } : {}) });
}

/**
 * Which of `serverIds` are in a maintenance window at `at` (default now): server id →
 * the occurrence running. For incidents and status pages (no incident opens, the page
 * says `maintenance`) and the notification outbox. Takes a store, knex or a transaction.
 */
export async function maintenanceNow(
  source: MonitorStore | Db,
  serverIds?: readonly number[],
  at: number = Date.now(),
): Promise<Map<number, Occurrence>> {
  const active = new Map<number, Occurrence>();
  if (serverIds?.length === 0) return active;
  const wanted = serverIds ? new Set(serverIds) : undefined;
  for (const window of await windowsOf(source, serverIds)) {
    const [hit] = occurrences(window, at, at + 1);
    if (!hit) continue;
    for (const id of window.servers) if (!wanted || wanted.has(id)) if (!active.has(id)) active.set(id, hit);
  }
  return active;
}

/** An occurrence with the servers it covers (of those asked for). */
export interface ScheduledMaintenance extends Occurrence {
  servers: number[];
}

/**
 * The current and upcoming occurrences of the windows covering `serverIds`, those
 * overlapping [from, from + days), by start: what a status page lists. At most `limit`.
 */
export async function upcomingMaintenance(
  source: MonitorStore | Db,
  serverIds?: readonly number[],
  { from = Date.now(), days = 7, limit = 50 }: { from?: number; days?: number; limit?: number } = {},
): Promise<ScheduledMaintenance[]> {
  if (serverIds?.length === 0) return [];
  const wanted = serverIds ? new Set(serverIds) : undefined;
  const out: ScheduledMaintenance[] = [];
  for (const window of await windowsOf(source, serverIds)) {
    const servers = window.servers.filter((id) => !wanted || wanted.has(id));
    for (const o of occurrences(window, from, from + days * DAY).slice(0, limit)) out.push({ ...o, servers });
  }
  return out.sort((a, b) => a.start - b.start || a.window - b.window).slice(0, limit);
}

/** Each server's maintenance time within [from, to), merged: what uptime leaves out. */
export async function maintenanceIntervals(
  source: MonitorStore | Db,
  serverIds: readonly number[],
  from: number,
  to: number,
): Promise<Map<number, Interval[]>> {
  const byServer = new Map<number, Interval[]>(serverIds.map((id) => [id, []]));
  for (const window of await windowsOf(source, serverIds)) {
    const times = occurrences(window, from, to).map((o) => ({ start: Math.max(from, o.start), end: Math.min(to, o.end) }));
    for (const id of window.servers) byServer.get(id)?.push(...times);
  }
  for (const [id, list] of byServer) byServer.set(id, mergeIntervals(list));
  return byServer;
}

/** A status as users see it: `maintenance` while a window runs; the state machine's state otherwise. */
export function shown(status: ServerStatus, inMaintenance: boolean): ServerStatus {
  return inMaintenance ? { ...status, status: 'maintenance' } : status;
}

/** Statuses as users see them (the API, streams, the CLI), at `at`. */
export async function showStatuses(source: MonitorStore | Db, statuses: ServerStatus[], at: number = Date.now()): Promise<ServerStatus[]> {
  if (statuses.length === 0) return statuses;
  // Many servers: read every window rather than bind thousands of ids.
  const ids = statuses.length > 500 ? undefined : statuses.map((s) => s.server);
  const active = await maintenanceNow(source, ids, at);
  return active.size === 0 ? statuses : statuses.map((s) => shown(s, active.has(s.server)));
}

/** Servers with their `current_status` as users see it. */
export async function showServerStatuses<T extends { current_status: ServerStatus | null; status?: string }>(
  source: MonitorStore | Db,
  servers: T[],
): Promise<T[]> {
  const statuses = servers.flatMap((s) => (s.current_status ? [s.current_status] : []));
  const shownList = await showStatuses(source, statuses);
  if (shownList === statuses) return servers;
  const byServer = new Map(shownList.map((s) => [s.server, s]));
  return servers.map((s) => {
    if (!s.current_status) return s;
    const current = byServer.get(s.current_status.server) ?? s.current_status;
    // PulseGuard's `status` string reads the same as the status object.
    return { ...s, current_status: current, ...(s.status === undefined ? {} : { status: current.status }) };
  });
}
