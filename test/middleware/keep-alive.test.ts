import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { RecentClients } from '../../src/activity.js';
import { createLogger, errorHandler, health, keepAlive, notFound } from '../../src/index.js';
import { express } from '../helpers/express.js';
import { memoryLogger } from '../helpers/logger.js';
import { listen } from '../helpers/server.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

type Res = { json(b: unknown): void; status(n: number): Res };

const POLL = { timeout: 5000, interval: 10 };

function appWith(logger: ReturnType<typeof memoryLogger> | false = false, slowRequestMs = 1000) {
  const app = express();
  const ka = keepAlive({ logger, interval: 0, slowRequestMs });
  closers.push(ka.close);
  app.use(ka);
  app.get('/ok', (_req: unknown, res: Res) => res.json({ ok: true }));
  app.get('/boom', () => {
    throw new Error('kaboom');
  });
  // A handler that takes 120 ms: the duration is what the processing-time tests measure.
  app.get('/slow', (_req: unknown, res: Res) => setTimeout(() => res.json({ slow: true }), 120));
  app.get('/stream', (_req: unknown, res: { write(s: string): void; end(): void }) => {
    res.write('part');
    res.end();
  });
  // An event stream open for 120 ms, as a live dashboard's is for minutes.
  app.get('/events', (_req: unknown, res: { setHeader(n: string, v: string): void; write(s: string): void; end(): void }) => {
    res.setHeader('Content-Type', 'text/event-stream');
    res.write(': open\n\n');
    setTimeout(() => res.end(), 120);
  });
  // Requests to /hold wait until the test releases them: no timing guess.
  const held: Array<() => void> = [];
  app.get('/hold', (_req: unknown, res: Res) => held.push(() => res.json({ released: true })));
  app.use(notFound());
  app.use(errorHandler({ logger: false }));
  return { app, ka, held };
}

function expectBackendHeaders(headers: Record<string, string>, count: number) {
  expect(headers['x-backend-processing-time']).toMatch(/^\d+\.\d{3}ms$/);
  expect(headers['x-backend-request-count']).toBe(String(count));
  expect(headers['x-backend-status']).toBe('active');
  const ms = headers['x-backend-processing-time']!.slice(0, -2);
  expect(headers['server-timing']).toBe(`app;dur=${ms}`);
}

describe('keepAlive headers', () => {
  it('are on normal, 404, error and streamed responses', async () => {
    const { app } = appWith();
    expectBackendHeaders((await request(app).get('/ok')).headers, 1);
    const notFoundRes = await request(app).get('/missing');
    expect(notFoundRes.status).toBe(404);
    expectBackendHeaders(notFoundRes.headers, 2);
    const error = await request(app).get('/boom');
    expect(error.status).toBe(500);
    expectBackendHeaders(error.headers, 3);
    expectBackendHeaders((await request(app).get('/stream')).headers, 4);
  });

  it('appends to a Server-Timing header the app already set', async () => {
    const app = express();
    const ka = keepAlive({ logger: false, interval: 0 });
    closers.push(ka.close);
    app.use(ka);
    app.get('/t', (_req: unknown, res: { setHeader(n: string, v: string): void; end(): void }) => {
      res.setHeader('Server-Timing', 'db;dur=2');
      res.end();
    });
    expect((await request(app).get('/t')).headers['server-timing']).toMatch(/^db;dur=2, app;dur=\d+\.\d{3}$/);
  });

  it('processing time covers the handler', async () => {
    const { app } = appWith();
    const res = await request(app).get('/slow');
    expect(parseFloat(res.headers['x-backend-processing-time']!)).toBeGreaterThanOrEqual(110);
  });

  it('says degraded when the health checks of the same app fail', async () => {
    const app = express();
    const ka = keepAlive({ logger: false, interval: 0 });
    const h = health({ logger: false, interval: 0, checks: { side: { check: () => Promise.reject(new Error('x')), critical: false } } });
    closers.push(ka.close, h.close);
    app.use(ka);
    app.use(h);
    await request(app).get('/api/health');
    expect((await request(app).get('/api/ping')).headers['x-backend-status']).toBe('degraded');
  });
});

