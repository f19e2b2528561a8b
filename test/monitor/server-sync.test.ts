import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLiveUpdates, type LiveUpdatesOptions } from '../../src/monitor/live/index.js';
import { MIGRATION_CONFIG } from '../../src/monitor/migrations/index.js';
import { createMonitor } from '../../src/monitor/monitor.js';
import { openStore } from '../../src/monitor/store/index.js';
import { fingerprintOf } from '../../src/monitor/store/servers.js';
import type { ServerInput } from '../../src/monitor/types.js';
import { validateServer } from '../../src/monitor/validate.js';
import { runNode } from '../helpers/process.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { DATABASES, postgresDatabase, sqliteDatabase, waitFor, type TestDatabase } from './helpers.js';
import { addServer, ALICE, json, SseClient, startInstance, tokenFor, WsClient, type Instance } from './live-helpers.js';
import { startTarget, type Target } from './target.js';

// Server changes made on one instance (or by the CLI) reach the others through the live
// channel layer within a second: their monitors follow them, their streams announce them.

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

/** How a change must reach the other instances. */
const WITHIN_MS = 1000;

interface Layer {
  live: Omit<LiveUpdatesOptions, 'monitor'>;
  /** The same layer for a child process or the CLI, from the environment. */
  env: Record<string, string>;
}

const layers: Array<[string, (prefix?: string) => Layer]> = [
  ['PostgreSQL LISTEN/NOTIFY', () => ({ live: {}, env: { CHANNEL_LAYER_TYPE: '' } })],
  [
    'Redis pub/sub',
    (prefix) => ({
      live: { channel: 'redis', redisUrl: redis.url, ...(prefix ? { redisPrefix: prefix } : {}) },
      env: { CHANNEL_LAYER_TYPE: 'redis', REDIS_URL: redis.url },
    }),
  ],
];

const prefix = () => `sync-test-${Math.random().toString(36).slice(2)}`;

