import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { PingResult, ServerStatus } from '../../src/monitor/types.js';
import { sqliteDatabase, waitFor, type TestDatabase } from './helpers.js';
import { addServer, ALICE, startInstance, tokenFor, WsClient, type Instance } from './live-helpers.js';
import { startTarget, type Target } from './target.js';

const PATH = '/ws/status/';
let db: TestDatabase;
let target: Target;
let instance: Instance;
let token: string;
const clients: WsClient[] = [];

beforeEach(async () => {
  db = sqliteDatabase();
  target = await startTarget();
  token = await tokenFor(ALICE);
});
afterEach(async () => {
  for (const client of clients.splice(0)) client.ws.terminate();
  await instance?.close();
  await target.close();
  await db.drop();
});

async function connect(options: { query?: string; headers?: Record<string, string>; protocols?: string[] } = {}): Promise<WsClient> {
  const client = await WsClient.open(`${instance.wsUrl}${PATH}${options.query ?? ''}`, {
    headers: options.headers ?? { Authorization: `Bearer ${token}` },
    ...(options.protocols ? { protocols: options.protocols } : {}),
  });
  clients.push(client);
  return client;
}

describe('WebSocket /ws/status/', () => {
  it('closes with 4001 without a valid token, and accepts one in the header, a subprotocol or ?token=', async () => {
    instance = await startInstance(db.url);
    const expired = await tokenFor(ALICE, '-1s');
    for (const headers of [{} as Record<string, string>, { Authorization: 'Bearer not-a-jwt' }, { Authorization: `Bearer ${expired}` }]) {
      const client = await connect({ headers });
      expect((await client.closed).code, JSON.stringify(headers)).toBe(4001);
    }
    expect((await (await connect({ headers: {}, query: '?token=nope' })).closed).code).toBe(4001);

    const byHeader = await connect();
    const byQuery = await connect({ headers: {}, query: `?token=${token}` });
    const byProtocol = await connect({ headers: {}, protocols: ['bearer', token] });
    expect(byProtocol.ws.protocol).toBe('bearer'); // the token is never echoed back
    for (const client of [byHeader, byQuery, byProtocol]) {
      expect(client.ws.readyState).toBe(WebSocket.OPEN);
      expect(await client.ask({ action: 'latest' })).toMatchObject({ type: 'latest' });
    }
    await waitFor(() => instance.sockets.clients === 3, 2000, 'three clients');
  });

  it('answers latest with statuses and pings, filtered by ids and by name (case-insensitive), limit default 20', async () => {
    instance = await startInstance(db.url);
    const prodApi = await addServer(instance.monitor, 'Prod-API', target.port);
    const prodDb = await addServer(instance.monitor, 'prod-db', target.port);
    const staging = await addServer(instance.monitor, 'staging', target.port);
    for (let i = 0; i < 8; i++) await instance.monitor.runNow();
    const client = await connect();

    const all = await client.ask({ action: 'latest' });
    expect(all.type).toBe('latest');
    expect((all.statuses as ServerStatus[]).map((s) => s.server)).toEqual([prodApi.id, prodDb.id, staging.id]);
    expect(all.pings as PingResult[]).toHaveLength(20);

    const prod = await client.ask({ action: 'latest', query: 'PROD', limit: 5 });
    expect((prod.statuses as ServerStatus[]).map((s) => s.server)).toEqual([prodApi.id, prodDb.id]);
    expect(prod.pings as PingResult[]).toHaveLength(5);
    expect((prod.pings as PingResult[]).every((p) => p.server !== staging.id)).toBe(true);

    const both = await client.ask({ action: 'latest', server_ids: [prodDb.id, staging.id], query: 'prod' });
    expect((both.statuses as ServerStatus[]).map((s) => s.server)).toEqual([prodDb.id]);

    const none = await client.ask({ action: 'latest', query: 'nothing-matches' });
    expect(none).toEqual({ type: 'latest', statuses: [], pings: [] });
  });

  it('sends updates only for the subscribed servers', async () => {
    instance = await startInstance(db.url);
    const a = await addServer(instance.monitor, 'alpha', target.port);
    const b = await addServer(instance.monitor, 'beta', target.port);
    const onlyA = await connect();
    const byName = await connect();
    const everything = await connect();
    const nothing = await connect();
    expect(await onlyA.ask({ action: 'subscribe', server_ids: [a.id] })).toEqual({ type: 'subscribed', servers: [a.id] });
    expect(await byName.ask({ action: 'subscribe', query: 'BET' })).toEqual({ type: 'subscribed', servers: [b.id] });
    expect(await everything.ask({ action: 'subscribe' })).toEqual({ type: 'subscribed', servers: [a.id, b.id] });

    await instance.monitor.runNow([a.id]);
    await instance.monitor.runNow([b.id]);
    const updateA = await onlyA.next();
    expect(updateA).toMatchObject({ type: 'update', ping: { server: a.id }, status: { server: a.id, status: 'up' } });
    const updateB = await byName.next();
    expect(updateB).toMatchObject({ type: 'update', ping: { server: b.id }, status: { server: b.id } });
    expect([await everything.next(), await everything.next()].map((m) => (m.ping as PingResult).server)).toEqual([a.id, b.id]);
    // A check later: nothing more came to the ones that did not ask for it.
    await instance.monitor.runNow([b.id]);
    await everything.next();
    expect(onlyA.messages).toHaveLength(2);
    expect(nothing.messages).toHaveLength(0);
  });

  it('answers a malformed message with an error and stays open', async () => {
    instance = await startInstance(db.url);
    const client = await connect();
    for (const bad of [
      'not json',
      '[1,2]',
      '{"action":"dance"}',
      '{"action":"latest","server_ids":"1"}',
      '{"action":"latest","limit":0}',
      '{"action":"subscribe","query":5}',
      JSON.stringify({ action: 'latest', server_ids: Array.from({ length: 1001 }, (_, i) => i + 1) }),
    ]) {
      const answer = await client.ask(bad);
      expect(answer.type, bad).toBe('error');
      expect(typeof answer.message).toBe('string');
    }
    client.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect((await client.next()).type).toBe('error');
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
    expect(await client.ask({ action: 'latest' })).toMatchObject({ type: 'latest' });
  });

  it('answers a flood of requests beyond 8 at once with errors instead of database work, and stays open', async () => {
    instance = await startInstance(db.url);
    await addServer(instance.monitor, 'api', target.port);
    const client = await connect();
    for (let i = 0; i < 50; i++) client.send({ action: 'latest' });
    await waitFor(() => client.messages.length === 50, 5000, '50 answers');
    const latest = client.messages.filter((m) => m.type === 'latest').length;
    const refused = client.messages.filter((m) => m.type === 'error' && /too many/.test(String(m.message))).length;
    expect(latest + refused).toBe(50);
    expect(latest).toBeGreaterThanOrEqual(8);
    expect(refused).toBeGreaterThan(0);
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('closes with 1009 on a message over 64 KiB', async () => {
    instance = await startInstance(db.url);
    const client = await connect();
    client.send({ action: 'latest', query: 'x'.repeat(64 * 1024) });
    expect((await client.closed).code).toBe(1009);
    const ok = await connect();
    // Just under the limit is fine.
    expect(await ok.ask({ action: 'latest', query: 'x', pad: 'y'.repeat(60 * 1024) })).toMatchObject({ type: 'latest' });
  });

  it('drops a peer that stops answering pings', async () => {
    instance = await startInstance(db.url, { ws: { pingInterval: 100 } });
    const alive = await connect();
    const dead = await connect();
    await waitFor(() => instance.sockets.clients === 2, 2000, 'two clients');
    // A stalled peer: its socket reads nothing, so no pong comes back.
    (dead.ws as unknown as { _socket: import('node:net').Socket })._socket.pause();
    let pings = 0;
    alive.ws.on('ping', () => pings++);
    await waitFor(() => instance.sockets.clients === 1, 3000, 'the dead peer dropped');
    // Three more ping rounds answered: the live peer is kept, round after round.
    const from = pings;
    await waitFor(() => pings >= from + 3, 3000, 'three more pings');
    expect(alive.ws.readyState).toBe(WebSocket.OPEN);
    expect(await alive.ask({ action: 'latest' })).toMatchObject({ type: 'latest' });
  });

  it('drops a client that does not read before its buffer grows past maxBuffered', async () => {
    instance = await startInstance(db.url, { ws: { maxBuffered: 64 * 1024 } });
    const server = await addServer(instance.monitor, 'api', target.port);
    await instance.monitor.runNow([server.id]);
    const slow = await connect();
    const reader = await connect();
    await slow.ask({ action: 'subscribe' });
    await reader.ask({ action: 'subscribe' });
    (slow.ws as unknown as { _socket: import('node:net').Socket })._socket.pause();
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
    const sent = 20_000;
    for (let i = 0; i < sent && instance.sockets.clients === 2; i++) {
      instance.monitor.events.publish('ping', { ping: { ...ping, id: i + 1 }, status });
      if (i % 500 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor(() => instance.sockets.clients === 1, 5000, 'the slow reader dropped');
    // The one that reads stays, and got its updates.
    expect(reader.ws.readyState).toBe(WebSocket.OPEN);
    await waitFor(() => reader.messages.length > 100, 5000, 'updates to the reader');
  });

  it('closes every socket with 1001 when serve() drains', async () => {
    instance = await startInstance(db.url);
    const a = await connect();
    const b = await connect();
    await a.ask({ action: 'subscribe' });
    const started = Date.now();
    expect(await instance.served.shutdown('test')).toBe(0);
    expect(Date.now() - started).toBeLessThan(3000);
    expect((await a.closed).code).toBe(1001);
    expect((await b.closed).code).toBe(1001);
  });

  it('closes with 1001 when the sockets are closed without serve()', async () => {
    instance = await startInstance(db.url);
    const a = await connect();
    await a.ask({ action: 'latest' });
    await instance.sockets.close();
    expect((await a.closed).code).toBe(1001);
  });
});
