import { performance } from 'node:perf_hooks';

/** A server's slot in the schedule: the next due time on its grid. */
interface Entry {
  id: number;
  intervalMs: number;
  /** Bumped on every reschedule, so stale heap items are recognised and dropped. */
  generation: number;
  /** Queued or running: a slot that comes meanwhile is skipped, never run twice at once. */
  busy: boolean;
}

interface Queued<R> {
  entry: Entry;
  scheduledAt: number;
  done?: ((result: R | undefined) => void) | undefined;
}

interface Slot {
  due: number;
  id: number;
  generation: number;
}

export interface SchedulerStats {
  /** Checks started. */
  started: number;
  /** Slots skipped because the previous check of that server was still queued or running. */
  overlapsSkipped: number;
  /** Slots skipped because the process was blocked past them. */
  missed: number;
  /** How late checks started after their slot, ms (the last 1,000). */
  lateness: number[];
  /** Slots dropped because a place came free too late for them (`tooLate`). */
  lateSkipped: number;
}

export interface SchedulerOptions<R> {
  /** Checks at once at most. */
  concurrency: number;
  /** Runs one check; `scheduledAt` is its slot (epoch ms). Must not reject. */
  run: (id: number, scheduledAt: number) => Promise<R>;
  /**
   * Put every server on the grid phase + n × interval counted from the epoch, the
   * same in every process: instances sharing the checks agree on each slot. Default
   * false (the grid starts at the last check, or now plus the phase).
   */
  epochGrid?: boolean;
  /**
   * Whether a scheduled check is too late to start now (the monitor is overloaded):
   * such a slot is dropped, not run late. Not asked for `runNow()` runs.
   */
  tooLate?: (scheduledAt: number, intervalMs: number, now: number) => boolean;
}

/** Starting checks yields to the event loop after this long (ms), so a burst of due checks never blocks the API. */
const DRAIN_BUDGET_MS = 10;

/** A stable spread of servers over their interval (Knuth's multiplicative hash of the id). */
export function phaseOf(id: number, intervalMs: number): number {
  return Math.floor((((id * 2654435761) >>> 0) / 2 ** 32) * intervalMs);
}

/**
 * Fixed-rate scheduling: server i runs at anchor + n × interval, where the anchor
 * is its last check (after a restart: no burst) or now plus a per-server phase.
 * Each slot is computed from the grid, never from when the previous run ended, so
 * lateness never accumulates. One timer for all servers, on a min-heap of slots; a
 * FIFO queue bounded by `concurrency` runs them, so a slow target holds only its own
 * slot and never delays the others' starts.
 */
export class Scheduler<R = unknown> {
  readonly #entries = new Map<number, Entry>();
  readonly #heap: Slot[] = [];
  // A FIFO as an array and a head index: shift() copies the array, and the queue can hold thousands.
  #queue: Array<Queued<R>> = [];
  #head = 0;
  readonly #options: SchedulerOptions<R>;
  #running = 0;
  #timer: NodeJS.Timeout | undefined;
  #timerDue = Infinity;
  #started = false;
  #stopped = false;
  #idle: Array<() => void> = [];
  #drainLater: NodeJS.Immediate | undefined;
  readonly stats: SchedulerStats = { started: 0, overlapsSkipped: 0, missed: 0, lateness: [], lateSkipped: 0 };

  constructor(options: SchedulerOptions<R>) {
    this.#options = options;
  }

