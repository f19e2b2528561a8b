import type { LiveEvent, LivePayload, LiveServer } from './types.js';

export type ChannelLayerType = 'memory' | 'postgres' | 'redis';
export const CHANNEL_LAYER_TYPES: readonly ChannelLayerType[] = ['memory', 'postgres', 'redis'];

/**
 * How live events reach every instance: the instance that ran a check publishes it,
 * the layer numbers it (one sequence per monitor, shared by all instances) and
 * delivers it to every instance, this one included.
 */
export interface ChannelLayer {
  readonly type: ChannelLayerType;
  /** Starts delivering every instance's events to `deliver`. */
  start(deliver: (event: LiveEvent) => void): Promise<void>;
  /** Numbers the events, in order, and sends them to all instances. */
  publish(events: readonly LivePayload[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * One process: numbers and delivers in memory. Ids start from the clock (microseconds),
 * so after a restart they are above every id the previous process gave: a browser
 * reconnecting with an old `Last-Event-ID` gets the snapshot, not someone else's events.
 */
export class MemoryChannel implements ChannelLayer {
  readonly type = 'memory';
  #next: number;

  constructor(first: number = Date.now() * 1000) {
    this.#next = first;
  }

  #deliver: ((event: LiveEvent) => void) | undefined;

  start(deliver: (event: LiveEvent) => void): Promise<void> {
    this.#deliver = deliver;
    return Promise.resolve();
  }

  publish(events: readonly LivePayload[]): Promise<void> {
    for (const event of events) this.#deliver?.({ ...event, id: this.#next++ });
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#deliver = undefined;
    return Promise.resolve();
  }
}

/** PostgreSQL's NOTIFY payload limit is 8000 bytes: long texts are cut so an event always fits. */
const MAX_TEXT = 1000;

function cut(text: string | null): string | null {
  return text !== null && text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text;
}

/** An event as the wire carries it (without its id), with long messages cut. */
export function encodePayload(event: LivePayload): string {
  if (event.type === 'server') {
    const { type, action, server_id, origin } = event;
    return JSON.stringify({ type, action, server_id, origin });
  }
  const status = { ...event.status, message: cut(event.status.message) ?? '' };
  if (event.type === 'status') return JSON.stringify({ ...event, status });
  return JSON.stringify({ ...event, status, ping: { ...event.ping, error_message: cut(event.ping.error_message) } });
}

/** Parses a delivered event; undefined for anything that is not one of ours. */
export function decodeEvent(text: string): LiveEvent | undefined {
  try {
    const value = JSON.parse(text) as Partial<LiveEvent> | null;
    if (!value || typeof value !== 'object' || !Number.isSafeInteger(value.id)) return undefined;
    if (value.type === 'ping' || value.type === 'status') return value as LiveEvent;
    if (value.type !== 'server') return undefined;
    const server = value as Partial<LiveServer>;
    const valid =
      ['created', 'updated', 'deleted'].includes(server.action ?? '') &&
      Number.isSafeInteger(server.server_id) &&
      typeof server.origin === 'string';
    if (!valid) return undefined;
    return { type: 'server', id: value.id!, action: server.action!, server_id: server.server_id!, origin: server.origin! };
  } catch {
    return undefined;
  }
}
