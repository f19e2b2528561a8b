import { randomBytes } from 'node:crypto';
import { enabledConfigsOf } from '../store/admin.js';
import { downSince, stateBefore } from '../store/history.js';
import { downAnnouncedSince, lastMessageFor, type OutboxInput, type OutboxQueries } from '../store/outbox.js';
import type { RecordHook } from '../store/results.js';
import { iso, num, type Row } from '../store/rows.js';
import { serversById } from '../store/servers.js';
import type { ServerState } from '../types.js';
import { dependencyGraph, rootCause } from '../dependencies.js';
import type { NotificationPayload } from './message.js';
import { maintenanceNow } from '../windows/index.js';

const isUp = (s: ServerState | undefined) => s === 'up' || s === 'degraded';

/** True when the occurrence running now (for `server`) also covers `at`, the change's time. */
function quietAt(quiet: Map<number, { start: number; end: number }>, server: number, at: number): boolean {
  const o = quiet.get(server);
  return o !== undefined && o.start <= at && at < o.end;
}

export const newMessageId = (): string => `msg_${randomBytes(12).toString('hex')}`;

/**
 * The record hook that writes the outbox: in the transaction storing a batch of
 * checks, one message per enabled config of each server that went `down` (after
 * its failure threshold: the state machine only says `down` then) or came back
 * from `down` (with the outage's length), and a reminder every `reminderInterval`
 * while a server stays down. A check that changes nothing writes nothing.
 *
 * A transition is taken from the stored change log, not only from this instance's
 * memory: when two instances both saw a server go down (one adopted a state just
 * before the other's write landed), the second `down` finds one before it and is
 * not announced again.
 */
export function notificationHook(outbox: OutboxQueries, { reminderInterval }: { reminderInterval: number }): RecordHook {
  return async (trx, stored) => {
    let candidates = stored.filter(({ record }) => {
      const c = record.change;
      if (c) return c.status === 'down' || c.from === 'down' || c.from === undefined;
      return (reminderInterval > 0 || record.dependent === true) && record.status.status === 'down';
    });
    if (candidates.length === 0) return;
    // A server in a maintenance window is expected to go down: nothing is sent while the window runs.
    const now = Date.now();
    const quiet = await maintenanceNow(trx, [...new Set(candidates.map((c) => c.ping.server))], now);
    if (quiet.size > 0) candidates = candidates.filter(({ record, ping }) => !quietAt(quiet, ping.server, record.change?.at ?? now));
    if (candidates.length === 0) return;
    const serverIds = [...new Set(candidates.map((c) => c.ping.server))];
    const configs = await enabledConfigsOf(trx, serverIds);
    if (configs.length === 0) return;
    const configsOf = new Map<number, Row[]>();
    for (const c of configs) {
      const list = configsOf.get(num(c.server_id)) ?? [];
      list.push(c);
      configsOf.set(num(c.server_id), list);
    }
    const servers = await serversById(trx, [...configsOf.keys()]);

    // Servers with dependencies: held back while a parent is down or failing (its outage is the cause).
    const graph = [...servers.values()].some((s) => s.depends_on.length > 0) ? await dependencyGraph(trx) : undefined;
    const causeOf = (id: number) => (graph && servers.get(id)?.depends_on.length ? rootCause(id, graph) : undefined);

    const messages: OutboxInput[] = [];
    for (const { record, ping } of candidates) {
      const server = servers.get(ping.server);
      const forServer = configsOf.get(ping.server);
      if (!server || !forServer) continue;
      // A push token is a secret: receivers of notifications do not get it.
      const base = { server: { ...server, push_token: null }, status: record.status, ping };
      const change = record.change;
      const dependent = server.depends_on.length > 0;
      if (!change && dependent && causeOf(ping.server) === undefined) {
        // Still down, and no parent is the cause any more: a down held back while one was goes out now.
        const since = await downSince(trx, ping.server, now + 1);
        if (since !== undefined && !(await downAnnouncedSince(trx, ping.server, since))) {
          const payload: NotificationPayload = { type: 'server.down', ...base, timestamp: iso(now), down_since: iso(since) };
          for (const config of forServer) {
            if (!config.notify_on_failure) continue;
            messages.push({
              config: num(config.id),
              server: ping.server,
              message_id: newMessageId(),
              event: payload.type,
              payload: { ...payload },
              at: now,
            });
          }
          continue;
        }
      }
      if (change) {
        const before = await stateBefore(trx, ping.server, change.at);
        let payload: NotificationPayload;
        let flag: 'notify_on_failure' | 'notify_on_recovery';
        if (change.status === 'down' && before !== 'down') {
          // A parent is down: this outage is its consequence, and the parent's alert says it.
          if (dependent && causeOf(ping.server) !== undefined) continue;
          payload = { type: 'server.down', ...base, timestamp: iso(change.at), down_since: iso(change.at) };
          flag = 'notify_on_failure';
        } else if (isUp(change.status) && before === 'down') {
          const since = await downSince(trx, ping.server, change.at);
          // Back up before its down was ever sent (held back behind a parent): nothing to take back.
          if (dependent && since !== undefined && !(await downAnnouncedSince(trx, ping.server, since))) continue;
          payload = { type: 'server.up', ...base, timestamp: iso(change.at) };
          if (since !== undefined) {
            payload.down_since = iso(since);
            payload.downtime_seconds = Math.round((change.at - since) / 1000);
          }
          flag = 'notify_on_recovery';
        } else {
          continue;
        }
        for (const config of forServer) {
          if (!config[flag]) continue;
          messages.push({
            config: num(config.id),
            server: ping.server,
            message_id: newMessageId(),
            event: payload.type,
            payload: { ...payload },
            at: change.at,
          });
        }
        continue;
      }
      if (reminderInterval === 0 || (dependent && causeOf(ping.server) !== undefined)) continue;
      // Still down: remind each config whose last message is a `down` older than the interval.
      for (const config of forServer) {
        if (!config.notify_on_failure) continue;
        const last = await lastMessageFor(trx, num(config.id), ping.server);
        if (!last || last.event !== 'server.down' || num(last.created_at) + reminderInterval > now) continue;
        if (messages.some((m) => m.config === num(config.id) && m.server === ping.server)) continue;
        const since = await downSince(trx, ping.server, now + 1);
        const payload: NotificationPayload = {
          type: 'server.down',
          ...base,
          timestamp: iso(now),
          down_since: since === undefined ? record.status.last_change : iso(since),
          reminder: true,
        };
        messages.push({
          config: num(config.id),
          server: ping.server,
          message_id: newMessageId(),
          event: 'server.down',
          reminder: true,
          payload: { ...payload },
          at: now,
        });
      }
    }
    await outbox.enqueue(trx, messages);
  };
}
