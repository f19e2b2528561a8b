import type { Knex } from 'knex';
import type { Page, PingResult, PingStatus, ServerState, ServerStatus } from '../types.js';
import { dialectOf } from '../database.js';
import { num, statusRow, toPing, toStatus, type Row } from './rows.js';

export interface ResultFilter {
  serverIds?: readonly number[];
  status?: readonly PingStatus[];
  /** Epoch ms or ISO 8601: results at or after. */
  since?: number | string;
  limit?: number;
  offset?: number;
}

export interface StatusFilter {
  status?: readonly ServerState[];
  serverIds?: readonly number[];
}

/** A finished check as the writer hands it over: the ping, the state after it, and the change it made. */
export interface CheckRecord {
  ping: Omit<PingResult, 'id'>;
  status: ServerStatus;
  /** Set when the check changed the server's state (`from`: the state before, for notifications). */
  change?: { status: ServerState; at: number; from?: ServerState };
  /** The server has `depends_on`: its notifications wait while a parent is down, so a steady `down` is looked at too. */
  dependent?: boolean;
}

const CHUNK = 100;

/** The part of a better-sqlite3 connection the results' writes use. */
interface SqliteStatement {
  run(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  get(...params: unknown[]): unknown;
  pluck(): SqliteStatement;
}
interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
}

const PING_COLUMNS = ['server_id', 'status', 'response_time', 'status_code', 'error_message', 'check_timestamp'] as const;
const STATUS_COLUMNS = [
  'server_id',
  'status',
  'uptime_percentage',
  'uptime',
  'last_check',
  'consecutive_failures',
  'consecutive_successes',
  'message',
  'last_change',
  'cert_expires_at',
] as const;
const values = (columns: number, rows: number) => Array.from({ length: rows }, () => `(${Array(columns).fill('?').join(', ')})`).join(', ');

/** The SQL of each statement the writes of a batch use, by kind and row count (≤ CHUNK). */
const SQL = {
  exists: () => 'select 1 from "monitor_servers" where id = ?',
  ping: (rows: number) =>
    `insert into "monitor_ping_results" (${PING_COLUMNS.join(', ')}) values ${values(PING_COLUMNS.length, rows)} returning id`,
  status: (rows: number) =>
    `insert into "monitor_server_status" (${STATUS_COLUMNS.join(', ')}) values ${values(STATUS_COLUMNS.length, rows)}` +
    ` on conflict (server_id) do update set ${STATUS_COLUMNS.map((c) => `${c} = excluded.${c}`).join(', ')}`,
  change: (rows: number) => `insert into "monitor_status_changes" (server_id, status, at) values ${values(3, rows)}`,
};

/**
 * Statements prepared once per SQLite connection, by their SQL: better-sqlite3 runs on
 * the event loop, and through knex every batch's statements would be built and compiled anew.
 */
const preparedOf = new WeakMap<SqliteConnection, Map<string, SqliteStatement>>();
function prepare(conn: SqliteConnection, sql: string): SqliteStatement {
  let cache = preparedOf.get(conn);
  if (!cache) preparedOf.set(conn, (cache = new Map()));
  let statement = cache.get(sql);
  if (!statement) cache.set(sql, (statement = conn.prepare(sql)));
  return statement;
}

function sinceMs(since: number | string): number {
  return typeof since === 'number' ? since : Date.parse(since);
}

/** Named queries on ping results and current statuses. */
/**
 * Work that must commit or fail with a batch of results, such as a notification
 * outbox row for each state change. Runs inside the batch's transaction; throwing
 * rolls the batch back (the writer keeps it and retries).
 */
export type RecordHook = (trx: Knex.Transaction, stored: ReadonlyArray<{ record: CheckRecord; ping: PingResult }>) => Promise<void>;

export class ResultQueries {
  readonly #hooks = new Set<RecordHook>();

  constructor(private readonly db: Knex) {}

  /** Adds a hook to every batch's transaction; returns the function that removes it. */
  addRecordHook(hook: RecordHook): () => void {
    this.#hooks.add(hook);
    return () => this.#hooks.delete(hook);
  }

