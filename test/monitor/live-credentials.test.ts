import type { IncomingMessage } from 'node:http';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createMonitorApp } from '../../src/monitor/app.js';
import { hashPassword } from '../../src/monitor/auth/passwords.js';
import { startApi, type ApiHarness } from './api-helpers.js';
import { DATABASES, serverInput, sqliteDatabase, waitFor, type TestDatabase } from './helpers.js';
import { json, SseClient, WsClient } from './live-helpers.js';
import { startTarget } from './target.js';

// Streams and sockets hold only as long as their credentials: the monitor app, its own
// tokens and users table, a real HTTP stream and a real `ws` client.
const STREAM = '/api/events/status/';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function open(make: () => Promise<TestDatabase>, options: Parameters<typeof startApi>[1] = {}): Promise<ApiHarness> {
  const db = await make();
  cleanups.push(() => db.drop());
  const api = await startApi(db, options);
  cleanups.push(() => api.shutdown());
  api.attachSockets(api.running.server);
  return api;
}

async function stream(api: ApiHarness, headers: Record<string, string>, query = ''): Promise<SseClient> {
  const client = await SseClient.open(`${api.url}${STREAM}${query}`, headers);
  cleanups.push(() => client.close());
  return client;
}

async function socket(
  api: ApiHarness,
  options: { headers?: Record<string, string>; protocols?: string[]; query?: string },
): Promise<WsClient> {
  const client = await WsClient.open(`${api.url.replace('http', 'ws')}/ws/status/${options.query ?? ''}`, options);
  cleanups.push(() => client.ws.terminate());
  return client;
}

