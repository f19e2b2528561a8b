/**
 * A concurrency limit that follows measured latency, after Netflix's concurrency-limits
 * (Gradient2) and Envoy's adaptive concurrency filter: the latency of recent requests
 * (a short window) is compared with the server's usual latency (a slow moving average).
 * While recent requests take longer than allowed, requests are queueing: by Little's law
 * the same throughput at the allowed latency needs fewer in flight, so the limit falls to
 * what was in flight times allowed / recent (at most halving in one window). While they
 * do not, it grows by a queue allowance of √limit. Bounded by `min` and `max`.
 *
 * Only recent latency above both `tolerance` × the usual and the usual + 50 ms counts:
 * a closed loop of clients on a shared machine (a benchmark, a reload under load) sees
 * latency rise by tens of ms without any queue growing; refusing its requests would turn
 * a slow moment into failures. (A tighter target when the loop was saturated made a
 * reload under 50 connections answer 168 requests 503.) What queues behind a saturated
 * loop is the load shedder's business (see LoadShedder).
 *
 * Latency here is what a request waited plus what it took: a caller measures it from the
 * moment the request could first have been handled (see ReadWait), so requests stuck
 * behind a busy event loop count as slow even when their own handler is quick.
 */
export interface AdaptiveLimitOptions {
  /** Lowest limit. */
  min: number;
  /** Highest limit, also the first: nothing is shed until latency says so. */
  max: number;
  /** Recent latency may reach this multiple of the usual (see above). */
  tolerance: number;
  /** ms of samples per update. Default 100. */
  window?: number;
  /** Samples a window needs before it counts. Default 10. */
  minSamples?: number;
}

/** Windows the usual latency averages over (about a minute of 100 ms windows, as Gradient2's 600). */
const LONG_WINDOWS = 600;
/** Queueing (ms above the usual) that never counts: noise on a busy machine. */
const FLOOR = 50;
/** Weight of a grown limit against the current one: one quiet window moves it a little. */
const SMOOTHING = 0.2;

export class AdaptiveLimit {
  private current: number;
  private readonly window: number;
  private readonly minSamples: number;
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
  }

  /** The number of requests that may be in flight now. */
  get limit(): number {
    return Math.floor(this.current);
  }

  /** The usual latency and the last window's, in ms; usual is 0 until the first window. */
  get latency(): { usual: number; recent: number } {
    return { usual: this.usual, recent: this.recent };
  }

  /** One request answered `ms` after it could first have been handled, while `inFlight` requests (itself included) were in flight. */
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
    const allowed = Math.max(tolerance * this.usual, this.usual + FLOOR);
    let next: number;
    if (recent > allowed) {
      next = Math.min(this.current, peak) * Math.max(0.5, allowed / recent);
    } else {
      // Only a limit that was nearly reached has earned growth (Netflix's app-limited rule).
      if (peak < this.current / 2) return;
      const grown = this.current + Math.sqrt(this.current);
      next = this.current * (1 - SMOOTHING) + grown * SMOOTHING;
    }
    this.current = Math.min(max, Math.max(min, next));
  }
}
