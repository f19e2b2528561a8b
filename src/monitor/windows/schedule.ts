import { Cron } from 'croner';
import type { Interval } from '../uptime.js';

/** A maintenance window as stored: either one fixed period or a cron schedule of periods. */
export interface MaintenanceWindow {
  id: number;
  title: string;
  /** Server ids the window covers. */
  servers: number[];
  /** Fixed window: ISO 8601 UTC; null for a recurring one. */
  starts_at: string | null;
  ends_at: string | null;
  /** Recurring window: a 5-field cron expression (or `@daily`…), evaluated in `timezone`. */
  cron: string | null;
  duration_minutes: number | null;
  /** IANA time zone of `cron`, e.g. `Europe/Paris`. */
  timezone: string | null;
  created_at: string;
  updated_at: string;
}

/** The writable fields, as validated. */
export type MaintenanceWindowInput = Omit<MaintenanceWindow, 'id' | 'created_at' | 'updated_at'>;

/** One occurrence of a window. */
export interface Occurrence extends Interval {
  window: number;
  title: string;
}

/** Occurrences enumerated per window and call at most: a `* * * * *` window over 90 days stays bounded. */
const MAX_OCCURRENCES = 20_000;

/** A cron expression croner parses in "5-part" mode (minute precision), or null. */
export function parseCron(expression: string, timezone?: string): Cron | null {
  try {
    return new Cron(expression, { mode: '5-part', ...(timezone ? { timezone } : {}), paused: true });
  } catch {
    return null;
  }
}

/** True when `Intl` knows the IANA zone name. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return zone.length > 0;
  } catch {
    return false;
  }
}

/**
 * The occurrences of a window that overlap [from, to), oldest first. A recurring one
 * that started before `from` and still runs at `from` is included.
 */
export function occurrences(window: MaintenanceWindow, from: number, to: number): Occurrence[] {
  const tag = { window: window.id, title: window.title };
  if (window.starts_at !== null && window.ends_at !== null) {
    const start = Date.parse(window.starts_at);
    const end = Date.parse(window.ends_at);
    return end > from && start < to ? [{ start, end, ...tag }] : [];
  }
  if (window.cron === null || window.duration_minutes === null) return [];
  const cron = parseCron(window.cron, window.timezone ?? undefined);
  if (!cron) return [];
  const duration = window.duration_minutes * 60_000;
  const out: Occurrence[] = [];
  // nextRun() is strictly after its argument: start one duration back, so a running occurrence is found.
  let cursor: Date | null = new Date(from - duration);
  while (out.length < MAX_OCCURRENCES) {
    cursor = cron.nextRun(cursor);
    if (!cursor || cursor.getTime() >= to) break;
    const start = cursor.getTime();
    if (start + duration > from) out.push({ start, end: start + duration, ...tag });
  }
  return out;
}

/** The occurrence of any of `windows` running at `at`, if one is. */
export function activeOccurrence(windows: readonly MaintenanceWindow[], at: number): Occurrence | undefined {
  for (const w of windows) {
    const [hit] = occurrences(w, at, at + 1);
    if (hit) return hit;
  }
  return undefined;
}
