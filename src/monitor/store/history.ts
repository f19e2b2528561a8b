import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Knex } from 'knex';
import type { Rollup, ServerState } from '../types.js';
import { num, toRollup, type Row } from './rows.js';

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
