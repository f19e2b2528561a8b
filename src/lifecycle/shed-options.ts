import { ConfigError } from '../errors.js';
import { checkInteger, checkOptionsObject, optionError } from '../options.js';

/** serve()'s `shed` option: when to answer new requests 503 before Express sees them. */
export interface ShedOptions {
  /** Event-loop delay p99 (ms, over 500 ms windows, three in a row) past which every new request is shed. Default `SHED_MAX_EVENT_LOOP_DELAY` or 200; 0 = off. */
  maxEventLoopDelay?: number;
  /** Highest (and first) adaptive concurrency limit. Default `SHED_MAX_CONCURRENCY` or 1000; 0 turns the adaptive limit and the saturated-loop rules off. */
  maxConcurrency?: number;
  /** Lowest adaptive concurrency limit. Default `SHED_MIN_CONCURRENCY` or 1. */
  minConcurrency?: number;
  /** How far above the usual latency an admitted request's may go, as a multiple (>= 1): the limit and the saturated-loop rules keep within it. Default `SHED_LATENCY_TOLERANCE` or 2. */
  latencyTolerance?: number;
  /** Seconds in the `Retry-After` of a shed answer. Default `SHED_RETRY_AFTER` or 1. */
  retryAfter?: number;
  /** Paths never shed besides the probes (ping, live, ready). Default `['/metrics']`. */
  exemptPaths?: readonly string[];
}

export interface ShedSettings {
  maxEventLoopDelay: number;
  maxConcurrency: number;
  minConcurrency: number;
  latencyTolerance: number;
  retryAfter: number;
  exemptPaths: readonly string[];
}

const KNOWN = ['maxEventLoopDelay', 'maxConcurrency', 'minConcurrency', 'latencyTolerance', 'retryAfter', 'exemptPaths'] as const;

type Env = Readonly<Record<string, string | undefined>>;

/** The variables, in the order of the options. */
export const SHED_VARIABLES = [
  ['maxEventLoopDelay', 'SHED_MAX_EVENT_LOOP_DELAY'],
  ['maxConcurrency', 'SHED_MAX_CONCURRENCY'],
  ['minConcurrency', 'SHED_MIN_CONCURRENCY'],
  ['latencyTolerance', 'SHED_LATENCY_TOLERANCE'],
  ['retryAfter', 'SHED_RETRY_AFTER'],
] as const;

function raw(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === '' ? undefined : value;
}

/** `SHED`: on unless 0/false/off. */
export function readShedEnabled(env: Env = process.env): boolean | undefined {
  const value = raw(env, 'SHED')?.toLowerCase();
  if (value === undefined) return undefined;
  if (value === '1' || value === 'true' || value === 'on') return true;
  if (value === '0' || value === 'false' || value === 'off') return false;
  throw new ConfigError('SHED', `Invalid SHED: expected '1' or '0' (also true/false, on/off), got '${value}'`);
}

/** One SHED_* variable as a number (decimals only for the tolerance); undefined when unset. */
function readNumber(env: Env, name: string, decimal: boolean): number | undefined {
  const value = raw(env, name);
  if (value === undefined) return undefined;
  const pattern = decimal ? /^\d+(\.\d+)?$/ : /^\d+$/;
  if (!pattern.test(value)) {
    throw new ConfigError(name, `Invalid ${name}: expected ${decimal ? 'a number >= 1' : 'a whole number'}, got '${value}'`);
  }
  return Number(value);
}

/** The SHED_* variables that are set, as options. */
export function readShedEnv(env: Env = process.env): ShedOptions {
  const out: Record<string, number> = {};
  for (const [option, variable] of SHED_VARIABLES) {
    const value = readNumber(env, variable, option === 'latencyTolerance');
    if (value !== undefined) out[option] = value;
  }
  return out;
}

/**
 * The shedding settings from the option (`false`, `true` or an object), then the SHED_*
 * variables, then the defaults; undefined when shedding is off. Each value checked.
 */
export function resolveShed(component: string, option: unknown, env: Env = process.env): ShedSettings | undefined {
  if (option === false) return undefined;
  if (option !== undefined && option !== true) {
    if (typeof option !== 'object' || option === null || Array.isArray(option))
      throw optionError(component, 'shed', 'a boolean or an object of shedding options', option);
    checkOptionsObject(`${component} shed`, option, KNOWN);
  }
  if (option === undefined && readShedEnabled(env) === false) return undefined;
  const given = typeof option === 'object' ? (option as ShedOptions) : {};
  const fromEnv = readShedEnv(env);
  const pick = <K extends keyof ShedOptions>(key: K, fallback: NonNullable<ShedOptions[K]>) => given[key] ?? fromEnv[key] ?? fallback;
  const name = (key: string) => `shed.${key}`;
  const maxEventLoopDelay = checkInteger(component, name('maxEventLoopDelay'), pick('maxEventLoopDelay', 200), {
    min: 0,
    max: 3_600_000,
    unit: 'ms, 0 = off',
  });
  const maxConcurrency = checkInteger(component, name('maxConcurrency'), pick('maxConcurrency', 1000), {
    min: 0,
    max: 1_000_000,
    unit: '0 = no adaptive limit',
  });
  const minConcurrency = checkInteger(component, name('minConcurrency'), pick('minConcurrency', 1), { min: 1, max: 1_000_000 });
  if (maxConcurrency > 0 && minConcurrency > maxConcurrency)
    throw optionError(component, name('minConcurrency'), `at most maxConcurrency (${maxConcurrency})`, minConcurrency);
  const latencyTolerance = pick('latencyTolerance', 2);
  if (typeof latencyTolerance !== 'number' || !Number.isFinite(latencyTolerance) || latencyTolerance < 1 || latencyTolerance > 100)
    throw optionError(component, name('latencyTolerance'), 'a number 1-100', latencyTolerance);
  const retryAfter = checkInteger(component, name('retryAfter'), pick('retryAfter', 1), { min: 1, max: 3600, unit: 's' });
  const exemptPaths = given.exemptPaths ?? ['/metrics'];
  if (!Array.isArray(exemptPaths) || exemptPaths.some((p) => typeof p !== 'string' || !p.startsWith('/')))
    throw optionError(component, name('exemptPaths'), "an array of paths starting with '/'", exemptPaths);
  return { maxEventLoopDelay, maxConcurrency, minConcurrency, latencyTolerance, retryAfter, exemptPaths: [...exemptPaths] };
}
