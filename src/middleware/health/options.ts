import type { Thresholds } from '../../health/registry.js';
import { appIdentity } from '../../system/app-identity.js';
import type { HealthCheck, HealthCheckFn } from '../../health/types.js';
import type { LifelineLogger } from '../../logging/logger.js';
import {
  checkInteger,
  checkLogger,
  checkOneOf,
  checkOptionsObject,
  checkString,
  optionError,
  readEnv,
  type DetailsMode,
} from '../../options.js';

export interface HealthOptions {
  /** Path prefix of the endpoints. Default `/api`; `''` serves them at the root. */
  prefix?: string;
  /** Named checks: an async function (throw = fail) or `{ check, critical, timeout }`. */
  checks?: Readonly<Record<string, HealthCheck | HealthCheckFn>>;
  /** Per-check timeout in ms. Default 2000. */
  timeout?: number;
  /**
   * A request finding a snapshot older than this (ms) starts one background refresh and is
   * answered from the snapshot at once. Default 5000.
   */
  maxAge?: number;
  /** How long the first requests wait for the first run of the checks before answering `pending` (503 on readiness), ms. Default 250. */
  initialWait?: number;
  /** Background refresh period in ms; 0 turns it off. Default `KEEP_ALIVE_INTERVAL` or 30000. */
  interval?: number;
  /** Who sees details. Default `always` outside production, `authorized` in production. */
  details?: DetailsMode;
  /** Bearer token that unlocks details when `details` is `authorized`. Default `HEALTH_TOKEN`. */
  token?: string;
  /** Resource thresholds (percent, ms) above which the app is degraded. */
  thresholds?: Partial<Thresholds>;
  /** Filesystem whose usage is reported. Default `/`. */
  diskPath?: string;
  /** How often system figures are sampled in the background, ms. Default 5000. */
  sampleInterval?: number;
  /** Where to log; `false` for nowhere. Default: the shared `backend.log` logger. */
  logger?: LifelineLogger | false;
  /**
   * Extra mount points at the root, beside the prefixed endpoints; all off by default
   * (`HEALTH_MOUNTS=health,kubernetes` turns them on from the environment).
   * `health`: `/health`, the same answer as `/api/health`. `kubernetes`: `/livez` and
   * `/readyz` in Kubernetes' plain-text format (`?verbose`, `?exclude=<check>`).
   */
  mounts?: Readonly<HealthMounts>;
  /** `service` in the health report. Default: `name` in the app's package.json. */
  service?: string;
  /** `version` in the detailed health report. Default: `version` in the app's package.json. */
  version?: string;
  /**
   * The form of the health report's `timestamp`: `epoch` (seconds, a float, the original
   * format) or `iso` (`2026-12-06T07:00:00.123Z`, what clients written for an ISO contract
   * read). Default `HEALTH_TIMESTAMP`, else `epoch`.
   */
  timestamp?: 'epoch' | 'iso';
}

export interface HealthMounts {
  /** `/health`: the detailed report, as `/api/health`. Default false. */
  health?: boolean;
  /** `/livez` and `/readyz` (and `/livez/<check>`, `/readyz/<check>`), plain text like Kubernetes. Default false. */
  kubernetes?: boolean;
}

/** HealthOptions checked, with every default filled in. */
export interface HealthSettings {
  prefix: string;
  checks: Map<string, HealthCheck>;
  timeout: number;
  maxAge: number;
  initialWait: number;
  interval: number;
  /** "Clients in the last interval": the period clients are asked to ping at, 30 s when the loop is off. */
  clientWindow: number;
  details: DetailsMode;
  token: string | undefined;
  thresholds: Thresholds;
  diskPath: string;
  sampleInterval: number;
  logger: LifelineLogger | false | undefined;
  mounts: Required<HealthMounts>;
  service: string | null;
  version: string | null;
  timestamp: 'epoch' | 'iso';
}

const KNOWN = [
  'prefix',
  'checks',
  'timeout',
  'maxAge',
  'initialWait',
  'interval',
  'details',
  'token',
  'thresholds',
  'diskPath',
  'sampleInterval',
  'logger',
  'mounts',
  'service',
  'version',
  'timestamp',
] as const;
const MOUNTS = ['health', 'kubernetes'] as const;
const DEFAULT_THRESHOLDS: Thresholds = { memory: 95, disk: 95, eventLoopDelay: 500 };

