import type { LifelineLogger } from '../logging/logger.js';
import type { MonitorStore } from './store/index.js';
import { oldestResultAt } from './store/history.js';
import { DAY } from './uptime.js';

const HOUR = 3_600_000;
/** An hour is rolled up this long after it ends, when its last checks are stored. */
const GRACE = 2 * 60_000;
const WATERMARK = 'rollup_watermark';

export interface MaintenanceOptions {
  /** Raw results are kept this many days. Default 7. */
  retentionDays: number;
  /** Hourly rollups are kept this many days. Default 90. */
  rollupRetentionDays: number;
  logger?: Pick<LifelineLogger, 'warn'> | undefined;
}

export interface MaintenanceReport {
  hoursRolledUp: number;
  resultsPruned: number;
  rollupsPruned: number;
  changesPruned: number;
}

/**
 * Background upkeep: hourly rollups (count, failures, average and p95 response
 * time) of each finished hour, then pruning in small batches. Idempotent, so two
 * instances doing it at once only repeat work.
 */
export async function maintain(store: MonitorStore, options: MaintenanceOptions, now: number = Date.now()): Promise<MaintenanceReport> {
  const report: MaintenanceReport = { hoursRolledUp: 0, resultsPruned: 0, rollupsPruned: 0, changesPruned: 0 };
  let hour = Number(await store.settings.get(WATERMARK));
  if (!Number.isFinite(hour) || hour <= 0) {
    const t = Number(await oldestResultAt(store.db));
    hour = Math.floor((Number.isFinite(t) && t > 0 ? t : now) / HOUR) * HOUR;
  }
  // At most a day of hours per run, oldest first: a long outage catches up over a few runs.
  for (let i = 0; i < 24 && hour + HOUR + GRACE <= now; i++, hour += HOUR) {
    await store.history.rollUpHour(hour);
    await store.settings.set(WATERMARK, String(hour + HOUR));
    report.hoursRolledUp++;
  }
  report.resultsPruned = await store.history.prune('monitor_ping_results', now - options.retentionDays * DAY);
  report.rollupsPruned = await store.history.prune('monitor_rollups', now - options.rollupRetentionDays * DAY);
  report.changesPruned = await store.history.prune('monitor_status_changes', now - Math.max(31, options.rollupRetentionDays) * DAY);
  await store.history.prune('monitor_runs', now - Math.max(31, options.rollupRetentionDays) * DAY);
  return report;
}
