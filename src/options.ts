import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isIP } from 'node:net';
import os from 'node:os';
import { inspect } from 'node:util';
import { ConfigError } from './errors.js';
import { checkDatabaseUrl } from './database-url.js';
import type { LifelineLogger } from './logging/logger.js';

export type DetailsMode = 'always' | 'never' | 'authorized';
export type LogFormat = 'text' | 'json';
export const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

type Env = Readonly<Record<string, string | undefined>>;

function show(value: unknown): string {
  return inspect(value, { depth: 0, breakLength: Infinity, maxStringLength: 60 });
}

/** Builds the one-line TypeError every factory throws for a bad option. */
export function optionError(component: string, name: string, expected: string, got: unknown): TypeError {
  return new TypeError(`${component}: expected \`${name}\` to be ${expected}, got ${show(got)}`);
}

/**
 * Rejects options a factory does not know, suggesting the intended spelling
 * (`maxage` → `maxAge`), and catches `app.use(keepAlive)` without the call.
 */
export function checkOptionsObject(component: string, options: unknown, known: readonly string[]): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${component}: expected options to be an object, got ${show(options)}`);
  }
  if ('socket' in options && 'headers' in options && 'method' in options) {
    throw new TypeError(`${component}() was called with a request: write app.use(${component}()), not app.use(${component})`);
  }
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const near = known.find((k) => k.toLowerCase() === key.toLowerCase());
    throw new TypeError(
      `${component}: unknown option \`${key}\`` + (near ? `; did you mean \`${near}\`?` : `; known options: ${known.join(', ')}`),
    );
  }
}

export function checkInteger(
  component: string,
  name: string,
  value: unknown,
  { min = 0, max = Number.MAX_SAFE_INTEGER, unit = '' } = {},
): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `${min}-${max}`;
    throw optionError(component, name, `an integer ${range}${unit ? ` (${unit})` : ''}`, value);
  }
  return value;
}

export function checkBoolean(component: string, name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw optionError(component, name, 'a boolean', value);
  return value;
}

export function checkString(component: string, name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw optionError(component, name, 'a non-empty string', value);
  return value;
}

export function checkOneOf<T extends string>(component: string, name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw optionError(component, name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
  }
  return value as T;
}

const LOGGER_METHODS = ['error', 'warn', 'info', 'debug'] as const;

/** The `logger` option of every factory: a logger with error/warn/info/debug methods, `false` or unset. */
export function checkLogger(component: string, value: unknown): LifelineLogger | false | undefined {
  if (value === undefined || value === false) return value;
  if (
    typeof value !== 'object' ||
    value === null ||
    LOGGER_METHODS.some((m) => typeof (value as Record<string, unknown>)[m] !== 'function')
  )
    throw optionError(component, 'logger', 'a logger with error/warn/info/debug methods, or false', value);
  return value as LifelineLogger;
}

/** An existing directory; returns it. Checked once at setup (a sync stat), never per request. */
export function checkDirectory(component: string, name: string, value: unknown): string {
  let isDirectory = false;
  try {
    isDirectory = typeof value === 'string' && value !== '' && statSync(value).isDirectory();
  } catch {
    // missing or unreadable: reported below
  }
  if (!isDirectory) throw optionError(component, name, 'an existing directory', value);
  return value as string;
}

/** An object of string values, as an environment is. */
export function checkStringRecord(component: string, name: string, value: unknown): Readonly<Record<string, string>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw optionError(component, name, 'an object of strings', value);
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') throw optionError(component, `${name}.${key}`, 'a string', item);
  }
  return value as Readonly<Record<string, string>>;
}

/** `false`, or signal names Node knows (`SIGTERM`); returns the list, empty for `false`. */
export function checkSignals(component: string, name: string, value: unknown): NodeJS.Signals[] {
  if (value === false) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v in os.constants.signals))
    throw optionError(component, name, "false or an array of signal names like 'SIGTERM'", value);
  return [...new Set(value as NodeJS.Signals[])];
}

