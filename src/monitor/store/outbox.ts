import type { Knex } from 'knex';
import type { Dialect } from '../database.js';
import { iso, num, type Row } from './rows.js';

/** `monitor.network_lost`/`_back`: the monitor itself lost (and regained) the network; once, not per server. */
export type NotificationEvent =
  | 'server.down'
  | 'server.up'
  | 'server.cert_expiring'
  | 'incident.opened'
  | 'incident.resolved'
  | 'monitor.network_lost'
  | 'monitor.network_back';
export type OutboxState = 'pending' | 'delivered' | 'failed' | 'disabled';

/** A notification waiting in (or done with) the outbox: one event for one config. */
export interface OutboxMessage {
  id: number;
  config: number;
  server: number;
  /** Stable across attempts: the `webhook-id`, by which receivers drop repeats. */
  message_id: string;
  event: NotificationEvent;
  reminder: boolean;
  payload: Record<string, unknown>;
  state: OutboxState;
  attempts: number;
  created_at: number;
  next_attempt_at: number;
  last_error: string | null;
}

export interface OutboxInput {
  config: number;
  server: number;
  message_id: string;
  event: NotificationEvent;
  reminder?: boolean;
  payload: Record<string, unknown>;
  at: number;
}

/** One delivery attempt, as the API and the dashboard show it. */
export interface Delivery {
  id: number;
  config: number;
  message_id: string;
  event: NotificationEvent;
  attempt: number;
  /** When the attempt ended, ISO 8601 UTC. */
  at: string;
  ok: boolean;
  /** HTTP status for webhooks and SMS; null for email and when no answer came. */
  status_code: number | null;
  error: string | null;
  duration_ms: number;
}

/** What an attempt gave, and where the message goes next. */
export interface AttemptResult {
  ok: boolean;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  at: number;
  /** The message's next state; `pending` with `next_attempt_at` to retry. */
  state: OutboxState;
  next_attempt_at: number;
  /** The receiver said 410 Gone: the config is switched off in the same transaction. */
  disableConfig?: boolean;
}

const TABLE = 'monitor_notification_outbox';
const DELIVERIES = 'monitor_notification_deliveries';

function toMessage(r: Row): OutboxMessage {
  return {
    id: num(r.id),
    config: num(r.config_id),
    server: num(r.server_id),
    message_id: String(r.message_id),
    event: r.event as NotificationEvent,
    reminder: Boolean(r.reminder),
    payload: JSON.parse(String(r.payload)) as Record<string, unknown>,
    state: r.state as OutboxState,
    attempts: num(r.attempts),
    created_at: num(r.created_at),
    next_attempt_at: num(r.next_attempt_at),
    last_error: r.last_error === null || r.last_error === undefined ? null : String(r.last_error),
  };
}

export function toDelivery(r: Row): Delivery {
  return {
    id: num(r.id),
    config: num(r.config_id),
    message_id: String(r.message_id),
    event: r.event as NotificationEvent,
    attempt: num(r.attempt),
    at: iso(num(r.at)),
    ok: Boolean(r.ok),
    status_code: r.status_code === null || r.status_code === undefined ? null : num(r.status_code),
    error: r.error === null || r.error === undefined ? null : String(r.error),
    duration_ms: num(r.duration_ms),
  };
}

/**
 * The notification outbox: rows written with the state change, claimed by one
 * sender at a time (a lease in `claimed_until`), finished together with the log of
 * the attempt.
 */
export class OutboxQueries {
  constructor(
    private readonly db: Knex,
    private readonly dialect: Dialect,
  ) {}

  /** Adds messages inside the caller's transaction (the one storing the state change). */
  async enqueue(trx: Knex.Transaction | Knex, messages: readonly OutboxInput[]): Promise<void> {
    if (messages.length === 0) return;
    await trx(TABLE).insert(
      messages.map((m) => ({
        config_id: m.config,
        server_id: m.server,
        message_id: m.message_id,
        event: m.event,
        reminder: m.reminder ?? false,
        payload: JSON.stringify(m.payload),
        state: 'pending',
        attempts: 0,
        created_at: m.at,
        next_attempt_at: m.at,
      })),
    );
  }

  /**
   * Takes up to `limit` due messages for `lease` ms: those not claimed, or whose
   * claim ran out (its sender died). One atomic UPDATE; on PostgreSQL the rows are
   * picked with `FOR UPDATE SKIP LOCKED`, so instances claiming at once never get
   * the same row. A config's messages go out in order: a message waits while an
   * older one of its config is pending. Messages of the configs in `skip` (the
   * sender's busy destinations) are left for later.
   */
  async claim(
    instance: string,
    { limit, lease, now = Date.now(), skip = [] }: { limit: number; lease: number; now?: number; skip?: readonly number[] },
  ): Promise<OutboxMessage[]> {
    const due = this.db(`${TABLE} as o`)
      .select('o.id')
      .where('o.state', 'pending')
      .where('o.next_attempt_at', '<=', now)
      .where((q) => q.whereNull('o.claimed_until').orWhere('o.claimed_until', '<', now))
      .whereNotExists(
        this.db(`${TABLE} as older`)
          .select(this.db.raw('1'))
          .whereRaw('older.config_id = o.config_id')
          .where('older.state', 'pending')
          .whereRaw('older.id < o.id'),
      )
      .orderBy('o.next_attempt_at')
      .limit(limit);
    if (skip.length > 0) due.whereNotIn('o.config_id', [...skip]);
    if (this.dialect === 'postgres') due.forUpdate().skipLocked();
    const rows = (await this.db(TABLE)
      .whereIn('id', due)
      // Checked again by the UPDATE itself: a row another sender took meanwhile is left alone.
      .where('state', 'pending')
      .where((q) => q.whereNull('claimed_until').orWhere('claimed_until', '<', now))
      .update({ claimed_until: now + lease, claimed_by: instance })
      .returning('*')) as Row[];
    return rows.map(toMessage).sort((a, b) => a.id - b.id);
  }

