import type { Knex } from 'knex';

export const name = '0004_live_counter';

/**
 * The PostgreSQL channel layer numbers live events from this one row (one sequence for
 * every instance of a monitor). It used to be created by the channel on first use:
 * a database that already has it keeps it, and its value, as it is.
 */
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('monitor_live_counter'))) {
    await knex.schema.createTable('monitor_live_counter', (t) => {
      t.smallint('id').primary();
      t.bigInteger('value').notNullable();
    });
  }
  await knex('monitor_live_counter').insert({ id: 1, value: 0 }).onConflict('id').ignore();
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('monitor_live_counter');
}
