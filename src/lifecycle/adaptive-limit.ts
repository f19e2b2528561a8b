/**
 * A concurrency limit that follows measured latency, after Netflix's concurrency-limits
 * (Gradient2) and Envoy's adaptive concurrency filter: the latency of recent requests
 * (a short window) is compared with the server's usual latency (a slow moving average);
 * while recent requests take longer than `tolerance` times the usual, requests are
 * queueing, and the limit shrinks by that ratio; while they do not, it grows by a queue
 * allowance of √limit. Bounded by `min` and `max`.
 *
 * Latency here is what a request waited plus what it took: a caller measures it from the
 * moment the request could first have been handled (see LoadShedder), so requests stuck
 * behind a busy event loop count as slow even when their own handler is quick.
 */
export interface AdaptiveLimitOptions {
  /** Lowest limit. */
  min: number;
  /** Highest limit, also the first: nothing is shed until latency says so. */
  max: number;
  /** Recent latency may reach this multiple of the usual before the limit shrinks. */
  tolerance: number;
  /** ms of samples per update. Default 100. */
  window?: number;
  /** Samples a window needs before it counts. Default 10. */
  minSamples?: number;
  /**
   * Queueing (ms above the usual latency) that never counts as overload, however fast the
   * usual: a few ms of noise on a busy machine is not a reason to refuse work. Default 50.
   */
  floor?: number;
}

/** Windows the usual latency averages over (about a minute of 100 ms windows, as Gradient2's 600). */
const LONG_WINDOWS = 600;
/** Weight of a new limit against the current one (Gradient2's smoothing): one noisy window moves it a little. */
const SMOOTHING = 0.2;

export class AdaptiveLimit {
  private current: number;
  private readonly window: number;
  private readonly minSamples: number;
  private readonly floor: number;
  private windowStart = 0;
  private sum = 0;
  private count = 0;
  private peak = 0;
  /** The usual latency (ms), a slow exponential average of the windows' means; 0 before the first. */
  private usual = 0;
  /** The last window's mean latency (ms). */
  private recent = 0;

  constructor(private readonly options: Readonly<AdaptiveLimitOptions>) {
    this.current = options.max;
    this.window = options.window ?? 100;
    this.minSamples = options.minSamples ?? 10;
    this.floor = options.floor ?? 50;
  }

  /** The number of requests that may be in flight now. */
  get limit(): number {
    return Math.floor(this.current);
  }

  /** The usual latency and the last window's, in ms, for the log. */
  get latency(): { usual: number; recent: number } {
    return { usual: this.usual, recent: this.recent };
  }

  /** One request answered after `ms`, while `inFlight` requests (itself included) were in flight. */
  sample(ms: number, inFlight: number, now: number): void {
    if (this.count === 0) this.windowStart = now;
    this.sum += ms;
    this.count += 1;
    if (inFlight > this.peak) this.peak = inFlight;
    if (this.count >= this.minSamples && now - this.windowStart >= this.window) this.update();
  }

  private update(): void {
    const recent = this.sum / this.count;
    const peak = this.peak;
    this.sum = 0;
    this.count = 0;
    this.peak = 0;
    this.recent = recent;
    if (this.usual === 0) {
      this.usual = recent;
      return;
    }
    // After a stretch of slow answers the usual has crept up; when recent ones are far
    // quicker again it follows them faster, so a recovered server is not held back.
    if (this.usual > 2 * recent) this.usual *= 0.95;
    this.usual += (recent - this.usual) / LONG_WINDOWS;
    const { min, max, tolerance } = this.options;
    const allowed = Math.max(tolerance * this.usual, this.usual + this.floor);
    let next: number;
    if (recent > allowed) {
      // Queueing: the limit falls to twice what was really in flight, then by the ratio,
      // smoothed: it takes a few windows of it in a row (not one noisy one) to shed.
      const gradient = Math.max(0.5, allowed / recent);
      const base = Math.min(this.current, Math.max(2 * peak, min));
      next = base * (1 - SMOOTHING) + base * gradient * SMOOTHING;
    } else {
      // Only a limit that was nearly reached has earned growth (Netflix's app-limited rule).
      if (peak < this.current / 2) return;
      const grown = this.current + Math.sqrt(this.current);
      next = this.current * (1 - SMOOTHING) + grown * SMOOTHING;
    }
    this.current = Math.min(max, Math.max(min, next));
  }
}
