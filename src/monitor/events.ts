import { EventEmitter } from 'node:events';
import type { PingResult, Server, ServerState, ServerStatus } from './types.js';

/** A check finished and its result is stored: `status` is the server's state after it. */
export interface PingEvent {
  ping: PingResult;
  status: ServerStatus;
}

/** A server's state changed (stored in the same transaction as the ping that caused it). */
export interface StatusEvent {
  status: ServerStatus;
  previous: ServerState;
  server: Server;
  /** The ping that caused the change. */
  ping: PingResult;
}

/**
 * A server was added, edited or removed through the store. `remote`: the change was
 * made by another instance (or the CLI) and announced through the live channel layer;
 * it is already stored, and is not announced again.
 */
export type ServerEvent = (
  { action: 'created'; server: Server; status: ServerStatus } | { action: 'updated'; server: Server } | { action: 'deleted'; id: number }
) & { remote?: boolean };

export interface MonitorEventMap {
  ping: PingEvent;
  status: StatusEvent;
  server: ServerEvent;
}

export type MonitorEventName = keyof MonitorEventMap;
export type Listener<K extends MonitorEventName> = (event: MonitorEventMap[K]) => void;

/**
 * The one place where the monitor announces what happened. SSE, WebSocket,
 * notifications and a cross-instance bridge subscribe here; the checker and the
 * store only publish. Events are published after the data is committed, so a
 * listener that reads the store sees it. A throwing listener is reported through
 * `onListenerError` and never disturbs the checks or the other listeners.
 */
export class MonitorEvents {
  readonly #emitter = new EventEmitter({ captureRejections: false });
  #onListenerError: (error: unknown, event: MonitorEventName) => void;

  constructor(options: { onListenerError?: (error: unknown, event: MonitorEventName) => void } = {}) {
    this.#emitter.setMaxListeners(0);
    this.#onListenerError = options.onListenerError ?? (() => {});
  }

  /** Subscribes; returns the function that unsubscribes. */
  on<K extends MonitorEventName>(event: K, listener: Listener<K>): () => void {
    const safe = (payload: MonitorEventMap[K]) => {
      try {
        listener(payload);
      } catch (error) {
        this.#onListenerError(error, event);
      }
    };
    this.#emitter.on(event, safe);
    return () => this.#emitter.off(event, safe);
  }

  /** Announces an event to every subscriber, synchronously and in subscription order. */
  publish<K extends MonitorEventName>(event: K, payload: MonitorEventMap[K]): void {
    this.#emitter.emit(event, payload);
  }

  listenerCount(event: MonitorEventName): number {
    return this.#emitter.listenerCount(event);
  }

  /** Reports listener failures (the monitor passes its logger). */
  set onListenerError(handler: (error: unknown, event: MonitorEventName) => void) {
    this.#onListenerError = handler;
  }
}
