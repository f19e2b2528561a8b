import type { Knex } from 'knex';
import type { MonitorEvents } from '../events.js';
import type { Page, Server, ServerInput, ServerState, ServerStatus } from '../types.js';
import { newPushToken } from '../push/token.js';
import { num, parseJson, toServer, toStatus, type Row } from './rows.js';

/**
 * A server as the API shows it. `status` and `notifications` are PulseGuard's read-only
 * fields (its clients read `server.status` as the state); `current_status` is the whole
 * current status (uptime, last check, message), null before the server is tracked.
 */
export interface ServerWithStatus extends Server {
  /** The current state; `pending` until the first checks decide. Ignored on write. */
  status: ServerState;
  /** The ids of the server's notification configs, ascending. Ignored on write. */
  notifications: number[];
  current_status: ServerStatus | null;
}

export interface ServerListOptions {
  limit?: number;
  offset?: number;
  /** Case-insensitive match on the name. */
  query?: string;
  ids?: readonly number[];
  enabled?: boolean;
}

export interface ServerFingerprint {
  count: number;
  ids: number;
  /** The latest `updated_at`, epoch ms; 0 without servers. */
  updated: number;
}

/** The fingerprint of servers as a process holds them. */
export function fingerprintOf(servers: Iterable<Server>): ServerFingerprint {
  const print = { count: 0, ids: 0, updated: 0 };
  for (const server of servers) {
    print.count++;
    print.ids += server.id;
    print.updated = Math.max(print.updated, Date.parse(server.updated_at));
  }
  return print;
}

function columns(input: ServerInput): Row {
  const { tags, depends_on, ...rest } = input;
  const row: Row = { ...rest, tags: JSON.stringify(tags) };
  if (depends_on !== undefined) row.depends_on = JSON.stringify(depends_on);
  return row;
}

/** Named queries on servers. Writes announce a `server` event so a running scheduler follows them. */
export class ServerQueries {
  constructor(
    private readonly db: Knex,
    private readonly events: MonitorEvents,
  ) {}

  private filtered(options: ServerListOptions): Knex.QueryBuilder {
    const q = this.db('monitor_servers');
    if (options.query)
      q.whereRaw(`lower(name) like ? escape '\\'`, [`%${options.query.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`]);
    if (options.ids) q.whereIn('id', [...options.ids]);
    if (options.enabled !== undefined) q.where('enabled', options.enabled);
    return q;
  }

  /** A page of servers with their current status, by id. */
  async list(options: ServerListOptions = {}): Promise<Page<ServerWithStatus>> {
    const [countRow] = (await this.filtered(options).count({ n: '*' })) as Row[];
    const rows = (await this.filtered(options)
      .select('monitor_servers.*')
      .orderBy('id')
      .limit(options.limit ?? 100)
      .offset(options.offset ?? 0)) as Row[];
    return { count: num(countRow?.n ?? 0), results: await this.withStatus(rows) };
  }

  /** Adds the status and the notification config ids: one query each for the whole page, not one per server. */
  private async withStatus(rows: readonly Row[]): Promise<ServerWithStatus[]> {
    const ids = rows.map((r) => num(r.id));
    if (ids.length === 0) return [];
    const [statuses, configs] = (await Promise.all([
      this.db('monitor_server_status').whereIn('server_id', ids),
      this.db('monitor_notification_configs').whereIn('server_id', ids).select('id', 'server_id').orderBy('id'),
    ])) as [Row[], Row[]];
    const statusOf = new Map(statuses.map((r) => [num(r.server_id), toStatus(r)]));
    const configsOf = new Map<number, number[]>();
    for (const c of configs) {
      const server = num(c.server_id);
      let list = configsOf.get(server);
      if (!list) configsOf.set(server, (list = []));
      list.push(num(c.id));
    }
    return rows.map((r) => {
      const id = num(r.id);
      const current = statusOf.get(id) ?? null;
      return { ...toServer(r), status: current?.status ?? 'pending', notifications: configsOf.get(id) ?? [], current_status: current };
    });
  }

  /** Every server (the scheduler's view). */
  async all(options: { enabled?: boolean } = {}): Promise<Server[]> {
    const q = this.db('monitor_servers').orderBy('id');
    if (options.enabled !== undefined) q.where('enabled', options.enabled);
    return ((await q) as Row[]).map(toServer);
  }

  /**
   * What changes when any server is added, edited or removed (their count, the sum of
   * their ids, the latest edit): one cheap query for the monitor's periodic sync, which
   * reads every server only when this differs from what it tracks.
   */
  async fingerprint(): Promise<ServerFingerprint> {
    const [row] = (await this.db('monitor_servers').select(
      this.db.raw('count(*) as n'),
      this.db.raw('coalesce(sum(id), 0) as ids'),
      this.db.raw('coalesce(max(updated_at), 0) as updated'),
    )) as Row[];
    return { count: num(row?.n ?? 0), ids: num(row?.ids ?? 0), updated: num(row?.updated ?? 0) };
  }