  get running(): number {
    return this.#running;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Starts the timer (entries may be added before). */
  start(): void {
    this.#started = true;
    this.#arm();
  }

  /**
   * Adds or reschedules a server. With `lastCheck` (epoch ms) the next slot is the
   * first of lastCheck + n × interval that is not in the past; without, now + phase.
   */
  schedule(id: number, intervalSeconds: number, lastCheck: number | null = null, now: number = Date.now()): void {
    if (this.#stopped) return;
    const intervalMs = Math.round(intervalSeconds * 1000);
    let entry = this.#entries.get(id);
    if (!entry) this.#entries.set(id, (entry = { id, intervalMs, generation: 0, busy: false }));
    entry.intervalMs = intervalMs;
    entry.generation++;
    let due: number;
    if (this.#options.epochGrid) {
      const phase = phaseOf(id, intervalMs);
      due = phase + Math.ceil((now - phase) / intervalMs) * intervalMs;
    } else if (lastCheck === null) {
      due = now + phaseOf(id, intervalMs);
    } else {
      due = lastCheck + intervalMs;
      if (due < now) due += Math.ceil((now - due) / intervalMs) * intervalMs;
    }
    this.#push({ due, id, generation: entry.generation });
    this.#arm();
  }

  /**
   * Adds or moves a server's next slot to exactly `due` (epoch ms), whatever the grid: a
   * push server's deadline. Later slots follow every `intervalSeconds` until moved again.
   */
  scheduleAt(id: number, due: number, intervalSeconds: number): void {
    if (this.#stopped) return;
    const intervalMs = Math.round(intervalSeconds * 1000);
    let entry = this.#entries.get(id);
    if (!entry) this.#entries.set(id, (entry = { id, intervalMs, generation: 0, busy: false }));
    entry.intervalMs = intervalMs;
    entry.generation++;
    this.#push({ due, id, generation: entry.generation });
    this.#arm();
  }

  /** Removes a server; a check of it that is running finishes. */
  unschedule(id: number): void {
    const entry = this.#entries.get(id);
    if (!entry) return;
    entry.generation++;
    this.#entries.delete(id);
  }

  has(id: number): boolean {
    return this.#entries.has(id);
  }

  /**
   * Runs the given servers' checks now, outside their grid (which stays as it is),
   * through the same concurrency bound; a server whose check is already queued or
   * running is not run twice. Resolves with the results of the runs it started.
   */
  runNow(ids: readonly number[]): Promise<R[]> {
    const runs: Array<Promise<R | undefined>> = [];
    const now = Date.now();
    for (const id of ids) {
      const entry = this.#entries.get(id);
      if (!entry || entry.busy || this.#stopped) continue;
      runs.push(new Promise((done) => this.#enqueue(entry, now, done)));
    }
    this.#drain();
    return Promise.all(runs).then((results) => results.filter((r): r is Awaited<R> => r !== undefined) as R[]);
  }

  /** Stops scheduling, drops queued runs, and resolves when running checks have finished. */
  stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearImmediate(this.#drainLater);
    const queuedRuns = this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    for (const queued of queuedRuns) {
      queued.entry.busy = false;
      queued.done?.(undefined);
    }
    if (this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #arm(): void {
    if (!this.#started || this.#stopped) return;
    while (this.#heap.length > 0 && this.#isStale(this.#heap[0]!)) this.#pop();
    const next = this.#heap[0];
    if (!next) return;
    if (next.due >= this.#timerDue && this.#timer) return;
    clearTimeout(this.#timer);
    this.#timerDue = next.due;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, next.due - Date.now()));
    this.#timer.unref();
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerDue = Infinity;
    const now = Date.now();
    while (this.#heap.length > 0 && this.#heap[0]!.due <= now) {
      const slot = this.#pop()!;
      if (this.#isStale(slot)) continue;
      const entry = this.#entries.get(slot.id)!;
      let next = slot.due + entry.intervalMs;
      if (next <= now) {
        // The process was blocked past whole slots: skip them instead of bursting.
        const missed = Math.floor((now - slot.due) / entry.intervalMs);
        this.stats.missed += missed;
        next = slot.due + (missed + 1) * entry.intervalMs;
      }
      this.#push({ due: next, id: slot.id, generation: slot.generation });
      if (entry.busy) this.stats.overlapsSkipped++;
      else this.#enqueue(entry, slot.due);
    }
    this.#drain();
    this.#arm();
  }

  #enqueue(entry: Entry, scheduledAt: number, done?: (result: R | undefined) => void): void {
    entry.busy = true;
    this.#queue.push({ entry, scheduledAt, done });
  }

  #drain(): void {
    if (this.#drainLater) return; // a drain is already due
    const budgetEnd = performance.now() + DRAIN_BUDGET_MS;
    const tooLate = this.#options.tooLate;
    while (this.#running < this.#options.concurrency && this.#head < this.#queue.length) {
      if (performance.now() > budgetEnd) {
        this.#drainLater = setImmediate(() => {
          this.#drainLater = undefined;
          if (!this.#stopped) this.#drain();
        });
        return;
      }
      const { entry, scheduledAt, done } = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined as unknown as Queued<R>;
      if (this.#head === this.#queue.length) {
        this.#queue = [];
        this.#head = 0;
      } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      const now = Date.now();
      if (!done && tooLate?.(scheduledAt, entry.intervalMs, now)) {
        entry.busy = false;
        this.stats.lateSkipped++;
        continue;
      }
      this.#running++;
      this.stats.started++;
      if (this.stats.lateness.push(now - scheduledAt) > 1000) this.stats.lateness.shift();
      this.#options
        .run(entry.id, scheduledAt)
        .then(
          (result) => done?.(result),
          () => done?.(undefined),
        )
        .finally(() => {
          this.#running--;
          entry.busy = false;
          if (this.#stopped) {
            if (this.#running === 0) for (const resolve of this.#idle.splice(0)) resolve();
          } else {
            this.#drain();
          }
        });
    }
  }

  #isStale(slot: Slot): boolean {
    return this.#entries.get(slot.id)?.generation !== slot.generation;
  }

  // A binary min-heap ordered by due time, then id.
  #less(a: Slot, b: Slot): boolean {
    return a.due < b.due || (a.due === b.due && a.id < b.id);
  }

  #push(slot: Slot): void {
    const heap = this.#heap;
    heap.push(slot);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  #pop(): Slot | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let min = i;
        if (l < heap.length && this.#less(heap[l]!, heap[min]!)) min = l;
        if (r < heap.length && this.#less(heap[r]!, heap[min]!)) min = r;
        if (min === i) break;
        [heap[i], heap[min]] = [heap[min]!, heap[i]!];
        i = min;
      }
    }
    return top;
  }
}
