import type { IncomingMessage, ServerResponse } from 'node:http';
import { activityOf, type Activity } from './activity.js';
import { knexCheck, type KnexLike } from './health/checks/database.js';
import { staticFilesCheck } from './health/checks/static-files.js';
import type { LifelineLogger } from './logging/logger.js';
import { corsSecurity, SAME_ORIGIN_HEADERS, type CorsSecurityOptions, type SameOriginHeaders } from './middleware/cors-security.js';
import { health, type HealthMiddleware, type HealthOptions } from './middleware/health.js';
import { keepAlive, type KeepAliveOptions } from './middleware/keep-alive.js';
import { metrics, TIME_WITH_KEEPALIVE, type MetricsMiddleware, type MetricsOptions } from './middleware/metrics/index.js';
import { fromStep, stepOf, type ClosableMiddleware, type NextFunction } from './middleware/types.js';
import { checkOptionsObject, optionError, readEnv } from './options.js';

export interface LifelineOptions {
  /** CORS and security headers: options, or `false` to leave them out. */
  cors?: boolean | CorsSecurityOptions;
  /** Counters, timing headers and the keep-alive loop: options, or `false`. */
  keepAlive?: boolean | KeepAliveOptions;
  /** Health endpoints and checks: options, or `false`. */
  health?: boolean | HealthOptions;
  /**
   * Prometheus metrics at `/metrics`: options, `true`, or `false`. Default `METRICS`, else off
   * (prom-client is then never loaded). Its checks are the health part's.
   */
  metrics?: boolean | MetricsOptions;
  /** A knex instance, checked as the critical `database` check. */
  database?: KnexLike;
  /** A static directory, checked as the non-critical `static_files` check. */
  staticDir?: string;
  /** Logger for every part (unless a part sets its own); `false` for none. Default: `backend.log`. */
  logger?: LifelineLogger | false;
}

export type LifelineMiddleware = ClosableMiddleware & {
  /** Request counters of an Express app served by this middleware. */
  activity(app: object): Readonly<Activity>;
  /** Runs every health check now and returns the status. */
  check(): Promise<'healthy' | 'degraded' | 'unhealthy'>;
  /** The health part, for servers that answer probes themselves; undefined with `health: false`. */
  readonly health: HealthMiddleware | undefined;
  /** The metrics part, for the cluster runner; undefined while metrics are off. */
  readonly metrics: MetricsMiddleware | undefined;
};

const KNOWN = ['cors', 'keepAlive', 'health', 'metrics', 'database', 'staticDir', 'logger'] as const;

function part<T extends object>(name: string, value: boolean | T | undefined): T | undefined {
  if (value === false) return undefined;
  if (value === undefined || value === true) return {} as T;
  if (typeof value !== 'object' || value === null) throw optionError('lifeline', name, 'true, false or an options object', value);
  return value;
}

/**
 * corsSecurity() + keepAlive() + health() in one middleware with one options object
 * and one `close()`.
 *
 * @example
 * const life = lifeline({ database: db, staticDir: 'public' });
 * app.use(life);
 * // on shutdown: await life.close();
 */
export function lifeline(options: Readonly<LifelineOptions> = {}): LifelineMiddleware {
  checkOptionsObject('lifeline', options, KNOWN);
  const corsOptions = part<CorsSecurityOptions>('cors', options.cors);
  const keepAliveOptions = part<KeepAliveOptions>('keepAlive', options.keepAlive);
  const healthOptions = part<HealthOptions>('health', options.health);
  const metricsOptions = part<MetricsOptions>('metrics', options.metrics ?? readEnv.metrics() ?? false);
  const withLogger = <T extends { logger?: LifelineLogger | false }>(o: T): T =>
    options.logger === undefined || o.logger !== undefined ? o : { ...o, logger: options.logger };

  let healthPart: HealthMiddleware | undefined;
  if (healthOptions) {
    const checks = { ...healthOptions.checks };
    if (options.database !== undefined) checks.database = knexCheck(options.database);
    if (options.staticDir !== undefined) checks.static_files = staticFilesCheck(options.staticDir);
    healthPart = health(withLogger({ ...healthOptions, checks }));
  } else if (options.database !== undefined || options.staticDir !== undefined) {
    throw new TypeError('lifeline: `database` and `staticDir` are health checks; they need `health` enabled');
  }
  const keepAlivePart = keepAliveOptions ? keepAlive(withLogger(keepAliveOptions)) : undefined;
  const corsPart = corsOptions ? corsSecurity(withLogger(corsOptions)) : undefined;
  const metricsPart = metricsOptions
    ? metrics(withLogger(healthPart && metricsOptions.health === undefined ? { ...metricsOptions, health: healthPart } : metricsOptions))
    : undefined;

  if (metricsPart && keepAlivePart) metricsPart[TIME_WITH_KEEPALIVE]?.(keepAlivePart);
  // keepAlive first, so preflights and health answers are counted and timed too. Metrics
  // last: its histogram is the app's routes, not lifeline's own answers.
  const steps = [keepAlivePart, corsPart, healthPart, metricsPart].filter((m) => m !== undefined).map(stepOf);
  function lifelineStep(req: IncomingMessage, res: ServerResponse, next: NextFunction): boolean {
    for (const step of steps) if (step(req, res, next)) return true;
    return false;
  }
  const middleware = fromStep<LifelineMiddleware>('lifelineMiddleware', lifelineStep);
  middleware.activity = (app: object) => activityOf(app);
  middleware.check = async () => (healthPart ? healthPart.check() : 'healthy');
  Object.defineProperty(middleware, 'health', { value: healthPart, enumerable: true });
  Object.defineProperty(middleware, 'metrics', { value: metricsPart, enumerable: true });
  if (corsPart) Object.defineProperty(middleware, SAME_ORIGIN_HEADERS, { value: (corsPart as SameOriginHeaders)[SAME_ORIGIN_HEADERS] });
  middleware.close = async () => {
    await Promise.all([keepAlivePart?.close(), corsPart?.close(), healthPart?.close(), metricsPart?.close()]);
  };
  return middleware;
}
