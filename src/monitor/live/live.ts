import { randomBytes } from 'node:crypto';
import { monitorLogger } from '../default-logger.js';
import type { LifelineLogger } from '../../logging/logger.js';
import { checkInteger, checkOptionsObject, optionError } from '../../options.js';
import type { MonitorEvents } from '../events.js';
import type { MonitorStore } from '../store/index.js';
import { LiveAccess, type UserActivity } from './access.js';
import type { ChannelLayer, ChannelLayerType } from './channel.js';
import { channelLayer } from './layers.js';
import { EventLog } from './log.js';
import { followRemote, isServerEvent, readServerEvent, serverPayload } from './server-events.js';
import type { LiveEvent, LivePayload } from './types.js';

export interface LiveUpdatesOptions {
  /** The monitor (or anything with its `store` and `events`). */
  monitor: { store: MonitorStore; events: MonitorEvents };
  /**
   * How events reach the other instances. Default `CHANNEL_LAYER_TYPE`, else `postgres`
   * on a PostgreSQL database and `memory` (one process) on SQLite.
   */
  channel?: ChannelLayerType | ChannelLayer;
  /** For the redis layer. Default `REDIS_URL`, else `REDIS_HOST`/`REDIS_PORT`, else localhost:6379. */
  redisUrl?: string;
  /** Redis key and channel prefix, so monitors sharing a Redis stay apart. Default `express-lifeline:monitor`. */
  redisPrefix?: string;
  /** Events replayable to a reconnecting client at least this long, ms. Default 5 minutes. */
  replayWindow?: number;
  /** ...and at least this many latest ones. Default 1000. */
  replayEvents?: number;
  /** Where problems are logged. Default: warnings to the console; `false` for none. */
  logger?: LifelineLogger | false;
  /**
   * Re-checks the users of the open streams and sockets (one call for all of them), ending
   * those of a removed or deactivated user. Default: none (only token expiry ends them);
   * the monitor app passes its users table.
   */
  users?: UserActivity;
  /** ms between those re-checks. Default 5000. */
  userCheckInterval?: number;
}

export type LiveListener = (event: LiveEvent) => void;

/** Live updates of one monitor, shared by its SSE streams and WebSockets. */
export interface LiveUpdates {
  readonly store: MonitorStore;
  readonly channel: ChannelLayerType;
  readonly log: EventLog;
  /** Ends streams and sockets whose token expires or whose user is removed or deactivated. */
  readonly access: LiveAccess;
  /** Every instance's events as they arrive; returns the function that unsubscribes. */
  subscribe(listener: LiveListener): () => void;
  /** Runs `fn` for each open stream or socket when the live layer closes (they end themselves). */
  onClose(fn: () => void): () => void;
  readonly closed: boolean;
  /** Ends the streams and sockets (SSE `shutdown` event, WebSocket 1001) and leaves the channel. */
  close(): Promise<void>;
}

const KNOWN = ['monitor', 'channel', 'redisUrl', 'redisPrefix', 'replayWindow', 'replayEvents', 'logger', 'users', 'userCheckInterval'];

/**
 * Starts the live updates of a monitor: every check this instance runs is published
 * on the channel layer, and every instance's events are kept for replay and handed to
 * the SSE streams and WebSockets (`statusStream`, `attachMonitorSockets`).
 *
 * @example
 * const live = await createLiveUpdates({ monitor });
 * app.get('/api/events/status/', statusStream({ live, authenticate }));
 * const sockets = attachMonitorSockets(server, { live, authenticate });
 */
