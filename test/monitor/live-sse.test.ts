import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLiveUpdates } from '../../src/monitor/live/index.js';
import { statusStream } from '../../src/monitor/live/sse.js';
import type { PingResult, ServerStatus } from '../../src/monitor/types.js';
import { sqliteDatabase, waitFor, type TestDatabase } from './helpers.js';
import { addServer, ALICE, authenticate, json, SseClient, startInstance, tokenFor, type Instance } from './live-helpers.js';
import { startTarget, type Target } from './target.js';

const PATH = '/api/events/status/';
let db: TestDatabase;
let target: Target;
let instance: Instance;
let token: string;
const cleanups: Array<() => Promise<void> | void> = [];

beforeEach(async () => {
  db = sqliteDatabase();
  target = await startTarget();
  token = await tokenFor(ALICE);
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await instance?.close();
  await target.close();
  await db.drop();
});

async function open(query = '', headers: Record<string, string> = {}): Promise<SseClient> {
  const client = await SseClient.open(`${instance.url}${PATH}${query}`, { Authorization: `Bearer ${token}`, ...headers });
  cleanups.push(() => client.close());
  return client;
}

describe('SSE /api/events/status/', () => {
  it('answers 401 JSON without a valid token, and takes the token from the header or ?token=', async () => {
    instance = await startInstance(db.url);
    for (const headers of [
      {} as Record<string, string>,
      { Authorization: 'Bearer nope' },
      { Authorization: `Bearer ${await tokenFor(ALICE, '-1s')}` },
    ]) {
      const client = await SseClient.open(`${instance.url}${PATH}`, headers);
      await client.ended;
      expect(client.status).toBe(401);
      expect(client.headers['content-type']).toMatch(/^application\/json/);
      expect(client.headers['www-authenticate']).toBe('Bearer realm="api"');
      expect(JSON.parse(client.text)).toHaveProperty('detail');
    }
    const byQuery = await SseClient.open(`${instance.url}${PATH}?token=${token}`);
    cleanups.push(() => byQuery.close());
    expect(byQuery.status).toBe(200);
    expect(byQuery.headers['content-type']).toMatch(/^text\/event-stream/);
  });

  it('answers a bad filter with 400 JSON naming it, before any stream starts', async () => {
    instance = await startInstance(db.url);
    const cases: Array<[string, string]> = [
      ['?status=up,sideways', 'status'],
      ['?status=', 'status'],
      ['?server_id=1,x', 'server_id'],
      ['?server_id=0', 'server_id'],
      // The WebSocket's bound too (one parser): at most 1000 ids.
      [`?server_id=${Array.from({ length: 1001 }, (_, i) => i + 1).join(',')}`, 'server_id'],
      ['?since=yesterday', 'since'],
      ['?since=2026-13-45T00:00:00Z', 'since'],
      ['?limit=0', 'limit'],
      ['?limit=abc', 'limit'],
      ['?limit=100000', 'limit'],
    ];
    for (const [query, field] of cases) {
      const client = await open(query);
      await client.ended;
      expect(client.status, query).toBe(400);
      expect(client.headers['content-type']).toMatch(/^application\/json/);
      expect(Object.keys(JSON.parse(client.text) as object), query).toEqual([field]);
    }
  });

  it('starts with retry, the status snapshot and the latest pings (filtered, limited), each with an id', async () => {
    instance = await startInstance(db.url);
    const up = await addServer(instance.monitor, 'up', target.port);
    const down = await addServer(instance.monitor, 'down', target.port, { failure_threshold: 1 });
    target.failing.add('/down');
    for (let i = 0; i < 3; i++) await instance.monitor.runNow();

    const all = await open();
    const [status, ping] = await all.waitForEvents(2);
    expect(all.text.startsWith('retry: 5000\n\n')).toBe(true);
    // The snapshot carries the latest id known, so a reconnect replays what follows.
    expect(status).toMatchObject({ event: 'status', id: String(instance.live.log.lastId) });
    expect(json<ServerStatus[]>(status).map((s) => [s.server, s.status])).toEqual([
      [up.id, 'up'],
      [down.id, 'down'],
    ]);
    expect(ping!.event).toBe('ping');
    expect(ping!.id).toBe(status!.id);
    const pings = json<PingResult[]>(ping);
    expect(pings).toHaveLength(6);
    // Newest first.
    expect(pings.map((p) => p.id)).toEqual([...pings.map((p) => p.id)].sort((a, b) => b - a));

    const filtered = await open(`?status=down&limit=2`);
    const [fStatus, fPing] = await filtered.waitForEvents(2);
    expect(json<ServerStatus[]>(fStatus).map((s) => s.server)).toEqual([down.id]);
    expect(json<PingResult[]>(fPing).map((p) => p.server)).toEqual([down.id, down.id]);

    const byId = await open(`?server_id=${up.id}`);
    const [iStatus, iPing] = await byId.waitForEvents(2);
    expect(json<ServerStatus[]>(iStatus).map((s) => s.server)).toEqual([up.id]);
    expect(json<PingResult[]>(iPing).every((p) => p.server === up.id)).toBe(true);

    // `since`: only statuses changed and pings taken since then.
    const future = new Date(Date.now() + 60_000).toISOString();
    const since = await open(`?since=${future}`);
    const [sStatus, sPing] = await since.waitForEvents(2);
    expect(json(sStatus)).toEqual([]);
    expect(json(sPing)).toEqual([]);
  });

  it('sends each check as it completes: a ping, and a status when the state changed, with increasing ids', async () => {
    instance = await startInstance(db.url);
    const server = await addServer(instance.monitor, 'api', target.port, { failure_threshold: 1 });
    const other = await addServer(instance.monitor, 'other', target.port);
    const client = await open();
    const filtered = await open(`?server_id=${other.id}`);
    await client.waitForEvents(2);
    await filtered.waitForEvents(2);

    await instance.monitor.runNow([server.id]); // pending -> up
    const events = await client.waitForEvents(4);
    expect(events.slice(2).map((e) => e.event)).toEqual(['ping', 'status']);
    expect(json<PingResult>(events[2]).server).toBe(server.id);
    expect(json<ServerStatus>(events[3])).toMatchObject({ server: server.id, status: 'up' });

    await instance.monitor.runNow([server.id]); // up -> up: a ping only
    target.failing.add('/api');
    await instance.monitor.runNow([server.id]); // up -> down
    await client.waitForEvents(7);
    expect(client.events.slice(4).map((e) => e.event)).toEqual(['ping', 'ping', 'status']);
    expect(json<ServerStatus>(client.events[6])).toMatchObject({ status: 'down' });
    const ids = client.events.slice(2).map((e) => Number(e.id));
    expect(ids).toEqual([0, 1, 2, 3, 4].map((i) => ids[0]! + i));
    // The other server's stream saw none of it.
    expect(filtered.events).toHaveLength(2);
  });

  it('replays exactly the missed events after Last-Event-ID, then goes on live', async () => {
    instance = await startInstance(db.url);
    const server = await addServer(instance.monitor, 'api', target.port);
    const first = await open();
    await first.waitForEvents(2);
    await instance.monitor.runNow([server.id]);
    await first.waitForEvents(4);
    const lastSeen = first.events[3]!.id!;
    first.close();

    for (let i = 0; i < 3; i++) await instance.monitor.runNow([server.id]);
    const again = await open('', { 'Last-Event-ID': lastSeen });
    const replayed = await again.waitForEvents(3);
    expect(replayed.map((e) => [e.event, Number(e.id)])).toEqual([
      ['ping', Number(lastSeen) + 1],
      ['ping', Number(lastSeen) + 2],
      ['ping', Number(lastSeen) + 3],
    ]);
    await instance.monitor.runNow([server.id]);
    await again.waitForEvents(4);
    expect(again.events[3]).toMatchObject({ event: 'ping', id: String(Number(lastSeen) + 4) });

    // An id this monitor never reached (or one trimmed away) gets the snapshot again.
    for (const id of ['999999', String(instance.live.log.lastId + 1000)]) {
      const unknown = await open('', { 'Last-Event-ID': id });
      const [status, ping] = await unknown.waitForEvents(2);
      expect(status!.event).toBe('status');
      expect(json<unknown[]>(status)).toHaveLength(1);
      expect(ping!.event).toBe('ping');
    }
  });

  it('replays after ?last_event_id= (a new EventSource cannot set the header); the header wins when both are sent', async () => {
    instance = await startInstance(db.url);
    const server = await addServer(instance.monitor, 'api', target.port);
    const first = await open();
    await first.waitForEvents(2);
    await instance.monitor.runNow([server.id]);
    await first.waitForEvents(4);
    const lastSeen = Number(first.events[3]!.id!);
    first.close();
    for (let i = 0; i < 2; i++) await instance.monitor.runNow([server.id]);

    const byQuery = await open(`?token=${token}&last_event_id=${lastSeen}`);
    const replayed = await byQuery.waitForEvents(2);
    expect(replayed.map((e) => [e.event, Number(e.id)])).toEqual([
      ['ping', lastSeen + 1],
      ['ping', lastSeen + 2],
    ]);
    // The browser's own reconnect keeps the URL it started with and sends the newer id as the header.
    const both = await open(`?last_event_id=${lastSeen}`, { 'Last-Event-ID': String(lastSeen + 1) });
    const [only] = await both.waitForEvents(1);
    expect(only).toMatchObject({ event: 'ping', id: String(lastSeen + 2) });
    // The next event it gets is the next check's: nothing was replayed twice in between.
    await instance.monitor.runNow([server.id]);
    const [, next] = await both.waitForEvents(2);
    expect(next).toMatchObject({ event: 'ping', id: String(lastSeen + 3) });
    // Not a number: the snapshot, as without an id.
    const bad = await open('?last_event_id=abc');
    const [status] = await bad.waitForEvents(2);
    expect(status!.event).toBe('status');
  });

  it('gives the snapshot, not the new process events, to a client reconnecting after a restart (memory layer)', async () => {
    instance = await startInstance(db.url);
    const server = await addServer(instance.monitor, 'api', target.port);
    const before = await open();
    await before.waitForEvents(2);
    for (let i = 0; i < 3; i++) await instance.monitor.runNow([server.id]);
    await before.waitForEvents(6);
    const lastSeen = before.events[5]!.id!;
    await instance.close();

    instance = await startInstance(db.url);
    for (let i = 0; i < 5; i++) await instance.monitor.runNow([server.id]);
    const after = await open('', { 'Last-Event-ID': lastSeen });
    const [status, ping] = await after.waitForEvents(2);
    expect(status!.event).toBe('status');
    expect(json<ServerStatus[]>(status)).toHaveLength(1);
    expect(json<PingResult[]>(ping)).toHaveLength(8);
    expect(Number(status!.id)).toBeGreaterThan(Number(lastSeen));
  });

  it('keeps at least the last replayEvents events for replay, and gives the snapshot for an id trimmed away', async () => {
    instance = await startInstance(db.url, { live: { replayWindow: 0, replayEvents: 1000 } });
    const server = await addServer(instance.monitor, 'api', target.port);
    await instance.monitor.runNow([server.id]);
    const status = (await instance.monitor.store.results.status(server.id))!;
    const [last] = await instance.monitor.store.results.latest({ limit: 1 });
    // 1,200 more events: with no time window, the 1,000 latest stay replayable.
    const base = instance.live.log.lastId;
    for (let i = 0; i < 1200; i++) instance.monitor.events.publish('ping', { ping: { ...last!, id: 100 + i }, status });
    const end = base + 1200;
    const watcher = await open();
    await watcher.waitForEvents(2);
    expect(watcher.events[0]!.id).toBe(String(end));
    const replay = await open('', { 'Last-Event-ID': String(end - 1000) });
    const events = await replay.waitForEvents(1000);
    expect(events[0]).toMatchObject({ event: 'ping', id: String(end - 999) });
    expect(events[999]).toMatchObject({ event: 'ping', id: String(end) });
    // One before the oldest kept: it cannot be replayed exactly, so the snapshot comes again.
    const tooOld = await open('', { 'Last-Event-ID': String(end - 1001) });
    const [first] = await tooOld.waitForEvents(2);
    expect(first).toMatchObject({ event: 'status', id: String(end) });
  });

  it('sends a heartbeat comment every heartbeatInterval', async () => {
    instance = await startInstance(db.url, { sse: { heartbeatInterval: 100 } });
    const client = await open();
    await waitFor(() => client.comments.filter((c) => c === 'heartbeat').length >= 3, 3000, 'three heartbeats');
  });

  it('ends every stream with a shutdown event when serve() drains, and the drain finishes promptly', async () => {
    instance = await startInstance(db.url);
    const clients = [await open(), await open('?status=up')];
    for (const client of clients) await client.waitForEvents(2);
    const started = Date.now();
    const code = await instance.served.shutdown('test');
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(3000);
    for (const client of clients) {
      await client.ended;
      expect(client.events[client.events.length - 1]).toMatchObject({ event: 'shutdown' });
    }
  });

  it('drops a client that does not read before its buffer passes maxBuffered', async () => {
    instance = await startInstance(db.url, { sse: { maxBuffered: 16 * 1024 } });
    const server = await addServer(instance.monitor, 'api', target.port);
    const client = await open();
    await client.waitForEvents(2);
    const status = (await instance.monitor.store.results.status(server.id))!;
    const ping: PingResult = {
      id: 1,
      server: server.id,
      status: 'failure',
      response_time: null,
      status_code: 503,
      error_message: 'x'.repeat(900),
      check_timestamp: new Date().toISOString(),
    };
    // Stop reading: the kernel buffers fill, then the server's own buffer.
    client.pause();
    const sent = 20_000;
    for (let i = 0; i < sent; i++) {
      instance.monitor.events.publish('ping', { ping: { ...ping, id: i + 1 }, status });
      if (i % 500 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    client.resume();
    await client.ended;
    // Dropped: the stream ended without a shutdown event, long before all ~20 MB were sent.
    expect(client.events.filter((e) => e.event === 'ping').length).toBeLessThan(sent / 2);
    expect(client.events.some((e) => e.event === 'shutdown')).toBe(false);
  });

  it('refuses bad options at setup with a TypeError naming them', async () => {
    instance = await startInstance(db.url);
    const live = await createLiveUpdates({ monitor: instance.monitor, logger: false });
    cleanups.push(() => live.close());
    expect(() => statusStream({ live, authenticate: 'x' as never })).toThrow(/`authenticate`/);
    expect(() => statusStream({ live, authenticate, heartbeatInterval: -1 })).toThrow(/`heartbeatInterval`/);
    expect(() => statusStream({ live: {} as never, authenticate })).toThrow(/`live`/);
    expect(() => statusStream({ live, authenticate, bogus: 1 } as never)).toThrow(/bogus/);
    await expect(createLiveUpdates({ monitor: instance.monitor, channel: 'carrier-pigeon' as never })).rejects.toThrow(/`channel`/);
    await expect(createLiveUpdates({ monitor: instance.monitor, channel: 'postgres' })).rejects.toThrow(/`channel`/);
    await expect(createLiveUpdates({ monitor: instance.monitor, users: 'x' as never })).rejects.toThrow(TypeError);
    await expect(createLiveUpdates({ monitor: instance.monitor, userCheckInterval: 0 })).rejects.toThrow(/`userCheckInterval`/);
  });
});
