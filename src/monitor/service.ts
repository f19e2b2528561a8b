import express, { type Router } from 'express';
import type { LifelineLogger } from '../logging/logger.js';
import { checkInteger, checkOptionsObject, optionError } from '../options.js';
import { apiRouter, type LoginThrottle } from './api/index.js';
import { Authenticator } from './auth/authenticate.js';
import { adminSeed, configuredSecret, resolveSecret, seedAdmin, type AdminSeed } from './auth/setup.js';
import { DEFAULT_LIFETIMES, Tokens, type TokenLifetimes } from './auth/tokens.js';
import { dashboardRouter } from './dashboard/index.js';
import { createLiveUpdates, statusStream, type Authenticate, type LiveUpdates } from './live/index.js';
import { createMonitor, MONITOR_OPTION_KEYS, type Monitor, type MonitorOptions } from './monitor.js';
import { summaryCache } from './pages/cache.js';
import { publicPageRoutes } from './pages/public.js';
import { PageStreams } from './pages/stream.js';

/** Options of `monitor()` and `createMonitorApp()`: the monitor's own, plus the web parts. */
export interface MonitorWebOptions extends MonitorOptions {
  /** JWT signing secret (at least 32 characters). Default `MONITOR_SECRET`; required in production, else generated once and kept in the database. */
  secret?: string;
  /** The first admin, created when no user exists. Default `MONITOR_ADMIN_USER` / `MONITOR_ADMIN_PASSWORD`. */
  admin?: AdminSeed;
  /** Failed logins allowed per IP and username (and per IP) before 429; `false` for no limit. Default 5 (50) per 15 minutes. */
  loginThrottle?: LoginThrottle | false;
  /** Token lifetimes in seconds. Default access 300, refresh 86400. */
  tokenLifetimes?: Partial<TokenLifetimes>;
  /** Serve the dashboard at `/monitor/`. Default true. */
  dashboard?: boolean;
  /**
   * ms a removed or deactivated user keeps access at most: the API caches users this
   * long, and open SSE streams and WebSockets re-check theirs this often. Default 5000.
   */
  userCheckInterval?: number;
}

const WEB_KEYS = ['secret', 'admin', 'loginThrottle', 'tokenLifetimes', 'dashboard', 'userCheckInterval'] as const;

export interface MonitorService {
  monitor: Monitor;
  /** `/api/...` (the SSE stream `/api/events/status/` included) and `/monitor/`. */
  router: Router;
  /** Live updates: the SSE stream's source, and what `attachMonitorSockets()` needs. */
  live: LiveUpdates;
  /** Resolves an access token to its user (for the WebSocket). */
  authenticate: Authenticate;
  /** Closes the live updates, then the monitor. */
  close(): Promise<void>;
}

function lifetimes(component: string, given: Partial<TokenLifetimes> | undefined): TokenLifetimes {
  if (given === undefined) return DEFAULT_LIFETIMES;
  checkOptionsObject(`${component}: tokenLifetimes`, given, ['access', 'refresh']);
  const out = { ...DEFAULT_LIFETIMES, ...given };
  for (const key of ['access', 'refresh'] as const) {
    if (!Number.isInteger(out[key]) || out[key] < 1)
      throw optionError(component, `tokenLifetimes.${key}`, 'a whole number of seconds >= 1', out[key]);
  }
  return out;
}

/** Checks the web options at call time (a typo throws before anything opens). */
export function checkWebOptions(component: string, options: Readonly<MonitorWebOptions>): void {
  checkOptionsObject(component, options, [...MONITOR_OPTION_KEYS, ...WEB_KEYS]);
  if (options.secret !== undefined && (typeof options.secret !== 'string' || options.secret.length < 32))
    throw optionError(component, 'secret', 'a string of at least 32 characters', options.secret === undefined ? undefined : '<hidden>');
  if (options.dashboard !== undefined && typeof options.dashboard !== 'boolean')
    throw optionError(component, 'dashboard', 'a boolean', options.dashboard);
  if (options.loginThrottle !== undefined && options.loginThrottle !== false) {
    checkOptionsObject(`${component}: loginThrottle`, options.loginThrottle, ['attempts', 'attemptsPerIp', 'windowMs']);
    for (const key of ['attempts', 'attemptsPerIp', 'windowMs'] as const) {
      const value = options.loginThrottle[key];
      if (value !== undefined && (!Number.isInteger(value) || value < 1))
        throw optionError(component, `loginThrottle.${key}`, 'an integer >= 1', value);
    }
  }
  if (options.admin !== undefined) checkOptionsObject(`${component}: admin`, options.admin, ['username', 'password']);
  if (options.userCheckInterval !== undefined)
    checkInteger(component, 'userCheckInterval', options.userCheckInterval, { min: 10, unit: 'ms' });
  lifetimes(component, options.tokenLifetimes);
}

/** Starts the monitor and builds its routes: secret, first admin, authentication, API, dashboard. */
export async function startMonitorService(
  component: string,
  options: Readonly<MonitorWebOptions>,
  logger: LifelineLogger,
): Promise<MonitorService> {
  checkWebOptions(component, options);
  const { secret, admin, loginThrottle, tokenLifetimes, dashboard, userCheckInterval = 5000, ...monitorOptions } = options;
  // Before the database is opened: a production start without a secret creates nothing.
  configuredSecret(secret);
  adminSeed(admin);
  const monitor = await createMonitor({ ...monitorOptions, logger: options.logger ?? logger });
  let live: LiveUpdates | undefined;
  try {
    const tokens = new Tokens(await resolveSecret(monitor.store, secret), lifetimes(component, tokenLifetimes));
    const created = await seedAdmin(monitor.store, admin);
    if (created) logger.info(`created the admin user "${created}"`);
    const auth = new Authenticator(monitor.store, tokens, userCheckInterval);
    // With the token's expiry: streams and sockets end then.
    const authenticate: Authenticate = async (token) => {
      const { user, exp } = await auth.verifyAccess(token);
      return { ...user, exp };
    };
    live = await createLiveUpdates({ monitor, logger, users: (ids) => monitor.store.users.activity(ids), userCheckInterval });
    const router = express.Router();
    // Before the API router: the stream answers for itself (auth by header or ?token=, 400 on a bad filter).
    router.get(['/api/events/status', '/api/events/status/'], statusStream({ live, authenticate }));
    // Status pages' public side (no login): the page, its summary and its stream.
    const cache = summaryCache(monitor.store);
    router.use(publicPageRoutes({ cache, streams: new PageStreams(live, cache, logger), logger }));
    router.use('/api', apiRouter({ monitor, auth, logger, loginThrottle: loginThrottle ?? {} }));
    // The dashboard router also redirects /monitor to /monitor/ (its relative links need the slash).
    if (dashboard !== false) router.use('/monitor', dashboardRouter());
    const started = live;
    return {
      monitor,
      router,
      live: started,
      authenticate,
      async close() {
        await started.close();
        await monitor.close();
      },
    };
  } catch (error) {
    await live?.close();
    await monitor.close();
    throw error;
  }
}
