import type { Knex } from 'knex';
import type { Dialect } from '../database.js';
import type { Row } from './rows.js';

/** The counts a status page's uptime bars and figures are made of: checks and failures per server (and UTC day). */

const DAY = 86_400_000;

function dayColumn(db: Knex, dialect: Dialect, column: string) {
  return dialect === 'postgres' ? db.raw(`floor(${column} / ${DAY})::bigint as day`) : db.raw(`cast(${column} / ${DAY} as integer) as day`);
}

/** Rollups of whole hours in [from, to), per server and UTC day: grouped in the database. */
export async function rolledDays(db: Knex, dialect: Dialect, ids: readonly number[], from: number, to: number): Promise<Row[]> {
  if (to <= from) return [];
  return (await db('monitor_rollups')
    .whereIn('server_id', [...ids])
    .where('hour', '>=', from)
    .where('hour', '<', to)
    .select('server_id', dayColumn(db, dialect, 'hour'))
    .sum({ count: 'count', failures: 'failures' })
    .groupBy('server_id', 'day')) as Row[];
}

/** Raw results from `from` on, per server and UTC day. */
export async function rawDays(db: Knex, dialect: Dialect, ids: readonly number[], from: number): Promise<Row[]> {
  return (await db('monitor_ping_results')
    .whereIn('server_id', [...ids])
    .where('check_timestamp', '>=', from)
    .select('server_id', dayColumn(db, dialect, 'check_timestamp'))
    .count({ count: '*' })
    .sum({ failures: db.raw("case when status = 'success' then 0 else 1 end") })
    .groupBy('server_id', 'day')) as Row[];
}

/** Rollups of the hours in [from, to), per server. */
export async function rolledTotals(db: Knex, ids: readonly number[], from: number, to: number): Promise<Row[]> {
  return (await db('monitor_rollups')
    .whereIn('server_id', [...ids])
    .where('hour', '>=', from)
    .where('hour', '<', to)
    .select('server_id')
    .sum({ count: 'count', failures: 'failures' })
    .groupBy('server_id')) as Row[];
}

/** Raw results from `from` on, per server. */
export async function rawTotals(db: Knex, ids: readonly number[], from: number): Promise<Row[]> {
  return (await db('monitor_ping_results')
    .whereIn('server_id', [...ids])
    .where('check_timestamp', '>=', from)
    .select('server_id')
    .count({ count: '*' })
    .sum({ failures: db.raw("case when status = 'success' then 0 else 1 end") })
    .groupBy('server_id')) as Row[];
}

/** The servers' names, by id. */
export async function serverNames(db: Knex, ids: readonly number[]): Promise<Row[]> {
  return (await db('monitor_servers')
    .whereIn('id', [...ids])
    .select('id', 'name')) as Row[];
}
