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
 * A background loop: runs `task` every `ms`, never two at once (the next run is
 * scheduled after the previous one settles), and never keeps the process alive.
 * A task that throws never stops the loop; `failures` hears of it (once per kind of
 * error) and of the recovery.
 */
export function backgroundLoop(ms: number, task: () => Promise<void> | void, failures?: FailureLog): { stop(): void } {
  let stopped = false;
  const timer = setTimeout(function tick() {
    void (async () => {
      try {
        await task();
        failures?.succeeded();
      } catch (error) {
        failures?.failed(error);
      }
      if (!stopped) timer.refresh();
    })();
  }, ms);
  timer.unref();
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
