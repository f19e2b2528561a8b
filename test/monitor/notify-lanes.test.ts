import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createMonitor, type Monitor } from '../../src/monitor/monitor.js';
import type { NotifyOptions } from '../../src/monitor/notify/options.js';
import type { NotificationConfigInput } from '../../src/monitor/types.js';
import { validateNotificationConfig, validateServer } from '../../src/monitor/validate.js';
import { DATABASES, waitFor } from './helpers.js';
import { startWebhookReceiver } from './receivers.js';
import { startTarget, type Target } from './target.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
// The hanging receiver is given up on after `timeout`: long enough that a notice held behind it shows.
const NOTIFY: NotifyOptions = { pollInterval: 20, retrySchedule: [150], timeout: 4000, lease: 8000 };
/** What "at once" allows: a claim, a request and its record, on a machine shared with other tests. */
const PROMPT = 1000;

async function setup(database: () => Promise<{ url: string; drop(): Promise<void> }>, notifications: NotifyOptions) {
  const db = await database();
  cleanups.push(() => db.drop());
  const target = await startTarget();
  cleanups.push(() => target.close());
  const monitor = await createMonitor({ database: db.url, logger: false, schedule: false, notifications });
  cleanups.push(() => monitor.close());
  const checked = validateServer({ name: 'Payments', protocol: 'http', host: '127.0.0.1', port: target.port, path: '/pay' });
  if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
  const server = await monitor.store.servers.create({ ...checked.value, failure_threshold: 1 });
  const addConfig = async (recipient: string) => {
    const config = validateNotificationConfig({ server: server.id, notification_type: 'webhook', recipient, secret: SECRET });
    if (!config.ok) throw new Error(JSON.stringify(config.errors));
    return monitor.store.notifications.create(config.value as NotificationConfigInput);
  };
  return { monitor, target, server, addConfig };
}

async function check(monitor: Monitor, target: Target, id: number, failing: boolean): Promise<number> {
  if (failing) target.failing.add('/pay');
  else target.failing.delete('/pay');
  await monitor.runNow([id]);
  return Date.now();
}

