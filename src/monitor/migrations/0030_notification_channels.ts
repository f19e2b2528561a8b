import type { Knex } from 'knex';

export const name = '0030_notification_channels';

/**
 * Chat and paging channels: the API base URL of a config (Telegram, ntfy and PagerDuty
 * have public defaults; a self-hosted or test receiver goes here). Null means the default.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('monitor_notification_configs', (t) => {
    t.string('base_url', 500).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('monitor_notification_configs', (t) => {
    t.dropColumn('base_url');
  });
}