function input(name: string, fields: Record<string, unknown> = {}): ServerInput {
  const checked = validateServer({ name, protocol: 'http', host: '127.0.0.1', port: target.port, path: `/${name}`, ...fields });
  if (!checked.ok) throw new Error(`invalid server: ${JSON.stringify(checked.errors)}`);
  return checked.value;
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

async function sse(instance: Instance, query = ''): Promise<SseClient> {
  const client = await SseClient.open(`${instance.url}/api/events/status/${query}`, { Authorization: `Bearer ${token}` });
  cleanups.push(() => client.close());
  await client.waitForEvents(2); // the snapshot
  return client;
}

async function ws(instance: Instance): Promise<WsClient> {
  const client = await WsClient.open(`${instance.wsUrl}/ws/status/`, { headers: { Authorization: `Bearer ${token}` } });
  cleanups.push(() => client.ws.terminate());
  expect(await client.ask({ action: 'subscribe' })).toMatchObject({ type: 'subscribed' });
  return client;
}

interface ServerEventData {
  action: string;
  server: { id: number; name?: string; path?: string; current_status?: { status: string } | null };
}

/** The stream's `server` events so far. */
const serverEvents = (client: SseClient) => client.events.filter((e) => e.event === 'server').map((e) => json<ServerEventData>(e));

async function nextServerEvent(client: SseClient, count: number, ms = WITHIN_MS): Promise<ServerEventData> {
  await waitFor(() => serverEvents(client).length >= count, ms, `server event ${count} (have ${client.text})`);
  return serverEvents(client)[count - 1]!;
}

describe.each(layers)('server changes across instances through %s', (_name, layerOf) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await postgresDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('a server created, changed and removed on one instance is followed by the other within a second, and its clients are told', async () => {
    const layer = layerOf(prefix());
    const [one, two] = await instances(db, 2, layer.live);
    const stream = await sse(two!);
    const socket = await ws(two!);

    const path = `/${prefix()}`;
    const moved = `${path}-moved`;
    const created = await addServer(one!.monitor, 'sync-created', target.port, { path });
    expect(await nextServerEvent(stream, 1)).toMatchObject({
      action: 'created',
      server: { id: created.id, name: 'sync-created', current_status: { status: 'pending' } },
    });
    // The event is delivered once the other monitor follows the server: it checks it.
    const [report] = await two!.monitor.runNow([created.id]);
    expect(report).toMatchObject({ server: { id: created.id }, ping: { status: 'success' } });
    expect(target.arrivals.get(path)).toHaveLength(1);
    expect(await socket.next(WITHIN_MS)).toMatchObject({ type: 'server', action: 'created', server: { id: created.id } });
    await socket.next(); // the check's update

    await one!.monitor.store.servers.update(created.id, input('sync-renamed', { path: moved }));
    expect(await nextServerEvent(stream, 2)).toMatchObject({ action: 'updated', server: { id: created.id, name: 'sync-renamed' } });
    await two!.monitor.runNow([created.id]);
    expect(target.arrivals.get(moved)).toHaveLength(1);
    expect(await socket.next(WITHIN_MS)).toMatchObject({ type: 'server', action: 'updated', server: { name: 'sync-renamed' } });
    expect(await socket.next()).toMatchObject({ type: 'update' });

    await one!.monitor.store.servers.remove(created.id);
    expect(await nextServerEvent(stream, 3)).toEqual({ action: 'deleted', server: { id: created.id } });
    expect(await two!.monitor.runNow([created.id])).toEqual([]);
    expect(two!.monitor.stats().servers).toBe(0);
    expect(await socket.next(WITHIN_MS)).toMatchObject({ type: 'server', action: 'deleted', server: { id: created.id } });
    // One id sequence with the checks: a reconnecting client gets the server events replayed.
    const ids = stream.events.slice(2).map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
  });

  it('checks a server created on an instance that is killed right after, within one interval', async () => {
    const name = prefix();
    const layer = layerOf(name);
    // The survivor: scheduled, sharing the checks.
    const monitor = await createMonitor({ database: db.url, logger: false, flushInterval: 20, shared: true });
    cleanups.push(() => monitor.close());
    const live = await createLiveUpdates({ monitor, logger: false, ...layer.live });
    cleanups.push(() => live.close());

    const interval = 2;
    const fixture = fileURLToPath(new URL('../fixtures/monitor-instance.mjs', import.meta.url));
    const server = { name: 'orphan', protocol: 'http', host: '127.0.0.1', port: target.port, path: `/${name}`, check_interval: interval };
    const child = runNode(fixture, layer.env, [db.url, JSON.stringify(server), name]);
    cleanups.push(() => void child.child.kill('SIGKILL'));
    const { id } = await child.firstJson<{ id: number }>();
    await waitFor(() => monitor.stats().servers === 1, WITHIN_MS, 'the survivor tracking the new server');

    child.child.kill('SIGKILL');
    await child.exited();
    const killedAt = Date.now();
    const checkedAfter = () => (target.arrivals.get(`/${name}`) ?? []).filter((t) => t > killedAt);
    await waitFor(
      () => checkedAfter().length > 0,
      interval * 1000 + 1000,
      `a check by the survivor (killed at ${killedAt}: ${JSON.stringify(target.arrivals.get(`/${name}`))}, ${JSON.stringify(monitor.stats())})`,
    );
    // ...and stored by it (the check may have started a moment before the kill was seen).
    const since = checkedAfter()[0]! - 1000;
    await waitFor(async () => (await monitor.store.results.latest({ serverIds: [id], since, limit: 1 })).length === 1, 2000, 'stored');
  });

  it('follows `lifeline monitor add` and `remove` within a second', async () => {
    // The CLI uses the default Redis prefix, as `lifeline monitor serve` does.
    const layer = layerOf();
    const [one] = await instances(db, 1, layer.live);
    const stream = await sse(one!);
    const env = { ...layer.env, DATABASE_URL: db.url };
    const added = await lifeline(['monitor', 'add', '--name', 'from-cli', '--url', `http://127.0.0.1:${target.port}/from-cli`], env);
    expect(added.code, added.err).toBe(0);
    expect(added.err).toBe('');
    const id = Number(/added server (\d+)/.exec(added.out)![1]);
    expect(await nextServerEvent(stream, 1)).toMatchObject({ action: 'created', server: { id, name: 'from-cli' } });
    expect(await one!.monitor.runNow([id])).toHaveLength(1);

    const removed = await lifeline(['monitor', 'remove', String(id)], env);
    expect(removed.code, removed.err).toBe(0);
    expect(await nextServerEvent(stream, 2)).toEqual({ action: 'deleted', server: { id } });
    expect(await one!.monitor.runNow([id])).toEqual([]);
  });
});

