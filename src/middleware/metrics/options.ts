import type { LifelineLogger } from '../../logging/logger.js';
import type { HealthMiddleware } from '../health.js';
import { checkBoolean, checkInteger, checkLogger, checkOptionsObject, checkString, optionError, readEnv } from '../../options.js';

export interface MetricsOptions {
  /** Path of the endpoint. Default `METRICS_PATH` or `/metrics`. */
  path?: string;
  /**
   * Anyone may scrape (true), or only callers sending `Authorization: Bearer <token>` (false).
   * Default true outside production, false in production, as the health details.
   */
  public?: boolean;
  /** Bearer token that unlocks the endpoint when it is not public. Default `METRICS_TOKEN`, else `HEALTH_TOKEN`. */
  token?: string;
  /** The health() whose checks are exported as `lifeline_check_up` and `lifeline_check_duration_seconds`. lifeline() passes its own. */
  health?: HealthMiddleware;
  /** Under `lifeline serve`: ms the primary waits for each worker's figures before answering without them. Default 1000. */
  scrapeTimeout?: number;
  /** Where to log; `false` for nowhere. Default: the shared `backend.log` logger. */
  logger?: LifelineLogger | false;
}

/** MetricsOptions checked, with every default filled in. */
export interface MetricsSettings {
  path: string;
  public: boolean;
  token: string | undefined;
  health: HealthMiddleware | undefined;
  scrapeTimeout: number;
  logger: LifelineLogger | false | undefined;
}

const KNOWN = ['path', 'public', 'token', 'health', 'scrapeTimeout', 'logger'] as const;

function checkPath(path: unknown): string {
  if (typeof path !== 'string' || !path.startsWith('/') || path.length < 2 || path.endsWith('/') || /[?#\s]/.test(path)) {
    throw optionError('metrics', 'path', "a path like '/metrics' (leading slash, no trailing slash)", path);
  }
  return path;
}

function checkHealth(value: unknown): HealthMiddleware | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function' || typeof (value as Partial<HealthMiddleware>).readiness !== 'function')
    throw optionError('metrics', 'health', 'a middleware made by health()', value);
  return value as HealthMiddleware;
}

/** Checks every option of metrics() (a TypeError naming the first bad one) and fills in the defaults. */
export function metricsSettings(options: Readonly<MetricsOptions>): MetricsSettings {
  checkOptionsObject('metrics', options, KNOWN);
  return {
    path: checkPath(options.path ?? readEnv.metricsPath() ?? '/metrics'),
    public: options.public === undefined ? !readEnv.production() : checkBoolean('metrics', 'public', options.public),
    token: options.token === undefined ? (readEnv.metricsToken() ?? readEnv.healthToken()) : checkString('metrics', 'token', options.token),
    health: checkHealth(options.health),
    scrapeTimeout: checkInteger('metrics', 'scrapeTimeout', options.scrapeTimeout ?? 1000, { min: 1, max: 60_000, unit: 'ms' }),
    logger: checkLogger('metrics', options.logger),
  };
}
