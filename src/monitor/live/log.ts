import type { LiveEvent } from './types.js';

export interface EventLogOptions {
  /** Events younger than this are kept, ms. Default 5 minutes. */
  windowMs?: number;
  /** This many latest events are kept whatever their age. Default 1000. */
  minEvents?: number;
  /** Never more than this many (bounded memory under a flood). Default 100,000. */
  maxEvents?: number;
}

/**
 * The recent live events, by id, so a client reconnecting with `Last-Event-ID` gets
 * exactly what it missed. Every instance keeps its own copy, fed by the channel
 * layer, so a client may reconnect to any instance. Events from several instances
 * can arrive slightly out of order; they are kept sorted by id.
 */
export class EventLog {
  readonly #events: Array<LiveEvent & { at: number }> = [];
  readonly #windowMs: number;
  readonly #minEvents: number;
  readonly #maxEvents: number;
  /** Ids up to this one are known (replayable or trimmed); a client at or above it has nothing to catch up. */
  #trimmedUpTo = 0;

  constructor(options: EventLogOptions = {}) {
    this.#windowMs = options.windowMs ?? 5 * 60_000;
    this.#minEvents = options.minEvents ?? 1000;
    this.#maxEvents = Math.max(options.maxEvents ?? 100_000, this.#minEvents);
  }

  /** The highest id seen, 0 before the first event. */
  get lastId(): number {
    return this.#events[this.#events.length - 1]?.id ?? this.#trimmedUpTo;
  }

  get size(): number {
    return this.#events.length;
  }

  add(event: LiveEvent, now = Date.now()): void {
    const entry = { ...event, at: now };
    let i = this.#events.length;
    while (i > 0 && this.#events[i - 1]!.id > event.id) i--;
    if (this.#events[i - 1]?.id === event.id) return; // delivered twice
    this.#events.splice(i, 0, entry);
    this.#trim(now);
  }

  /**
   * The events after `lastId`, oldest first; undefined when they cannot all be given
   * (trimmed already, or an id this log has never reached: another monitor, or a log that
   * started after it), so the client gets the snapshot again.
   */
  since(lastId: number): LiveEvent[] | undefined {
    const first = this.#events[0];
    if (!first) return undefined;
    if (lastId < first.id - 1 || lastId > this.lastId) return undefined;
    if (lastId < this.#trimmedUpTo) return undefined;
    let lo = 0;
    let hi = this.#events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#events[mid]!.id <= lastId) lo = mid + 1;
      else hi = mid;
    }
    return this.#events.slice(lo).map(({ at: _at, ...event }) => event as LiveEvent);
  }

  #trim(now: number): void {
    let drop = 0;
    const n = this.#events.length;
    while (n - drop > this.#minEvents && (n - drop > this.#maxEvents || now - this.#events[drop]!.at > this.#windowMs)) drop++;
    if (drop === 0) return;
    this.#trimmedUpTo = this.#events[drop - 1]!.id;
    this.#events.splice(0, drop);
  }
}
