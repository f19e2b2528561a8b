import type { Knex } from 'knex';

export const name = '0040_push_monitors';

/** Push monitors: a secret token per server (unique: it finds the server), a grace and an optional cron schedule. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('monitor_servers', (t) => {
    t.string('push_token', 64).nullable().unique({ indexName: 'monitor_servers_push_token' });
    t.integer('grace').notNullable().defaultTo(60);
    t.string('schedule', 200).nullable();
    t.string('timezone', 64).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('monitor_servers', (t) => {
    t.dropUnique(['push_token'], 'monitor_servers_push_token');
    t.dropColumns('push_token', 'grace', 'schedule', 'timezone');
  });
}
