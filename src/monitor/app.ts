import express, { type Express } from 'express';
import { lifeline } from '../lifeline.js';
import { acquireLogger, componentLogger, type LifelineLogger } from '../logging/logger.js';
import { errorHandler, notFound } from '../middleware/error-handler.js';
import { monitorHealthCheck } from './health.js';
import type { Monitor } from './monitor.js';
import type { Server } from 'node:http';
import { attachMonitorSockets, type MonitorSockets } from './live/index.js';
import { startMonitorService, type MonitorWebOptions } from './service.js';

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
  const app = express();
  app.disable('x-powered-by');
  const life = lifeline({
    database: monitor.store.db,
    health: { checks: { monitor: monitorHealthCheck(monitor) } },
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
        await service.close();
        await life.close();
        await errors.close();
        await handle.release();
      })();
      return closed;
    },
  };
}
