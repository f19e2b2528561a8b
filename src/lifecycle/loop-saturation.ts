/** Whether the event loop has had no idle time to speak of lately. */
export interface LoopSaturation {
  /** True from a window whose event-loop utilization reached the threshold until `hold` ms without one. */
  readonly saturated: boolean;
  /** The last window's event-loop utilization, 0–1. */
  readonly utilization: number;
  stop(): void;
}

/**
 * Event-loop utilization (the share of wall time the loop was not waiting for I/O) over
 * windows of `window` ms. A loop that is never idle is the bottleneck: whatever waits on
 * it (reading sockets, timers due) queues. It stays saturated for `hold` ms after the last
 * such window, because shedding well gives the loop idle time back: without the hold,
 * the rules that made that idle time would switch off and the queue would come back.
 */
export function watchLoopSaturation(threshold = 0.9, window = 100, hold = 1000): LoopSaturation {
  let last = performance.eventLoopUtilization();
  let lastSaturated = -Infinity;
  const state = {
    get saturated() {
      return performance.now() - lastSaturated < hold;
    },
    utilization: 0,
    stop() {
      clearInterval(timer);
    },
  };
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    state.utilization = performance.eventLoopUtilization(now, last).utilization;
    if (state.utilization >= threshold) lastSaturated = performance.now();
    last = now;
  }, window);
  timer.unref();
  return state;
}
