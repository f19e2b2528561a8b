import type { LifelineLogger } from '../logging/logger.js';
import type { MonitorEvents } from './events.js';

/**
 * One log line per state change of a server, on the instance that made the check
 * (`myapp: up -> down (connection refused)`): what an operator tails backend.log for.
 * Returns the function that stops it.
 */
export function logStateChanges(events: MonitorEvents, log: Pick<LifelineLogger, 'info' | 'warn'>): () => void {
  return events.on('status', ({ server, previous, status }) => {
    const why = status.status === 'up' ? '' : ` (${status.message})`;
    const line = `${server.name}: ${previous} -> ${status.status}${why}`;
    if (status.status === 'down') log.warn(line);
    else log.info(line);
  });
}
