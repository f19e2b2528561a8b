import { ConfigError } from '../../errors.js';
import { monitorLogger } from '../default-logger.js';
import type { LifelineLogger } from '../../logging/logger.js';
import { checkInteger, checkOptionsObject, checkString, optionError } from '../../options.js';
import type { MonitorEvents } from '../events.js';
import type { MonitorStore } from '../store/index.js';
import { LiveAccess, type UserActivity } from './access.js';
import { CHANNEL_LAYER_TYPES, MemoryChannel, type ChannelLayer, type ChannelLayerType } from './channel.js';
import { EventLog } from './log.js';
import { PostgresChannel } from './postgres-channel.js';
import { RedisChannel, redisUrlFromEnv } from './redis-channel.js';
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

function channelType(options: Readonly<LiveUpdatesOptions>): ChannelLayerType | ChannelLayer {
  const given = options.channel;
  if (given !== undefined && typeof given === 'object') return given;
  if (given !== undefined) {
    if (!CHANNEL_LAYER_TYPES.includes(given))
      throw optionError('monitor live', 'channel', `one of ${CHANNEL_LAYER_TYPES.join(', ')}`, given);
    return given;
  }
  const env = process.env.CHANNEL_LAYER_TYPE;
  if (env) {
    if (!CHANNEL_LAYER_TYPES.includes(env as ChannelLayerType)) {
      throw new ConfigError('CHANNEL_LAYER_TYPE', `CHANNEL_LAYER_TYPE must be one of ${CHANNEL_LAYER_TYPES.join(', ')}, got "${env}"`);
    }
    return env as ChannelLayerType;
  }
  return options.monitor.store.dialect === 'postgres' ? 'postgres' : 'memory';
}

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
  const type = channelType(options);
  let layer: ChannelLayer;
  if (typeof type === 'object') layer = type;
  else if (type === 'memory') layer = new MemoryChannel();
  else if (type === 'postgres') {
    if (monitor.store.dialect !== 'postgres') throw optionError('monitor live', 'channel', 'memory or redis on SQLite', type);
    layer = new PostgresChannel(monitor.store.db, logger);
  } else {
    const url = checkString('monitor live', 'redisUrl', options.redisUrl ?? redisUrlFromEnv());
    const prefix = checkString('monitor live', 'redisPrefix', options.redisPrefix ?? 'express-lifeline:monitor');
    layer = new RedisChannel(url, prefix, logger);
  }

  const log = new EventLog({ windowMs, minEvents });
  const access = new LiveAccess({ interval: userCheckInterval, logger, ...(options.users ? { users: options.users } : {}) });
  const listeners = new Set<LiveListener>();
  const closers = new Set<() => void>();
  await layer.start((event) => {
    log.add(event);
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        logger.error('monitor live: a listener failed', { error: String(error) });
      }
    }
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

  let closing: Promise<void> | undefined;
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
