import type { Knex } from 'knex';

export const name = '0042_cert_expiry';

/**
 * The certificate expiry an https check saw, and the expiry warnings sent: one row per
 * certificate (server and expiry) and threshold, so instances sharing the database send
 * each warning once.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('monitor_server_status', (t) => {
    t.double('cert_expires_at').nullable();
  });
  await knex.schema.createTable('monitor_cert_warnings', (t) => {
    t.increments('id');
    t.integer('server_id').notNullable().references('id').inTable('monitor_servers').onDelete('CASCADE');
    t.double('expires_at').notNullable();
    /** Days before expiry: 30, 14, 7, or 0 (expired). */
    t.integer('days').notNullable();
    t.double('at').notNullable();
    t.unique(['server_id', 'expires_at', 'days'], { indexName: 'monitor_cert_warnings_once' });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('monitor_cert_warnings');
  await knex.schema.alterTable('monitor_server_status', (t) => {
    t.dropColumn('cert_expires_at');
  });
}
