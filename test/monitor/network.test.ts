// The monitor loses its own network: simulated on this machine only, with local targets that
// all stop answering (every connection reset) and a canary on 127.0.0.1 that stops listening.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import { createServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createMonitor } from '../../src/monitor/monitor.js';
import { canarySettings } from '../../src/monitor/network.js';
import type { NotificationConfigInput } from '../../src/monitor/types.js';
import { validateNotificationConfig, validateServer } from '../../src/monitor/validate.js';
import { DATABASES, waitFor } from './helpers.js';
import { startWebhookReceiver } from './receivers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const FAST = { pollInterval: 20, retrySchedule: [150], timeout: 2000, lease: 3000 };

/** A local HTTP target that answers 200, or (dead) resets every connection before any answer. */
async function switchableTarget() {
  const state = { dead: false };
  const srv = http.createServer((_req, res) => res.end('ok'));
  srv.on('connection', (socket: Socket) => {
    if (state.dead) socket.destroy();
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        srv.closeAllConnections();
        srv.close(() => resolve());
      }),
  );
  return { port: (srv.address() as AddressInfo).port, state };
}

/** A TCP canary on 127.0.0.1 that can stop listening and start again on the same port. */
async function canary() {
  let server: NetServer | undefined;
  const sockets = new Set<Socket>();
  const start = async (port = 0) => {
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    return (server.address() as AddressInfo).port;
  };
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      if (!server) return resolve();
      server.close(() => resolve());
      server = undefined;
    });
  const port = await start();
  cleanups.push(stop);
  return { port, stop, restart: () => start(port) };
}

describe.each(DATABASES)('the monitor loses its own network (%s)', (_name, make) => {
  it('records unknown, counts no downtime, sends one network alert (not one per server), and says when it is back', async () => {
    const db = await make();
    cleanups.push(() => db.drop());
    const receiver = await startWebhookReceiver(SECRET);
    cleanups.push(() => receiver.close());
    const targets = await Promise.all([switchableTarget(), switchableTarget(), switchableTarget()]);
    const gate = await canary();
    const monitor = await createMonitor({
      database: db.url,
      logger: false,
      schedule: false,
      notifications: FAST,
      canary: { target: `127.0.0.1:${gate.port}`, interval: 100, timeout: 500 },
    });
    cleanups.push(() => monitor.close());
    const ids: number[] = [];
    for (const [i, t] of targets.entries()) {
      const checked = validateServer({ name: `app ${i}`, protocol: 'http', host: '127.0.0.1', port: t.port, failure_threshold: 1 });
      if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
      const server = await monitor.store.servers.create(checked.value);
      ids.push(server.id);
      // Every server's config points at the same receiver: one destination, one network alert.
      const config = validateNotificationConfig({
        server: server.id,
        notification_type: 'webhook',
        recipient: receiver.url,
        secret: SECRET,
      });
      if (!config.ok) throw new Error(JSON.stringify(config.errors));
      await monitor.store.notifications.create(config.value as NotificationConfigInput);
    }
    await monitor.runNow();
    expect((await monitor.store.results.statuses()).map((s) => s.status)).toEqual(['up', 'up', 'up']);

    // The network goes: every target stops answering, and so does the canary.
    for (const t of targets) t.state.dead = true;
    await gate.stop();
    for (let i = 0; i < 3; i++) await monitor.runNow();
    await waitFor(() => receiver.requests.length >= 1, 5000, 'the network alert');

    const unknown = await monitor.store.results.list({ serverIds: ids, status: ['unknown'] });
    expect(unknown.count).toBe(9);
    expect(unknown.results[0]!.error_message).toMatch(/^not checked: the monitor cannot reach the network/);
    const statuses = await monitor.store.results.statuses();
    expect(statuses.map((s) => [s.status, s.consecutive_failures])).toEqual([
      ['up', 0],
      ['up', 0],
      ['up', 0],
    ]);

    // It comes back: the canary's periodic probe notices, even with no failing check.
    await gate.restart();
    for (const t of targets) t.state.dead = false;
    await waitFor(() => receiver.requests.length >= 2, 5000, 'the network-back alert');
    await monitor.runNow();
    await new Promise((r) => setTimeout(r, 300));

    expect(receiver.requests.map((r) => r.body.type)).toEqual(['monitor.network_lost', 'monitor.network_back']);
    expect(receiver.requests.every((r) => r.verified)).toBe(true);
    expect(receiver.requests[0]!.body).toMatchObject({ canary: `127.0.0.1:${gate.port}`, since: expect.any(String) });
    expect(receiver.requests[1]!.body).toMatchObject({ since: receiver.requests[0]!.body.since, lost_seconds: expect.any(Number) });
    // No downtime counted: no state ever left `up`, uptime is whole.
    const after = await monitor.store.results.statuses();
    expect(after.map((s) => [s.status, s.uptime['24h']])).toEqual([
      ['up', 100],
      ['up', 100],
      ['up', 100],
    ]);
    expect((await monitor.store.history.changesSince(0, ids)).filter((c) => c.status === 'down')).toEqual([]);

    // With the canary answering, the same failures are the servers' own: down, and told.
    targets[0]!.state.dead = true;
    await monitor.runNow([ids[0]!]);
    await waitFor(() => receiver.requests.length >= 3, 5000, 'the server alert');
    expect(receiver.requests[2]!.body).toMatchObject({ type: 'server.down', server: { id: ids[0] } });
    expect((await monitor.store.results.status(ids[0]!))!.status).toBe('down');
  }, 30_000);
});

describe('canary option', () => {
  it('takes host:port from the option or MONITOR_CANARY, and refuses anything else naming it', () => {
    expect(canarySettings('127.0.0.1:53', {})).toEqual({ canary: { host: '127.0.0.1', port: 53 }, interval: 5000, timeout: 2000 });
    expect(canarySettings(undefined, { MONITOR_CANARY: '[::1]:8080' })?.canary).toEqual({ host: '::1', port: 8080 });
    expect(canarySettings(undefined, {})).toBeUndefined();
    expect(() => canarySettings(undefined, { MONITOR_CANARY: 'gateway' })).toThrow(/MONITOR_CANARY must be host:port/);
    expect(() => canarySettings('10.0.0.1:0', {})).toThrow(/`canary`/);
    expect(() => canarySettings({ target: '10.0.0.1:53', interval: 0 }, {})).toThrow(/canary\.interval/);
  });
});