describe('keepAlive counters', () => {
  it('count every request exactly once under concurrency, and in-flight returns to zero', async () => {
    const { app, ka } = appWith();
    const running = await listen(app);
    try {
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => fetch(`${running.url}/${i % 2 ? 'ok' : 'slow'}`)));
      const counts = results.map((r) => Number(r.headers.get('x-backend-request-count'))).sort((a, b) => a - b);
      expect(counts).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      await Promise.all(results.map((r) => r.arrayBuffer()));
      const activity = ka.activity(app);
      expect(activity.requestCount).toBe(200);
      expect(activity.inFlight).toBe(0);
    } finally {
      await running.close();
    }
  });

  it('counts in-flight requests while they run', async () => {
    const { app, ka, held } = appWith();
    const running = await listen(app);
    try {
      const pending = Promise.all([fetch(`${running.url}/hold`), fetch(`${running.url}/hold`)]);
      await expect.poll(() => held.length, POLL).toBe(2);
      expect(ka.activity(app).inFlight).toBe(2);
      for (const release of held) release();
      await pending;
      // The count drops when each response finishes on the server, which may come after the client has it.
      await expect.poll(() => ka.activity(app).inFlight, POLL).toBe(0);
    } finally {
      await running.close();
    }
  });

  it('two apps in one process keep separate counts, even with one middleware instance', async () => {
    const ka = keepAlive({ logger: false, interval: 0 });
    closers.push(ka.close);
    const a = express();
    const b = express();
    for (const app of [a, b]) {
      app.use(ka);
      app.get('/x', (_req: unknown, res: Res) => res.json({}));
    }
    for (let i = 0; i < 3; i++) await request(a).get('/x');
    const resB = await request(b).get('/x');
    expect(resB.headers['x-backend-request-count']).toBe('1');
    expect(ka.activity(a).requestCount).toBe(3);
    expect(ka.activity(b).requestCount).toBe(1);
  });

  // The headers come from a hook on the app's response prototype (app-headers-hook.ts), not
  // from a writeHead on each response: these are the places a response can be when it answers.
  it('are on answers from a mounted sub-app and a router, and from the parent after a sub-app hands on an error', async () => {
    const ka = keepAlive({ logger: false, interval: 0 });
    closers.push(ka.close);
    const app = express();
    const admin = express();
    admin.get('/page', (_req: unknown, res: Res) => res.json({ admin: true }));
    admin.get('/fail', () => {
      throw new Error('from the sub-app');
    });
    app.use(ka);
    app.use('/admin', admin);
    app.use(errorHandler({ logger: false }));
    expectBackendHeaders((await request(app).get('/admin/page')).headers, 1);
    const failed = await request(app).get('/admin/fail');
    expect(failed.status).toBe(500);
    expectBackendHeaders(failed.headers, 2);
  });

  it('are on the answers of a keepAlive() mounted inside a sub-app, and only there', async () => {
    const ka = keepAlive({ logger: false, interval: 0 });
    closers.push(ka.close);
    const app = express();
    const api = express();
    api.use(ka);
    api.get('/x', (_req: unknown, res: Res) => res.json({}));
    app.use('/api', api);
    app.get('/outside', (_req: unknown, res: Res) => res.json({}));
    expectBackendHeaders((await request(app).get('/api/x')).headers, 1);
    expect((await request(app).get('/outside')).headers['x-backend-request-count']).toBeUndefined();
  });

  it('are not on a response answered before keepAlive() saw the request', async () => {
    const ka = keepAlive({ logger: false, interval: 0 });
    closers.push(ka.close);
    const app = express();
    app.get('/early', (_req: unknown, res: Res) => res.json({}));
    app.use(ka);
    app.get('/late', (_req: unknown, res: Res) => res.json({}));
    expect((await request(app).get('/early')).headers['x-backend-request-count']).toBeUndefined();
    expectBackendHeaders((await request(app).get('/late')).headers, 1);
  });

  it('keep headers passed to writeHead() and extend a Server-Timing passed there', async () => {
    const ka = keepAlive({ logger: false, interval: 0 });
    closers.push(ka.close);
    const app = express();
    type Raw = { writeHead(status: number, reason: unknown, headers?: unknown): Raw; end(body?: string): void };
    app.use(ka);
    app.get('/object', (_req: unknown, res: Raw) =>
      res.writeHead(201, { 'Content-Type': 'text/plain', 'Server-Timing': 'db;dur=3' }).end('made'),
    );
    app.get('/reason', (_req: unknown, res: Raw) => res.writeHead(202, 'Queued', { 'X-Job': '7' }).end());
    app.get('/array', (_req: unknown, res: Raw) => res.writeHead(200, ['X-Raw', 'yes']).end());
    const made = await request(app).get('/object');
    expect(made.status).toBe(201);
    expect(made.headers['content-type']).toBe('text/plain');
    expect(made.headers['server-timing']).toMatch(/^db;dur=3, app;dur=\d+\.\d{3}$/);
    expect(made.headers['x-backend-request-count']).toBe('1');
    const queued = await request(app).get('/reason');
    expect(queued.status).toBe(202);
    expect(queued.headers['x-job']).toBe('7');
    expectBackendHeaders(queued.headers, 2);
    const raw = await request(app).get('/array');
    expect(raw.headers['x-raw']).toBe('yes');
    expectBackendHeaders(raw.headers, 3);
  });

  it('works on a plain node:http server too', async () => {
    const ka = keepAlive({ logger: false, interval: 0 });
    closers.push(ka.close);
    const server: Server = createServer((req, res) => ka(req, res, () => res.end('plain')));
    const running = await listen(server);
    try {
      const res = await fetch(`${running.url}/`);
      expect(res.headers.get('x-backend-request-count')).toBe('1');
    } finally {
      await running.close();
    }
  });
});

