import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type MonitorStore } from '../../src/monitor/store/index.js';
import type { CheckRecord } from '../../src/monitor/store/results.js';
import type { PingResult, ServerStatus } from '../../src/monitor/types.js';
import { validateServer } from '../../src/monitor/validate.js';
import { BatchWriter, MAX_FLUSH } from '../../src/monitor/writer.js';
import { sqliteDatabase, waitFor } from './helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function withServer(): Promise<{ store: MonitorStore; id: number; record(i: number): CheckRecord }> {
  const db = sqliteDatabase();
  cleanups.push(() => db.drop());
  const store = await openStore({ database: db.url });
  cleanups.push(() => store.close());
  const checked = validateServer({ name: 'w', protocol: 'tcp', host: '127.0.0.1', port: 9 });
  if (!checked.ok) throw new Error('invalid');
  const { id } = await store.servers.create(checked.value);
  const status = (await store.results.status(id)) as ServerStatus;
  const record = (i: number): CheckRecord => ({
    ping: {
      server: id,
      status: 'success',
      response_time: i,
      status_code: null,
      error_message: null,
      check_timestamp: new Date().toISOString(),
    },
    status: { ...status, consecutive_successes: i },
  });
  return { store, id, record };
}

describe('BatchWriter', () => {
  it('runs record hooks in the batch transaction: a failing hook rolls the batch back and it is retried', async () => {
    const { store, id, record } = await withServer();
    let fail = true;
    const off = store.results.addRecordHook(async (trx, stored) => {
      // Stands for a notification outbox row per state change.
      for (const { ping, record: r } of stored) {
        if (r.change) await trx('monitor_settings').insert({ key: `outbox-${ping.id}`, value: r.change.status });
      }
      if (fail) throw new Error('outbox unavailable');
    });
    const writer = new BatchWriter({ results: store.results, flushInterval: 50, onCommitted: () => {} });
    const pending = writer.add({ ...record(1), change: { status: 'up', at: Date.now() } });
    await waitFor(() => writer.failure !== undefined, 3000, 'a failed write');
    expect((await store.results.list({ serverIds: [id] })).count).toBe(0);
    expect(await store.db('monitor_settings').where('key', 'like', 'outbox-%')).toEqual([]);
    fail = false;
    const ping = await pending;
    expect(await store.db('monitor_settings').where('key', 'like', 'outbox-%')).toEqual([{ key: `outbox-${ping!.id}`, value: 'up' }]);
    expect((await store.history.changesSince(0, [id])).map((c) => c.status)).toEqual(['pending', 'up']);
    off();
    await writer.close();
  });

  it('writes a full batch at once and the rest after flushInterval', async () => {
    const { store, id, record } = await withServer();
    const committed: PingResult[][] = [];
    const writer = new BatchWriter({
      results: store.results,
      flushInterval: 300,
      maxBatch: 10,
      onCommitted: (s) => committed.push(s.map((x) => x.ping)),
    });
    const started = Date.now();
    const first = Array.from({ length: 10 }, (_, i) => writer.add(record(i)));
    await Promise.all(first);
    expect(Date.now() - started).toBeLessThan(250);
    const late = writer.add(record(10));
    await late;
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(committed.map((c) => c.length)).toEqual([10, 1]);
    expect((await store.results.list({ serverIds: [id] })).count).toBe(11);
    await writer.close();
  });

  it('writes a backlog in transactions of at most MAX_FLUSH, so a synchronous SQLite write never holds the loop for all of it', async () => {
    const { store, id, record } = await withServer();
    const committed: number[] = [];
    const writer = new BatchWriter({ results: store.results, flushInterval: 50, onCommitted: (s) => committed.push(s.length) });
    await store.db.schema.renameTable('monitor_ping_results', 'monitor_ping_results_away');
    const pending = Array.from({ length: MAX_FLUSH * 2 + 200 }, (_, i) => writer.add(record(i)));
    await waitFor(() => writer.failure !== undefined, 3000, 'a failed write');
    await store.db.schema.renameTable('monitor_ping_results_away', 'monitor_ping_results');
    await Promise.all(pending);
    expect(committed.reduce((a, b) => a + b, 0)).toBe(MAX_FLUSH * 2 + 200);
    expect(Math.max(...committed)).toBeLessThanOrEqual(MAX_FLUSH);
    expect((await store.results.list({ serverIds: [id] })).count).toBe(MAX_FLUSH * 2 + 200);
    await writer.close();
  });

  it('closes while a write is failing: close() resolves and hands back what it could not store', async () => {
    const { store, record } = await withServer();
    const writer = new BatchWriter({ results: store.results, flushInterval: 10, onCommitted: () => {} });
    await store.db.schema.renameTable('monitor_ping_results', 'monitor_ping_results_away');
    try {
      const pending = writer.add(record(1));
      await waitFor(() => writer.failure !== undefined, 3000, 'a failed write');
      void writer.flush(); // a flush in flight when the close comes
      await expect(writer.close()).resolves.toBeUndefined();
      expect(await pending).toBeUndefined();
    } finally {
      await store.db.schema.renameTable('monitor_ping_results_away', 'monitor_ping_results');
    }
  });

  it('keeps the results while the database refuses them and stores them once it is back', async () => {
    const { store, id, record } = await withServer();
    const committed: PingResult[] = [];
    const writer = new BatchWriter({
      results: store.results,
      flushInterval: 50,
      onCommitted: (s) => committed.push(...s.map((x) => x.ping)),
    });
    // A real failure: the table is gone for a while.
    await store.db.schema.renameTable('monitor_ping_results', 'monitor_ping_results_away');
    const pending = [writer.add(record(1)), writer.add(record(2))];
    await waitFor(() => writer.failure !== undefined, 3000, 'a failed write');
    expect(committed).toEqual([]);
    expect(writer.pending).toBe(2);
    await store.db.schema.renameTable('monitor_ping_results_away', 'monitor_ping_results');
    await waitFor(() => committed.length === 2, 3000, 'the retried batch');
    const pings = await Promise.all(pending);
    expect(pings.map((p) => p?.response_time)).toEqual([1, 2]);
    expect((await store.results.list({ serverIds: [id] })).count).toBe(2);
    await writer.close();
  });
});