export async function createLiveUpdates(options: Readonly<LiveUpdatesOptions>): Promise<LiveUpdates> {
  checkOptionsObject('monitor live', options, KNOWN);
  const { monitor } = options;
  if (!monitor || typeof monitor !== 'object' || !monitor.store || !monitor.events) {
    throw optionError('monitor live', 'monitor', 'a monitor (with `store` and `events`)', monitor);
  }
  const windowMs = checkInteger('monitor live', 'replayWindow', options.replayWindow ?? 5 * 60_000, { min: 0, unit: 'ms' });
  const minEvents = checkInteger('monitor live', 'replayEvents', options.replayEvents ?? 1000, { min: 0, max: 1_000_000 });
  const logger = monitorLogger(options.logger);
  if (options.users !== undefined && typeof options.users !== 'function')
    throw optionError('monitor live', 'users', 'a function (ids) => Promise<Map<id, active>>', options.users);
  const userCheckInterval = checkInteger('monitor live', 'userCheckInterval', options.userCheckInterval ?? 5000, { min: 10, unit: 'ms' });
  const layer = channelLayer('monitor live', monitor.store, options, logger);
  // Tells this instance's own server changes from the others' (and the CLI's).
  const origin = randomBytes(8).toString('hex');

  let closing: Promise<void> | undefined;
  const log = new EventLog({ windowMs, minEvents });
  const access = new LiveAccess({ interval: userCheckInterval, logger, ...(options.users ? { users: options.users } : {}) });
  const listeners = new Set<LiveListener>();
  const closers = new Set<() => void>();
  const deliver = (event: LiveEvent) => {
    log.add(event);
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        logger.error('monitor live: a listener failed', { error: String(error) });
      }
    }
    if (isServerEvent(event) && event.origin !== origin && !closing) followRemote(monitor.events, event);
  };
  // A server event waits for its row to be read; the events after it wait too, so every stream sees them in id order.
  const waiting: LiveEvent[] = [];
  let reading = false;
  let lastReadWarning = 0;
  const readInOrder = async () => {
    reading = true;
    for (let event = waiting.shift(); event; event = waiting.shift()) {
      if (!isServerEvent(event)) {
        deliver(event);
        continue;
      }
      try {
        deliver(await readServerEvent(monitor.store, event));
      } catch (error) {
        // The monitor's periodic sync catches the change up; streams miss this one event.
        if (!closing && Date.now() - lastReadWarning > 60_000) {
          lastReadWarning = Date.now();
          logger.warn('monitor live: could not read a changed server', { server: event.server_id, error: String(error) });
        }
      }
    }
    reading = false;
  };
  await layer.start((event) => {
    if (!reading && !isServerEvent(event)) return deliver(event);
    waiting.push(event);
    if (!reading) void readInOrder();
  });

  // The writer announces a batch of checks at once: publish them as one batch, in order.
  let pending: LivePayload[] = [];
  let publishing: Promise<void> = Promise.resolve();
  let lost = 0;
  let lastWarning = 0;
  const flush = () => {
    const batch = pending;
    pending = [];
    publishing = publishing
      .then(() => layer.publish(batch))
      .catch((error: unknown) => {
        // Lost events only cost clients a snapshot on reconnect; say it once a minute at most.
        lost += batch.length;
        if (Date.now() - lastWarning < 60_000) return;
        lastWarning = Date.now();
        logger.warn('monitor live: could not publish events', { error: String(error), lost });
        lost = 0;
      });
  };
  const queue = (payload: LivePayload) => {
    if (pending.length === 0) queueMicrotask(flush);
    pending.push(payload);
  };
  const offPing = monitor.events.on('ping', ({ ping, status }) => queue({ type: 'ping', ping, status }));
  const offStatus = monitor.events.on('status', ({ status, previous }) => queue({ type: 'status', status, previous }));
  const offServer = monitor.events.on('server', (event) => {
    if (!event.remote) queue(serverPayload(event, origin));
  });

  const live: LiveUpdates = {
    store: monitor.store,
    channel: layer.type,
    log,
    access,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onClose(fn) {
      closers.add(fn);
      return () => closers.delete(fn);
    },
    get closed() {
      return closing !== undefined;
    },
    close() {
      closing ??= (async () => {
        offPing();
        offStatus();
        offServer();
        for (const fn of [...closers]) fn();
        closers.clear();
        access.close();
        await publishing;
        listeners.clear();
        await layer.close();
      })();
      return closing;
    },
  };
  return live;
}
