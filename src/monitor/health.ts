import type { HealthCheck } from '../health/types.js';
import type { Monitor } from './monitor.js';

/** Overloaded within this long (ms): the health check warns. */
const RECENT_MS = 60_000;

/**
 * The monitor's own health beside the database's in `/api/health`: non-critical, it
 * warns (the app is degraded, not down) while the monitor cannot keep up with its
 * checks, and shows the figures that say how close it is.
 */
export function monitorHealthCheck(monitor: Pick<Monitor, 'stats'>): HealthCheck {
  return {
    critical: false,
    componentType: 'component',
    check() {
      const stats = monitor.stats();
      const { overload } = stats;
      const details = {
        servers: stats.servers,
        checks_running: stats.running,
        concurrency: stats.concurrency,
        overloaded_checks: overload.overloaded,
        event_loop_delay_p99_ms: overload.eventLoopDelayP99,
      };
      if (overload.lastAt !== null && Date.now() - overload.lastAt < RECENT_MS) {
        return {
          status: 'warn',
          message: `monitor overloaded: ${overload.lateStarts} checks started too late and ${overload.loopWaits} waited on its event loop (not counted as outages)`,
          details,
        };
      }
      return { details };
    },
  };
}
