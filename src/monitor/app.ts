import express, { type Express } from 'express';
import { knexCheck } from '../health/checks/database.js';
import type { HealthCheck } from '../health/types.js';
import { lifeline } from '../lifeline.js';
import { acquireLogger, componentLogger, type LifelineLogger } from '../logging/logger.js';
import { errorHandler, notFound } from '../middleware/error-handler.js';
import { monitorHealthCheck } from './health.js';
import type { Monitor } from './monitor.js';
import type { Server } from 'node:http';
import { attachMonitorSockets, type MonitorSockets } from './live/index.js';
import { startMonitorService, type MonitorWebOptions } from './service.js';
import { logStateChanges } from './state-log.js';

/**
 * Readiness follows the database within 2 s: the checks refresh every second, a probe
 * gives up after 1 s, and a snapshot older than 1 s is refreshed.
 */
export const MONITOR_HEALTH = { interval: 1000, maxAge: 1000, timeout: 1000 } as const;

/**
 * The database as the critical check: it answers `select 1`, and it takes the check
 * results (a read-only or full database still answers `select 1`).
 */
function databaseCheck(monitor: Monitor): HealthCheck {
  const reachable = knexCheck(monitor.store.db, { timeout: MONITOR_HEALTH.timeout });
  return {
    ...reachable,
    async check(signal) {
      await reachable.check(signal);
      const failing = monitor.stats().results.error;
      if (failing !== null) throw new Error(`check results cannot be stored: ${failing}`);
    },
  };
}

export interface MonitorApp {
  app: Express;
  monitor: Monitor;
  /** Serves the WebSocket `/ws/status/` on the server that runs `app` (call once it exists). */
  attachSockets(server: Server): MonitorSockets;
  /** Stops the checks, closes the database and the app's timers and log file. */
  close(): Promise<void>;
}

/**
 * The monitor as a whole app (what `lifeline monitor serve` runs): `lifeline()` (CORS,
 * security headers, keep-alive, `/api/health` with the database as a critical check),
 * the REST API, the dashboard at `/monitor/` (`/` redirects there) and `errorHandler()`.
 *
 * @example
 * import { serve } from 'express-lifeline';
 * import { createMonitorApp } from 'express-lifeline/monitor';
 * const { app, close } = await createMonitorApp({ database: 'monitor.db' });
 * await serve(app, { port: 8000, onShutdown: close });
 */
export async function createMonitorApp(options: Readonly<MonitorWebOptions> = {}): Promise<MonitorApp> {
  const handle = acquireLogger(options.logger);
  const log: LifelineLogger = componentLogger(handle.logger, 'monitor');
  let service;
  try {
    service = await startMonitorService('createMonitorApp', options, log);
  } catch (error) {
    await handle.release();
    throw error;
  }
  const { monitor, router, live, authenticate } = service;
  const stopStateLog = logStateChanges(monitor.events, log);
  const app = express();
  app.disable('x-powered-by');
  const life = lifeline({
    health: { ...MONITOR_HEALTH, checks: { database: databaseCheck(monitor), monitor: monitorHealthCheck(monitor) } },
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  app.use(life);
  app.get('/', (_req, res) => res.redirect(302, '/monitor/'));
  app.use(router);
  app.use(notFound());
  const errors = errorHandler(options.logger === undefined ? {} : { logger: options.logger });
  app.use(errors);

  let closed: Promise<void> | undefined;
  return {
    app,
    monitor,
    attachSockets: (server) => attachMonitorSockets(server, { live, authenticate }),
    close() {
      closed ??= (async () => {
        stopStateLog();
        await service.close();
        await life.close();
        await errors.close();
        await handle.release();
      })();
      return closed;
    },
  };
}
