import type { LifelineLogger } from '../logging/logger.js';
import type { CheckRecord, ResultQueries } from './store/results.js';
import type { PingResult } from './types.js';

export interface WriterOptions<R extends CheckRecord> {
  results: Pick<ResultQueries, 'record'>;
  /** Flush this long after the first queued record, ms. Default 250. */
  flushInterval?: number;
  /** Flush at once when this many records wait. Default 100. */
  maxBatch?: number;
  /** Called after a batch is committed, with the stored pings. */
  onCommitted(stored: Array<{ record: R; ping: PingResult }>): void;
  logger?: Pick<LifelineLogger, 'error' | 'warn'> | undefined;
}

/** Records kept while the database is unreachable; beyond, the oldest are dropped (and logged). */
const MAX_BACKLOG = 20_000;

/**
 * Batches finished checks into one transaction per flush (≤ 1 INSERT per check:
 * one multi-row INSERT per 100), so writing never keeps up a per-check round trip
 * and SQLite sees few, short write transactions. One flush at a time.
 */
export class BatchWriter<R extends CheckRecord> {
  readonly #options: WriterOptions<R>;
  readonly #flushInterval: number;
  readonly #maxBatch: number;
  #queue: Array<{ record: R; resolve: (ping: PingResult | undefined) => void }> = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  /** After a failed write: the wait before the next attempt, doubling up to 5 s. */
  #retryDelay = 0;
  /** Batches written, for measurements. */
  batches = 0;

  constructor(options: WriterOptions<R>) {
    this.#options = options;
    this.#flushInterval = options.flushInterval ?? 250;
    this.#maxBatch = options.maxBatch ?? 100;
  }

  get pending(): number {
    return this.#queue.length;
  }

  /** Queues a record; resolves with the stored ping once committed (undefined if its server was removed). */
  add(record: R): Promise<PingResult | undefined> {
    return new Promise((resolve) => {
      this.#queue.push({ record, resolve });
      if (this.#queue.length > MAX_BACKLOG) {
        const dropped = this.#queue.splice(0, this.#queue.length - MAX_BACKLOG);
        for (const d of dropped) d.resolve(undefined);
        this.#options.logger?.error('monitor: results backlog full, oldest results dropped', { dropped: dropped.length });
      }
      if (this.#queue.length >= this.#maxBatch) this.#schedule(0);
      else this.#schedule(this.#flushInterval);
    });
  }

  #schedule(ms: number): void {
    if (this.#flushing) return; // the running flush reschedules when it ends
    if (this.#retryDelay > 0) ms = Math.max(ms, this.#retryDelay); // a full queue does not hurry a failing database
    if (this.#timer && ms > 0) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.flush(), ms);
    this.#timer.unref();
  }

  /** Writes what is queued now; resolves when it is committed (or failed and requeued). */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#flushing) return this.#flushing;
    if (this.#queue.length === 0) return;
    const batch = this.#queue;
    this.#queue = [];
    this.#flushing = (async () => {
      try {
        const stored = await this.#options.results.record(batch.map((b) => b.record));
        this.batches++;
        if (this.#retryDelay > 0) this.#options.logger?.warn('monitor: storing check results again', { pending: this.#queue.length });
        this.#retryDelay = 0;
        const byRecord = new Map(stored.map((s) => [s.record, s.ping]));
        for (const b of batch) b.resolve(byRecord.get(b.record));
        this.#options.onCommitted(stored);
      } catch (error) {
        // Keep the results and try again: a busy or restarting database must not lose them.
        this.#queue = [...batch, ...this.#queue];
        this.#options.logger?.warn('monitor: could not store check results, retrying', {
          error: String(error),
          pending: this.#queue.length,
        });
        throw error;
      } finally {
        this.#flushing = undefined;
        if (this.#queue.length > 0) this.#schedule(this.#queue.length >= this.#maxBatch ? 0 : this.#flushInterval);
      }
    })();
    return this.#flushing.catch(() => {});
  }

  /** Flushes until nothing is queued (a few attempts), then stops. */
  async close(): Promise<void> {
    for (let attempt = 0; attempt < 5 && (this.#queue.length > 0 || this.#flushing); attempt++) {
      await this.#flushing;
      await this.flush();
    }
    clearTimeout(this.#timer);
    for (const b of this.#queue.splice(0)) b.resolve(undefined);
  }
}
