import type { Knex } from 'knex';

export const name = '0020_maintenance_windows';

/**
 * Maintenance windows: one fixed period (`starts_at`/`ends_at`, epoch ms) or a cron
 * schedule of periods (`cron`, `duration_minutes`, `timezone`), and the servers each
 * covers. A server's rows go with it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('monitor_maintenance_windows', (t) => {
    t.increments('id');
    t.string('title', 200).notNullable();
    t.double('starts_at').nullable();
    t.double('ends_at').nullable();
    t.string('cron', 200).nullable();
    t.integer('duration_minutes').nullable();
    t.string('timezone', 100).nullable();
    t.double('created_at').notNullable();
    t.double('updated_at').notNullable();
  });
  await knex.schema.createTable('monitor_maintenance_servers', (t) => {
    t.integer('window_id').notNullable().references('id').inTable('monitor_maintenance_windows').onDelete('CASCADE');
    t.integer('server_id').notNullable().references('id').inTable('monitor_servers').onDelete('CASCADE');
    t.primary(['window_id', 'server_id']);
    t.index(['server_id'], 'monitor_maintenance_servers_server');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('monitor_maintenance_servers');
  await knex.schema.dropTableIfExists('monitor_maintenance_windows');
}