/** The `exp` of a JWT, epoch ms. */
function expiry(token: string): number {
  return (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp * 1000;
}

async function addUser(api: ApiHarness, username: string): Promise<{ id: number; token: string }> {
  const password = `${username}-password-1`;
  const user = await api.monitor.store.users.create({ username, password_hash: await hashPassword(password) });
  return { id: user.id, token: await api.login({ username, password }) };
}

describe.each(DATABASES)('streams close with their credentials (%s)', (_name, make) => {
  it('ends the SSE stream with an `unauthorized` event and closes the WebSocket with 4001 when the token expires', async () => {
    const api = await open(make, { tokenLifetimes: { access: 2 } });
    const token = await api.login();
    const sse = await stream(api, { Authorization: `Bearer ${token}` });
    const ws = await socket(api, { headers: { Authorization: `Bearer ${token}` } });
    expect(sse.status).toBe(200);
    expect(ws.ws.readyState).toBe(WebSocket.OPEN);
    await sse.waitForEvents(2); // the snapshot: it was live before
    const wsClosed = ws.closed.then((close) => ({ ...close, at: Date.now() }));

    const exp = expiry(token);
    await waitFor(() => sse.done, 4000, 'the stream to end');
    const sseLate = Date.now() - exp;
    const last = sse.events.at(-1)!;
    expect(last.event).toBe('unauthorized');
    expect(last.id).toBeUndefined(); // a reconnect resumes from the last real event
    expect(json(last)).toEqual({ detail: 'Token has expired', code: 'token_not_valid' });
    const closed = await wsClosed;
    expect(closed).toMatchObject({ code: 4001, reason: 'Token has expired' });
    const wsLate = closed.at - exp;
    console.log(`credentials: SSE ended ${sseLate} ms, WebSocket closed ${wsLate} ms after the token's exp`);
    for (const late of [sseLate, wsLate]) {
      expect(late).toBeGreaterThanOrEqual(-50);
      expect(late).toBeLessThan(1000);
    }
  }, 20_000);

  it('ends every stream and socket of a user deactivated or removed within the re-check period, and only theirs', async () => {
    const api = await open(make, { userCheckInterval: 200 });
    const target = await startTarget();
    cleanups.push(() => target.close());
    const server = await api.monitor.store.servers.create(serverInput({ name: 'watched', port: target.port }));
    const admin = await stream(api, { Authorization: `Bearer ${await api.login()}` });
    const adminWs = await socket(api, { headers: { Authorization: `Bearer ${await api.login()}` } });
    expect(await adminWs.ask({ action: 'subscribe' })).toMatchObject({ type: 'subscribed' });

    for (const [change, loss] of [
      ['deactivated', { detail: 'User is inactive', code: 'user_inactive' }],
      ['removed', { detail: 'User not found', code: 'user_not_found' }],
    ] as const) {
      const user = await addUser(api, `user-${change}`);
      const streams = [await stream(api, { Authorization: `Bearer ${user.token}` }), await stream(api, {}, `?token=${user.token}`)];
      const sockets = [
        await socket(api, { headers: { Authorization: `Bearer ${user.token}` } }),
        await socket(api, { protocols: ['bearer', user.token] }),
      ];
      for (const s of streams) await s.waitForEvents(2);
      for (const s of sockets) expect(s.ws.readyState, change).toBe(WebSocket.OPEN);

      const at = Date.now();
      if (change === 'deactivated') await api.monitor.store.users.update(user.id, { is_active: false });
      else await api.monitor.store.users.remove(user.id);
      await waitFor(() => streams.every((s) => s.done), 3000, `the streams of the ${change} user to end`);
      const closes = await Promise.all(sockets.map((s) => s.closed));
      const took = Date.now() - at;
      console.log(`credentials: streams and sockets of a ${change} user ended ${took} ms after the change (re-check every 200 ms)`);
      expect(took).toBeLessThan(1500);
      for (const s of streams) {
        expect(s.events.at(-1)?.event, change).toBe('unauthorized');
        expect(json(s.events.at(-1)), change).toEqual(loss);
      }
      for (const close of closes) expect(close, change).toEqual({ code: 4001, reason: loss.detail });
    }

    // The admin's stream and socket are still live: the next check reaches both.
    const seen = admin.events.length;
    await api.monitor.runNow([server.id]);
    await admin.waitForEvents(seen + 1);
    expect(admin.done).toBe(false);
    expect(await adminWs.next()).toMatchObject({ type: 'update' });
  }, 30_000);
});

describe('credentials of streams and sockets, read once for REST, SSE and WebSocket', () => {
  it('refuses a bad userCheckInterval with a TypeError naming it', async () => {
    for (const bad of [0, 1.5, '5000', -1]) {
      await expect(createMonitorApp({ database: ':memory:', userCheckInterval: bad as number }), String(bad)).rejects.toThrow(
        /`userCheckInterval`/,
      );
    }
  });

  /** The 101 answer a `ws` client got for these offered protocols, and how the client took it. */
  async function handshake(api: ApiHarness, protocols: string[]): Promise<{ res: IncomingMessage; protocol: string; error?: string }> {
    const ws = new WebSocket(`${api.url.replace('http', 'ws')}/ws/status/`, protocols);
    cleanups.push(() => ws.terminate());
    const res = new Promise<IncomingMessage>((resolve) => ws.once('upgrade', resolve));
    const outcome = await new Promise<{ error?: string }>((resolve) => {
      ws.once('open', () => resolve({}));
      ws.once('error', (error) => resolve({ error: error.message }));
    });
    return { res: await res, protocol: ws.protocol, ...outcome };
  }

  it('never echoes the token as the subprotocol: `bearer, <token>` is answered `bearer`, a lone token with none', async () => {
    const api = await open(async () => sqliteDatabase());
    const token = await api.login();

    const alone = await handshake(api, [token]);
    expect(alone.res.statusCode).toBe(101);
    expect(alone.res.headers['sec-websocket-protocol']).toBeUndefined();
    expect(JSON.stringify(alone.res.headers)).not.toContain(token.split('.')[2]);
    // Strict clients (ws, browsers) fail a handshake that answers none of their protocols: they send the pair.
    expect(alone.error).toMatch(/no subprotocol/i);

    for (const marker of ['bearer', 'Bearer', 'JWT', 'access_token']) {
      const pair = await handshake(api, [marker, token]);
      expect(pair.res.headers['sec-websocket-protocol'], marker).toBe(marker);
      expect(pair.error, marker).toBeUndefined();
      expect(pair.protocol).toBe(marker);
    }
    const wrong = await handshake(api, ['bearer', 'not-a-token']);
    expect(wrong.res.headers['sec-websocket-protocol']).toBe('bearer');
  });

  it('takes `Authorization: JWT <token>` (any case) on REST, SSE and WebSocket alike, and refuses other schemes on all three', async () => {
    const api = await open(async () => sqliteDatabase());
    const token = await api.login();
    const cases: Array<[string, boolean]> = [
      [`Bearer ${token}`, true],
      [`bearer ${token}`, true],
      [`JWT ${token}`, true],
      [`jwt ${token}`, true],
      [`Token ${token}`, false],
      [`Basic ${token}`, false],
      [`JWT ${token} extra`, false],
      [`JWT`, false],
      [token, false],
    ];
    for (const [header, ok] of cases) {
      const name = header.replace(token, '<token>');
      const rest = await request(api.url).get('/api/servers/').set('Authorization', header);
      const sse = await stream(api, { Authorization: header });
      sse.close();
      const ws = await socket(api, { headers: { Authorization: header } });
      // A refused socket is upgraded, then closed with 4001; an accepted one answers.
      const wsOutcome = ok ? ((await ws.ask({ action: 'latest' })).type as string) : (await ws.closed).code;
      expect([rest.status, sse.status, wsOutcome], name).toEqual(ok ? [200, 200, 'latest'] : [401, 401, 4001]);
    }
    // simplejwt's answers: a bearer scheme without exactly one token is malformed; another scheme is no credentials.
    const malformed = await request(api.url).get('/api/servers/').set('Authorization', `JWT ${token} extra`);
    expect(malformed.body).toEqual({
      detail: 'Authorization header must contain two space-delimited values',
      code: 'bad_authorization_header',
    });
    const basic = await request(api.url).get('/api/servers/').set('Authorization', 'Basic YWRtaW46eA==');
    expect(basic.body).toEqual({ detail: 'Authentication credentials were not provided.' });
  });
});
