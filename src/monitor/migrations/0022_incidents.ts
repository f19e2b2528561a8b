import type { Knex } from 'knex';

export const name = '0022_incidents';

/**
 * Incidents, their servers and their updates. An incident the monitor opened belongs to
 * one page (`page_id`): the outage of several of its servers within a minute is one
 * incident. `recovered_at` marks a server of an incident that is back; the incident
 * resolves when all are. Operators' incidents have no page: they show on every page
 * with one of their servers.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('monitor_incidents', (t) => {
    t.increments('id');
    t.string('title', 200).notNullable();
    t.string('state', 20).notNullable();
    t.string('impact', 20).notNullable();
    t.integer('page_id').nullable().references('id').inTable('monitor_status_pages').onDelete('SET NULL');
    // Opened by the monitor (true) or an operator; `title_auto` until an operator renames it.
    t.boolean('automatic').notNullable().defaultTo(false);
    t.boolean('title_auto').notNullable().defaultTo(false);
    t.double('started_at').notNullable();
    t.double('resolved_at').nullable();
    t.double('created_at').notNullable();
    t.double('updated_at').notNullable();
    t.index(['resolved_at'], 'monitor_incidents_resolved');
    t.index(['page_id', 'resolved_at'], 'monitor_incidents_page');
  });
  await knex.schema.createTable('monitor_incident_servers', (t) => {
    t.integer('incident_id').notNullable().references('id').inTable('monitor_incidents').onDelete('CASCADE');
    t.integer('server_id').notNullable().references('id').inTable('monitor_servers').onDelete('CASCADE');
    t.double('recovered_at').nullable();
    t.primary(['incident_id', 'server_id']);
    t.index(['server_id'], 'monitor_incident_servers_server');
  });
  await knex.schema.createTable('monitor_incident_updates', (t) => {
    t.increments('id');
    t.integer('incident_id').notNullable().references('id').inTable('monitor_incidents').onDelete('CASCADE');
    t.string('state', 20).notNullable();
    t.text('message').notNullable();
    t.double('created_at').notNullable();
    t.index(['incident_id', 'id'], 'monitor_incident_updates_incident');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('monitor_incident_updates');
  await knex.schema.dropTableIfExists('monitor_incident_servers');
  await knex.schema.dropTableIfExists('monitor_incidents');
}
