import type { Knex } from 'knex';

/** The live channel's statements on PostgreSQL: the schema it is named after, the event counter and NOTIFY. */

const COUNTER = 'monitor_live_counter';

/** The connection's current schema, or null when there is none. */
export async function currentSchema(db: Knex): Promise<string | null> {
  const { rows } = (await db.raw('select current_schema() as schema')) as { rows: Array<{ schema: string | null }> };
  return rows[0]?.schema ?? null;
}

/**
 * Takes `n` ids from the one counter row (created by the migration 0004_live_counter) and
 * returns the last; the row stays locked until the transaction ends.
 */
export async function nextIds(trx: Knex.Transaction, n: number): Promise<number> {
  const { rows } = (await trx.raw(`update ${COUNTER} set value = value + ? where id = 1 returning value`, [n])) as {
    rows: Array<{ value: string | number }>;
  };
  return Number(rows[0]!.value);
}

/** NOTIFYs every payload on `channel` in one statement: delivered at commit, in this order. */
export async function notifyAll(trx: Knex.Transaction, channel: string, payloads: readonly string[]): Promise<void> {
  await trx.raw('select pg_notify(?, payload) from unnest(?::text[]) with ordinality as t(payload, n) order by n', [
    channel,
    [...payloads],
  ]);
}
