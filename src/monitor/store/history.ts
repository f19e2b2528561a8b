import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Knex } from 'knex';
import type { Rollup, ServerState } from '../types.js';
import { iso, num, toRollup, type Row } from './rows.js';

export interface StateChange {
  server: number;
  status: ServerState;
  at: number;
}

export interface RunInterval {
  start: number;
  end: number;
}

const HOUR = 3_600_000;

/** One bucket of a server's history. */
export interface HistoryBucket {
  /** ISO 8601 UTC. */
  start: string;
  checks: number;
  /** Percent of the checks that succeeded; null without checks. */
  uptime: number | null;
  /** ms, over the successful checks; null without one. */
  avg_response_time: number | null;
  /** ms; from rollups, the highest hourly p95 of the bucket (an upper bound). */
  p95_response_time: number | null;
}

export interface BucketQuery {
  /** Epoch ms; aligned down to `size`. */
  from: number;
  to: number;
  /** Bucket length, ms (a whole number of hours, or a divisor of one, for rollups to fit). */
  size: number;
  /** Hours before this are rolled up (the rollup watermark): older time is read from rollups, newer from raw results. */
  rolledUpTo?: number | undefined;
}

interface Acc {
  checks: number;
  failures: number;
  /** Sum of response times and how many, for the mean. */
  sum: number;
  timed: number;
  times: number[];
  p95: number | null;
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;

/** p95 by nearest rank. */
function p95(sorted: readonly number[]): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)]!;
}

/** State changes, monitor runs, hourly rollups and pruning: what uptime and charts are made of. */
export class HistoryQueries {
  constructor(private readonly db: Knex) {}

  /**
   * Changes since `since`, plus for each server the last change before it (the
   * state at the start of the window), oldest first.
   */
  async changesSince(since: number, serverIds?: readonly number[]): Promise<StateChange[]> {
    const recent = this.db('monitor_status_changes').where('at', '>=', since);
    const before = this.db('monitor_status_changes').whereIn(
      'id',
      this.db('monitor_status_changes').where('at', '<', since).max('id').groupBy('server_id'),
    );
    if (serverIds) {
      recent.whereIn('server_id', [...serverIds]);
      before.whereIn('server_id', [...serverIds]);
    }
    const rows = [...((await before) as Row[]), ...((await recent) as Row[])];
    return rows
      .map((r) => ({ server: num(r.server_id), status: r.status as ServerState, at: num(r.at), id: num(r.id) }))
      .sort((a, b) => a.at - b.at || a.id - b.id)
      .map(({ server, status, at }) => ({ server, status, at }));
  }

  /** Records that a monitor process is running from `at`; returns the run id. */
  async startRun(instance: string, at: number = Date.now()): Promise<number> {
    const [row] = (await this.db('monitor_runs').insert({ instance, started_at: at, last_seen_at: at }).returning('id')) as Row[];
    return num(row!.id);
  }

  /** Extends a run to `at` (a crash loses at most one heartbeat period). */
  async touchRun(id: number, at: number = Date.now()): Promise<void> {
    await this.db('monitor_runs').where({ id }).update({ last_seen_at: at });
  }

  /** The runs that overlap [since, ∞), of every instance. */
  async runsSince(since: number): Promise<RunInterval[]> {
    const rows = (await this.db('monitor_runs').where('last_seen_at', '>=', since).orderBy('started_at')) as Row[];
    return rows.map((r) => ({ start: num(r.started_at), end: num(r.last_seen_at) }));
  }

  async rollups(serverId: number, since: number): Promise<Rollup[]> {
    const rows = (await this.db('monitor_rollups').where('server_id', serverId).where('hour', '>=', since).orderBy('hour')) as Row[];
    return rows.map(toRollup);
  }

  /**
   * A server's history in buckets of `size` from raw results (since the rollup watermark)
   * and hourly rollups (before it; only when a bucket is at least an hour). Buckets start
   * at the first one with checks: a new server's 90 days are not 89 empty ones.
   */
  async buckets(serverId: number, { from, to, size, rolledUpTo }: BucketQuery): Promise<HistoryBucket[]> {
    const first = Math.floor(from / size) * size;
    const boundary = size >= HOUR && rolledUpTo !== undefined ? Math.min(Math.max(rolledUpTo, first), to) : first;
    const accs = new Map<number, Acc>();
    const acc = (at: number): Acc => {
      const key = Math.floor(at / size) * size;
      let a = accs.get(key);
      if (!a) accs.set(key, (a = { checks: 0, failures: 0, sum: 0, timed: 0, times: [], p95: null }));
      return a;
    };
    if (boundary > first) {
      const rollups = (await this.db('monitor_rollups')
        .where('server_id', serverId)
        .where('hour', '>=', first)
        .where('hour', '<', boundary)) as Row[];
      for (const r of rollups) {
        const a = acc(num(r.hour));
        const count = num(r.count);
        const failures = num(r.failures);
        a.checks += count;
        a.failures += failures;
        if (r.avg_response_ms !== null && r.avg_response_ms !== undefined) {
          a.sum += num(r.avg_response_ms) * (count - failures);
          a.timed += count - failures;
        }
        if (r.p95_response_ms !== null && r.p95_response_ms !== undefined) a.p95 = Math.max(a.p95 ?? 0, num(r.p95_response_ms));
      }
    }
    const raw = (await this.db('monitor_ping_results')
      .where('server_id', serverId)
      .where('check_timestamp', '>=', boundary)
      .where('check_timestamp', '<', to)
      .select('check_timestamp', 'status', 'response_time')) as Row[];
    for (const r of raw) {
      const a = acc(num(r.check_timestamp));
      a.checks++;
      if (r.status !== 'success') a.failures++;
      else if (r.response_time !== null && r.response_time !== undefined) {
        const t = num(r.response_time);
        a.sum += t;
        a.timed++;
        a.times.push(t);
      }
    }
    const keys = [...accs.keys()].filter((k) => accs.get(k)!.checks > 0);
    if (keys.length === 0) return [];
    const out: HistoryBucket[] = [];
    for (let key = Math.min(...keys); key < to; key += size) {
      const a = accs.get(key);
      if (!a || a.checks === 0) {
        out.push({ start: iso(key), checks: 0, uptime: null, avg_response_time: null, p95_response_time: null });
        continue;
      }
      const rawP95 = p95(a.times.sort((x, y) => x - y));
      out.push({
        start: iso(key),
        checks: a.checks,
        uptime: round3(((a.checks - a.failures) / a.checks) * 100),
        avg_response_time: a.timed === 0 ? null : round3(a.sum / a.timed),
        p95_response_time: a.p95 === null ? rawP95 : rawP95 === null ? a.p95 : Math.max(a.p95, rawP95),
      });
    }
    return out;
  }

