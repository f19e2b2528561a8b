import type { Server } from 'node:http';
import { attachMonitorSockets, type MonitorSockets } from './live/index.js';
import type { NextFunction, Request, Response } from 'express';
import { acquireLogger, componentLogger } from '../logging/logger.js';
import type { Monitor } from './monitor.js';
import { checkWebOptions, startMonitorService, type MonitorService, type MonitorWebOptions } from './service.js';

export type { MonitorWebOptions } from './service.js';

export interface MonitorMiddleware {
  (req: Request, res: Response, next: NextFunction): void;
  /** Resolves when the database is open and migrated and the checks run; rejects when startup failed. */
  readonly ready: Promise<Monitor>;
  /** Stops the checks and closes the database it opened (after startup, if still starting). */
  close(): Promise<void>;
  /** Serves the WebSocket `/ws/status/` on the app's http.Server, once the monitor is ready. */
  attachSockets(server: Server): Promise<MonitorSockets>;
}

const OWN_PATHS =
  /^\/(?:api\/(?:auth|events|servers|ping-results|server-status|notification-configs|checks|status-pages|incidents)(?:\/|$)|monitor(?:\/|$)|status\/)/;

/**
 * The monitor inside an existing Express app: its REST API under `/api/` and the
 * dashboard at `/monitor/`, checks running in the background. Other paths pass
 * through to the app. The database opens in the background; requests that come
 * before it is ready wait for it, and if startup fails they get 503 (and the reason is
 * logged, and `ready` rejects).
 *
 * @example
 * import { monitor } from 'express-lifeline/monitor';
 * const watch = monitor({ database: knex });   // or a URL, or 'monitor.db'
 * app.use(watch);
 * await watch.ready;
 * // on shutdown: await watch.close();
 */
export function monitor(options: Readonly<MonitorWebOptions> = {}): MonitorMiddleware {
  checkWebOptions('monitor', options);
  const handle = acquireLogger(options.logger);
  const log = componentLogger(handle.logger, 'monitor');
  let service: MonitorService | undefined;
  let failed = false;
  const ready = startMonitorService('monitor', options, log).then((started) => {
    service = started;
    return started.monitor;
  });
  ready.catch((error: unknown) => {
    failed = true;
    log.error(`could not start: ${error instanceof Error ? error.message : String(error)}`);
  });

  const middleware = function monitorMiddleware(req: Request, res: Response, next: NextFunction): void {
    if (service) {
      service.router(req, res, next);
      return;
    }
    if (!OWN_PATHS.test(req.path)) return next();
    if (failed) {
      res.status(503).set('Cache-Control', 'no-store').json({ detail: 'The monitor is not available.' });
      return;
    }
    ready.then(
      () => middleware(req, res, next),
      () => middleware(req, res, next),
    );
  } as MonitorMiddleware;

  let closed: Promise<void> | undefined;
  Object.defineProperty(middleware, 'ready', { value: ready });
  middleware.attachSockets = async (server) => {
    await ready;
    const { live, authenticate } = service as MonitorService;
    return attachMonitorSockets(server, { live, authenticate });
  };
  middleware.close = () => {
    closed ??= ready
      .then(
        () => service?.close(),
        () => undefined,
      )
      .finally(() => handle.release());
    return closed;
  };
  return middleware;
}
