import { existsSync, readFileSync } from 'node:fs';
import { isValidHost, LOG_LEVELS, readEnv, type LogLevel } from '../options.js';
import { writeAtomic } from './pid-file.js';

export const CONFIG_FILE = '.backend_config.json';

/** `.backend_config.json`, the design's snake_case keys. */
export interface BackendConfig {
  host: string;
  port: number;
  workers: number | 'auto';
  reload: boolean;
  log_level: LogLevel;
  entry: string;
  /** Server limits for `lifeline serve`; unset, serve() takes MAX_CONNECTIONS … or its defaults. */
  max_connections?: number;
  headers_timeout?: number;
  request_timeout?: number;
  keep_alive_timeout?: number;
  /** Load shedding of `lifeline serve` (on unless false) and its limits; unset, serve() takes SHED_* or its defaults. */
  shed?: boolean;
  shed_max_event_loop_delay?: number;
  shed_max_concurrency?: number;
  shed_min_concurrency?: number;
  shed_latency_tolerance?: number;
  shed_retry_after?: number;
}

/** The optional keys: no default here, serve() owns the defaults. */
export const LIMIT_KEYS = ['max_connections', 'headers_timeout', 'request_timeout', 'keep_alive_timeout'] as const;

/** The load-shedding keys, optional like the limits. */
export const SHED_KEYS = [
  'shed',
  'shed_max_event_loop_delay',
  'shed_max_concurrency',
  'shed_min_concurrency',
  'shed_latency_tolerance',
  'shed_retry_after',
] as const;

export const DEFAULTS: BackendConfig = { host: '127.0.0.1', port: 8000, workers: 1, reload: false, log_level: 'info', entry: 'app.js' };

/** A problem the user must fix; its message is one line. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

/** Checks one key and value of the config; returns the normalised value. */
export function validateConfigValue<K extends keyof BackendConfig>(key: K, value: unknown, source: string): BackendConfig[K] {
  const fail = (expected: string): never => {
    throw new CliError(`${source}: \`${key}\` must be ${expected}, got ${JSON.stringify(value)}`);
  };
  switch (key) {
    case 'host':
      if (typeof value !== 'string' || !isValidHost(value)) fail("an IP address (127.0.0.1, ::1, 0.0.0.0) or a hostname like 'localhost'");
      break;
    case 'entry':
      if (typeof value !== 'string' || value === '') fail('a non-empty string');
      break;
    case 'port':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) fail('a port number 1-65535');
      break;
    case 'workers':
      if (value !== 'auto' && (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 1024))
        fail("a number of workers 1-1024 or 'auto'");
      break;
    case 'reload':
      if (typeof value !== 'boolean') fail('true or false');
      break;
    case 'max_connections':
    case 'headers_timeout':
    case 'keep_alive_timeout':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
        fail(key === 'max_connections' ? 'an integer >= 1' : 'an integer >= 1 (ms)');
      break;
    case 'shed':
      if (typeof value !== 'boolean') fail('true or false');
      break;
    case 'shed_max_event_loop_delay':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) fail('an integer >= 0 (ms, 0 = off)');
      break;
    case 'shed_max_concurrency':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) fail('an integer >= 0 (0 = no adaptive limit)');
      break;
    case 'shed_min_concurrency':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) fail('an integer >= 1');
      break;
    case 'shed_latency_tolerance':
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 1 || value > 100) fail('a number 1-100');
      break;
    case 'shed_retry_after':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 3600) fail('an integer 1-3600 (s)');
      break;
    case 'request_timeout':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) fail('an integer >= 0 (ms, 0 = off)');
      break;
    case 'log_level':
      if (typeof value !== 'string' || !(LOG_LEVELS as readonly string[]).includes(value)) fail(`one of ${LOG_LEVELS.join(', ')}`);
      break;
  }
  return value as BackendConfig[K];
}

/** The saved config (only the keys it has); a broken file is an error and is left as it is. */
export function readConfigFile(path = CONFIG_FILE): Partial<BackendConfig> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CliError(`cannot read ${path}: ${(error as Error).message} (fix it or delete it; it was left unchanged)`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new CliError(`cannot read ${path}: expected a JSON object (it was left unchanged)`);
  const out: Partial<BackendConfig> = {};
  for (const [key, value] of Object.entries(parsed)) {
    // Own keys only: `constructor`, `toString` or `__proto__` are `in` every object.
    if (
      !Object.hasOwn(DEFAULTS, key) &&
      !(LIMIT_KEYS as readonly string[]).includes(key) &&
      !(SHED_KEYS as readonly string[]).includes(key)
    )
      throw new CliError(`${path}: unknown key \`${key}\` (known: ${[...Object.keys(DEFAULTS), ...LIMIT_KEYS, ...SHED_KEYS].join(', ')})`);
    (out as Record<string, unknown>)[key] = validateConfigValue(key as keyof BackendConfig, value, path);
  }
  return out;
}

export function writeConfigFile(config: Partial<BackendConfig>, path = CONFIG_FILE): void {
  writeAtomic(path, `${JSON.stringify(config, null, 2)}\n`);
}

/** Flags > environment > .backend_config.json > defaults. */
export function effectiveConfig(flags: Partial<BackendConfig>, path = CONFIG_FILE, variables = process.env): BackendConfig {
  const file = readConfigFile(path);
  const env: Partial<BackendConfig> = {};
  try {
    const port = readEnv.port(variables);
    if (port !== undefined) env.port = port;
    const host = readEnv.host(variables);
    if (host !== undefined) env.host = host;
    const workers = readEnv.workers(variables);
    if (workers !== undefined) env.workers = workers;
    const level = readEnv.logLevel(variables);
    if (level !== undefined) env.log_level = level;
  } catch (error) {
    throw new CliError((error as Error).message);
  }
  const defined = (o: Partial<BackendConfig>) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<BackendConfig>;
  const merged = { ...DEFAULTS, ...defined(file), ...defined(env), ...defined(flags) };
  if (flags.entry === undefined && file.entry === undefined) merged.entry = defaultEntry();
  return merged;
}

/** Without an entry anywhere: app.js, else the first of app.mjs, app.cjs, app.ts that exists (the Quick start's is app.mjs). */
function defaultEntry(): string {
  return ['app.js', 'app.mjs', 'app.cjs', 'app.ts'].find((name) => existsSync(name)) ?? DEFAULTS.entry;
}
