import type { Knex } from 'knex';
import type { FailureLog } from '../../logging/failure-log.js';
import type { LifelineLogger } from '../../logging/logger.js';
import { backoffDelay } from '../../time.js';
import { monitorFailures } from '../failures.js';
import { currentSchema, nextIds, notifyAll } from '../store/live-counter.js';
import { decodeEvent, encodePayload, type ChannelLayer } from './channel.js';
import type { LiveEvent, LivePayload } from './types.js';

interface PgConnection {
  connect(): Promise<unknown>;
  end(): Promise<unknown>;
  query(sql: string): Promise<unknown>;
  on(event: 'notification', listener: (message: { channel: string; payload?: string }) => void): void;
  on(event: 'error' | 'end', listener: (error?: Error) => void): void;
  removeAllListeners(event: string): void;
}

const RECONNECT_MS = 1000;
/** A server that stays away is tried again at most this far apart. */
const MAX_RECONNECT_MS = 10_000;

/**
 * Fans events out through PostgreSQL `LISTEN/NOTIFY` on the monitor's own database.
 * Ids come from one counter row (created by the migration 0004_live_counter): numbering and NOTIFY happen in one transaction that
 * holds the row's lock, so every instance receives the events in id order. The
 * channel is named after the schema, so monitors in different schemas stay apart.
 */
export class PostgresChannel implements ChannelLayer {
  readonly type = 'postgres';
  #channel = '';
  #listener: PgConnection | undefined;
  #deliver: ((event: LiveEvent) => void) | undefined;
  #closed = false;
  #retry: NodeJS.Timeout | undefined;
  #reconnects = 0;
  readonly #listenFailures: FailureLog;

  constructor(
    private readonly db: Knex,
    logger: LifelineLogger,
  ) {
    this.#listenFailures = monitorFailures('monitor live: the LISTEN connection (reconnecting)', logger);
  }

  async start(deliver: (event: LiveEvent) => void): Promise<void> {
    this.#deliver = deliver;
    const schema = ((await currentSchema(this.db)) ?? 'public').replace(/[^a-z0-9_]/gi, '_');
    this.#channel = `monitor_live_${schema}`.slice(0, 63).toLowerCase();
    await this.#listen();
  }

  /** A connection of its own, outside knex's pool (which would warn about it when it is cut), with knex's settings. */
  async #connect(): Promise<PgConnection> {
    const { default: pg } = (await import('pg')) as unknown as { default: { Client: new (config: unknown) => PgConnection } };
    let settings = (this.db.client as { connectionSettings?: unknown }).connectionSettings;
    if (typeof settings === 'function') settings = await (settings as () => unknown)();
    const connection = new pg.Client(settings);
    await connection.connect();
    return connection;
  }

  async #listen(): Promise<void> {
    const connection = await this.#connect();
    connection.on('notification', (message) => {
      if (message.channel !== this.#channel || message.payload === undefined) return;
      const event = decodeEvent(message.payload);
      if (event) this.#deliver?.(event);
    });
    const lost = (error?: Error) => {
      if (this.#listener !== connection) return;
      this.#listener = undefined;
      if (this.#closed) return;
      this.#listenFailures.failed(error ?? new Error('the connection ended'));
      void connection.end().catch(() => {});
      this.#scheduleReconnect();
    };
    connection.on('error', lost);
    connection.on('end', lost);
    this.#listener = connection;
    try {
      await connection.query(`listen "${this.#channel}"`);
      this.#reconnects = 0;
      this.#listenFailures.succeeded();
    } catch (error) {
      this.#listener = undefined;
      await connection.end().catch(() => {});
      throw error;
    }
  }

  #scheduleReconnect(): void {
    const delay = backoffDelay(this.#reconnects++, { base: RECONNECT_MS, cap: MAX_RECONNECT_MS, jitter: 0.2 });
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (this.#closed) return;
      this.#listen().catch((error: unknown) => {
        this.#listenFailures.failed(error);
        this.#scheduleReconnect();
      });
    }, delay);
    this.#retry.unref();
  }

  async publish(events: readonly LivePayload[]): Promise<void> {
    if (events.length === 0) return;
    const payloads = events.map(encodePayload);
    await this.db.transaction(async (trx) => {
      const last = await nextIds(trx, payloads.length);
      const first = last - payloads.length + 1;
      const numbered = payloads.map((p, i) => `{"id":${first + i},${p.slice(1)}`);
      // One statement for the whole batch; delivered at commit, in this order.
      await notifyAll(trx, this.#channel, numbered);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    const connection = this.#listener;
    this.#listener = undefined;
    this.#deliver = undefined;
    if (!connection) return;
    connection.removeAllListeners('notification');
    await connection.end().catch(() => {});
  }
}
