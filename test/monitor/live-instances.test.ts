import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LiveUpdatesOptions } from '../../src/monitor/live/index.js';
import type { PingResult } from '../../src/monitor/types.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { Redis } from 'ioredis';
import pg from 'pg';
import { fileURLToPath } from 'node:url';
import { runNode } from '../helpers/process.js';
import { PG_URL, postgresDatabase, sqliteDatabase, waitFor, type TestDatabase } from './helpers.js';
import { openStore } from '../../src/monitor/store/index.js';
import { validateServer } from '../../src/monitor/validate.js';
import { ALICE, json, SseClient, startInstance, tokenFor, WsClient, type Instance } from './live-helpers.js';
import { startTarget, type Target } from './target.js';

let redis: RedisServer;
let target: Target;
let token: string;
beforeAll(async () => {
  redis = await startRedis();
  target = await startTarget();
  token = await tokenFor(ALICE);
});
afterAll(async () => {
  await target?.close();
  await redis?.destroy();
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const layers: Array<[string, () => Omit<LiveUpdatesOptions, 'monitor'>]> = [
  ['PostgreSQL LISTEN/NOTIFY', () => ({})],
  ['Redis pub/sub', () => ({ channel: 'redis', redisUrl: redis.url, redisPrefix: `live-test-${Math.random().toString(36).slice(2)}` })],
];

/** A server in the database before the instances start, so each of them checks it. */
async function createServer(db: TestDatabase, name: string): Promise<number> {
  const store = await openStore({ database: db.url });
  try {
    const checked = validateServer({ name, protocol: 'http', host: '127.0.0.1', port: target.port, path: `/${name}`, check_interval: 60 });
    if (!checked.ok) throw new Error('invalid server');
    return (await store.servers.create(checked.value)).id;
  } finally {
    await store.close();
  }
}

async function instances(db: TestDatabase, n: number, live: Omit<LiveUpdatesOptions, 'monitor'>): Promise<Instance[]> {
  const list: Instance[] = [];
  for (let i = 0; i < n; i++) {
    const instance = await startInstance(db.url, { live });
    cleanups.push(() => instance.close());
    list.push(instance);
  }
  return list;
}

async function sse(instance: Instance, headers: Record<string, string> = {}): Promise<SseClient> {
  const client = await SseClient.open(`${instance.url}/api/events/status/`, { Authorization: `Bearer ${token}`, ...headers });
  cleanups.push(() => client.close());
  return client;
}

async function ws(instance: Instance): Promise<WsClient> {
  const client = await WsClient.open(`${instance.wsUrl}/ws/status/`, { headers: { Authorization: `Bearer ${token}` } });
  cleanups.push(() => client.ws.terminate());
  return client;
}

describe.each(layers)('across instances through %s', (_name, layer) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await postgresDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('brings a check run on one instance to the SSE and WebSocket clients of the two others', async () => {
    const live = layer();
    const server = { id: await createServer(db, `api-${live.channel ?? 'pg'}`) };
    const [one, two, three] = await instances(db, 3, live);
    const streams = [await sse(two!), await sse(three!), await sse(one!)];
    const sockets = [await ws(two!), await ws(three!)];
    for (const stream of streams) await stream.waitForEvents(2);
    for (const socket of sockets)
      expect(await socket.ask({ action: 'subscribe', server_ids: [server.id] })).toMatchObject({ type: 'subscribed' });

    const [report] = await one!.monitor.runNow([server.id]);
    for (const stream of streams) {
      const events = await stream.waitForEvents(4);
      expect(events.slice(2).map((e) => e.event)).toEqual(['ping', 'status']);
      expect(json<PingResult>(events[2]).id).toBe(report!.ping.id);
    }
    // One id per event, the same on every instance.
    const ids = streams.map((s) => s.events.slice(2).map((e) => e.id));
    expect(ids[1]).toEqual(ids[0]);
    expect(ids[2]).toEqual(ids[0]);
    for (const socket of sockets) {
      const update = await socket.next();
      expect(update).toMatchObject({ type: 'update', ping: { id: report!.ping.id, server: server.id }, status: { status: 'up' } });
    }

    // Checks on the other instances: one sequence between them, increasing.
    await two!.monitor.runNow([server.id]);
    await three!.monitor.runNow([server.id]);
    const events = await streams[0]!.waitForEvents(6);
    const sequence = events.slice(2).map((e) => Number(e.id));
    expect(sequence).toEqual([...sequence].sort((a, b) => a - b));
    expect(new Set(sequence).size).toBe(sequence.length);
  });

  it('replays the missed events from Last-Event-ID on another instance', async () => {
    const live = layer();
    const server = { id: await createServer(db, `replay-${live.channel ?? 'pg'}`) };
    const [one, two, three] = await instances(db, 3, live);
    // Watches instance three all along: what a replay there must give.
    const observer = await sse(three!);
    const first = await sse(two!);
    await observer.waitForEvents(2);
    await first.waitForEvents(2);
    await one!.monitor.runNow([server.id]);
    await first.waitForEvents(4);
    const lastSeen = Number(first.events[first.events.length - 1]!.id);
    first.close();

    // Missed: checks on instances one and two (two's first check of it changes its state too).
    await one!.monitor.runNow([server.id]);
    await two!.monitor.runNow([server.id]);
    await one!.monitor.runNow([server.id]);
    // The snapshot's ping event, then four checks.
    await waitFor(() => observer.events.filter((e) => e.event === 'ping').length === 5, 5000, 'four checks seen on three');
    const missed = observer.events.filter((e) => Number(e.id) > lastSeen);
    expect(missed.length).toBeGreaterThanOrEqual(3);

    const again = await sse(three!, { 'Last-Event-ID': String(lastSeen) });
    const replayed = await again.waitForEvents(missed.length);
    expect(replayed).toEqual(missed);
    expect(Number(replayed[0]!.id)).toBe(lastSeen + 1);
    // Then live.
    await two!.monitor.runNow([server.id]);
    await again.waitForEvents(missed.length + 1);
    expect(again.events[missed.length]).toMatchObject({ event: 'ping' });
  });

  it('ends the SSE streams and closes the WebSockets of an instance that drains, and the others go on', async () => {
    const live = layer();
    const server = { id: await createServer(db, `drain-${live.channel ?? 'pg'}`) };
    const [one, two] = await instances(db, 2, live);
    const leaving = await sse(two!);
    const leavingSocket = await ws(two!);
    const staying = await sse(one!);
    await leaving.waitForEvents(2);
    await staying.waitForEvents(2);
    expect(await two!.served.shutdown('test')).toBe(0);
    await leaving.ended;
    expect(leaving.events[leaving.events.length - 1]!.event).toBe('shutdown');
    expect((await leavingSocket.closed).code).toBe(1001);
    await one!.monitor.runNow([server.id]);
    await staying.waitForEvents(4);
    await waitFor(() => !staying.done, 100);
  });
});

describe('the PostgreSQL channel layer', () => {
  it('listens again when its LISTEN connection is cut, and later checks get through', async () => {
    const db = await postgresDatabase();
    cleanups.push(() => db.drop());
    const server = { id: await createServer(db, 'relisten') };
    const [one, two] = await instances(db, 2, {});
    const client = await sse(two!);
    await client.waitForEvents(2);
    // Cut every LISTEN connection of this schema's channel (both instances').
    const admin = new pg.Client(PG_URL);
    await admin.connect();
    cleanups.push(() => admin.end());
    const listening = async () =>
      (
        await admin.query<{ pid: number }>(`select pid from pg_stat_activity where query like 'listen %' and query like $1`, [
          `%${db.schema}%`,
        ])
      ).rows;
    expect(await listening()).toHaveLength(2);
    for (const { pid } of await listening()) await admin.query('select pg_terminate_backend($1)', [pid]);
    await waitFor(async () => (await listening()).length === 2, 10_000, 'both instances listening again');
    await one!.monitor.runNow([server.id]);
    const events = await client.waitForEvents(4);
    expect(events.slice(2).map((e) => e.event)).toEqual(['ping', 'status']);
  });
});

describe('the Redis channel layer', () => {
  it('keeps ids increasing when Redis loses its counter (a restart without persistence)', async () => {
    const db = await postgresDatabase();
    cleanups.push(() => db.drop());
    const server = { id: await createServer(db, 'flushed') };
    const [one, two] = await instances(db, 2, { channel: 'redis', redisUrl: redis.url, redisPrefix: 'flush-test' });
    const client = await sse(two!);
    await client.waitForEvents(2);
    await one!.monitor.runNow([server.id]);
    await client.waitForEvents(4);
    const before = Number(client.events[3]!.id);
    const admin = new Redis(redis.url);
    cleanups.push(() => void admin.disconnect());
    await admin.flushall();
    await one!.monitor.runNow([server.id]);
    await client.waitForEvents(5);
    expect(Number(client.events[4]!.id)).toBeGreaterThan(before);
  });
});

describe('CHANNEL_LAYER_TYPE', () => {
  it('says in one line to install ioredis when the redis layer is asked for without it (built package)', async () => {
    const db = sqliteDatabase();
    cleanups.push(() => db.drop());
    const child = runNode(fileURLToPath(new URL('../fixtures/no-ioredis.mjs', import.meta.url)), {}, [db.url]);
    expect((await child.exited()).code).toBe(1);
    expect(child.output()).toBe('monitor: CHANNEL_LAYER_TYPE=redis needs the `ioredis` package: npm install ioredis\n');
  });

  it('selects Redis from the environment (REDIS_URL)', async () => {
    const db = await postgresDatabase();
    cleanups.push(() => db.drop());
    const saved = { type: process.env.CHANNEL_LAYER_TYPE, url: process.env.REDIS_URL };
    process.env.CHANNEL_LAYER_TYPE = 'redis';
    process.env.REDIS_URL = redis.url;
    cleanups.push(() => {
      for (const [key, value] of [
        ['CHANNEL_LAYER_TYPE', saved.type],
        ['REDIS_URL', saved.url],
      ] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    });
    const server = { id: await createServer(db, 'env') };
    const [one, two] = await instances(db, 2, { redisPrefix: `env-${Math.random().toString(36).slice(2)}` });
    const client = await sse(two!);
    await client.waitForEvents(2);
    await one!.monitor.runNow([server.id]);
    await client.waitForEvents(3);

    process.env.CHANNEL_LAYER_TYPE = 'carrier-pigeon';
    await expect(startInstance(db.url)).rejects.toThrow(/CHANNEL_LAYER_TYPE must be one of memory, postgres, redis, got "carrier-pigeon"/);
  });
});
