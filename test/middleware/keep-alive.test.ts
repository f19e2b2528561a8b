import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, errorHandler, health, keepAlive, notFound } from '../../src/index.js';
import { express } from '../helpers/express.js';
import { memoryLogger } from '../helpers/logger.js';
import { listen } from '../helpers/server.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

type Res = { json(b: unknown): void; status(n: number): Res };

function appWith(logger: ReturnType<typeof memoryLogger> | false = false, slowRequestMs = 1000) {
  const app = express();
  const ka = keepAlive({ logger, interval: 0, slowRequestMs });
  closers.push(ka.close);
  app.use(ka);
  app.get('/ok', (_req: unknown, res: Res) => res.json({ ok: true }));
  app.get('/boom', () => {
    throw new Error('kaboom');
  });
  app.get('/slow', (_req: unknown, res: Res) => setTimeout(() => res.json({ slow: true }), 120));
  app.get('/stream', (_req: unknown, res: { write(s: string): void; end(): void }) => {
    res.write('part');
    res.end();
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
      for (let i = 0; i < 200 && held.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      expect(ka.activity(app).inFlight).toBe(2);
      for (const release of held) release();
      await pending;
      await new Promise((r) => setTimeout(r, 20));
      expect(ka.activity(app).inFlight).toBe(0);
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
    await new Promise((r) => setTimeout(r, 250));
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
    for (let i = 0; i < 100 && !logger.lines.some((l) => l.level === 'warn'); i++) await new Promise((r) => setTimeout(r, 20));
    await ka.close();
    const warning = logger.lines.find((l) => l.level === 'warn');
    expect(warning?.message).toMatch(/^self-ping http:\/\/ping:\*\*\*@127\.0\.0\.1:1\/api\/ping\?token=\*\*\*&x=\*\*\* failed: /);
    expect(logger.text()).not.toMatch(/S3CR3T|T0K3N/);
  });

  it('warns when the self-ping fails', async () => {
    const logger = memoryLogger();
    const ka = keepAlive({ logger, interval: 30, selfPingUrl: 'http://127.0.0.1:1/api/ping' });
    closers.push(ka.close);
    await new Promise((r) => setTimeout(r, 200));
    expect(logger.lines.some((l) => l.level === 'warn' && l.message.startsWith('self-ping http://127.0.0.1:1/api/ping failed'))).toBe(true);
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
      for (let i = 0; i < 100 && !logger.lines.some((l) => l.meta?.component === 'access'); i++)
        await new Promise((r) => setTimeout(r, 10));
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
