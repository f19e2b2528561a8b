import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import { failureLog } from '../logging/failure-log.js';
import type { LifelineLogger } from '../logging/logger.js';
import { backgroundLoop } from '../time.js';
import type { CheckOutcome } from './checks/index.js';

/** A stall of the monitor's own event loop this long (ms) can turn a healthy answer into a timeout. */
export const STALL_BOUND = 250;
/** How often the loop's lag is sampled, ms. */
const SAMPLE_MS = 100;
const STALLS_KEPT = 64;

/** A check may start this late after its slot (ms) and still count: a quarter of its interval, 250 ms to 60 s. */
export function lateStartBound(intervalMs: number): number {
  return Math.min(60_000, Math.max(STALL_BOUND, intervalMs / 4));
}

export interface OverloadStats {
  /** Checks not counted because the monitor could not keep up (late starts + answers that waited on the loop). */
  overloaded: number;
  /** Checks not started: their slot was more than `lateStartBound` ago when a place came free. */
  lateStarts: number;
  /** Checks run but not counted: a failure or slow answer while the monitor's event loop stalled. */
  loopWaits: number;
  /** Last time a check was not counted, epoch ms. */
  lastAt: number | null;
  /** The monitor's event-loop delay over the last second, ms. */
  eventLoopDelayP99: number;
  eventLoopDelayMax: number;
}

/**
 * Tells the monitor's own lateness from its targets' outages. A check that could not
 * start on time, or whose answer may have waited on this process's event loop, says
 * nothing about its target: it is counted here and never reaches the state machine.
 * Logs `monitor overloaded` once (then one recovery line) through `failureLog`.
 */
export class OverloadGuard {
  readonly stats: OverloadStats = {
    overloaded: 0,
    lateStarts: 0,
    loopWaits: 0,
    lastAt: null,
    eventLoopDelayP99: 0,
    eventLoopDelayMax: 0,
  };
  #lastTick = performance.now();
  // Stalls seen by the sampler: end (performance.now()) and length, a ring.
  readonly #stallEnd = new Float64Array(STALLS_KEPT);
  readonly #stallLength = new Float64Array(STALLS_KEPT);
  #stalls = 0;
  readonly #sampler: NodeJS.Timeout;
  readonly #histogram: IntervalHistogram;
  readonly #report: { stop(): void };
  #reported = 0;

  constructor(logger: Pick<LifelineLogger, 'warn'>) {
    this.#sampler = setInterval(() => {
      const now = performance.now();
      const lag = now - this.#lastTick - SAMPLE_MS;
      this.#lastTick = now;
      if (lag > STALL_BOUND) this.#noteStall(now, lag);
    }, SAMPLE_MS);
    this.#sampler.unref();
    this.#histogram = monitorEventLoopDelay({ resolution: 20 });
    this.#histogram.enable();
    const say = (message: string) => logger.warn(message);
    const failures = failureLog('monitor: keeping up with the checks', say, say);
    this.#report = backgroundLoop(
      1000,
      () => {
        const h = this.#histogram;
        this.stats.eventLoopDelayP99 = Math.round(h.percentile(99) / 1e4) / 100;
        this.stats.eventLoopDelayMax = Math.round(h.max / 1e4) / 100;
        h.reset();
        const fresh = this.stats.overloaded - this.#reported;
        this.#reported = this.stats.overloaded;
        if (fresh > 0)
          throw new Error(
            "monitor overloaded: checks started late or their answers waited on the monitor's event loop; they are not counted as outages",
          );
      },
      failures,
    );
  }

  /** A check whose slot passed more than `lateStartBound` ago is not started (counted here). */
  startsTooLate(slot: number, intervalMs: number, now: number = Date.now()): boolean {
    if (now - slot <= lateStartBound(intervalMs)) return false;
    this.stats.lateStarts++;
    this.#count();
    return true;
  }

  /**
   * Whether a finished check's answer may have waited on this process: its timeout
   * fired late, or the event loop stalled while it ran. Only failures and degraded
   * answers are questioned; a plain success is the target's answer whatever the loop did.
   * `start`/`end` are performance.now() around the check.
   */
  waitedOnLoop(outcome: CheckOutcome, start: number, end: number, timeoutMs: number): boolean {
    if (outcome.status === 'success' && outcome.degraded === undefined) return false;
    const stalled =
      (outcome.status === 'timeout' && end - start - timeoutMs > STALL_BOUND) ||
      // The sampler is overdue: the loop stalled and this answer came before it could run.
      end - this.#lastTick - SAMPLE_MS > STALL_BOUND ||
      this.#stalledBetween(start, end);
    if (!stalled) return false;
    this.stats.loopWaits++;
    this.#count();
    return true;
  }

  stop(): void {
    clearInterval(this.#sampler);
    this.#histogram.disable();
    this.#report.stop();
  }

  #count(): void {
    this.stats.overloaded++;
    this.stats.lastAt = Date.now();
  }

  #noteStall(end: number, length: number): void {
    const i = this.#stalls++ % STALLS_KEPT;
    this.#stallEnd[i] = end;
    this.#stallLength[i] = length;
  }

  #stalledBetween(start: number, end: number): boolean {
    for (let i = 0; i < Math.min(this.#stalls, STALLS_KEPT); i++) {
      const stallEnd = this.#stallEnd[i]!;
      if (stallEnd > start && stallEnd - this.#stallLength[i]! < end) return true;
    }
    return false;
  }
}