  private filtered(filter: ResultFilter): Knex.QueryBuilder {
    const q = this.db('monitor_ping_results');
    if (filter.serverIds) q.whereIn('server_id', [...filter.serverIds]);
    if (filter.status) q.whereIn('status', [...filter.status]);
    if (filter.since !== undefined) q.where('check_timestamp', '>=', sinceMs(filter.since));
    return q;
  }

  /** Newest first. */
  async list(filter: ResultFilter = {}): Promise<Page<PingResult>> {
    const [countRow] = (await this.filtered(filter).count({ n: '*' })) as Row[];
    const rows = (await this.filtered(filter)
      .orderBy([
        { column: 'check_timestamp', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .limit(filter.limit ?? 100)
      .offset(filter.offset ?? 0)) as Row[];
    return { count: num(countRow?.n ?? 0), results: rows.map(toPing) };
  }

  /** The latest `limit` results, newest first (no count: for snapshots). */
  async latest(filter: ResultFilter = {}): Promise<PingResult[]> {
    const rows = (await this.filtered(filter)
      .orderBy([
        { column: 'check_timestamp', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .limit(filter.limit ?? 50)) as Row[];
    return rows.map(toPing);
  }

  async statuses(filter: StatusFilter = {}): Promise<ServerStatus[]> {
    const q = this.db('monitor_server_status').orderBy('server_id');
    if (filter.status) q.whereIn('status', [...filter.status]);
    if (filter.serverIds) q.whereIn('server_id', [...filter.serverIds]);
    return ((await q) as Row[]).map(toStatus);
  }

  /** Current statuses by server id (a page of them with `limit`), with the count of all that match (the REST list). */
  async statusPage(filter: StatusFilter & { limit?: number; offset?: number } = {}): Promise<Page<ServerStatus>> {
    const filtered = () => {
      const q = this.db('monitor_server_status');
      if (filter.status) q.whereIn('status', [...filter.status]);
      if (filter.serverIds) q.whereIn('server_id', [...filter.serverIds]);
      return q;
    };
    const [countRow] = (await filtered().count({ n: '*' })) as Row[];
    const q = filtered().orderBy('server_id');
    if (filter.limit !== undefined) q.limit(filter.limit).offset(filter.offset ?? 0);
    const rows = (await q) as Row[];
    return { count: num(countRow?.n ?? 0), results: rows.map(toStatus) };
  }

  async status(serverId: number): Promise<ServerStatus | undefined> {
    const row = (await this.db('monitor_server_status').where({ server_id: serverId }).first()) as Row | undefined;
    return row ? toStatus(row) : undefined;
  }

  /**
   * Claims one slot of a server for this instance: succeeds (with the current
   * status, as stored by whichever instance checked last) only if no instance took
   * this slot or a later one. One atomic UPDATE, so each slot runs once.
   */
  async claim(serverId: number, slot: number, instance: string): Promise<ServerStatus | undefined> {
    const [row] = (await this.db('monitor_server_status')
      .where({ server_id: serverId })
      .andWhere((q) => q.whereNull('claimed_slot').orWhere('claimed_slot', '<', slot))
      .update({ claimed_slot: slot, claimed_by: instance })
      .returning('*')) as Row[];
    return row ? toStatus(row) : undefined;
  }

  /**
   * Writes a batch of finished checks in one transaction: one multi-row INSERT of
   * pings per 100 checks, the statuses as one upsert, and the state changes. The
   * notification outbox belongs in this transaction too. Checks of servers removed
   * meanwhile are dropped. Returns the stored pings, in the order given.
   */
  async record<R extends CheckRecord>(records: readonly R[]): Promise<Array<{ record: R; ping: PingResult }>> {
    if (records.length === 0) return [];
    if ((this.db.client as { driverName?: string }).driverName === 'better-sqlite3') return this.recordSqlite(records);
    return this.db.transaction(async (trx) => {
      const wanted = [...new Set(records.map((r) => r.ping.server))];
      const present = trx('monitor_servers').whereIn('id', wanted).select('id');
      // PostgreSQL: held until the commit, so a server deleted meanwhile waits for the batch, or is gone
      // from this answer; never deleted between it and the inserts (a foreign-key error failing the batch).
      if (dialectOf(this.db) === 'postgres') present.forKeyShare();
      const existing = new Set(((await present) as Row[]).map((r) => num(r.id)));
      const kept = records.filter((r) => existing.has(r.ping.server));
      const stored: Array<{ record: R; ping: PingResult }> = [];
      for (let i = 0; i < kept.length; i += CHUNK) {
        const chunk = kept.slice(i, i + CHUNK);
        const rows = (await trx('monitor_ping_results')
          .insert(
            chunk.map(({ ping }) => ({
              server_id: ping.server,
              status: ping.status,
              response_time: ping.response_time,
              status_code: ping.status_code,
              error_message: ping.error_message,
              check_timestamp: Date.parse(ping.check_timestamp),
            })),
          )
          .returning('*')) as Row[];
        // Both drivers return inserted rows in insertion order.
        rows.forEach((row, j) => stored.push({ record: chunk[j]!, ping: toPing(row) }));
      }
      // Only the last status of each server in the batch counts.
      const latest = new Map<number, ServerStatus>();
      for (const r of kept) latest.set(r.status.server, r.status);
      const statuses = [...latest.values()].map(statusRow);
      for (let i = 0; i < statuses.length; i += CHUNK) {
        await trx('monitor_server_status')
          .insert(statuses.slice(i, i + CHUNK))
          .onConflict('server_id')
          .merge();
      }
      const changes = kept.filter((r) => r.change).map((r) => ({ server_id: r.ping.server, status: r.change!.status, at: r.change!.at }));
      for (let i = 0; i < changes.length; i += CHUNK) await trx('monitor_status_changes').insert(changes.slice(i, i + CHUNK));
      for (const hook of this.#hooks) await hook(trx, stored);
      return stored;
    });
  }

  /**
   * record() on better-sqlite3: the same statements as through knex (one multi-row INSERT
   * per 100 pings, statuses and changes), prepared once and announced as knex's `query`
   * events, so query logging and counting see them.
   */
  private recordSqlite<R extends CheckRecord>(records: readonly R[]): Promise<Array<{ record: R; ping: PingResult }>> {
    return this.db.transaction(async (trx) => {
      const conn = (await trx.client.acquireConnection()) as SqliteConnection;
      const watched = this.db.listenerCount('query') > 0;
      const run = (sql: string, bindings: unknown[], read: boolean) => {
        if (watched) this.db.emit('query', { sql, bindings, method: read ? 'select' : 'insert' });
        const statement = prepare(conn, sql);
        return read ? statement.all(...bindings) : statement.run(...bindings);
      };
      const exists = prepare(conn, SQL.exists()).pluck();
      const known = new Map<number, boolean>();
      const kept = records.filter(({ ping }) => {
        let found = known.get(ping.server);
        if (found === undefined) known.set(ping.server, (found = exists.get(ping.server) !== undefined));
        return found;
      });
      const stored: Array<{ record: R; ping: PingResult }> = [];
      for (let i = 0; i < kept.length; i += CHUNK) {
        const chunk = kept.slice(i, i + CHUNK);
        const bindings: unknown[] = [];
        for (const { ping } of chunk) {
          bindings.push(
            ping.server,
            ping.status,
            ping.response_time,
            ping.status_code,
            ping.error_message,
            Date.parse(ping.check_timestamp),
          );
        }
        const ids = run(SQL.ping(chunk.length), bindings, true) as Row[];
        // RETURNING gives the rows in insertion order.
        chunk.forEach((record, j) => stored.push({ record, ping: { id: num(ids[j]!.id), ...record.ping } }));
      }
      const latest = new Map<number, ServerStatus>();
      for (const r of kept) latest.set(r.status.server, r.status);
      const statuses = [...latest.values()];
      for (let i = 0; i < statuses.length; i += CHUNK) {
        const chunk = statuses.slice(i, i + CHUNK);
        const bindings: unknown[] = [];
        for (const status of chunk) {
          const row = statusRow(status);
          for (const column of STATUS_COLUMNS) bindings.push(row[column]);
        }
        run(SQL.status(chunk.length), bindings, false);
      }
      const changes = kept.filter((r) => r.change);
      for (let i = 0; i < changes.length; i += CHUNK) {
        const chunk = changes.slice(i, i + CHUNK);
        run(
          SQL.change(chunk.length),
          chunk.flatMap((r) => [r.ping.server, r.change!.status, r.change!.at]),
          false,
        );
      }
      for (const hook of this.#hooks) await hook(trx, stored);
      return stored;
    });
  }
}
