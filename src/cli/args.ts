import { maxWorkers, workersExpected } from '../options.js';
import { CliError } from './config-file.js';

/**
 * The one integer parser of the CLI: `value` as a whole number within [min, max], else a
 * one-line CliError naming the flag. `--workers -1` reaches it like any other bad value.
 */
export function integer(flag: string, value: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const range = max === Number.MAX_SAFE_INTEGER ? '' : ` ${min}-${max}`;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max)
    throw new CliError(`${flag} expects a whole number${range}, got '${value}'`);
  return Number(value);
}

/** The same parser as a commander option parser; commander passes a CliError on to main's catch. */
export function integerFlag(flag: string, min?: number, max?: number): (value: string) => number {
  return (value) => integer(flag, value, min, max);
}

/** `integer()` for an optional flag. */
export function optionalInteger(flag: string, value: string | undefined, min?: number, max?: number): number | undefined {
  return value === undefined ? undefined : integer(flag, value, min, max);
}

/**
 * A worker count from `--workers` (a string) or a saved config (a number): 'auto' or 1 to
 * 4 per CPU, up to 1024 when forced. Checked after every flag is read, since
 * `--force-workers` may come after `--workers`.
 */
export function workerCount(source: string, value: string | number, forced: boolean): number | 'auto' {
  if (value === 'auto') return 'auto';
  const n = typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : NaN;
  if (Number.isInteger(n) && n >= 1 && n <= maxWorkers(forced)) return n;
  const got = typeof value === 'number' ? String(value) : `'${value}'`;
  throw new CliError(`${source} expects ${workersExpected(forced)} or 'auto', got ${got}`);
}
