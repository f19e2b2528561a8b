import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isRunning, runNode, sleep } from '../helpers/process.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeline-serve-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const fixture = resolve('test/fixtures/serve-app.mjs');
let n = 0;

async function start(env: Record<string, string> = {}, fileLimit?: number) {
  const logFile = join(dir, `backend-${++n}.log`);
  const app = runNode(fixture, { LOG_FILE: logFile, ...env }, [], { fileLimit });
  const { url } = await app.firstJson<{ url: string }>();
  const log = () => readFileSync(logFile, 'utf8');
  return {
    ...app,
    url,
    log,
    /** Resolves once the log file has a line matching `pattern` (the logger writes it asynchronously). */
    logged: (pattern: RegExp) => expect.poll(() => (existsSync(logFile) ? log() : ''), POLL).toMatch(pattern),
    /** Resolves once the fixture printed that `count` /slow requests are being handled. */
    slowStarted: (count = 1) => expect.poll(() => app.output().split('slow request started').length - 1, POLL).toBe(count),
  };
}

const POLL = { timeout: 10_000, interval: 20 };

/** One request on its own connection, resolving with status and body, or the error code. */
function get(url: string): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((done) => {
    const req = httpRequest(url, { agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => done({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => done({ error: error.code ?? error.message }));
    req.end();
  });
}

describe('serve(): graceful shutdown', () => {
  it('lets in-flight requests finish, turns readiness 503 at once, refuses new connections, exits 0', async () => {
    const app = await start({ SHUTDOWN_DELAY: '600' });
    expect(await get(`${app.url}/api/health/ready`)).toMatchObject({ status: 200 });
    const inFlight = get(`${app.url}/slow?ms=1500`);
    await app.slowStarted();
    app.child.kill('SIGTERM');
    // Readiness turns 503 as the signal is handled, well within the 600 ms shutdownDelay (after
    // it the connection is refused and this poll could never see 503).
    await expect.poll(async () => ((await get(`${app.url}/api/health/ready`)) as { status?: number }).status, POLL).toBe(503);
    const ready = await get(`${app.url}/api/health/ready`);
    expect(ready).toMatchObject({ status: 503 });
    expect(JSON.parse((ready as { body: string }).body)).toMatchObject({ status: 'not_ready', reason: 'draining' });
    const status = await get(`${app.url}/api/status`);
    expect(JSON.parse((status as { body: string }).body).status).toBe('draining');
    // Past shutdownDelay the listener closes while the slow request still runs.
    await expect.poll(() => get(`${app.url}/api/ping`), POLL).toEqual({ error: 'ECONNREFUSED' });
    expect(await inFlight).toEqual({ status: 200, body: '{"done":true}' });
    expect(await app.exited()).toEqual({ code: 0, signal: null });
    const log = app.log();
    expect(log).toMatch(/info \[lifecycle\] shutting down \(SIGTERM\): draining 1 in-flight requests, timeout 5000 ms/);
    expect(log).toMatch(/info \[lifecycle\] drained in \d+ ms/);
    expect(log).toMatch(/info \[lifecycle\] stopped \(exit code 0\)\n.*info \[app\] onShutdown hook ran\n$/);
  });

  it('destroys what is left after shutdownTimeout and exits 1, saying so', async () => {
    const app = await start({ SHUTDOWN_TIMEOUT: '500' });
    const inFlight = get(`${app.url}/slow?ms=5000`);
    await app.slowStarted();
    const started = Date.now();
    app.child.kill('SIGTERM');
    expect(await app.exited()).toEqual({ code: 1, signal: null });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await inFlight).toMatchObject({ error: expect.stringMatching(/ECONNRESET|socket hang up/) });
    expect(app.log()).toMatch(/error \[lifecycle\] shutdown timeout: destroying 1 connections with 1 requests still in flight/);
  });

  it('a second signal during the drain forces the exit', async () => {
    const app = await start({ SHUTDOWN_TIMEOUT: '10000' });
    void get(`${app.url}/slow?ms=8000`);
    await app.slowStarted();
    app.child.kill('SIGTERM');
    await app.logged(/shutting down \(SIGTERM\): draining 1 in-flight requests/);
    const started = Date.now();
    app.child.kill('SIGINT');
    expect(await app.exited()).toEqual({ code: 1, signal: null });
    expect(Date.now() - started).toBeLessThan(1500);
    expect(app.log()).toMatch(/warn \[lifecycle\] SIGINT again during shutdown: forcing exit/);
  });

  it('closes idle keep-alive connections and tells event streams and WebSockets', async () => {
    const app = await start();
    const { port } = new URL(app.url);
    // Each connection resolves its `opened` once the server answered it: SIGTERM comes after all three.
    const opened = [0, 1, 2].map(() => {
      let resolve!: () => void;
      return { promise: new Promise<void>((r) => (resolve = r)), resolve: () => resolve() };
    });
    const [sseOpened, wsOpened, idleOpened] = opened as [(typeof opened)[0], (typeof opened)[0], (typeof opened)[0]];
    // An event stream: it must receive a shutdown event, then end.
    const sse = new Promise<string>((done) => {
      httpRequest(`${app.url}/events`, (res) => {
        let text = '';
        res.once('data', sseOpened.resolve);
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => done(text));
      }).end();
    });
    // A WebSocket upgrade: it must receive a close frame with code 1001.
    const ws = new Promise<Buffer>((done) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n`);
      });
      let data = Buffer.alloc(0);
      socket.once('data', wsOpened.resolve);
      socket.on('data', (c: Buffer) => (data = Buffer.concat([data, c])));
      socket.on('close', () => done(data));
    });
    // An idle keep-alive connection: it must be closed.
    const idleClosed = new Promise<boolean>((done) => {
      const socket = connect(Number(port), '127.0.0.1', () => socket.write('GET /api/ping HTTP/1.1\r\nHost: x\r\n\r\n'));
      socket.once('data', idleOpened.resolve);
      socket.on('data', () => undefined);
      socket.on('close', () => done(true));
    });
    await Promise.all(opened.map((o) => o.promise));
    app.child.kill('SIGTERM');
    expect(await sse).toMatch(/event: hello[\s\S]*event: shutdown\ndata: \{"reason":"server shutting down"\}/);
    const frame = await ws;
    expect(frame.subarray(frame.length - 4)).toEqual(Buffer.from([0x88, 0x02, 0x03, 0xe9]));
    expect(await idleClosed).toBe(true);
    expect(await app.exited()).toEqual({ code: 0, signal: null });
  });

  it('logs an uncaught exception with its stack, drains and exits 1', async () => {
    const app = await start();
    expect(await get(`${app.url}/crash`)).toMatchObject({ status: 200 });
    expect(await app.exited()).toEqual({ code: 1, signal: null });
    expect(app.log()).toMatch(/error \[lifecycle\] uncaught exception: async boom\nError: async boom\n\s+at /);
    expect(app.log()).toMatch(/stopped \(exit code 1\)/);
  });
});

/** Opens `count` idle TCP connections to the server; resolves once each connected or failed. */
async function idleSockets(url: string, count: number): Promise<Socket[]> {
  const { port } = new URL(url);
  const sockets: Socket[] = [];
  await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<void>((done) => {
          const socket = connect(Number(port), '127.0.0.1');
          sockets.push(socket);
          socket.on('connect', () => done());
          socket.on('error', () => done());
          socket.on('close', () => done());
        }),
    ),
  );
  return sockets;
}

describe('serve(): connection limits and timeouts', () => {
  it('survives more idle sockets than its descriptor limit (ulimit -n 256) and answers once they close', async () => {
    const app = await start({ SAMPLE_INTERVAL: '200' }, 256);
    const pid = app.child.pid as number;
    const sockets = await idleSockets(app.url, 320);
    await app.logged(/warn \[lifecycle\] connection limit reached \(maxConnections 192\): new connections are closed/);
    // The scenario, not a wait for an event: the sockets stay held across several 200 ms
    // sampler ticks, each of which must survive the descriptor pressure.
    await sleep(1000);
    expect(isRunning(pid)).toBe(true);
    for (const socket of sockets) socket.destroy();
    // Answers again once the server has seen the sockets close.
    await expect.poll(() => get(`${app.url}/api/ping`), POLL).toMatchObject({ status: 200 });
    expect(await get(`${app.url}/api/health`)).toMatchObject({ status: 200 });
    app.child.kill('SIGTERM');
    expect(await app.exited()).toEqual({ code: 0, signal: null });
  });

  it('survives running out of descriptors (maxConnections above the limit): the sampler logs its error once', async () => {
    const app = await start({ SAMPLE_INTERVAL: '100', MAX_CONNECTIONS: '100000' }, 256);
    const pid = app.child.pid as number;
    const sockets = await idleSockets(app.url, 320);
    await app.logged(/error \[system\] sampling failed: .*EMFILE/);
    // The scenario, not a wait for an event: ~10 more 100 ms sampler ticks fail while the
    // sockets are held, and the error must still be logged once only.
    await sleep(1000);
    expect(isRunning(pid)).toBe(true);
    for (const socket of sockets) socket.destroy();
    await app.logged(/info \[system\] sampling recovered/);
    expect(await get(`${app.url}/api/ping`)).toMatchObject({ status: 200 });
    expect(await get(`${app.url}/api/health`)).toMatchObject({ status: 200 });
    const log = app.log();
    expect(log.match(/error \[system\] sampling failed: .*EMFILE/g)).toHaveLength(1);
    expect(log).toMatch(/info \[system\] sampling recovered/);
    expect(log).not.toMatch(/uncaught exception/);
    app.child.kill('SIGTERM');
    expect(await app.exited()).toEqual({ code: 0, signal: null });
  });

  it('cuts a request whose body trickles in slower than requestTimeout', async () => {
    const app = await start({ REQUEST_TIMEOUT: '1000', HEADERS_TIMEOUT: '500' });
    const { port } = new URL(app.url);
    const started = Date.now();
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n');
    });
    const drip = setInterval(() => socket.writable && socket.write('x'), 200);
    let answer = '';
    socket.on('error', () => undefined); // the server resets after its 408
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    await new Promise((done) => socket.on('close', done));
    clearInterval(drip);
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(5000); // the body alone would take 20 s
    expect(answer).toMatch(/^HTTP\/1.1 408 Request Timeout/);
    app.child.kill('SIGTERM');
    expect(await app.exited()).toEqual({ code: 0, signal: null });
  });
});
