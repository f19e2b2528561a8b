import type { Knex } from 'knex';

export const name = '0031_dependencies';

/**
 * A server's dependencies: the ids of the servers it needs, as a JSON list (like `tags`).
 * While one of them is down, the server's notifications are held back.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('monitor_servers', (t) => {
    t.text('depends_on').notNullable().defaultTo('[]');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('monitor_servers', (t) => {
    t.dropColumn('depends_on');
  });
}