/** An absolute http(s) URL; returns it normalised. */
export function checkHttpUrl(component: string, name: string, value: unknown): string {
  if (typeof value === 'string') {
    try {
      const url = new URL(value);
      if (url.protocol === 'http:' || url.protocol === 'https:') return url.href;
    } catch {
      // fall through to the error below
    }
  }
  throw optionError(component, name, 'an absolute http(s) URL', value);
}

// A label of RFC 1123: letters, digits and inner hyphens, 1-63 characters.
const HOST_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

/** An IP literal (v4 or v6, no brackets) or a hostname per RFC 1123, as `server.listen()` takes it. */
export function isValidHost(value: string): boolean {
  if (isIP(value) !== 0) return true;
  const name = value.endsWith('.') ? value.slice(0, -1) : value;
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split('.');
  // An all-numeric last label is a mistyped IPv4 address (256.1.1.1), not a name.
  if (/^\d+$/.test(labels[labels.length - 1] as string)) return false;
  return labels.every((label) => HOST_LABEL.test(label));
}

const HOST_EXPECTED = "an IP address (127.0.0.1, ::1, 0.0.0.0) or a hostname like 'localhost'";

export function checkHost(component: string, name: string, value: unknown): string {
  if (typeof value !== 'string' || !isValidHost(value)) throw optionError(component, name, HOST_EXPECTED, value);
  return value;
}

/** Workers allowed without forcing: beyond a few per CPU they only compete for the same cores and memory. */
export const WORKERS_PER_CPU = 4;
/** The bound even a forced count stays under. */
export const WORKERS_HARD_MAX = 1024;

export function maxWorkers(forced: boolean): number {
  return forced ? WORKERS_HARD_MAX : Math.min(WORKERS_HARD_MAX, WORKERS_PER_CPU * os.availableParallelism());
}

export function workersExpected(forced: boolean): string {
  if (forced) return `a number of workers 1-${WORKERS_HARD_MAX}`;
  const cpus = os.availableParallelism();
  return `a number of workers 1-${maxWorkers(false)} (${WORKERS_PER_CPU} per CPU, ${cpus} CPU${cpus === 1 ? '' : 's'}; WORKERS_FORCE=1 or --force-workers allows up to ${WORKERS_HARD_MAX})`;
}

/**
 * The one place that decides "production": every NODE_ENV other than `development` and
 * `test` (so `staging`, `prod`, `PRODUCTION` …), because guessing development for a
 * mistyped value would hand stack traces and health details to anonymous callers.
 * Unset stays development.
 */
export function isProduction(nodeEnv: string | undefined): boolean {
  return nodeEnv !== undefined && nodeEnv !== 'development' && nodeEnv !== 'test';
}

/**
 * Parses a browser origin (`https://app.example.com`) as the Origin header carries it:
 * scheme, host and port only, no path, no trailing slash.
 */
export function parseOrigin(value: string): string | undefined {
  if (value === '*') return value;
  try {
    const url = new URL(value);
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password) return undefined;
    if (url.pathname !== '/' || url.search || url.hash) return undefined;
    return url.origin;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// Environment variables. Each reader validates one variable, so a factory only
// fails on the variables it uses; loadConfig() validates them all at startup.

function envValue(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined) return undefined;
  const trimmed = raw.trim();
  return trimmed === '' ? undefined : trimmed;
}

function envError(name: string, expected: string, raw: string): ConfigError {
  return new ConfigError(name, `Invalid ${name}: expected ${expected}, got ${show(raw)}`);
}

function envInteger(env: Env, name: string, min: number, max: number, expected: string): number | undefined {
  const raw = envValue(env, name);
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) throw envError(name, expected, raw);
  const n = Number(raw);
  if (n < min || n > max) throw envError(name, expected, raw);
  return n;
}

const LOG_FILE_MODES: Readonly<Record<string, number>> = { '0600': 0o600, '600': 0o600, '0640': 0o640, '640': 0o640 };

