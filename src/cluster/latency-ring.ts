/**
 * The durations of a worker's latest answers, in a fixed ring: recording is one store,
 * and the p99 is computed only when asked (once per report), over at most `size` values.
 */
export class LatencyRing {
  private readonly values: Float64Array;
  private count = 0;
  private next = 0;

  constructor(size = 1024) {
    this.values = new Float64Array(size);
  }

  record(ms: number): void {
    this.values[this.next] = ms;
    this.next = (this.next + 1) % this.values.length;
    if (this.count < this.values.length) this.count += 1;
  }

  /** The `q` quantile (0..1) of the recorded durations, rounded to 0.1 ms; null when none yet. */
  quantile(q: number): number | null {
    if (this.count === 0) return null;
    const sorted = this.values.slice(0, this.count).sort();
    const index = Math.min(this.count - 1, Math.ceil(q * this.count) - 1);
    return Math.round((sorted[Math.max(0, index)] ?? 0) * 10) / 10;
  }
}
