import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/monitor/store/index.js';
import { validateNotificationConfig, validateServer } from '../../src/monitor/validate.js';
import type { NotificationConfigInput } from '../../src/monitor/types.js';
import { runNode, type Child } from '../helpers/process.js';
import { DATABASES, sqliteDatabase, waitFor, type TestDatabase } from './helpers.js';
import { startWebhookReceiver, type WebhookReceiver } from './receivers.js';
import { startTarget, type Target } from './target.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const FIXTURE = resolve('test/fixtures/monitor-notify.ts');
// A dead sender's claim runs out after `lease`: short here so the restarted process takes the message soon.
const NOTIFY = JSON.stringify({ pollInterval: 50, retrySchedule: [400], timeout: 1500, lease: 2500 });

/** A server that is down from its first check, with a webhook config to each of `urls`. */
async function prepare(db: TestDatabase, ...urls: string[]): Promise<{ configId: number; target: Target }> {
  const target = await startTarget();
  cleanups.push(() => target.close());
  target.failing.add('/down');
  const store = await openStore({ database: db.url });
  const server = validateServer({
    name: 'Checkout',
    protocol: 'http',
    host: '127.0.0.1',
    port: target.port,
    path: '/down',
    check_interval: 1,
    failure_threshold: 1,
  });
  if (!server.ok) throw new Error('invalid server');
  const { id } = await store.servers.create(server.value);
  const ids: number[] = [];
  for (const url of urls) {
    const config = validateNotificationConfig({ server: id, notification_type: 'webhook', recipient: url, secret: SECRET });
    if (!config.ok) throw new Error('invalid config');
    ids.push((await store.notifications.create(config.value as NotificationConfigInput)).id);
  }
  await store.close();
  return { configId: ids[0]!, target };
}

/** The monitor in one node process (tsx as a loader, not its CLI, whose child would outlive a kill -9 of it). */
async function start(db: TestDatabase, notify = NOTIFY): Promise<Child> {
  const child = runNode('--import', { DATABASE: db.url, NOTIFY: notify }, ['tsx', FIXTURE]);
  cleanups.push(async () => {
    if (child.child.exitCode === null && child.child.signalCode === null) {
      child.child.kill('SIGKILL');
      await child.exited();
    }
  });
  const { started } = await child.firstJson<{ started: number }>();
  expect(started).toBe(child.child.pid);
  return child;
}

async function kill9(child: Child): Promise<void> {
  child.child.kill('SIGKILL');
  expect((await child.exited()).signal).toBe('SIGKILL');
}

async function outbox(db: TestDatabase) {
  const store = await openStore({ database: db.url, migrate: false });
  try {
    return { messages: await store.outbox.list(), deliveries: await store.db('monitor_notification_deliveries').orderBy('id') };
  } finally {
    await store.close();
  }
}

describe('notifications across a crash (kill -9)', () => {
  it('a delivery in flight when the process dies is sent again after the restart with the same webhook-id, and processed once', async () => {
    const db = sqliteDatabase();
    cleanups.push(() => db.drop());
    const hook: WebhookReceiver = await startWebhookReceiver(SECRET, { answers: ['hold', 200] });
    cleanups.push(() => hook.close());
    await prepare(db, hook.url);

    const first = await start(db);
    await waitFor(() => hook.requests.length === 1, 15_000, 'the first attempt').catch((e) => {
      throw new Error(`${String(e)}\n${first.output()}`);
    });
    await kill9(first); // the receiver holds the request: no answer reached the sender
    const held = await outbox(db);
    expect(held.messages).toMatchObject([{ event: 'server.down', state: 'pending', attempts: 0 }]);
    expect(held.deliveries).toEqual([]);

    const second = await start(db);
    await waitFor(() => hook.processed.size === 1, 15_000, 'the delivery after the restart').catch((e) => {
      throw new Error(`${String(e)}\n${second.output()}`);
    });
    // Delivered in the outbox: the one sender left will not send it again (the first is dead).
    await waitFor(async () => (await outbox(db)).messages[0]?.state === 'delivered', 15_000, 'delivered');

    expect(hook.requests.map((r) => r.answered)).toEqual([0, 200]);
    expect(hook.requests[1]!.id).toBe(hook.requests[0]!.id);
    expect(hook.requests.every((r) => r.verified)).toBe(true);
    expect(hook.processed.size).toBe(1);
    const done = await outbox(db);
    expect(done.messages).toMatchObject([{ state: 'delivered', attempts: 1, message_id: hook.requests[0]!.id }]);
    expect(done.deliveries).toHaveLength(1);
    await kill9(second);
  }, 60_000);

  it('a message waiting for a retry when the process dies (receiver down) is delivered exactly once after the restart', async () => {
    const db = sqliteDatabase();
    cleanups.push(() => db.drop());
    // The receiver is down: its port refuses connections until it starts again on the same port.
    const probe = await startWebhookReceiver(SECRET);
    const port = probe.port;
    await probe.close();
    const { configId } = await prepare(db, `http://127.0.0.1:${port}/hooks/monitor`);

    const first = await start(db);
    await waitFor(async () => (await outbox(db)).deliveries.length >= 1, 15_000, 'a failed attempt').catch((e) => {
      throw new Error(`${String(e)}\n${first.output()}`);
    });
    await kill9(first);
    const failed = await outbox(db);
    expect(failed.messages).toMatchObject([{ state: 'pending', config: configId }]);
    expect(failed.deliveries[0]).toMatchObject({ ok: 0, error: 'connection refused' });
    expect(first.output()).toMatch(/monitor: notification attempt failed, will retry .*"error":"connection refused"/);

    const hook = await startWebhookReceiver(SECRET, { port });
    cleanups.push(() => hook.close());
    const second = await start(db);
    await waitFor(() => hook.processed.size === 1, 15_000, 'the delivery after the restart').catch((e) => {
      throw new Error(`${String(e)}\n${second.output()}`);
    });
    await waitFor(async () => (await outbox(db)).messages[0]?.state === 'delivered', 15_000, 'delivered');
    expect(hook.requests).toHaveLength(1);
    expect(hook.requests[0]).toMatchObject({ verified: true, answered: 200, id: failed.messages[0]!.message_id });
    const done = await outbox(db);
    expect(done.messages).toMatchObject([{ state: 'delivered' }]);
    expect(done.deliveries.at(-1)).toMatchObject({ ok: 1, status_code: 200 });
    // The child logs the delivery after committing it: its line may follow the row by a moment.
    await waitFor(() => /monitor: notification delivered/.test(second.output()), 5000, 'the delivery line');
    await kill9(second);
  }, 60_000);
});

