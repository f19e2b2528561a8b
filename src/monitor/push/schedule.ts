import { Cron } from 'croner';
import type { Server } from '../types.js';

/** Whether `timezone` is an IANA zone this runtime knows. */
export function isTimezone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

/** Why a cron expression is refused, or undefined when it parses (5 or 6 fields, croner's syntax). */
export function scheduleError(schedule: string, timezone: string | null): string | undefined {
  try {
    const cron = new Cron(schedule, { paused: true, ...(timezone ? { timezone } : { timezone: 'UTC' }) });
    if (cron.nextRun() === null) return 'This schedule never runs.';
    return undefined;
  } catch (error) {
    return `Enter a valid cron expression, e.g. "*/5 * * * *" (${error instanceof Error ? error.message : String(error)}).`;
  }
}

/** A push server's expected runs: after a heartbeat at `after`, the next run, epoch ms (null: never again). */
export type ExpectedRuns = (after: number) => number | null;

/**
 * The runs a push server is expected at: every `check_interval` after the last
 * heartbeat, or its cron `schedule` in `timezone` (UTC by default). Made once per
 * server setting, not per heartbeat.
 */
export function expectedRuns(server: Pick<Server, 'check_interval' | 'schedule' | 'timezone'>): ExpectedRuns {
  if (!server.schedule) {
    const interval = server.check_interval * 1000;
    return (after) => after + interval;
  }
  const cron = new Cron(server.schedule, { paused: true, timezone: server.timezone ?? 'UTC' });
  return (after) => cron.nextRun(new Date(after))?.getTime() ?? null;
}
