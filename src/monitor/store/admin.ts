import type { Knex } from 'knex';
import type { NotificationConfig, NotificationConfigInput, User } from '../types.js';
import { referencing } from './errors.js';
import { toDelivery, type Delivery } from './outbox.js';
import { num, toNotificationConfig, toUser, type Row } from './rows.js';

/** Notification configs. The webhook secret is written here and read only through `secretOf`. */
export class NotificationQueries {
  constructor(private readonly db: Knex) {}

  async list(options: { serverIds?: readonly number[] } = {}): Promise<NotificationConfig[]> {
    const q = this.db('monitor_notification_configs').orderBy('id');
    if (options.serverIds) q.whereIn('server_id', [...options.serverIds]);
    return ((await q) as Row[]).map(toNotificationConfig);
  }

  async get(id: number): Promise<NotificationConfig | undefined> {
    const row = (await this.db('monitor_notification_configs').where({ id }).first()) as Row | undefined;
    return row ? toNotificationConfig(row) : undefined;
  }

  private columns(input: NotificationConfigInput): Row {
    const row: Row = {
      server_id: input.server,
      notification_type: input.notification_type,
      recipient: input.recipient,
      enabled: input.enabled,
      notify_on_failure: input.notify_on_failure,
      notify_on_recovery: input.notify_on_recovery,
    };
    if (input.base_url !== undefined) row.base_url = input.base_url;
    if (input.secret !== undefined) row.secret = input.secret;
    return row;
  }

  /** Adds a config; its server removed meanwhile is a MissingReferenceError on `server`. */
  async create(input: NotificationConfigInput): Promise<NotificationConfig> {
    const now = Date.now();
    const [row] = await referencing(
      'server',
      input.server,
      () =>
        this.db('monitor_notification_configs')
          .insert({ ...this.columns(input), created_at: now, updated_at: now })
          .returning('*') as Promise<Row[]>,
    );
    return toNotificationConfig(row!);
  }

  /** Updates; a config given without `secret` keeps its secret. A server removed meanwhile: MissingReferenceError. */
  async update(id: number, input: NotificationConfigInput): Promise<NotificationConfig | undefined> {
    const [row] = await referencing(
      'server',
      input.server,
      () =>
        this.db('monitor_notification_configs')
          .where({ id })
          .update({ ...this.columns(input), updated_at: Date.now() })
          .returning('*') as Promise<Row[]>,
    );
    return row ? toNotificationConfig(row) : undefined;
  }

  async remove(id: number): Promise<boolean> {
    return (await this.db('monitor_notification_configs').where({ id }).del()) > 0;
  }

  /**
   * The last delivery attempt of a config (with its error when it failed), for
   * `GET /api/notification-configs/:id/` and the dashboard; undefined before the first.
   */
  async lastDelivery(id: number): Promise<Delivery | undefined> {
    const [last] = await this.deliveries(id, { limit: 1 });
    return last;
  }

  /** A config's delivery attempts, newest first. */
  async deliveries(id: number, { limit = 20 }: { limit?: number } = {}): Promise<Delivery[]> {
    const rows = (await this.db('monitor_notification_deliveries as d')
      .join('monitor_notification_outbox as o', 'o.id', 'd.outbox_id')
      .where('d.config_id', id)
      .orderBy('d.id', 'desc')
      .limit(limit)
      .select('d.*', 'o.message_id', 'o.event')) as Row[];
    return rows.map(toDelivery);
  }

  /** For the sender only: the signing secret of a webhook config. */
  async secretOf(id: number): Promise<string | null> {
    const row = (await this.db('monitor_notification_configs').where({ id }).select('secret').first()) as Row | undefined;
    return typeof row?.secret === 'string' ? row.secret : null;
  }
}

export interface UserWithHash extends User {
  password_hash: string;
}

/** A change of a user: new fields, or removal. */
export type UserChange = { username?: string; password_hash?: string; is_admin?: boolean; is_active?: boolean } | 'remove';

/** What a guarded change did: `last-admin` when it would have left no active admin (nothing changed). */
export type UserChangeResult = { ok: true; user: User | undefined } | { ok: false; reason: 'missing' | 'last-admin' | 'taken' };

/** Users for the API's authentication; hashing is the auth module's job, the store keeps the hash. */
export class UserQueries {
  constructor(
    private readonly db: Knex,
    private readonly dialect: 'sqlite' | 'postgres' = 'sqlite',
  ) {}

  /**
   * Changes or removes a user, unless that leaves no active admin where there was one.
   * The active admins are locked first (PostgreSQL; SQLite writes one at a time), so
   * two admins demoting each other at once cannot both succeed.
   */
  async change(id: number, change: UserChange): Promise<UserChangeResult> {
    return this.db.transaction(async (trx) => {
      const admins = trx('monitor_users').where({ is_admin: true, is_active: true }).select('id');
      const adminIds = ((this.dialect === 'postgres' ? await admins.forUpdate() : await admins) as Row[]).map((r) => num(r.id));
      const row = (await trx('monitor_users').where({ id }).first()) as Row | undefined;
      if (!row) return { ok: false, reason: 'missing' } as const;
      const staysAdmin = change !== 'remove' && (change.is_admin ?? Boolean(row.is_admin)) && (change.is_active ?? Boolean(row.is_active));
      if (adminIds.includes(id) && adminIds.length === 1 && !staysAdmin) return { ok: false, reason: 'last-admin' } as const;
      if (change === 'remove') {
        await trx('monitor_users').where({ id }).del();
        return { ok: true, user: undefined } as const;
      }
      if (change.username !== undefined && change.username !== row.username) {
        const taken = await trx('monitor_users').where({ username: change.username }).whereNot({ id }).first('id');
        if (taken) return { ok: false, reason: 'taken' } as const;
      }
      if (Object.keys(change).length > 0) await trx('monitor_users').where({ id }).update(change);
      const updated = (await trx('monitor_users').where({ id }).first()) as Row;
      return { ok: true, user: toUser(updated) } as const;
    });
  }

