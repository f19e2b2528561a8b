import type { Knex } from 'knex';

export const name = '0003_notifications';

/**
 * The notification outbox and its delivery log. An outbox row is written in the
 * transaction that stores the state change, one per notification config, and
 * holds the frozen message (`payload`) with a stable `message_id` (the webhook-id
 * of every attempt). Senders claim rows by setting `claimed_until`; each attempt
 * is a `monitor_notification_deliveries` row written in the transaction that
 * finishes or reschedules the outbox row.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('monitor_notification_outbox', (t) => {
    t.bigIncrements('id');
    t.integer('config_id').notNullable().references('id').inTable('monitor_notification_configs').onDelete('CASCADE');
    t.integer('server_id').notNullable().references('id').inTable('monitor_servers').onDelete('CASCADE');
    t.string('message_id', 64).notNullable().unique();
    t.string('event', 20).notNullable();
    t.boolean('reminder').notNullable().defaultTo(false);
    t.text('payload').notNullable();
    // pending → delivered | failed (retries exhausted) | disabled (the receiver answered 410, or the config is gone)
    t.string('state', 10).notNullable().defaultTo('pending');
    t.integer('attempts').notNullable().defaultTo(0);
    t.double('created_at').notNullable();
    t.double('next_attempt_at').notNullable();
    t.double('claimed_until').nullable();
    t.string('claimed_by', 100).nullable();
    t.double('finished_at').nullable();
    t.text('last_error').nullable();
    t.index(['state', 'next_attempt_at'], 'monitor_notification_outbox_due');
    t.index(['config_id', 'state'], 'monitor_notification_outbox_config');
  });
  await knex.schema.createTable('monitor_notification_deliveries', (t) => {
    t.bigIncrements('id');
    t.bigInteger('outbox_id').notNullable().references('id').inTable('monitor_notification_outbox').onDelete('CASCADE');
    t.integer('config_id').notNullable().references('id').inTable('monitor_notification_configs').onDelete('CASCADE');
    t.integer('attempt').notNullable();
    t.double('at').notNullable();
    t.boolean('ok').notNullable();
    t.integer('status_code').nullable();
    t.text('error').nullable();
    t.double('duration_ms').notNullable();
    t.index(['config_id', 'id'], 'monitor_notification_deliveries_config');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('monitor_notification_deliveries');
  await knex.schema.dropTableIfExists('monitor_notification_outbox');
}