  /**
   * Records an attempt and moves the message on, in one transaction: delivered
   * (never sent again), rescheduled, or given up. The message changes only while
   * this sender still holds its claim; returns false when it did not (the attempt
   * is logged all the same).
   */
  async finish(message: OutboxMessage, instance: string, result: AttemptResult): Promise<boolean> {
    return this.db.transaction(async (trx) => {
      const updated = await trx(TABLE)
        .where({ id: message.id, claimed_by: instance, state: 'pending' })
        .update({
          state: result.state,
          attempts: message.attempts + 1,
          next_attempt_at: result.next_attempt_at,
          finished_at: result.state === 'pending' ? null : result.at,
          last_error: result.error,
          claimed_until: null,
          claimed_by: null,
        });
      await trx(DELIVERIES).insert({
        outbox_id: message.id,
        config_id: message.config,
        attempt: message.attempts + 1,
        at: result.at,
        ok: result.ok,
        status_code: result.status_code,
        error: result.error,
        duration_ms: result.duration_ms,
      });
      if (result.disableConfig) {
        await trx('monitor_notification_configs').where({ id: message.config }).update({ enabled: false, updated_at: result.at });
      }
      return updated > 0;
    });
  }

  /**
   * Extends this sender's claims on messages still in flight to `until`: an attempt
   * may outlast one lease (a slow SMTP exchange, a database that answers late), and
   * another sender must not take a message whose attempt is still running.
   */
  async renew(ids: readonly number[], instance: string, until: number): Promise<void> {
    if (ids.length === 0) return;
    await this.db(TABLE)
      .whereIn('id', [...ids])
      .where({ claimed_by: instance, state: 'pending' })
      .update({ claimed_until: until });
  }

  /** Gives a claimed message back untouched (the sender is stopping): it is due again at once. */
  async release(ids: readonly number[], instance: string): Promise<void> {
    if (ids.length === 0) return;
    await this.db(TABLE)
      .whereIn('id', [...ids])
      .where({ claimed_by: instance })
      .update({ claimed_until: null, claimed_by: null });
  }

  /** Ends a message that can no longer be sent (its config was switched off or removed). */
  async drop(id: number, reason: string, at: number = Date.now()): Promise<void> {
    await this.db(TABLE)
      .where({ id, state: 'pending' })
      .update({ state: 'disabled', finished_at: at, last_error: reason, claimed_until: null, claimed_by: null });
  }

  /** Messages, oldest first (diagnostics and tests). */
  async list(filter: { config?: number; server?: number; state?: OutboxState } = {}): Promise<OutboxMessage[]> {
    const q = this.db(TABLE).orderBy('id');
    if (filter.config !== undefined) q.where('config_id', filter.config);
    if (filter.server !== undefined) q.where('server_id', filter.server);
    if (filter.state !== undefined) q.where('state', filter.state);
    return ((await q) as Row[]).map(toMessage);
  }

  /** Removes finished messages (and, through the foreign key, their attempts) that ended before `before`. */
  async prune(before: number, { batch = 500 } = {}): Promise<number> {
    const old = this.db(TABLE).select('id').whereNot('state', 'pending').where('finished_at', '<', before).orderBy('id').limit(batch);
    return this.db(TABLE).whereIn('id', old).del();
  }
}

type Db = Knex | Knex.Transaction;

/** Whether a `server.down` for `server` was written to the outbox at or after `since`. */
export async function downAnnouncedSince(db: Db, server: number, since: number): Promise<boolean> {
  const row = (await db('monitor_notification_outbox')
    .where({ server_id: server, event: 'server.down' })
    .where('created_at', '>=', since)
    .first('id')) as Row | undefined;
  return row !== undefined;
}

/** The last message written for one config and server: its event and when. */
export async function lastMessageFor(db: Db, config: number, server: number): Promise<Row | undefined> {
  return (await db('monitor_notification_outbox')
    .where({ config_id: config, server_id: server })
    .orderBy('id', 'desc')
    .first('event', 'created_at')) as Row | undefined;
}

/** The event of the last message written of any of `events`, or undefined when none was. */
export async function lastEventOf(db: Db, events: readonly NotificationEvent[]): Promise<string | undefined> {
  const last = (await db('monitor_notification_outbox')
    .whereIn('event', [...events])
    .orderBy('id', 'desc')
    .first('event')) as Row | undefined;
  return last?.event as string | undefined;
}
