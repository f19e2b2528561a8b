import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export interface EventLoopLag {
  /** True while the event loop's delay p99 has been over the limit for three windows in a row. */
  readonly lagging: boolean;
  /** The p99 of the last window, in ms. */
  readonly p99: number;
  stop(): void;
}

/**
 * Watches the event loop's delay (perf_hooks' histogram, a libuv timer at `resolution`
 * ms) in windows of `window` ms. Lagging takes three windows in a row over `limit`: one
 * stall (a large GC, a module compiled on first use) is not an overload; a loop that
 * stays late is.
 */
export function watchEventLoopLag(limit: number, window = 500, resolution = 20): EventLoopLag {
  const histogram: IntervalHistogram = monitorEventLoopDelay({ resolution });
  histogram.enable();
  let over = 0;
  let due = performance.now() + window;
  const state = {
    lagging: false,
    p99: 0,
    stop() {
      clearTimeout(timer);
      histogram.disable();
    },
  };
  const timer = setTimeout(function sampleLag() {
    // The histogram counts the timer's own resolution as delay: take it off. This timer's
    // own lateness counts too: a loop blocked for the whole window leaves no sample in it.
    const now = performance.now();
    const sampled = histogram.count === 0 ? 0 : histogram.percentile(99) / 1e6 - resolution;
    state.p99 = Math.max(0, sampled, now - due);
    due = now + window;
    histogram.reset();
    over = state.p99 > limit ? over + 1 : 0;
    state.lagging = over >= 3;
    timer.refresh();
  }, window);
  timer.unref();
  return state;
}
