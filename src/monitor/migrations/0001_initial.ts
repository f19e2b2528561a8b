import type { Knex } from 'knex';

// Released migrations are never edited: a change to the schema is a new file.
export const name = '0001_initial';

/** Times are epoch milliseconds in double columns: the same type and order on SQLite and PostgreSQL. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('monitor_servers', (t) => {
    t.increments('id');
    t.string('name', 200).notNullable();
    t.string('protocol', 8).notNullable();
    t.string('host', 255).notNullable();
    t.integer('port').notNullable();
    t.string('path', 2000).notNullable().defaultTo('/');
    t.integer('check_interval').notNullable().defaultTo(60);
    t.double('timeout').notNullable().defaultTo(10);
    t.string('expected_status', 100).notNullable().defaultTo('200-399');
    t.text('keyword').nullable();
    t.text('tags').notNullable().defaultTo('[]');
    t.boolean('enabled').notNullable().defaultTo(true);
    t.integer('failure_threshold').notNullable().defaultTo(2);
    t.integer('success_threshold').notNullable().defaultTo(1);
    t.integer('degraded_threshold_ms').nullable();
    t.double('created_at').notNullable();
    t.double('updated_at').notNullable();
  });
  await knex.schema.createTable('monitor_ping_results', (t) => {
    t.bigIncrements('id');
    t.integer('server_id').notNullable().references('id').inTable('monitor_servers').onDelete('CASCADE');
    t.string('status', 10).notNullable();
    t.double('response_time').nullable();
    t.integer('status_code').nullable();
    t.text('error_message').nullable();
    t.double('check_timestamp').notNullable();
    t.index(['server_id', 'check_timestamp'], 'monitor_ping_results_server_time');
    t.index(['check_timestamp'], 'monitor_ping_results_time');
  });
  await knex.schema.createTable('monitor_server_status', (t) => {
    t.increments('id');
    t.integer('server_id').notNullable().unique().references('id').inTable('monitor_servers').onDelete('CASCADE');
    t.string('status', 10).notNullable().defaultTo('pending');
    t.double('uptime_percentage').notNullable().defaultTo(100);
    t.text('uptime').notNullable().defaultTo('{"24h":100,"7d":100,"30d":100}');
    t.double('last_check').nullable();
    t.integer('consecutive_failures').notNullable().defaultTo(0);
    t.integer('consecutive_successes').notNullable().defaultTo(0);
    t.text('message').notNullable().defaultTo('');
    t.double('last_change').notNullable();
  });
  // Every state change, for time-weighted uptime.
  await knex.schema.createTable('monitor_status_changes', (t) => {
    t.bigIncrements('id');
    t.integer('server_id').notNullable().references('id').inTable('monitor_servers').onDelete('CASCADE');
    t.string('status', 10).notNullable();
    t.double('at').notNullable();
    t.index(['server_id', 'at'], 'monitor_status_changes_server_time');
  });
  // When a monitor process was running: time outside every run is unknown and left out of uptime.
  await knex.schema.createTable('monitor_runs', (t) => {
    t.increments('id');
    t.string('instance', 100).notNullable();
    t.double('started_at').notNullable();
    t.double('last_seen_at').notNullable();
    t.index(['last_seen_at'], 'monitor_runs_last_seen');
  });
  await knex.schema.createTable('monitor_rollups', (t) => {
    t.bigIncrements('id');
    t.integer('server_id').notNullable().references('id').inTable('monitor_servers').onDelete('CASCADE');
    t.double('hour').notNullable();
    t.integer('count').notNullable();
    t.integer('failures').notNullable();
    t.double('avg_response_ms').nullable();
    t.double('p95_response_ms').nullable();
    t.unique(['server_id', 'hour'], { indexName: 'monitor_rollups_server_hour' });
    t.index(['hour'], 'monitor_rollups_hour');
  });
  await knex.schema.createTable('monitor_notification_configs', (t) => {
    t.increments('id');
    t.integer('server_id').notNullable().references('id').inTable('monitor_servers').onDelete('CASCADE');
    t.string('notification_type', 10).notNullable();
    t.string('recipient', 500).notNullable();
    t.boolean('enabled').notNullable().defaultTo(true);
    t.boolean('notify_on_failure').notNullable().defaultTo(true);
    t.boolean('notify_on_recovery').notNullable().defaultTo(true);
    t.text('secret').nullable();
    t.double('created_at').notNullable();
    t.double('updated_at').notNullable();
  });
  await knex.schema.createTable('monitor_users', (t) => {
    t.increments('id');
    t.string('username', 150).notNullable().unique();
    t.string('password_hash', 255).notNullable();
    t.boolean('is_admin').notNullable().defaultTo(false);
    t.boolean('is_active').notNullable().defaultTo(true);
    t.double('created_at').notNullable();
  });
  await knex.schema.createTable('monitor_settings', (t) => {
    t.string('key', 100).primary();
    t.text('value').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'monitor_settings',
    'monitor_users',
    'monitor_notification_configs',
    'monitor_rollups',
    'monitor_runs',
    'monitor_status_changes',
    'monitor_server_status',
    'monitor_ping_results',
    'monitor_servers',
  ]) {
    await knex.schema.dropTableIfExists(table);
  }
}