describe('keepAlive logging and loop', () => {
  it('logs slow requests as warnings with the path only', async () => {
    const logger = memoryLogger();
    const { app } = appWith(logger, 50);
    await request(app).get('/slow?token=abc123');
    await request(app).get('/ok');
    const warnings = logger.lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toMatch(/^slow request: GET \/slow 200 took \d+\.\d ms \(threshold 50 ms\)$/);
    expect(logger.text()).not.toContain('abc123');
  });

  it('does not log an event stream as a slow request: it is long by design', async () => {
    const logger = memoryLogger();
    const { app } = appWith(logger, 50);
    await request(app).get('/events');
    await request(app).get('/slow');
    const warnings = logger.lines.filter((l) => l.level === 'warn').map((l) => l.message);
    expect(warnings).toEqual([expect.stringMatching(/^slow request: GET \/slow 200/)]);
  });

  it('logs a heartbeat and requests selfPingUrl on every loop', async () => {
    let pings = 0;
    const target = await listen(
      createServer((_req, res) => {
        pings++;
        res.end('ok');
      }),
    );
    const logger = memoryLogger();
    const ka = keepAlive({ logger, interval: 40, selfPingUrl: `${target.url}/api/ping` });
    closers.push(ka.close);
    const app = express();
    app.use(ka);
    await request(app).get('/');
    const heartbeatCount = () => logger.lines.filter((l) => l.message.startsWith('heartbeat')).length;
    await expect.poll(() => Math.min(pings, heartbeatCount()), POLL).toBeGreaterThanOrEqual(3);
    await ka.close();
    await target.close();
    expect(pings).toBeGreaterThanOrEqual(3);
    const heartbeats = logger.lines.filter((l) => l.message.startsWith('heartbeat'));
    expect(heartbeats.length).toBeGreaterThanOrEqual(3);
    // At info, so backend.log shows the server alive at the default level.
    for (const h of heartbeats) {
      expect(h.level).toBe('info');
      expect(h.message).toBe('heartbeat: 1 requests, 0 in flight, status active');
    }
  });

  it('never logs the token in a selfPingUrl, in its userinfo or its query', async () => {
    const logger = memoryLogger();
    const ka = keepAlive({ logger, interval: 30, selfPingUrl: 'http://ping:S3CR3T@127.0.0.1:1/api/ping?token=T0K3N&x=1' });
    closers.push(ka.close);
    await expect.poll(() => logger.lines.some((l) => l.level === 'warn'), POLL).toBe(true);
    await ka.close();
    const warning = logger.lines.find((l) => l.level === 'warn');
    expect(warning?.message).toMatch(/^self-ping http:\/\/ping:\*\*\*@127\.0\.0\.1:1\/api\/ping\?token=\*\*\*&x=\*\*\* failed: /);
    expect(logger.text()).not.toMatch(/S3CR3T|T0K3N/);
  });

  it('warns once, not every tick, while the self-ping keeps failing', async () => {
    const logger = memoryLogger();
    const ka = keepAlive({ logger, interval: 30, selfPingUrl: 'http://127.0.0.1:1/api/ping' });
    closers.push(ka.close);
    // An app that had a request gets a heartbeat line per loop, logged before the loop's
    // self-ping: nine heartbeats mean at least eight failed pings.
    const app = express();
    app.use(ka);
    await request(app).get('/');
    await expect.poll(() => logger.lines.filter((l) => l.message.startsWith('heartbeat')).length, POLL).toBeGreaterThanOrEqual(9);
    const warnings = logger.lines.filter((l) => l.level === 'warn' && l.message.startsWith('self-ping http://127.0.0.1:1/api/ping failed'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.message).toMatch(/failed: fetch failed \(bad port\) \(logged once until it recovers\)$/);
  });
});

interface ChunkedOutcome {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
  /** Bytes the client had written when the answer arrived. */
  sentBeforeAnswer: number;
  elapsedMs: number;
}

/**
 * POSTs `total` bytes with Transfer-Encoding: chunked (no Content-Length), in 16 KiB
 * chunks that wait for the socket to drain, and stops writing once the answer arrives.
 */
function postChunked(url: string, total: number, contentType = 'application/octet-stream'): Promise<ChunkedOutcome> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let sent = 0;
    let answered = false;
    const req = httpRequest(`${url}/api/keep-alive`, {
      method: 'POST',
      headers: { 'Content-Type': contentType, 'Transfer-Encoding': 'chunked' },
    });
    req.on('response', (res) => {
      answered = true;
      const sentBeforeAnswer = sent;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, sentBeforeAnswer, elapsedMs: performance.now() - started }),
      );
      res.on('error', reject);
    });
    // The server closing mid-upload is expected once it has answered.
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    const chunk = Buffer.alloc(16 * 1024, 0x61);
    const pump = (): void => {
      while (!answered && sent < total) {
        const piece = total - sent >= chunk.length ? chunk : chunk.subarray(0, total - sent);
        sent += piece.length;
        if (!req.write(piece)) {
          req.once('drain', pump);
          return;
        }
      }
      if (!answered) req.end();
    };
    pump();
  });
}

