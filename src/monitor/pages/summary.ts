import type { Incident } from '../store/incidents.js';
import type { MonitorStore } from '../store/index.js';
import { iso, num, type Row } from '../store/rows.js';
import { rawDays, rawTotals, rolledDays, rolledTotals, serverNames } from '../store/page-days.js';
import type { StoredPage } from '../store/status-pages.js';
import type { ServerState } from '../types.js';
import { maintenanceView, type MaintenanceWindowView } from './maintenance-view.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;
export const DAYS = 90;
/** Upcoming maintenance is shown this far ahead. */
const MAINTENANCE_HORIZON = 30 * DAY;

export type PageStatus = 'operational' | 'degraded' | 'outage' | 'maintenance';
export type PublicServerStatus = PageStatus | 'pending';
export type DayStatus = 'operational' | 'degraded' | 'outage' | 'no_data';

export interface DayEntry {
  /** UTC date, YYYY-MM-DD. */
  date: string;
  /** Share of successful checks that day, percent; null without checks. */
  uptime: number | null;
  status: DayStatus;
}

export interface PublicServer {
  id: number;
  name: string;
  status: PublicServerStatus;
  /** Share of successful checks, percent (null without checks): the last 24 hours, and the last 7, 30 and 90 UTC days. */
  uptime: { '24h': number | null; '7d': number | null; '30d': number | null; '90d': number | null };
  /** Oldest first, today last. */
  days: DayEntry[];
}

export interface PublicIncidentUpdate {
  state: Incident['state'];
  message: string;
  created_at: string;
}

export interface PublicIncident {
  id: number;
  title: string;
  state: Incident['state'];
  impact: Incident['impact'];
  /** The page's servers it concerns. */
  servers: number[];
  started_at: string;
  resolved_at: string | null;
  updates: PublicIncidentUpdate[];
}

/** `GET /api/status-pages/:slug/summary/`: what the public page shows, nothing more. */
export interface PageSummary {
  slug: string;
  title: string;
  description: string;
  status: PageStatus;
  servers: PublicServer[];
  /** Open ones first, then those of the last 90 days; newest first in each. */
  incidents: PublicIncident[];
  /** Windows going on now or starting within 30 days. */
  maintenance: MaintenanceWindowView[];
  /** When this summary was computed. */
  generated_at: string;
}

const SPANS = [
  ['7d', 7],
  ['30d', 30],
  ['90d', 90],
] as const;

const STATE: Record<ServerState, PublicServerStatus> = {
  up: 'operational',
  degraded: 'degraded',
  down: 'outage',
  pending: 'pending',
  maintenance: 'maintenance',
};

const percent = (count: number, failures: number): number | null =>
  count === 0 ? null : Math.round(((count - failures) / count) * 100_000) / 1000;

function dayStatus(count: number, failures: number): DayStatus {
  if (count === 0) return 'no_data';
  if (failures === 0) return 'operational';
  return (count - failures) / count >= 0.95 ? 'degraded' : 'outage';
}

/** The page's overall state: an outage anywhere wins, then degradation, then maintenance. */
export function overallStatus(statuses: readonly PublicServerStatus[]): PageStatus {
  if (statuses.includes('outage')) return 'outage';
  if (statuses.includes('degraded')) return 'degraded';
  if (statuses.includes('maintenance')) return 'maintenance';
  return 'operational';
}

export function publicIncident(incident: Incident, serverIds: readonly number[]): PublicIncident {
  return {
    id: incident.id,
    title: incident.title,
    state: incident.state,
    impact: incident.impact,
    servers: incident.servers.filter((s) => serverIds.includes(s)),
    started_at: incident.started_at,
    resolved_at: incident.resolved_at,
    updates: incident.updates.map(({ state, message, created_at }) => ({ state, message, created_at })),
  };
}

interface Counts {
  count: number;
  failures: number;
}

type DailyCounts = Map<number, Map<number, Counts>>;

function addCounts(out: DailyCounts, rows: readonly Row[]): void {
  for (const r of rows) {
    const server = num(r.server_id);
    let days = out.get(server);
    if (!days) out.set(server, (days = new Map()));
    const day = num(r.day);
    const acc = days.get(day) ?? { count: 0, failures: 0 };
    acc.count += num(r.count ?? 0);
    acc.failures += num(r.failures ?? 0);
    days.set(day, acc);
  }
}

/**
 * The days before today change only when an hour is rolled up into them: computed once
 * per page, rollup watermark and day, and kept (the costly part: 89 days × 24 hours of
 * every server), so a status change recomputes only today.
 */
const pastCache = new WeakMap<MonitorStore, Map<string, Promise<DailyCounts>>>();

function pastDays(store: MonitorStore, ids: readonly number[], firstDay: number, until: number): Promise<DailyCounts> {
  let cache = pastCache.get(store);
  if (!cache) pastCache.set(store, (cache = new Map()));
  const key = `${firstDay}:${until}:${ids.join(',')}`;
  let value = cache.get(key);
  if (!value) {
    if (cache.size >= 200) cache.clear();
    value = rolledDays(store.db, store.dialect, ids, firstDay * DAY, until).then((rows) => {
      const out: DailyCounts = new Map();
      addCounts(out, rows);
      return out;
    });
    value.catch(() => cache.delete(key));
    cache.set(key, value);
  }
  return value;
}

