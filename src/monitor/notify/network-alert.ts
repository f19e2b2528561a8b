import type { Knex } from 'knex';
import { enabledDestinations } from '../store/admin.js';
import { lastEventOf, type OutboxInput, type OutboxQueries } from '../store/outbox.js';
import { iso, num } from '../store/rows.js';
import type { LifelineLogger } from '../../logging/logger.js';
import { NetworkWatch, type CanarySettings, type NetworkChange } from '../network.js';
import { newMessageId } from './enqueue.js';
import type { NetworkPayload } from './message.js';

const EVENTS = ['monitor.network_lost', 'monitor.network_back'] as const;

/**
 * Writes the one "the monitor cannot reach the network" alert (or its "back" pair):
 * to the given configs, else to every enabled config that would be told of a failure
 * (or recovery), once per destination (type, recipient and base URL), whatever number
 * of servers share it. An alert already written (by another instance, or before a
 * restart) for this loss is not written again: the last network event decides.
 */
export async function enqueueNetworkAlert(
  db: Knex,
  outbox: OutboxQueries,
  change: NetworkChange,
  { canary, configIds }: { canary: string; configIds?: readonly number[] },
): Promise<number> {
  const event = change.reachable ? 'monitor.network_back' : 'monitor.network_lost';
  return db.transaction(async (trx: Knex.Transaction) => {
    const last = await lastEventOf(trx, EVENTS);
    // Lost is told once until it is back; back only after a lost was told.
    if (change.reachable ? last !== 'monitor.network_lost' : last === 'monitor.network_lost') return 0;
    const configs = await enabledDestinations(trx, { configIds, flag: change.reachable ? 'notify_on_recovery' : 'notify_on_failure' });
    const seen = new Set<string>();
    const now = Date.now();
    const payload: NetworkPayload = { type: event, timestamp: iso(now), since: iso(change.since), canary };
    if (change.reachable) payload.lost_seconds = Math.round(change.lostFor / 1000);
    const messages: OutboxInput[] = [];
    for (const c of configs) {
      const destination = `${String(c.notification_type)}|${String(c.recipient)}|${String(c.base_url ?? '')}`;
      if (seen.has(destination)) continue;
      seen.add(destination);
      messages.push({
        config: num(c.id),
        server: num(c.server_id),
        message_id: newMessageId(),
        event,
        payload: { ...payload },
        at: now,
      });
    }
    await outbox.enqueue(trx, messages);
    return messages.length;
  });
}

/**
 * The canary watch of a monitor, with its alerts: undefined without a canary. `wake`
 * tells the sender an alert is waiting.
 */
export function watchNetwork(
  db: Knex,
  outbox: OutboxQueries,
  settings: CanarySettings | undefined,
  { logger, configIds, wake }: { logger: LifelineLogger; configIds?: readonly number[]; wake: () => void },
): NetworkWatch | undefined {
  if (!settings) return undefined;
  const canary = `${settings.canary.host}:${settings.canary.port}`;
  return new NetworkWatch({
    ...settings,
    logger,
    onChange: (change) => {
      enqueueNetworkAlert(db, outbox, change, { canary, ...(configIds ? { configIds } : {}) }).then(wake, (error: unknown) =>
        logger.warn('monitor: could not write the network alert', { error: String(error) }),
      );
    },
  });
}
