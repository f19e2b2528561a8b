import { failureLog, type FailureLog } from '../logging/failure-log.js';
import type { LifelineLogger } from '../logging/logger.js';
import { isDatabaseUnavailable } from './store/unavailable.js';

/**
 * The monitor's one failure policy for background work (loops, claims, the outbox,
 * the live layer): the first error of each kind is a warning, then one recovery line
 * (`failureLog`). A database outage is counted but not logged here: the result writer
 * reports it, once, for the whole monitor.
 */
export function monitorFailures(what: string, logger: Pick<LifelineLogger, 'warn' | 'info'>): FailureLog {
  const log = failureLog(
    what,
    (line) => logger.warn(line),
    (line) => logger.info(line),
  );
  return {
    failed(error) {
      if (!isDatabaseUnavailable(error)) log.failed(error);
    },
    succeeded: () => log.succeeded(),
  };
}
