import { failureConfigsOf } from '../store/admin.js';
import { claimWarning, sentWarnings } from '../store/cert-warnings.js';
import type { OutboxInput, OutboxQueries } from '../store/outbox.js';
import type { RecordHook } from '../store/results.js';
import { iso, num } from '../store/rows.js';
import { serversById } from '../store/servers.js';
import { newMessageId } from './enqueue.js';
import type { NotificationPayload } from './message.js';

/** Days before a certificate's expiry when it is announced; 0: it has expired. */
export const CERT_WARNING_DAYS = [30, 14, 7, 0] as const;
const DAY = 86_400_000;

/** The most urgent warning due for a certificate at `now`, or undefined when none is. */
export function warningDue(expiresAt: number, now: number): number | undefined {
  const left = expiresAt - now;
  let due: number | undefined;
  for (const days of CERT_WARNING_DAYS) if (left <= days * DAY) due = days;
  return due;
}

/**
 * The record hook of certificate expiry: when a check sees a certificate within 30,
 * 14 or 7 days of its expiry, or expired, the most urgent warning not yet sent for
 * that certificate (server and expiry) is claimed in `monitor_cert_warnings` (unique:
 * each warning once, whichever instance saw it first) and written to the outbox for
 * the server's configs that notify on failure, in the batch's transaction. A warning
 * is never a state change: it counts no downtime.
 */
export function certificateHook(outbox: OutboxQueries): RecordHook {
  return async (trx, stored) => {
    const now = Date.now();
    const due = new Map<number, { expiresAt: number; days: number; index: number }>();
    stored.forEach(({ record }, index) => {
      const at = record.status.cert_expires_at;
      if (!at) return;
      const expiresAt = Date.parse(at);
      const days = warningDue(expiresAt, now);
      if (days !== undefined) due.set(record.status.server, { expiresAt, days, index });
    });
    if (due.size === 0) return;
    // Cheap filter first: most checks of a certificate near expiry find its warning sent.
    for (const sent of await sentWarnings(trx, [...due.keys()])) {
      const d = due.get(sent.server);
      if (d && sent.expiresAt === d.expiresAt && sent.days === d.days) due.delete(sent.server);
    }
    if (due.size === 0) return;
    const configs = await failureConfigsOf(trx, [...due.keys()]);
    const servers = await serversById(trx, [...due.keys()]);
    const messages: OutboxInput[] = [];
    for (const [serverId, { expiresAt, days, index }] of due) {
      if (!(await claimWarning(trx, serverId, expiresAt, days, now))) continue;
      const server = servers.get(serverId);
      const { record, ping } = stored[index]!;
      if (!server) continue;
      const payload: NotificationPayload = {
        type: 'server.cert_expiring',
        server: { ...server, push_token: null },
        status: record.status,
        ping,
        timestamp: iso(now),
        cert_expires_at: iso(expiresAt),
        days_left: Math.max(0, Math.floor((expiresAt - now) / DAY)),
      };
      for (const config of configs) {
        if (num(config.server_id) !== serverId) continue;
        messages.push({
          config: num(config.id),
          server: serverId,
          message_id: newMessageId(),
          event: payload.type,
          payload: { ...payload },
          at: now,
        });
      }
    }
    await outbox.enqueue(trx, messages);
  };
}
