import type { Knex } from 'knex';

export const name = '0021_status_pages';

/**
 * Public status pages: a page (its `slug` is its public address) and its servers in
 * display order, each with the name the public sees (`display_name`, else the server's).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('monitor_status_pages', (t) => {
    t.increments('id');
    t.string('slug', 100).notNullable().unique();
    t.string('title', 200).notNullable();
    t.text('description').notNullable().defaultTo('');
    t.double('created_at').notNullable();
    t.double('updated_at').notNullable();
  });
  await knex.schema.createTable('monitor_status_page_servers', (t) => {
    t.integer('page_id').notNullable().references('id').inTable('monitor_status_pages').onDelete('CASCADE');
    t.integer('server_id').notNullable().references('id').inTable('monitor_servers').onDelete('CASCADE');
    t.integer('position').notNullable();
    t.string('display_name', 200).nullable();
    t.primary(['page_id', 'server_id']);
    t.index(['server_id'], 'monitor_status_page_servers_server');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('monitor_status_page_servers');
  await knex.schema.dropTableIfExists('monitor_status_pages');
}