  /** Computes the rollups of one hour (start in epoch ms) from the raw results; idempotent. Returns the rows written. */
  async rollUpHour(hour: number): Promise<number> {
    const rows = (await this.db('monitor_ping_results')
      .where('check_timestamp', '>=', hour)
      .where('check_timestamp', '<', hour + HOUR)
      .select('server_id', 'status', 'response_time')) as Row[];
    const byServer = new Map<number, { count: number; failures: number; times: number[] }>();
    for (const r of rows) {
      const id = num(r.server_id);
      let acc = byServer.get(id);
      if (!acc) byServer.set(id, (acc = { count: 0, failures: 0, times: [] }));
      acc.count++;
      // `unknown` (the monitor could not check) is no failure of the server.
      if (r.status === 'failure' || r.status === 'timeout') acc.failures++;
      else if (r.response_time !== null && r.response_time !== undefined) acc.times.push(num(r.response_time));
    }
    const out = [...byServer].map(([server_id, acc]) => {
      const times = acc.times.sort((a, b) => a - b);
      const avg = times.length === 0 ? null : Math.round((times.reduce((s, t) => s + t, 0) / times.length) * 1000) / 1000;
      return { server_id, hour, count: acc.count, failures: acc.failures, avg_response_ms: avg, p95_response_ms: p95(times) };
    });
    for (let i = 0; i < out.length; i += 100) {
      await this.db('monitor_rollups')
        .insert(out.slice(i, i + 100))
        .onConflict(['server_id', 'hour'])
        .merge();
    }
    return out.length;
  }

  /**
   * Deletes rows older than `before` from a table in batches of `batch`, yielding
   * to the event loop between them so checks keep their schedule. At most
   * `maxBatches` per call; returns the number deleted.
   */
  async prune(
    table: 'monitor_ping_results' | 'monitor_rollups' | 'monitor_status_changes' | 'monitor_runs',
    before: number,
    { batch = 500, maxBatches = 20 } = {},
  ): Promise<number> {
    const column = {
      monitor_ping_results: 'check_timestamp',
      monitor_rollups: 'hour',
      monitor_status_changes: 'at',
      monitor_runs: 'last_seen_at',
    }[table];
    let total = 0;
    for (let i = 0; i < maxBatches; i++) {
      const old = this.db(table).select('id').where(column, '<', before).orderBy('id').limit(batch);
      // The newest change of each server is its current state: it is kept whatever its age.
      if (table === 'monitor_status_changes') old.whereNotIn('id', this.db(table).max('id').groupBy('server_id'));
      const deleted = await this.db(table).whereIn('id', old).del();
      total += deleted;
      if (deleted < batch) break;
      await yieldToLoop();
    }
    return total;
  }
}

type Db = Knex | Knex.Transaction;

/** The state before `at` as the change log has it (every instance's committed changes). */
export async function stateBefore(db: Db, server: number, at: number): Promise<ServerState | undefined> {
  const row = (await db('monitor_status_changes')
    .where('server_id', server)
    .where('at', '<', at)
    .orderBy([
      { column: 'at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .first('status')) as Row | undefined;
  return row?.status as ServerState | undefined;
}

/** When the outage that ends at `at` began: the first `down` after the last other state. */
export async function downSince(db: Db, server: number, at: number): Promise<number | undefined> {
  const lastOther = db('monitor_status_changes').where('server_id', server).where('at', '<', at).whereNot('status', 'down').max('at');
  const [row] = (await db('monitor_status_changes')
    .where('server_id', server)
    .where('status', 'down')
    .where('at', '<', at)
    .where('at', '>', db.raw('coalesce((?), -1)', [lastOther]))
    .min({ t: 'at' })) as Row[];
  return row?.t === null || row?.t === undefined ? undefined : num(row.t);
}

/** The time of the oldest stored check, or undefined when there is none. */
export async function oldestResultAt(db: Db): Promise<unknown> {
  const [oldest] = (await db('monitor_ping_results').min({ t: 'check_timestamp' })) as Array<{ t?: unknown }>;
  return oldest?.t;
}