describe.each(DATABASES)('a hanging delivery across a crash (kill -9) on %s', (_name, database) => {
  // A long timeout with a short lease, renewed while the attempt runs: the process that follows a
  // dead one takes its message back after the lease, not after the timeout.
  const HANGING = JSON.stringify({ pollInterval: 50, retrySchedule: [400], timeout: 20_000, lease: 1500 });

  it("is sent again by the next process with the same webhook-id; another config's notices, sent meanwhile, are not sent again", async () => {
    const db = await database();
    cleanups.push(() => db.drop());
    const hang = await startWebhookReceiver(SECRET, { answers: ['hold', 200] });
    cleanups.push(() => hang.close());
    const answering = await startWebhookReceiver(SECRET);
    cleanups.push(() => answering.close());
    const { target } = await prepare(db, hang.url, answering.url);

    const first = await start(db, HANGING);
    const explain = (child: Child) => (e: unknown) => {
      throw new Error(`${String(e)}\n${child.output()}`);
    };
    await waitFor(() => hang.requests.length === 1 && answering.processed.size === 1, 15_000, 'the server.down').catch(explain(first));
    target.failing.delete('/down');
    // The recovery reaches the answering receiver while the hanging request is open (held longer than the lease).
    await waitFor(() => answering.processed.size === 2, 5000, 'the server.up to the answering receiver').catch(explain(first));
    await waitFor(() => Date.now() - hang.requests[0]!.at > 1500, 5000, 'the hold to outlast one lease');
    expect(hang.requests).toHaveLength(1);
    await kill9(first);
    const held = await outbox(db);
    expect(held.messages.map((m) => [m.event, m.state, m.attempts])).toEqual([
      ['server.down', 'pending', 0],
      ['server.down', 'delivered', 1],
      ['server.up', 'pending', 0],
      ['server.up', 'delivered', 1],
    ]);
    expect(held.deliveries).toHaveLength(2);

    const second = await start(db, HANGING);
    await waitFor(() => hang.processed.size === 2, 15_000, "the hanging config's notices after the restart").catch(explain(second));
    await waitFor(async () => (await outbox(db)).deliveries.length === 4, 5000, 'the attempts recorded');
    // Every message delivered: nothing is left that a sender could send twice.
    await waitFor(async () => (await outbox(db)).messages.every((m) => m.state === 'delivered'), 15_000, 'all delivered');

    expect(hang.requests.map((r) => [r.body.type, r.answered])).toEqual([
      ['server.down', 0],
      ['server.down', 200],
      ['server.up', 200],
    ]);
    expect(hang.requests[1]!.id).toBe(hang.requests[0]!.id);
    expect(hang.requests.every((r) => r.verified)).toBe(true);
    // Acknowledged before the crash: never sent again.
    expect(answering.requests.map((r) => [r.body.type, r.answered])).toEqual([
      ['server.down', 200],
      ['server.up', 200],
    ]);
    const done = await outbox(db);
    expect(done.messages.every((m) => m.state === 'delivered' && m.attempts === 1)).toBe(true);
    expect(done.deliveries).toHaveLength(4);
    await kill9(second);
  }, 60_000);
});