export const readEnv = {
  production: (env: Env = process.env): boolean => isProduction(envValue(env, 'NODE_ENV')),
  nodeEnv: (env: Env = process.env): string => envValue(env, 'NODE_ENV') ?? 'development',
  /** The startup warning for a NODE_ENV other than development, test and production, else undefined. */
  nodeEnvWarning: (env: Env = process.env): string | undefined => {
    const raw = envValue(env, 'NODE_ENV');
    if (raw === undefined || raw === 'development' || raw === 'test' || raw === 'production') return undefined;
    return `NODE_ENV=${show(raw)} is not development, test or production: treated as production (no error details or stack traces, HSTS on)`;
  },
  port: (env: Env = process.env): number | undefined => envInteger(env, 'PORT', 0, 65535, 'a port number 0-65535'),
  host: (env: Env = process.env): string | undefined => {
    const raw = envValue(env, 'HOST');
    if (raw !== undefined && !isValidHost(raw)) throw envError('HOST', HOST_EXPECTED, raw);
    return raw;
  },
  keepAliveInterval: (env: Env = process.env): number | undefined =>
    envInteger(env, 'KEEP_ALIVE_INTERVAL', 0, 2_147_483_647, 'a whole number of milliseconds (0 turns the loop off)'),
  workersForced: (env: Env = process.env): boolean => {
    const raw = envValue(env, 'WORKERS_FORCE')?.toLowerCase();
    if (raw === undefined || raw === '0' || raw === 'false') return false;
    if (raw === '1' || raw === 'true') return true;
    throw envError('WORKERS_FORCE', "'1' or '0'", raw);
  },
  workers: (env: Env = process.env): number | 'auto' | undefined => {
    if (envValue(env, 'WORKERS') === 'auto') return 'auto';
    const forced = readEnv.workersForced(env);
    return envInteger(env, 'WORKERS', 1, maxWorkers(forced), `${workersExpected(forced)} or 'auto'`);
  },
  frontendUrls: (env: Env = process.env): string[] | undefined => {
    const raw = envValue(env, 'FRONTEND_URL');
    if (raw === undefined) return undefined;
    const origins = raw.split(',').map((part) => {
      const origin = parseOrigin(part.trim());
      if (origin === undefined) {
        throw envError('FRONTEND_URL', 'comma-separated origins like http://localhost:3000 (scheme, host, port; no path)', raw);
      }
      return origin;
    });
    if (origins.length > 1 && origins.includes('*')) throw envError('FRONTEND_URL', "either '*' alone or a list of origins", raw);
    return origins;
  },
  logLevel: (env: Env = process.env): LogLevel | undefined => {
    const raw = envValue(env, 'LOG_LEVEL')?.toLowerCase();
    if (raw === undefined) return undefined;
    if (!(LOG_LEVELS as readonly string[]).includes(raw)) throw envError('LOG_LEVEL', `one of ${LOG_LEVELS.join(', ')}`, raw);
    return raw as LogLevel;
  },
  logFormat: (env: Env = process.env): LogFormat | undefined => {
    const raw = envValue(env, 'LOG_FORMAT')?.toLowerCase();
    if (raw === undefined) return undefined;
    if (raw !== 'text' && raw !== 'json') throw envError('LOG_FORMAT', "'text' or 'json'", raw);
    return raw;
  },
  maxConnections: (env: Env = process.env): number | undefined =>
    envInteger(env, 'MAX_CONNECTIONS', 1, 2_147_483_647, 'a whole number of connections >= 1'),
  headersTimeout: (env: Env = process.env): number | undefined =>
    envInteger(env, 'HEADERS_TIMEOUT', 1, 2_147_483_647, 'a whole number of milliseconds >= 1'),
  requestTimeout: (env: Env = process.env): number | undefined =>
    envInteger(env, 'REQUEST_TIMEOUT', 0, 2_147_483_647, 'a whole number of milliseconds (0 turns it off)'),
  keepAliveTimeout: (env: Env = process.env): number | undefined =>
    envInteger(env, 'KEEP_ALIVE_TIMEOUT', 1, 2_147_483_647, 'a whole number of milliseconds >= 1'),
  logFile: (env: Env = process.env): string | undefined => envValue(env, 'LOG_FILE'),
  logMaxSize: (env: Env = process.env): number | undefined =>
    envInteger(env, 'LOG_MAX_SIZE', 1024, Number.MAX_SAFE_INTEGER, 'a size in bytes, at least 1024'),
  accessLog: (env: Env = process.env): boolean | undefined => {
    const raw = envValue(env, 'ACCESS_LOG')?.toLowerCase();
    if (raw === undefined) return undefined;
    if (raw === 'true' || raw === '1' || raw === 'on') return true;
    if (raw === 'false' || raw === '0' || raw === 'off') return false;
    throw envError('ACCESS_LOG', "'true' or 'false' (also 1/0, on/off)", raw);
  },
  /** `LOG_FILE_MODE`: 0600 or 0640 (never readable by others: the log can hold what the app prints). */
  logFileMode: (env: Env = process.env): number | undefined => {
    const raw = envValue(env, 'LOG_FILE_MODE');
    if (raw === undefined) return undefined;
    const mode = LOG_FILE_MODES[raw];
    if (mode === undefined) throw new ConfigError('LOG_FILE_MODE', `LOG_FILE_MODE: expected 0600 or 0640, got \`${raw}\``);
    return mode;
  },
  /** `HEALTH_MOUNTS`: a comma-separated list of health, kubernetes. */
  healthMounts: (env: Env = process.env): { health?: true; kubernetes?: true } => {
    const raw = envValue(env, 'HEALTH_MOUNTS');
    const out: { health?: true; kubernetes?: true } = {};
    if (raw === undefined) return out;
    for (const part of raw.split(',')) {
      const name = part.trim();
      if (name !== 'health' && name !== 'kubernetes')
        throw new ConfigError(
          'HEALTH_MOUNTS',
          `Invalid HEALTH_MOUNTS: expected a comma-separated list of health, kubernetes, got '${raw}'`,
        );
      out[name] = true;
    }
    return out;
  },
  healthToken: (env: Env = process.env): string | undefined => envValue(env, 'HEALTH_TOKEN'),
  healthTimestamp: (env: Env = process.env): 'epoch' | 'iso' | undefined => {
    const raw = envValue(env, 'HEALTH_TIMESTAMP');
    if (raw === undefined || raw === 'epoch' || raw === 'iso') return raw;
    throw new ConfigError('HEALTH_TIMESTAMP', `Invalid HEALTH_TIMESTAMP: expected epoch or iso, got '${raw}'`);
  },
  /** `DATABASE_URL`, refused when its password holds an unencoded `@` or `/`. */
  databaseUrl: (env: Env = process.env): string | undefined => {
    const raw = envValue(env, 'DATABASE_URL');
    return raw === undefined ? undefined : checkDatabaseUrl(raw);
  },
  /** `METRICS`: turns lifeline()'s /metrics on (1, true, on) or off (0, false, off) when its options do not say. */
  metrics: (env: Env = process.env): boolean | undefined => {
    const raw = envValue(env, 'METRICS')?.toLowerCase();
    if (raw === undefined) return undefined;
    if (raw === 'true' || raw === '1' || raw === 'on') return true;
    if (raw === 'false' || raw === '0' || raw === 'off') return false;
    throw envError('METRICS', "'1' or '0' (also true/false, on/off)", raw);
  },
  metricsPath: (env: Env = process.env): string | undefined => {
    const raw = envValue(env, 'METRICS_PATH');
    if (raw !== undefined && (!raw.startsWith('/') || raw.length < 2 || raw.endsWith('/') || /[?#\s]/.test(raw)))
      throw envError('METRICS_PATH', "a path like '/metrics' (leading slash, no trailing slash)", raw);
    return raw;
  },
  metricsToken: (env: Env = process.env): string | undefined => envValue(env, 'METRICS_TOKEN'),
};

/** Every environment variable the design names, validated and with defaults applied. */
export interface LifelineConfig {
  port: number;
  host: string;
  nodeEnv: string;
  production: boolean;
  frontendUrls: string[] | undefined;
  databaseUrl: string | undefined;
  logFile: string;
  logLevel: LogLevel;
  logFormat: LogFormat;
  healthToken: string | undefined;
  keepAliveInterval: number;
  workers: number | 'auto';
  /** undefined: serve() derives it from the descriptor limit. */
  maxConnections: number | undefined;
  headersTimeout: number | undefined;
  requestTimeout: number;
  keepAliveTimeout: number;
  /** undefined: keepAlive() logs one line per request outside production only. */
  accessLog: boolean | undefined;
  healthMounts: { health?: true; kubernetes?: true };
  /** The form of the health report's `timestamp`; undefined: epoch seconds. */
  healthTimestamp: 'epoch' | 'iso' | undefined;
  logMaxSize: number;
  logFileMode: number;
  /** `METRICS`: undefined when unset (lifeline() then leaves /metrics off). */
  metrics: boolean | undefined;
  metricsPath: string;
  metricsToken: string | undefined;
}

/**
 * LOG_FILE must name a file this process can write: checked at startup (one line naming
 * the variable) rather than when the logger first opens it.
 */
function checkLogFile(file: string): string {
  const path = resolve(file);
  const fail = (reason: string) => new ConfigError('LOG_FILE', `Invalid LOG_FILE: cannot write the log file ${path} (${reason})`);
  try {
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) throw fail('EISDIR, it is a directory');
    // The file, or else the nearest folder that exists (the logger creates the ones missing).
    let target = path;
    while (!statSync(target, { throwIfNoEntry: false })) {
      const parent = dirname(target);
      if (parent === target) break;
      target = parent;
    }
    accessSync(target, fsConstants.W_OK);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? 'EACCES';
    throw fail(code === 'ENOTDIR' ? 'ENOTDIR, a parent of it is not a directory' : `${code}, permission denied`);
  }
  return file;
}

/**
 * Reads and validates every variable at once, for an app's startup.
 * Throws a ConfigError whose message is one line naming the bad variable.
 */
export function loadConfig(env: Env = process.env): LifelineConfig {
  return {
    port: readEnv.port(env) ?? 8000,
    host: readEnv.host(env) ?? '127.0.0.1',
    nodeEnv: readEnv.nodeEnv(env),
    production: readEnv.production(env),
    frontendUrls: readEnv.frontendUrls(env),
    databaseUrl: readEnv.databaseUrl(env),
    logFile: checkLogFile(readEnv.logFile(env) ?? 'backend.log'),
    logLevel: readEnv.logLevel(env) ?? 'info',
    logFormat: readEnv.logFormat(env) ?? 'text',
    healthToken: readEnv.healthToken(env),
    keepAliveInterval: readEnv.keepAliveInterval(env) ?? 30_000,
    workers: readEnv.workers(env) ?? 1,
    maxConnections: readEnv.maxConnections(env),
    // undefined: serve() takes 20000 or requestTimeout, whichever is shorter.
    headersTimeout: readEnv.headersTimeout(env),
    requestTimeout: readEnv.requestTimeout(env) ?? 30_000,
    keepAliveTimeout: readEnv.keepAliveTimeout(env) ?? 5000,
    accessLog: readEnv.accessLog(env),
    healthMounts: readEnv.healthMounts(env),
    healthTimestamp: readEnv.healthTimestamp(env),
    logMaxSize: readEnv.logMaxSize(env) ?? 10 * 1024 * 1024,
    logFileMode: readEnv.logFileMode(env) ?? 0o600,
    metrics: readEnv.metrics(env),
    metricsPath: readEnv.metricsPath(env) ?? '/metrics',
    metricsToken: readEnv.metricsToken(env),
  };
}