  async get(id: number): Promise<ServerWithStatus | undefined> {
    const row = (await this.db('monitor_servers').where({ id }).first()) as Row | undefined;
    return row ? (await this.withStatus([row]))[0] : undefined;
  }

  /** Adds a validated server with a `pending` status, in one transaction. */
  async create(input: ServerInput): Promise<Server> {
    const now = Date.now();
    const { server, status } = await this.db.transaction(async (trx) => {
      const [inserted] = (await trx('monitor_servers')
        .insert({ ...columns(input), push_token: input.protocol === 'push' ? newPushToken() : null, created_at: now, updated_at: now })
        .returning('*')) as Row[];
      const id = num(inserted!.id);
      const [status] = (await trx('monitor_server_status')
        .insert({ server_id: id, status: 'pending', last_change: now, message: '' })
        .returning('*')) as Row[];
      await trx('monitor_status_changes').insert({ server_id: id, status: 'pending', at: now });
      return { server: toServer(inserted!), status: toStatus(status!) };
    });
    this.events.publish('server', { action: 'created', server, status });
    return server;
  }

  /** Replaces a server's writable fields (validate with `validateServer(body, { existing })` first). */
  async update(id: number, input: ServerInput): Promise<Server | undefined> {
    // A server that becomes push gets a token; one that stops being push loses it.
    const token = input.protocol === 'push' ? this.db.raw('coalesce(push_token, ?)', [newPushToken()]) : null;
    const [row] = (await this.db('monitor_servers')
      .where({ id })
      .update({ ...columns(input), push_token: token, updated_at: Date.now() })
      .returning('*')) as Row[];
    if (!row) return undefined;
    const server = toServer(row);
    this.events.publish('server', { action: 'updated', server });
    return server;
  }

  /** Gives a push server a new token (the old one stops working at once); undefined when no such push server. */
  async rotatePushToken(id: number): Promise<Server | undefined> {
    const [row] = (await this.db('monitor_servers')
      .where({ id, protocol: 'push' })
      .update({ push_token: newPushToken(), updated_at: Date.now() })
      .returning('*')) as Row[];
    if (!row) return undefined;
    const server = toServer(row);
    this.events.publish('server', { action: 'updated', server });
    return server;
  }

  /** The server a push token belongs to (for the CLI, which has no monitor's memory). */
  async byPushToken(token: string): Promise<Server | undefined> {
    const row = (await this.db('monitor_servers').where({ push_token: token }).first()) as Row | undefined;
    return row ? toServer(row) : undefined;
  }

  /** Removes a server and, through the foreign keys, its history. */
  async remove(id: number): Promise<boolean> {
    const removed = await this.db.transaction(async (trx): Promise<number> => {
      // Its dependants no longer wait on it.
      const dependants = (await trx('monitor_servers').whereNot('depends_on', '[]').select('id', 'depends_on')) as Row[];
      for (const row of dependants) {
        const ids = parseJson<number[]>(row.depends_on, []);
        if (ids.includes(id)) {
          await trx('monitor_servers')
            .where({ id: num(row.id) })
            .update({ depends_on: JSON.stringify(ids.filter((d) => d !== id)) });
        }
      }
      return trx('monitor_servers').where({ id }).del();
    });
    if (removed > 0) this.events.publish('server', { action: 'deleted', id });
    return removed > 0;
  }
}

type Db = Knex | Knex.Transaction;

/** The servers with these ids, by id (the ones that exist). */
export async function serversById(db: Db, ids: readonly number[]): Promise<Map<number, Server>> {
  return new Map(((await db('monitor_servers').whereIn('id', [...ids])) as Row[]).map((r) => [num(r.id), toServer(r)]));
}

/** Which of these ids are servers. */
export async function existingServerIds(db: Db, ids: readonly number[]): Promise<Set<number>> {
  return new Set(
    (
      (await db('monitor_servers')
        .whereIn('id', [...ids])
        .select('id')) as Array<{ id: unknown }>
    ).map((r) => Number(r.id)),
  );
}

/** Every server's `depends_on` with its current state and failures, in one query. */
export async function dependencyRows(db: Db): Promise<Row[]> {
  return (await db('monitor_servers as s')
    .leftJoin('monitor_server_status as t', 't.server_id', 's.id')
    .select('s.id', 's.depends_on', 't.status', 't.consecutive_failures')) as Row[];
}