describe.each(DATABASES)('a receiver that never answers holds only its own lane (%s)', (_name, database) => {
  it("another config's server.down and server.up arrive at once while the hanging request is open; the hanging config's own follow in order", async () => {
    const hang = await startWebhookReceiver(SECRET, { answers: ['hold', 200] });
    cleanups.push(() => hang.close());
    const answering = await startWebhookReceiver(SECRET);
    cleanups.push(() => answering.close());
    const { monitor, target, server, addConfig } = await setup(database, NOTIFY);
    const held = await addConfig(hang.url);
    const other = await addConfig(answering.url);

    const down = await check(monitor, target, server.id, true);
    await waitFor(() => answering.processed.size === 1 && hang.requests.length === 1, PROMPT, 'both server.down requests');
    const downLatency = answering.requests[0]!.at - down;

    const up = await check(monitor, target, server.id, false);
    await waitFor(() => answering.processed.size === 2, PROMPT, 'the server.up to the answering receiver');
    const upLatency = answering.requests[1]!.at - up;
    // The hanging request is still open: no answer, no attempt recorded, its config's server.up not sent.
    expect(hang.requests.map((r) => r.answered)).toEqual([0]);
    expect(await monitor.store.notifications.lastDelivery(held.id)).toBeUndefined();
    expect(answering.requests.map((r) => r.body.type)).toEqual(['server.down', 'server.up']);
    expect(downLatency).toBeLessThan(PROMPT);
    expect(upLatency).toBeLessThan(PROMPT);

    // After its timeout the held config retries its server.down (same webhook-id), then sends its server.up.
    await waitFor(() => hang.processed.size === 2, NOTIFY.timeout! + 3000, "the hanging config's notices after its timeout");
    expect(hang.requests.map((r) => [r.body.type, r.answered])).toEqual([
      ['server.down', 0],
      ['server.down', 200],
      ['server.up', 200],
    ]);
    expect(hang.requests[1]!.id).toBe(hang.requests[0]!.id);
    expect(hang.requests.every((r) => r.verified)).toBe(true);
    await waitFor(async () => (await monitor.store.notifications.lastDelivery(held.id))?.event === 'server.up', PROMPT, 'the record');
    expect((await monitor.store.notifications.deliveries(held.id)).map((d) => [d.event, d.attempt, d.ok])).toEqual([
      ['server.up', 1, true],
      ['server.down', 2, true],
      ['server.down', 1, false],
    ]);
    expect(answering.requests).toHaveLength(2);
    expect(await monitor.store.notifications.deliveries(other.id)).toHaveLength(2);
  }, 20_000);

  it("a receiver that hangs behind many configs holds only its destination's slots: the other destinations go on", async () => {
    const hang = await startWebhookReceiver(SECRET, { answers: ['hold'] });
    cleanups.push(() => hang.close());
    const answering = await startWebhookReceiver(SECRET);
    cleanups.push(() => answering.close());
    // Three slots in all, one per destination: five configs at the hanging origin would fill them all.
    const { monitor, target, server, addConfig } = await setup(database, { ...NOTIFY, concurrency: 3, destinationConcurrency: 1 });
    for (let i = 0; i < 5; i++) await addConfig(`${hang.url}?config=${i}`);
    for (let i = 0; i < 2; i++) await addConfig(`${answering.url}?config=${i}`);

    const down = await check(monitor, target, server.id, true);
    await waitFor(() => answering.processed.size === 2, PROMPT, 'the server.down to both answering configs');
    expect(Math.max(...answering.requests.map((r) => r.at)) - down).toBeLessThan(PROMPT);
    expect(hang.requests).toHaveLength(1);
    // The others at the hanging destination wait in the outbox, claimed by no one.
    const waiting = (await monitor.store.outbox.list({ state: 'pending' })).length;
    expect(waiting).toBe(5);
    const rows = await monitor.store.db('monitor_notification_outbox').whereNotNull('claimed_by').select('id');
    expect(rows).toHaveLength(1);

    const up = await check(monitor, target, server.id, false);
    await waitFor(() => answering.processed.size === 4, PROMPT, 'the server.up to both answering configs');
    expect(Math.max(...answering.requests.map((r) => r.at)) - up).toBeLessThan(PROMPT);
    expect(hang.requests).toHaveLength(1);
  }, 20_000);

  it('an attempt that outlasts its lease keeps its claim (renewed): no other sender takes the message meanwhile', async () => {
    const slow = await startWebhookReceiver(SECRET, { delay: 2500 });
    cleanups.push(() => slow.close());
    // The lease (1 s) is shorter than the attempt (2.5 s), as an SMTP exchange of several slow steps can be.
    const { monitor, target, server, addConfig } = await setup(database, { ...NOTIFY, lease: 1000 });
    const config = await addConfig(slow.url);
    await check(monitor, target, server.id, true);
    await waitFor(() => slow.requests.length === 1, PROMPT, 'the attempt');
    const taken: number[] = [];
    while (slow.processed.size === 0) {
      // Another sender polling the outbox: anything it can claim, it would send a second time.
      taken.push(...(await monitor.store.outbox.claim('another-instance', { limit: 10, lease: 60_000 })).map((m) => m.id));
      await new Promise((r) => setTimeout(r, 50));
    }
    await waitFor(async () => (await monitor.store.notifications.lastDelivery(config.id)) !== undefined, PROMPT, 'the record');
    expect(taken).toEqual([]);
    expect(await monitor.store.outbox.list()).toMatchObject([{ state: 'delivered', attempts: 1 }]);
    expect(await monitor.store.notifications.lastDelivery(config.id)).toMatchObject({ ok: true, status_code: 200, attempt: 1 });
    expect(slow.requests).toHaveLength(1);
  }, 20_000);
});
