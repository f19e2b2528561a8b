import { afterEach, describe, expect, it } from 'vitest';
import { notificationHook } from '../../src/monitor/notify/enqueue.js';
import { openStore } from '../../src/monitor/store/index.js';
import type { CheckRecord } from '../../src/monitor/store/results.js';
import type { ServerState, ServerStatus } from '../../src/monitor/types.js';
import { validateServer } from '../../src/monitor/validate.js';
import { sqliteDatabase } from './helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('the notification outbox hook', () => {
  it('writes the outbox in the batch transaction, from the stored change log: a down another instance already stored is not announced twice', async () => {
    const db = sqliteDatabase();
    cleanups.push(() => db.drop());
    const store = await openStore({ database: db.url });
    cleanups.push(() => store.close());
    const checked = validateServer({ name: 'w', protocol: 'tcp', host: '127.0.0.1', port: 9 });
    if (!checked.ok) throw new Error('invalid');
    const { id } = await store.servers.create(checked.value);
    const config = await store.notifications.create({
      server: id,
      notification_type: 'webhook',
      recipient: 'http://127.0.0.1:9/hook',
      enabled: true,
      notify_on_failure: true,
      notify_on_recovery: true,
    });
    store.results.addRecordHook(notificationHook(store.outbox, { reminderInterval: 0 }));
    const status = (await store.results.status(id)) as ServerStatus;
    let t = Date.now();
    const record = (state: ServerState, from?: ServerState): CheckRecord => {
      t += 1000;
      return {
        ping: {
          server: id,
          status: state === 'down' ? 'failure' : 'success',
          response_time: 1,
          status_code: null,
          error_message: null,
          check_timestamp: new Date(t).toISOString(),
        },
        status: { ...status, status: state },
        ...(from ? { change: { status: state, at: t, from } } : {}),
      };
    };
    const events = async () =>
      (await store.outbox.list()).map((m) => `${m.event}${m.payload.downtime_seconds ? ` ${m.payload.downtime_seconds}` : ''}`);

    await store.results.record([record('up', 'pending')]); // first check: not a recovery
    await store.results.record([record('up')]);
    expect(await events()).toEqual([]);
    await store.results.record([record('down', 'up')]);
    // Another instance, one check behind, saw the same outage begin: the log already says down.
    await store.results.record([record('down', 'pending')]);
    await store.results.record([record('down')]);
    expect(await events()).toEqual(['server.down']);
    await store.results.record([record('up', 'down'), record('down', 'up'), record('up', 'down')]); // flapping within one batch
    expect(await events()).toEqual(['server.down', 'server.up 3', 'server.down', 'server.up 1']);

    // A failing hook rolls the whole batch back: no change without its notification, nor the reverse.
    store.results.addRecordHook(() => Promise.reject(new Error('outbox full')));
    await expect(store.results.record([record('down', 'up')])).rejects.toThrow('outbox full');
    expect(await events()).toHaveLength(4);
    expect((await store.history.changesSince(0, [id])).at(-1)?.status).toBe('up');
    expect((await store.outbox.list({ config: config.id })).every((m) => m.state === 'pending')).toBe(true);
  });
});