  async create(input: { username: string; password_hash: string; is_admin?: boolean }): Promise<User> {
    const [row] = (await this.db('monitor_users')
      .insert({ username: input.username, password_hash: input.password_hash, is_admin: input.is_admin ?? false, created_at: Date.now() })
      .returning('*')) as Row[];
    return toUser(row!);
  }

  async byUsername(username: string): Promise<UserWithHash | undefined> {
    const row = (await this.db('monitor_users').where({ username }).first()) as Row | undefined;
    return row ? { ...toUser(row), password_hash: String(row.password_hash) } : undefined;
  }

  async get(id: number): Promise<User | undefined> {
    const row = (await this.db('monitor_users').where({ id }).first()) as Row | undefined;
    return row ? toUser(row) : undefined;
  }

  /**
   * Which of these users exist, and whether each is active: one query for every user
   * of the open streams. Ids that are absent from the map were removed.
   */
  async activity(ids: readonly number[]): Promise<Map<number, boolean>> {
    const out = new Map<number, boolean>();
    // Under SQLite's and PostgreSQL's bound-parameter limits, whatever the number of users.
    for (let i = 0; i < ids.length; i += 500) {
      const rows = (await this.db('monitor_users')
        .whereIn('id', ids.slice(i, i + 500))
        .select('id', 'is_active')) as Row[];
      for (const row of rows) out.set(num(row.id), Boolean(row.is_active));
    }
    return out;
  }

  async list(): Promise<User[]> {
    return ((await this.db('monitor_users').orderBy('id')) as Row[]).map(toUser);
  }

  async count(): Promise<number> {
    const [row] = (await this.db('monitor_users').count({ n: '*' })) as Row[];
    return num(row?.n ?? 0);
  }

  async update(id: number, fields: { password_hash?: string; is_admin?: boolean; is_active?: boolean }): Promise<boolean> {
    return (await this.db('monitor_users').where({ id }).update(fields)) > 0;
  }

  async remove(id: number): Promise<boolean> {
    return (await this.db('monitor_users').where({ id }).del()) > 0;
  }
}

/** Key/value settings shared by every instance (e.g. the generated JWT secret). */
export class SettingQueries {
  constructor(private readonly db: Knex) {}

  async get(key: string): Promise<string | undefined> {
    const row = (await this.db('monitor_settings').where({ key }).first()) as Row | undefined;
    return row ? String(row.value) : undefined;
  }

  async set(key: string, value: string): Promise<void> {
    await this.db('monitor_settings').insert({ key, value }).onConflict('key').merge();
  }

  /** The stored value, or `make()` stored once: instances starting together agree on one value. */
  async getOrCreate(key: string, make: () => string): Promise<string> {
    await this.db('monitor_settings').insert({ key, value: make() }).onConflict('key').ignore();
    return (await this.get(key))!;
  }
}

type Db = Knex | Knex.Transaction;

/** The enabled configs of these servers, with what they notify on. */
export async function enabledConfigsOf(db: Db, serverIds: readonly number[]): Promise<Row[]> {
  return (await db('monitor_notification_configs')
    .whereIn('server_id', [...serverIds])
    .where('enabled', true)
    .select('id', 'server_id', 'notify_on_failure', 'notify_on_recovery')) as Row[];
}

/** The enabled configs of these servers that notify on failure. */
export async function failureConfigsOf(db: Db, serverIds: readonly number[]): Promise<Row[]> {
  return (await db('monitor_notification_configs')
    .whereIn('server_id', [...serverIds])
    .where({ enabled: true, notify_on_failure: true })
    .select('id', 'server_id')) as Row[];
}

/**
 * Enabled configs in id order, with their destination: the given ones, else every one
 * that notifies on `flag`.
 */
export async function enabledDestinations(
  db: Db,
  { configIds, flag }: { configIds?: readonly number[] | undefined; flag: 'notify_on_failure' | 'notify_on_recovery' },
): Promise<Row[]> {
  const q = db('monitor_notification_configs').where('enabled', true).orderBy('id');
  if (configIds) q.whereIn('id', [...configIds]);
  else q.where(flag, true);
  return (await q.select('id', 'server_id', 'notification_type', 'recipient', 'base_url')) as Row[];
}

/** The enabled configs of these servers that notify on `flag`. */
export async function configsNotifyingOn(
  db: Db,
  serverIds: readonly number[],
  flag: 'notify_on_failure' | 'notify_on_recovery',
): Promise<Row[]> {
  return (await db('monitor_notification_configs')
    .whereIn('server_id', [...serverIds])
    .where({ enabled: true, [flag]: true })
    .select('id', 'server_id')) as Row[];
}