const cli = resolve('dist/cli/main.js');

async function lifeline(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, out, err };
}

describe('server events on one instance (memory layer, SQLite)', () => {
  it('streams created, updated and deleted to SSE and WebSocket clients, and `server_id` filters them', async () => {
    const db = sqliteDatabase();
    cleanups.push(() => db.drop());
    const [one] = await instances(db, 1, { channel: 'memory' });
    const all = await sse(one!);
    const other = await sse(one!, '?server_id=999');
    const socket = await ws(one!);

    const created = await addServer(one!.monitor, 'solo', target.port);
    expect(await nextServerEvent(all, 1)).toMatchObject({ action: 'created', server: { id: created.id, name: 'solo' } });
    expect(all.events.at(-1)!.id).toMatch(/^\d+$/);
    expect(await socket.next(WITHIN_MS)).toMatchObject({ type: 'server', action: 'created', server: { id: created.id } });
    await one!.monitor.store.servers.update(created.id, input('solo-renamed'));
    expect(await nextServerEvent(all, 2)).toMatchObject({ action: 'updated', server: { name: 'solo-renamed' } });
    await one!.monitor.store.servers.remove(created.id);
    expect(await nextServerEvent(all, 3)).toEqual({ action: 'deleted', server: { id: created.id } });
    expect((await socket.next(WITHIN_MS)).action).toBe('updated');
    expect((await socket.next(WITHIN_MS)).action).toBe('deleted');
    expect(serverEvents(other)).toEqual([]);
  });
});

describe.each(DATABASES)('the periodic server sync on %s', (_name, open) => {
  it('reads one fingerprint row that changes with every create, edit and removal', async () => {
    const db = await open();
    cleanups.push(() => db.drop());
    const store = await openStore({ database: db.url });
    cleanups.push(() => store.close());
    const same = async () => expect(await store.servers.fingerprint()).toEqual(fingerprintOf(await store.servers.all()));
    await same();
    const a = await store.servers.create(input('print-a'));
    const b = await store.servers.create(input('print-b'));
    await same();
    const before = await store.servers.fingerprint();
    await new Promise((r) => setTimeout(r, 2)); // a later updated_at
    await store.servers.update(a.id, input('print-a', { path: '/other' }));
    expect(await store.servers.fingerprint()).not.toEqual(before);
    await same();
    await store.servers.remove(b.id);
    await same();
  });
});

describe('the live counter migration (0004)', () => {
  it('keeps the counter an earlier version created at run time, and its value', async () => {
    const db = await postgresDatabase();
    cleanups.push(() => db.drop());
    const store = await openStore({ database: db.url, migrate: false });
    cleanups.push(() => store.close());
    for (let i = 0; i < 3; i++) await store.db.migrate.up(MIGRATION_CONFIG);
    // What PostgresChannel used to create on first use.
    await store.db.raw('create table monitor_live_counter (id smallint primary key, value bigint not null)');
    await store.db.raw('insert into monitor_live_counter (id, value) values (1, 41)');
    expect((await store.migrate())[0]).toBe('0004_live_counter');
    expect((await store.db('monitor_live_counter').select('id', 'value')).map((r: { value: string }) => Number(r.value))).toEqual([41]);
    // A channel on a migrated database numbers from there, without creating anything.
    const monitor = await createMonitor({ database: store.db, logger: false, schedule: false });
    cleanups.push(() => monitor.close());
    const live = await createLiveUpdates({ monitor, logger: false });
    cleanups.push(() => live.close());
    const created = await monitor.store.servers.create(input('counted'));
    await waitFor(() => live.log.lastId === 42, WITHIN_MS, `event 42 (last ${live.log.lastId})`);
    expect(created.id).toBeGreaterThan(0);
  });
});