describe('POST /api/keep-alive', () => {
  function appWithHealth() {
    const app = express();
    const ka = keepAlive({ logger: false, interval: 0 });
    const h = health({ logger: false, interval: 0 });
    closers.push(ka.close, h.close);
    app.use(ka);
    app.use(h);
    app.use(notFound());
    app.use(errorHandler({ logger: false }));
    return app;
  }

  it('refuses a 200 KiB chunked body with 413 JSON and Connection: close (the 64 KiB limit holds without Content-Length)', async () => {
    const running = await listen(appWithHealth());
    try {
      const res = await postChunked(running.url, 200 * 1024);
      expect(res.status).toBe(413);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(res.headers.connection).toBe('close');
      expect(JSON.parse(res.body)).toEqual({
        error: { status: 413, message: 'Payload Too Large: keep-alive accepts at most 65536 bytes' },
      });
    } finally {
      await running.close();
    }
  });

  it('cuts a 50 MiB chunked stream early: 413 before the client finished sending, in bounded time', async () => {
    const running = await listen(appWithHealth());
    try {
      const total = 50 * 1024 * 1024;
      const res = await postChunked(running.url, total);
      expect(res.status).toBe(413);
      expect(res.headers.connection).toBe('close');
      // The answer came after a few socket buffers, not after the 50 MiB.
      expect(res.sentBeforeAnswer).toBeLessThan(8 * 1024 * 1024);
      expect(res.elapsedMs).toBeLessThan(5000);
      // The server is still fine afterwards.
      expect((await fetch(`${running.url}/api/ping`)).status).toBe(200);
    } finally {
      await running.close();
    }
  });

  it('accepts chunked and sized bodies up to 64 KiB', async () => {
    const running = await listen(appWithHealth());
    try {
      for (const size of [0, 1, 64 * 1024]) {
        const res = await postChunked(running.url, size);
        expect(res.status, String(size)).toBe(200);
        expect(JSON.parse(res.body).status).toBe('alive');
      }
      const sized = await fetch(`${running.url}/api/keep-alive`, { method: 'POST', body: Buffer.alloc(64 * 1024) });
      expect(sized.status).toBe(200);
      const over = await fetch(`${running.url}/api/keep-alive`, { method: 'POST', body: Buffer.alloc(64 * 1024 + 1) });
      expect(over.status).toBe(413);
    } finally {
      await running.close();
    }
  });

  it('reports the last client activity and the distinct clients of the last interval in status and keep-alive', async () => {
    const app = appWithHealth();
    const before = await request(app).get('/api/status');
    expect(before.body).toMatchObject({ last_client_activity: null, clients_last_interval: 0 });
    expect((await request(app).get('/api/keep-alive')).body).toMatchObject({ last_client_activity: null, clients_last_interval: 0 });

    const t0 = Date.now() / 1000;
    await request(app).post('/api/keep-alive').send({ client_id: 'tab-1' });
    await request(app).post('/api/keep-alive').send({ client_id: 'tab-2' });
    const third = await request(app).post('/api/keep-alive').send({ client_id: 'tab-1' });
    expect(third.body.clients_last_interval).toBe(2);
    expect(third.body.last_client_activity).toBeGreaterThanOrEqual(t0 - 0.001);
    // Without a client_id (or with one that is not a short string) the client is its address.
    await request(app).post('/api/keep-alive');
    await request(app)
      .post('/api/keep-alive')
      .send({ client_id: { nested: true } });
    await request(app).post('/api/keep-alive').set('Content-Type', 'application/json').send('{"client_id":');
    const status = await request(app).get('/api/status');
    expect(status.body.clients_last_interval).toBe(3);
    expect(status.body.last_client_activity).toBeGreaterThanOrEqual(third.body.last_client_activity);
    // A GET does not count as a client keep-alive.
    await request(app).get('/api/keep-alive');
    expect((await request(app).get('/api/status')).body.clients_last_interval).toBe(3);
  });

  it('reads client_id from a body express.json() already parsed', async () => {
    const app = express();
    const h = health({ logger: false, interval: 0 });
    closers.push(h.close);
    app.use(express.json());
    app.use(h);
    for (const id of ['a', 'b', 'c']) await request(app).post('/api/keep-alive').send({ client_id: id });
    expect((await request(app).get('/api/status')).body.clients_last_interval).toBe(3);
  });

  it('counts only the clients seen within the interval', async () => {
    const app = express();
    const h = health({ logger: false, interval: 150 });
    closers.push(h.close);
    app.use(h);
    await request(app).post('/api/keep-alive').send({ client_id: 'old' });
    expect((await request(app).get('/api/status')).body.clients_last_interval).toBe(1);
    // A GET records no client: poll until the 150 ms window has left 'old' behind.
    await expect.poll(async () => (await request(app).get('/api/status')).body.clients_last_interval, POLL).toBe(0);
    const res = await request(app).post('/api/keep-alive').send({ client_id: 'new' });
    expect(res.body.clients_last_interval).toBe(1);
  });

  it('remembers a bounded number of clients', () => {
    const clients = new RecentClients(3);
    for (let i = 0; i < 1000; i++) clients.record(`c${i}`, 1000 + i);
    expect(clients.countSince(0)).toBe(3);
    expect(clients.countSince(1998)).toBe(2);
    clients.record('c998', 3000);
    expect(clients.countSince(2000)).toBe(1);
  });
});

