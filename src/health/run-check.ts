import { TimeoutError } from '../errors.js';
import { redactText } from '../logging/redact.js';
import { epochSeconds, round3 } from '../time.js';
import type { CheckOutcome, CheckReturn, HealthCheck } from './types.js';

/** A short human message for a failure: one line, no stack, no credentials. */
export function failureMessage(error: unknown): string {
  let text: string;
  if (error instanceof Error) text = error.message || error.name;
  else if (typeof error === 'string') text = error;
  else text = 'check failed';
  const firstLine = text.split('\n', 1)[0] ?? '';
  const clean = redactText(firstLine).trim() || 'check failed';
  return clean.length > 200 ? `${clean.slice(0, 197)}...` : clean;
}

/**
 * Runs one check with a deadline. The check's signal is aborted at the deadline so it
 * can stop its work; the outcome is known within `timeout` whether or not it does.
 */
export async function runCheck(check: HealthCheck, timeout: number): Promise<CheckOutcome> {
  const critical = check.critical ?? true;
  const controller = new AbortController();
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new TimeoutError(`timed out after ${timeout} ms`);
      controller.abort(error);
      reject(error);
    }, timeout);
  });
  try {
    const result = (await Promise.race([Promise.resolve().then(() => check.check(controller.signal)), deadline])) as CheckReturn | void;
    const outcome: CheckOutcome = {
      status: result?.status === 'warn' ? 'warn' : 'pass',
      critical,
      duration_ms: round3(performance.now() - started),
      checked_at: epochSeconds(),
    };
    if (result?.message) outcome.message = redactText(result.message);
    if (result?.details) outcome.details = result.details;
    return outcome;
  } catch (error) {
    return {
      status: 'fail',
      critical,
      duration_ms: round3(performance.now() - started),
      checked_at: epochSeconds(),
      error: failureMessage(error),
    };
  } finally {
    clearTimeout(timer);
  }
}
