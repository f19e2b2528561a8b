import type { ServerState, UptimeFigures } from './types.js';

export interface Interval {
  start: number;
  end: number;
}

export interface Change {
  status: ServerState;
  at: number;
}

export const DAY = 86_400_000;
export const WINDOWS = { '24h': DAY, '7d': 7 * DAY, '30d': 30 * DAY } as const;

/** Sorts and merges overlapping intervals (runs of several instances overlap). */
export function mergeIntervals(intervals: readonly Interval[]): Interval[] {
  const sorted = intervals.filter((i) => i.end > i.start).sort((a, b) => a.start - b.start);
  const merged: Interval[] = [];
  for (const i of sorted) {
    const last = merged[merged.length - 1];
    if (last && i.start <= last.end) last.end = Math.max(last.end, i.end);
    else merged.push({ ...i });
  }
  return merged;
}

/** Milliseconds of [start, end) covered by merged `runs`. */
function covered(runs: readonly Interval[], start: number, end: number): number {
  let total = 0;
  for (const run of runs) {
    if (run.start >= end) break;
    const s = Math.max(start, run.start);
    const e = Math.min(end, run.end);
    if (e > s) total += e - s;
  }
  return total;
}

/** `down` is the only state that counts against uptime; `pending` counts as up until it becomes down. */
const counts = (status: ServerState) => status !== 'down';

/**
 * Time-weighted uptime, percent, over [from, to): the share of the time the monitor
 * was running (`runs`, merged) during which the server was not down. `changes` are
 * one server's state changes, oldest first; time before the first one (the server
 * did not exist) and time outside every run are unknown and left out. Null when
 * nothing of the window is known.
 */
export function uptimeBetween(changes: readonly Change[], runs: readonly Interval[], from: number, to: number): number | null {
  let known = 0;
  let up = 0;
  for (let i = 0; i < changes.length; i++) {
    const start = Math.max(from, changes[i]!.at);
    const end = Math.min(to, changes[i + 1]?.at ?? to);
    if (end <= start) continue;
    const ms = covered(runs, start, end);
    known += ms;
    if (counts(changes[i]!.status)) up += ms;
  }
  return known === 0 ? null : (up / known) * 100;
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;

/** Uptime over the last 24 h, 7 d and 30 d; an unknown window counts as 100 (nothing seen down). */
export function uptimeFigures(changes: readonly Change[], runs: readonly Interval[], now: number): UptimeFigures {
  const figure = (window: number) => round3(uptimeBetween(changes, runs, now - window, now) ?? 100);
  return { '24h': figure(WINDOWS['24h']), '7d': figure(WINDOWS['7d']), '30d': figure(WINDOWS['30d']) };
}

/** Drops changes a 30-day window no longer needs, keeping the one in force at the window's start. */
export function trimChanges(changes: Change[], now: number): void {
  const from = now - WINDOWS['30d'];
  let drop = 0;
  while (drop + 1 < changes.length && changes[drop + 1]!.at <= from) drop++;
  if (drop > 0) changes.splice(0, drop);
}

/** `runs` (merged) without the time in `holes` (merged): the monitor's coverage of a server outside its maintenance. */
export function subtractIntervals(runs: readonly Interval[], holes: readonly Interval[]): Interval[] {
  if (holes.length === 0) return [...runs];
  const out: Interval[] = [];
  for (const run of runs) {
    let start = run.start;
    for (const hole of holes) {
      if (hole.end <= start) continue;
      if (hole.start >= run.end) break;
      if (hole.start > start) out.push({ start, end: hole.start });
      start = Math.max(start, hole.end);
      if (start >= run.end) break;
    }
    if (start < run.end) out.push({ start, end: run.end });
  }
  return out;
}
