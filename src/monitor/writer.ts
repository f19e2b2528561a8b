import { failureLog, type FailureLog } from '../logging/failure-log.js';
import type { LifelineLogger } from '../logging/logger.js';
import { backoffDelay } from '../time.js';
import { DatabaseUnavailableError, isDatabaseUnavailable } from './store/unavailable.js';
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
  logger?: Pick<LifelineLogger, 'error' | 'warn' | 'info'> | undefined;
  /** Records kept while the database cannot take them; beyond, the oldest are dropped (counted, logged once). Default 20,000. */
  maxPending?: number;
}

export const DEFAULT_MAX_PENDING = 20_000;
/** Results written in one transaction at most (~8 ms of a synchronous SQLite write). */
export const MAX_FLUSH = 500;
/** Retries of a failing write: 250 ms doubling up to 5 s, spread so instances that failed together retry apart. */
const RETRY = { base: 250, cap: 5000, jitter: 0.2 };

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
  readonly #maxPending: number;
  /** After a failed write: the wait before the next attempt (RETRY). */
  #retryDelay = 0;
  /** Writes failed in a row; 0 when the last one committed. */
  #failures = 0;
  /** One warning when writes start failing, one line when they work again. */
  readonly #failureLog: FailureLog;
  /** Results dropped in the current outage (logged once per outage). */
  #droppedNow = 0;
  /** Batches written, for measurements. */
  batches = 0;
  /** Results dropped because the buffer was full while the database could not take them. */
  dropped = 0;
  /** Why the last write failed, while writes fail; undefined once one commits. */
  failure: string | undefined;

  constructor(options: WriterOptions<R>) {
    this.#options = options;
    this.#flushInterval = options.flushInterval ?? 250;
    this.#maxBatch = options.maxBatch ?? 100;
    this.#maxPending = options.maxPending ?? DEFAULT_MAX_PENDING;
    const logger = options.logger;
    this.#failureLog = failureLog(
      'monitor: storing check results',
      (m) => logger?.warn(`${m}; checks go on and their results are kept in memory`),
      (m) => logger?.info(m),
    );
  }

  get pending(): number {
    return this.#queue.length;
  }

  /** Queues a record; resolves with the stored ping once committed (undefined if its server was removed). */
  add(record: R): Promise<PingResult | undefined> {
    return new Promise((resolve) => {
      this.#queue.push({ record, resolve });
      if (this.#queue.length > this.#maxPending) this.#drop(this.#queue.length - this.#maxPending);
      if (this.#queue.length >= this.#maxBatch) this.#schedule(0);
      else this.#schedule(this.#flushInterval);
    });
  }

  /** Drops the oldest results: the newest say more about the servers now. */
  #drop(count: number): void {
    const dropped = this.#queue.splice(0, count);
    for (const d of dropped) d.resolve(undefined);
    this.dropped += dropped.length;
    if (this.#droppedNow === 0)
      this.#options.logger?.error(
        `monitor: results buffer full (${this.#maxPending}): dropping the oldest results until the database takes them (counted in stats().dropped)`,
      );
    this.#droppedNow += dropped.length;
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
    if (this.#flushing) return this.#flushing.catch(() => {}); // a failed flush has requeued its batch
    if (this.#queue.length === 0) return;
    // At most MAX_FLUSH a transaction: better-sqlite3 writes synchronously, and a backlog written
    // at once (after an outage, or a writer that fell behind) would hold the event loop, the API's
    // requests and the checks' timers with it, for its whole length (16 µs a check).
    const batch = this.#queue.length > MAX_FLUSH ? this.#queue.splice(0, MAX_FLUSH) : this.#queue;
    if (batch === this.#queue) this.#queue = [];
    this.#flushing = (async () => {
      try {
        const stored = await this.#options.results.record(batch.map((b) => b.record));
        this.batches++;
        this.#failures = 0;
        this.#retryDelay = 0;
        this.failure = undefined;
        this.#failureLog.succeeded();
        if (this.#droppedNow > 0)
          this.#options.logger?.info(`monitor: ${this.#droppedNow} check results were dropped while they could not be stored`);
        this.#droppedNow = 0;
        const byRecord = new Map(stored.map((s) => [s.record, s.ping]));
        for (const b of batch) b.resolve(byRecord.get(b.record));
        this.#options.onCommitted(stored);
      } catch (error) {
        // Keep the results and try again later: a busy, restarting or full database must not lose them.
        this.#queue = [...batch, ...this.#queue];
        if (this.#queue.length > this.#maxPending) this.#drop(this.#queue.length - this.#maxPending);
        this.#retryDelay = backoffDelay(this.#failures++, RETRY);
        const reported = isDatabaseUnavailable(error) ? new DatabaseUnavailableError(error) : error;
        this.failure = reported instanceof Error ? reported.message : String(reported);
        this.#failureLog.failed(reported);
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
      await this.#flushing?.catch(() => {}); // closing during an outage must still close
      await this.flush();
    }
    clearTimeout(this.#timer);
    const lost = this.#queue.splice(0);
    if (lost.length > 0) this.#options.logger?.error(`monitor: ${lost.length} check results could not be stored before closing`);
    for (const b of lost) b.resolve(undefined);
  }
}
