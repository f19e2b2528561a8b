import type { FailureLog } from './logging/failure-log.js';

/** Epoch seconds with millisecond precision, the format of `timestamp` and `last_activity`. */
export function epochSeconds(ms: number = Date.now()): number {
  return ms / 1000;
}

/** Rounds to 3 decimals for figures in reports. */
export function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/**
 * A background loop: runs `task` every `ms` (the first time after `firstDelay`, default
 * `ms`), never two at once (the next run is scheduled after the previous one settles),
 * and never keeps the process alive. A task that throws never stops the loop; `failures`
 * hears of it (once per kind of error) and of the recovery. The one way the package runs
 * something on a cadence.
 */
export function backgroundLoop(
  ms: number,
  task: () => Promise<void> | void,
  failures?: FailureLog,
  firstDelay: number = ms,
): { stop(): void } {
  let stopped = false;
  const schedule = (delay: number) => {
    timer = setTimeout(tick, delay);
    timer.unref();
  };
  const tick = () => {
    void (async () => {
      try {
        await task();
        failures?.succeeded();
      } catch (error) {
        failures?.failed(error);
      }
      // The task may have stopped the loop itself.
      if (!stopped) schedule(ms);
    })();
  };
  let timer: NodeJS.Timeout;
  schedule(firstDelay);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface Backoff {
  /** Delay of attempt 0, in ms. */
  base: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /** Longest delay, in ms. Default unbounded. */
  cap?: number;
  /** 0..1: the delay is spread uniformly over ±jitter of itself, so peers that failed together retry apart. Default 0. */
  jitter?: number;
}

/**
 * The delay before retry `attempt` (0 for the first): `base * factor^attempt`, capped,
 * then jittered; whole ms. The one backoff of every restart and retry loop.
 */
export function backoffDelay(attempt: number, { base, factor = 2, cap = Infinity, jitter = 0 }: Backoff): number {
  const delay = Math.min(cap, base * factor ** Math.max(0, attempt));
  return Math.round(jitter === 0 ? delay : delay * (1 - jitter + 2 * jitter * Math.random()));
}
