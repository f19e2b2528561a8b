import express, { type Router } from 'express';
import type { LifelineLogger } from '../../logging/logger.js';
import type { Authenticator } from '../auth/authenticate.js';
import type { Monitor } from '../monitor.js';
import { authRoutes, type LoginThrottle } from './auth-routes.js';
import { checkRoutes } from './checks.js';
import { authenticate } from './guards.js';
import { apiErrors, send } from './http.js';
import { historyRoutes } from './history.js';
import { maintenanceRoutes } from './maintenance.js';
import { incidentRoutes } from './incidents.js';
import { notificationRoutes } from './notifications.js';
import { pingResultRoutes, serverStatusRoutes } from './results.js';
import { serverRoutes } from './servers.js';
import { statusPageRoutes } from './status-pages.js';
import { passwordRoutes, userRoutes } from './users.js';
import { pushRoutes } from '../push/routes.js';

export type { LoginThrottle } from './auth-routes.js';

export interface ApiRouterOptions {
  monitor: Monitor;
  auth: Authenticator;
  logger: LifelineLogger;
  loginThrottle?: LoginThrottle | false;
}

const PREFIXES = [
  '/auth',
  '/push',
  '/servers',
  '/ping-results',
  '/server-status',
  '/notification-configs',
  '/checks',
  '/maintenance',
  '/status-pages',
  '/incidents',
  '/users',
];

/**
 * The REST API, to mount at `/api`: PulseGuard's routes and Django REST framework's
 * shapes. Paths it does not know pass on to the app (its own `/api/...` routes and the
 * health endpoints), except below its own prefixes, which answer 404.
 */
export function apiRouter(options: ApiRouterOptions): Router {
  const { monitor, auth, logger } = options;
  const { store } = monitor;
  const guard = authenticate(auth);
  const router = express.Router();
  router.use('/auth/password', passwordRoutes(store, guard));
  // First: heartbeats are the API's most frequent requests by far.
  router.use('/push', pushRoutes(monitor));
  router.use('/auth', authRoutes(auth, options.loginThrottle ?? {}));
  router.use('/servers', historyRoutes(store, guard));
  router.use('/servers', serverRoutes(store, guard));
  router.use('/maintenance', maintenanceRoutes(store, guard));
  router.use('/ping-results', pingResultRoutes(store, guard));
  router.use('/server-status', serverStatusRoutes(store, guard));
  router.use('/notification-configs', notificationRoutes(store, guard));
  router.use('/checks', checkRoutes(monitor, guard, logger));
  router.use('/status-pages', statusPageRoutes(store, guard));
  router.use('/incidents', incidentRoutes(store, guard));
  router.use('/users', userRoutes(store, auth, guard));
  router.use(function monitorApiNotFound(req, res, next) {
    if (PREFIXES.some((p) => req.path === p || req.path.startsWith(`${p}/`))) return send(res, 404, { detail: 'Not found.' });
    next();
  });
  router.use(apiErrors(logger));
  return router;
}
