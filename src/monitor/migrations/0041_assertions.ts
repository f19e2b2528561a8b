import type { Knex } from 'knex';

export const name = '0041_assertions';

/** Assertions on an answer: keyword absent, a JSON path's value, DNS records. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('monitor_servers', (t) => {
    t.string('keyword_mode', 8).notNullable().defaultTo('present');
    t.string('json_path', 500).nullable();
    t.text('json_expected').nullable();
    t.string('dns_record_type', 8).nullable();
    t.string('dns_expected', 500).nullable();
    t.string('dns_server', 100).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('monitor_servers', (t) => {
    t.dropColumns('keyword_mode', 'json_path', 'json_expected', 'dns_record_type', 'dns_expected', 'dns_server');
  });
}
