import type { Knex } from 'knex';

export const name = '0002_claims';

/**
 * Instances sharing one database claim each slot of a server before checking it:
 * `claimed_slot` is the last slot (epoch ms on the shared grid) taken, by `claimed_by`.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('monitor_server_status', (t) => {
    t.double('claimed_slot').nullable();
    t.string('claimed_by', 100).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('monitor_server_status', (t) => {
    t.dropColumn('claimed_by');
    t.dropColumn('claimed_slot');
  });
}