describe('keepAlive access log', () => {
  const env = { NODE_ENV: process.env.NODE_ENV, ACCESS_LOG: process.env.ACCESS_LOG };
  afterEach(() => {
    for (const [name, value] of Object.entries(env)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  async function accessLines(options: { accessLog?: boolean } = {}) {
    const logger = memoryLogger();
    const ka = keepAlive({ logger, interval: 0, ...options });
    closers.push(ka.close);
    const app = express();
    app.use(ka);
    app.get('/ok', (_req: unknown, res: Res) => res.json({ ok: true }));
    await request(app).get('/ok?q=1');
    return logger.lines.filter((l) => l.meta?.component === 'access');
  }

  it('writes one line per request after the answer: method, path without query, status, ms, bytes sent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeline-access-'));
    const file = join(dir, 'backend.log');
    const logger = createLogger({ file, console: false });
    const ka = keepAlive({ logger, interval: 0, accessLog: true });
    const app = express();
    app.use(ka);
    app.get('/items', (_req: unknown, res: Res) => res.json({ items: [1, 2, 3] }));
    app.use(notFound());
    const running = await listen(app);
    let received = 0;
    try {
      // A raw socket, to count the bytes that really arrived.
      await new Promise<void>((resolve, reject) => {
        const socket = connect(Number(new URL(running.url).port), '127.0.0.1', () =>
          socket.end('GET /items?token=abc123&page=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
        );
        socket.on('data', (chunk: Buffer) => (received += chunk.length));
        socket.on('close', () => resolve());
        socket.on('error', reject);
      });
      await request(running.url).post('/nowhere').send('x');
    } finally {
      await running.close();
      await ka.close();
      await logger.closeAndFlush();
    }
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    rmSync(dir, { recursive: true, force: true });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^\\S+Z info \\[access\\] GET /items 200 \\d+\\.\\d ms ${received} bytes$`));
    expect(lines[1]).toMatch(/^\S+Z info \[access\] POST \/nowhere 404 \d+\.\d ms \d+ bytes$/);
    expect(lines.join('\n')).not.toContain('abc123');
  });

  it('marks a request the client gave up on as aborted', async () => {
    const logger = memoryLogger();
    const ka = keepAlive({ logger, interval: 0, accessLog: true });
    closers.push(ka.close);
    const app = express();
    app.use(ka);
    let arrived!: () => void;
    const inHandler = new Promise<void>((resolve) => (arrived = resolve));
    app.get('/never', () => arrived()); // never answers
    const running = await listen(app);
    try {
      const controller = new AbortController();
      const pending = fetch(`${running.url}/never`, { signal: controller.signal }).catch(() => undefined);
      await inHandler;
      controller.abort();
      await pending;
      await expect.poll(() => logger.lines.some((l) => l.meta?.component === 'access'), POLL).toBe(true);
    } finally {
      await running.close();
    }
    const line = logger.lines.find((l) => l.meta?.component === 'access');
    expect(line?.message).toMatch(/^GET \/never - \d+\.\d ms 0 bytes \(aborted\)$/);
  });

  it('is on by default outside production', async () => {
    delete process.env.NODE_ENV;
    const lines = await accessLines();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info' });
    expect(lines[0]!.message).toMatch(/^GET \/ok 200 \d+\.\d ms \d+ bytes$/);
  });

  it('is off by default in production, on with ACCESS_LOG=true or accessLog: true', async () => {
    process.env.NODE_ENV = 'production';
    expect(await accessLines()).toHaveLength(0);
    expect(await accessLines({ accessLog: true })).toHaveLength(1);
    process.env.ACCESS_LOG = 'true';
    expect(await accessLines()).toHaveLength(1);
    delete process.env.NODE_ENV;
    process.env.ACCESS_LOG = '0';
    expect(await accessLines()).toHaveLength(0);
  });

  it('rejects a non-boolean accessLog and an invalid ACCESS_LOG at setup', () => {
    expect(() => keepAlive({ logger: false, accessLog: 'yes' as unknown as boolean })).toThrow(
      new TypeError("keepAlive: expected `accessLog` to be a boolean, got 'yes'"),
    );
    process.env.ACCESS_LOG = 'maybe';
    expect(() => keepAlive({ logger: false })).toThrow(
      /^Invalid ACCESS_LOG: expected 'true' or 'false' \(also 1\/0, on\/off\), got 'maybe'$/,
    );
  });
});

describe('keepAlive access log: W3C trace context', () => {
  const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
  const SPAN = '00f067aa0ba902b7';

  /** The access lines written to a real file in `format`, one request per traceparent given (undefined: none). */
  async function fileLines(format: 'text' | 'json', headers: Array<string | undefined>): Promise<string[]> {
    const dir = mkdtempSync(join(tmpdir(), 'lifeline-trace-'));
    const file = join(dir, 'backend.log');
    const logger = createLogger({ file, console: false, format });
    const ka = keepAlive({ logger, interval: 0, accessLog: true });
    const app = express();
    app.use(ka);
    app.get('/items', (_req: unknown, res: Res) => res.json([]));
    const running = await listen(app);
    try {
      for (const header of headers) {
        // A raw request: the header goes on the wire exactly as written (fetch would refuse some).
        await new Promise<void>((resolve, reject) => {
          const socket = connect(Number(new URL(running.url).port), '127.0.0.1', () =>
            socket.end(
              `GET /items HTTP/1.1\r\nHost: x\r\n${header === undefined ? '' : `traceparent: ${header}\r\n`}Connection: close\r\n\r\n`,
            ),
          );
          socket.on('data', () => undefined);
          socket.on('close', () => resolve());
          socket.on('error', reject);
        });
      }
    } finally {
      await running.close();
      await ka.close();
      await logger.closeAndFlush();
    }
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    rmSync(dir, { recursive: true, force: true });
    return lines;
  }

  it('a valid traceparent puts trace_id and span_id on the text access line', async () => {
    const [line] = await fileLines('text', [`00-${TRACE}-${SPAN}-01`]);
    expect(line).toMatch(new RegExp(`^\\S+Z info \\[access\\] GET /items 200 \\d+\\.\\d ms \\d+ bytes trace_id=${TRACE} span_id=${SPAN}$`));
  });

  it('JSON lines carry them as fields', async () => {
    const [line] = await fileLines('json', [`00-${TRACE}-${SPAN}-00`]);
    expect(JSON.parse(line ?? '{}')).toMatchObject({ component: 'access', trace_id: TRACE, span_id: SPAN });
  });

  it('an invalid traceparent is ignored, never logged', async () => {
    const bad = [
      `00-${TRACE.toUpperCase()}-${SPAN}-01`, // uppercase
      `00-${'0'.repeat(32)}-${SPAN}-01`, // all-zero trace id
      `00-${TRACE}-${'0'.repeat(16)}-01`, // all-zero parent id
      `ff-${TRACE}-${SPAN}-01`, // version ff
      `00-${TRACE}-${SPAN}-01-extra`, // version 00 has exactly four fields
      `00-${TRACE}-${SPAN}`, // no flags
      `00-${TRACE}-${SPAN}-01 injected=1`, // log injection attempt
      'garbage',
    ];
    const lines = await fileLines('text', [...bad, undefined]);
    expect(lines).toHaveLength(bad.length + 1);
    for (const line of lines) {
      expect(line).toMatch(/^\S+Z info \[access\] GET \/items 200 \d+\.\d ms \d+ bytes$/);
    }
    expect(lines.join('\n')).not.toMatch(/injected|garbage|trace_id|span_id/);
  });

  it('a later version with more fields is read by its first four', async () => {
    const [line] = await fileLines('text', [`01-${TRACE}-${SPAN}-01-future`]);
    expect(line).toContain(`trace_id=${TRACE} span_id=${SPAN}`);
  });
});
