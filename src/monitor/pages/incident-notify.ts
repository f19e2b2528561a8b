import type { Knex } from 'knex';
import { newMessageId } from '../notify/enqueue.js';
import type { IncidentNotification } from '../notify/message.js';
import { configsNotifyingOn } from '../store/admin.js';
import { incidentIn } from '../store/incidents.js';
import type { OutboxInput, OutboxQueries } from '../store/outbox.js';
import { iso, num } from '../store/rows.js';
import { serversById } from '../store/servers.js';

/**
 * Writes `incident.opened` (to configs that notify on failure) or `incident.resolved`
 * (on recovery) for the given servers of an incident, in the caller's transaction: the
 * message commits with the incident's change, and the sender delivers it as any other.
 */
export async function enqueueIncident(
  trx: Knex.Transaction,
  outbox: OutboxQueries,
  incidentId: number,
  event: IncidentNotification['type'],
  serverIds: readonly number[],
  at: number,
): Promise<void> {
  if (serverIds.length === 0) return;
  const flag = event === 'incident.opened' ? 'notify_on_failure' : 'notify_on_recovery';
  const configs = await configsNotifyingOn(trx, serverIds, flag);
  if (configs.length === 0) return;
  const incident = await incidentIn(trx, incidentId);
  if (!incident) return;
  const servers = await serversById(trx, [...new Set(configs.map((c) => num(c.server_id)))]);
  const { updates: _updates, automatic: _automatic, created_at: _created, updated_at: _updated, ...summary } = incident;
  const messages: OutboxInput[] = [];
  for (const config of configs) {
    const server = servers.get(num(config.server_id));
    if (!server) continue;
    const payload: IncidentNotification = { type: event, incident: summary, server, timestamp: iso(at) };
    if (event === 'incident.resolved') payload.duration_seconds = Math.max(0, Math.round((at - Date.parse(incident.started_at)) / 1000));
    messages.push({ config: num(config.id), server: server.id, message_id: newMessageId(), event, payload: { ...payload }, at });
  }
  await outbox.enqueue(trx, messages);
}