function normaliseChecks(checks: HealthOptions['checks']): Map<string, HealthCheck> {
  const out = new Map<string, HealthCheck>();
  if (checks === undefined) return out;
  if (checks === null || typeof checks !== 'object' || Array.isArray(checks)) {
    throw optionError('health', 'checks', 'an object of named checks', checks);
  }
  for (const [name, value] of Object.entries(checks)) {
    if (typeof value === 'function') {
      out.set(name, { check: value, critical: true });
    } else if (value && typeof value === 'object' && typeof value.check === 'function') {
      checkOptionsObject(`health: check \`${name}\``, value, ['check', 'critical', 'timeout', 'componentType']);
      if (value.critical !== undefined && typeof value.critical !== 'boolean')
        throw optionError('health', `checks.${name}.critical`, 'a boolean', value.critical);
      if (value.timeout !== undefined) checkInteger('health', `checks.${name}.timeout`, value.timeout, { min: 1, unit: 'ms' });
      out.set(name, value);
    } else {
      throw optionError('health', `checks.${name}`, 'an async function or { check, critical, timeout }', value);
    }
  }
  return out;
}

function checkPrefix(prefix: unknown): string {
  if (typeof prefix !== 'string' || (prefix !== '' && (!prefix.startsWith('/') || prefix.endsWith('/') || /[?#\s]/.test(prefix)))) {
    throw optionError('health', 'prefix', "a path like '/api' (leading slash, no trailing slash) or ''", prefix);
  }
  return prefix;
}

function checkMounts(mounts: unknown): Required<HealthMounts> {
  const out = { health: false, kubernetes: false };
  if (mounts === undefined) return { ...out, ...readEnv.healthMounts() };
  checkOptionsObject('health: mounts', mounts, MOUNTS);
  for (const name of MOUNTS) {
    const value = (mounts as HealthMounts)[name];
    if (value !== undefined && typeof value !== 'boolean') throw optionError('health', `mounts.${name}`, 'a boolean', value);
    out[name] = value === true;
  }
  return out;
}

function checkThresholds(thresholds: HealthOptions['thresholds']): Thresholds {
  if (thresholds !== undefined) checkOptionsObject('health: thresholds', thresholds, Object.keys(DEFAULT_THRESHOLDS));
  const out: Thresholds = { ...DEFAULT_THRESHOLDS };
  for (const key of Object.keys(DEFAULT_THRESHOLDS) as Array<keyof Thresholds>) {
    const value = thresholds?.[key];
    if (value !== undefined) out[key] = checkInteger('health', `thresholds.${key}`, value, { min: 0 });
  }
  return out;
}

/** Checks every option of health() (a TypeError naming the first bad one) and fills in the defaults. */
export function healthSettings(options: Readonly<HealthOptions>): HealthSettings {
  checkOptionsObject('health', options, KNOWN);
  const production = readEnv.production();
  const prefix = checkPrefix(options.prefix ?? '/api');
  const checks = normaliseChecks(options.checks);
  const timeout = checkInteger('health', 'timeout', options.timeout ?? 2000, { min: 1, unit: 'ms' });
  const maxAge = checkInteger('health', 'maxAge', options.maxAge ?? 5000, { min: 0, unit: 'ms' });
  const initialWait = checkInteger('health', 'initialWait', options.initialWait ?? 250, { min: 0, unit: 'ms' });
  const interval = checkInteger('health', 'interval', options.interval ?? readEnv.keepAliveInterval() ?? 30_000, {
    min: 0,
    unit: 'ms, 0 = off',
  });
  const details = checkOneOf('health', 'details', options.details ?? (production ? 'authorized' : 'always'), [
    'always',
    'never',
    'authorized',
  ]);
  const token = options.token === undefined ? readEnv.healthToken() : checkString('health', 'token', options.token);
  const diskPath = checkString('health', 'diskPath', options.diskPath ?? '/');
  const sampleInterval = checkInteger('health', 'sampleInterval', options.sampleInterval ?? 5000, { min: 100, unit: 'ms' });
  const thresholds = checkThresholds(options.thresholds);
  checkLogger('health', options.logger);
  const mounts = checkMounts(options.mounts);
  const identity = options.service === undefined || options.version === undefined ? appIdentity() : undefined;
  const service = options.service === undefined ? identity!.service : checkString('health', 'service', options.service);
  const version = options.version === undefined ? identity!.version : checkString('health', 'version', options.version);
  const timestamp = checkOneOf('health', 'timestamp', options.timestamp ?? readEnv.healthTimestamp() ?? 'epoch', ['epoch', 'iso']);
  return {
    prefix,
    checks,
    timeout,
    maxAge,
    initialWait,
    interval,
    clientWindow: interval > 0 ? interval : 30_000,
    details,
    token,
    thresholds,
    diskPath,
    sampleInterval,
    logger: options.logger,
    mounts,
    service,
    version,
    timestamp,
  };
}