/**
 * Per server and UTC day, from the hourly rollups up to the rollup watermark and the raw
 * results after it (today's, and any hour not rolled up yet).
 */
async function dailyCounts(
  store: MonitorStore,
  ids: readonly number[],
  firstDay: number,
  today: number,
  watermark: number,
): Promise<{ past: DailyCounts; recent: DailyCounts }> {
  const { db, dialect } = store;
  const pastUntil = Math.min(watermark, today * DAY);
  const [past, recent, raw] = await Promise.all([
    pastDays(store, ids, firstDay, pastUntil),
    rolledDays(db, dialect, ids, Math.max(pastUntil, firstDay * DAY), watermark),
    rawDays(db, dialect, ids, Math.max(firstDay * DAY, watermark)),
  ]);
  const recentCounts: DailyCounts = new Map();
  addCounts(recentCounts, [...recent, ...raw]);
  return { past, recent: recentCounts };
}

/** The last 24 hours per server: rollups of whole hours, raw results for the rest. */
async function lastDayCounts(store: MonitorStore, ids: readonly number[], now: number, watermark: number): Promise<Map<number, Counts>> {
  const { db } = store;
  const from = now - DAY;
  const [rolled, raw] = await Promise.all([
    rolledTotals(db, ids, Math.floor(from / HOUR) * HOUR, watermark),
    rawTotals(db, ids, Math.max(from, watermark)),
  ]);
  const out = new Map<number, Counts>();
  for (const r of [...rolled, ...raw]) {
    const acc = out.get(num(r.server_id)) ?? { count: 0, failures: 0 };
    acc.count += num(r.count ?? 0);
    acc.failures += num(r.failures ?? 0);
    out.set(num(r.server_id), acc);
  }
  return out;
}

/** Computes a page's public summary (the cache in front of it is `SummaryCache`). */
export async function computeSummary(store: MonitorStore, page: StoredPage, now: number = Date.now()): Promise<PageSummary> {
  const ids = page.servers;
  const today = Math.floor(now / DAY);
  const firstDay = today - (DAYS - 1);
  const view = maintenanceView(store);
  const watermarkText = await store.settings.get('rollup_watermark');
  const watermark = Number.isFinite(Number(watermarkText)) && Number(watermarkText) > 0 ? Number(watermarkText) : 0;
  const [names, statuses, daily, lastDay, inMaintenance, windows, incidents] = await Promise.all([
    ids.length ? serverNames(store.db, ids) : Promise.resolve([] as Row[]),
    ids.length ? store.results.statuses({ serverIds: ids }) : Promise.resolve([]),
    ids.length
      ? dailyCounts(store, ids, firstDay, today, watermark)
      : Promise.resolve({ past: new Map(), recent: new Map() } as { past: DailyCounts; recent: DailyCounts }),
    ids.length ? lastDayCounts(store, ids, now, watermark) : Promise.resolve(new Map<number, Counts>()),
    ids.length ? view.activeFor(ids, now) : Promise.resolve(new Set<number>()),
    ids.length ? view.windows(ids, now, MAINTENANCE_HORIZON) : Promise.resolve([]),
    store.incidents.forPage(page.id, ids, now - DAYS * DAY),
  ]);
  const nameOf = new Map(names.map((r) => [num(r.id), String(r.name)]));
  const stateOf = new Map(statuses.map((s) => [s.server, s.status]));

  const dates = Array.from({ length: DAYS }, (_, i) => iso((firstDay + i) * DAY).slice(0, 10));
  const servers: PublicServer[] = ids.map((id) => {
    const past = daily.past.get(id);
    const recent = daily.recent.get(id);
    const days: DayEntry[] = [];
    const sums = { '7d': { count: 0, failures: 0 }, '30d': { count: 0, failures: 0 }, '90d': { count: 0, failures: 0 } };
    for (let d = firstDay; d <= today; d++) {
      const a = past?.get(d);
      const b = recent?.get(d);
      const count = (a?.count ?? 0) + (b?.count ?? 0);
      const failures = (a?.failures ?? 0) + (b?.failures ?? 0);
      days.push({ date: dates[d - firstDay]!, uptime: percent(count, failures), status: dayStatus(count, failures) });
      for (const [key, span] of SPANS) {
        if (d > today - span) {
          sums[key].count += count;
          sums[key].failures += failures;
        }
      }
    }
    const last = lastDay.get(id) ?? { count: 0, failures: 0 };
    const state = stateOf.get(id) ?? 'pending';
    return {
      id,
      name: page.display_names[String(id)] ?? nameOf.get(id) ?? `Server ${id}`,
      status: inMaintenance.has(id) ? 'maintenance' : STATE[state],
      uptime: {
        '24h': percent(last.count, last.failures),
        '7d': percent(sums['7d'].count, sums['7d'].failures),
        '30d': percent(sums['30d'].count, sums['30d'].failures),
        '90d': percent(sums['90d'].count, sums['90d'].failures),
      },
      days,
    };
  });
  const shown = incidents.map((i) => publicIncident(i, ids));
  return {
    slug: page.slug,
    title: page.title,
    description: page.description,
    status: overallStatus(servers.map((s) => s.status)),
    servers,
    incidents: [...shown.filter((i) => i.resolved_at === null), ...shown.filter((i) => i.resolved_at !== null)],
    maintenance: windows.map((w) => ({ ...w, servers: w.servers.filter((s) => ids.includes(s)) })),
    generated_at: iso(now),
  };
}
