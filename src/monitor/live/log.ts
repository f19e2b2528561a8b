import type { LiveEvent } from './types.js';

export interface EventLogOptions {
  /** Events younger than this are kept, ms. Default 5 minutes. */
  windowMs?: number;
  /** This many latest events are kept whatever their age. Default 1000. */
  minEvents?: number;
  /**
   * Never more than this many (bounded memory: an event with its ping and status holds
   * ~560 bytes, so ~11 MB). Default 20,000: 24 s of a 50,000-server fleet's checks at
   * 60 s, far more than a browser's reconnect; an older id gets the snapshot.
   */
  maxEvents?: number;
}

/**
 * The recent live events, by id, so a client reconnecting with `Last-Event-ID` gets
 * exactly what it missed. Every instance keeps its own copy, fed by the channel
 * layer, so a client may reconnect to any instance. Events from several instances
 * can arrive slightly out of order; they are kept sorted by id.
 */
export class EventLog {
  // Events from #head on are kept; trimming moves #head and the array is compacted only
  // once the dropped part is as long as the kept one, so a full log costs O(1) per event,
  // not a shift of every kept event (100,000 of them took ~0.5 ms an event).
  readonly #events: Array<LiveEvent & { at: number }> = [];
  #head = 0;
  readonly #windowMs: number;
  readonly #minEvents: number;
  readonly #maxEvents: number;
  /** Ids up to this one are known (replayable or trimmed); a client at or above it has nothing to catch up. */
  #trimmedUpTo = 0;

  constructor(options: EventLogOptions = {}) {
    this.#windowMs = options.windowMs ?? 5 * 60_000;
    this.#minEvents = options.minEvents ?? 1000;
    this.#maxEvents = Math.max(options.maxEvents ?? 20_000, this.#minEvents);
  }

  /** The highest id seen, 0 before the first event. */
  get lastId(): number {
    return this.size > 0 ? this.#events[this.#events.length - 1]!.id : this.#trimmedUpTo;
  }

  get size(): number {
    return this.#events.length - this.#head;
  }

  add(event: LiveEvent, now = Date.now()): void {
    const entry = { ...event, at: now };
    let i = this.#events.length;
    while (i > this.#head && this.#events[i - 1]!.id > event.id) i--;
    if (i > this.#head && this.#events[i - 1]!.id === event.id) return; // delivered twice
    if (i === this.#events.length) this.#events.push(entry);
    else this.#events.splice(i, 0, entry);
    this.#trim(now);
  }

  /**
   * The events after `lastId`, oldest first; undefined when they cannot all be given
   * (trimmed already, or an id this log has never reached: another monitor, or a log that
   * started after it), so the client gets the snapshot again.
   */
  since(lastId: number): LiveEvent[] | undefined {
    if (this.size === 0) return undefined;
    const first = this.#events[this.#head]!;
    if (lastId < first.id - 1 || lastId > this.lastId) return undefined;
    if (lastId < this.#trimmedUpTo) return undefined;
    let lo = this.#head;
    let hi = this.#events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#events[mid]!.id <= lastId) lo = mid + 1;
      else hi = mid;
    }
    return this.#events.slice(lo).map(({ at: _at, ...event }) => event as LiveEvent);
  }

  #trim(now: number): void {
    const n = this.#events.length;
    let head = this.#head;
    while (n - head > this.#minEvents && (n - head > this.#maxEvents || now - this.#events[head]!.at > this.#windowMs)) head++;
    if (head === this.#head) return;
    this.#trimmedUpTo = this.#events[head - 1]!.id;
    // Dropped entries are released now (they hold pings and statuses), the slots at compaction.
    this.#events.fill(undefined as unknown as LiveEvent & { at: number }, this.#head, head);
    this.#head = head;
    if (head >= n - head) {
      this.#events.splice(0, head);
      this.#head = 0;
    }
  }
}
