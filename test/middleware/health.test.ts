import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { activityOf } from '../../src/activity.js';
import { errorHandler, health, keepAlive, type HealthOptions } from '../../src/index.js';
import { express } from '../helpers/express.js';
import { memoryLogger } from '../helpers/logger.js';

const require = createRequire(import.meta.url);
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

function appWith(options: HealthOptions = {}) {
  const app = express();
  const ka = keepAlive({ logger: false, interval: 0 });
  const h = health({ logger: false, interval: 0, ...options });
  closers.push(ka.close, h.close);
  app.use(ka);
  app.use(h);
  app.get('/api/health', (_req: unknown, res: { json(b: unknown): void }) => res.json({ user: 'route' }));
  app.get('/api/users', (_req: unknown, res: { json(b: unknown): void }) => res.json([{ id: 1 }]));
  app.use(errorHandler({ logger: false }));
  return app;
}

const ENDPOINTS = ['/api/ping', '/api/status', '/api/keep-alive', '/api/health', '/api/health/live', '/api/health/ready'];

// What each endpoint answers with default options and no checks: the exact keys, so a wrong
// body on any one path (a missing timestamp, another status) fails its own case.
const BODY_SHAPE: Record<string, unknown> = {
  '/api/ping': { status: 'ok', message: 'pong', timestamp: expect.any(Number) },
  '/api/status': expect.objectContaining({ status: 'running', uptime: expect.any(Number), timestamp: expect.any(Number) }),
  '/api/keep-alive': expect.objectContaining({ status: 'alive', uptime: expect.any(Number), timestamp: expect.any(Number) }),
  '/api/health': expect.objectContaining({ status: 'healthy', timestamp: expect.any(Number), checks: expect.any(Object) }),
  '/api/health/live': { status: 'alive', timestamp: expect.any(Number), uptime: expect.any(Number) },
  '/api/health/ready': { status: 'ready', timestamp: expect.any(Number) },
};

describe('health endpoints', () => {
  it.each(ENDPOINTS)('GET %s answers JSON with no-store, with and without a trailing slash', async (path) => {
    const app = appWith();
    for (const p of [path, `${path}/`, `${path}?x=1`]) {
      const res = await request(app).get(p);
      expect(res.status, p).toBe(200);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body, p).toEqual(BODY_SHAPE[path]);
    }
  });

  it.each(ENDPOINTS)('HEAD %s gives the headers and no body', async (path) => {
    const res = await request(appWith()).head(path);
    expect(res.status).toBe(200);
    expect(Number(res.headers['content-length'])).toBeGreaterThan(0);
    expect(res.text).toBeUndefined();
  });

  it.each(ENDPOINTS)('%s refuses other methods with 405, Allow and a JSON error', async (path) => {
    const app = appWith();
    const methods: Array<'put' | 'delete' | 'patch' | 'post'> = [
      'put',
      'delete',
      'patch',
      ...(path === '/api/keep-alive' ? [] : ['post' as const]),
    ];
    for (const method of methods) {
      const res = await request(app)[method](path);
      expect(res.status, method).toBe(405);
      expect(res.headers.allow).toBe(path === '/api/keep-alive' ? 'GET, HEAD, POST' : 'GET, HEAD');
      expect(res.body).toEqual({ error: { status: 405, message: 'Method Not Allowed' } });
    }
  });

  it('answers before user routes registered on the same paths', async () => {
    const res = await request(appWith()).get('/api/health');
    expect(res.body.status).toBe('healthy');
    expect(res.body.user).toBeUndefined();
    const users = await request(appWith()).get('/api/users');
    expect(users.body).toEqual([{ id: 1 }]);
  });

  it('ping has the design format', async () => {
    const before = Date.now() / 1000;
    const res = await request(appWith()).get('/api/ping');
    expect(res.body).toEqual({ status: 'ok', message: 'pong', timestamp: expect.any(Number) });
    expect(res.body.timestamp).toBeGreaterThanOrEqual(before - 0.001);
  });

  it('status and keep-alive report counts, last activity and uptime', async () => {
    const app = appWith();
    await request(app).get('/api/users');
    const status = await request(app).get('/api/status');
    expect(status.body).toEqual({
      status: 'running',
      uptime: expect.any(Number),
      request_count: 2,
      last_activity: expect.any(Number),
      last_client_activity: null,
      clients_last_interval: 0,
      timestamp: expect.any(Number),
    });
    const alive = await request(app).post('/api/keep-alive').send({ client: 'web' });
    expect(alive.body).toEqual({
      status: 'alive',
      timestamp: expect.any(Number),
      request_count: 3,
      last_activity: expect.any(Number),
      uptime: expect.any(Number),
      last_client_activity: expect.any(Number),
      clients_last_interval: 1,
    });
    expect(alive.body.last_activity).toBeLessThanOrEqual(alive.body.timestamp);
  });

  it('the detailed report has every section of the design', async () => {
    const res = await request(appWith({ checks: { queue: async () => undefined } })).get('/api/health');
    const body = res.body;
    expect(body.status).toBe('healthy');
    expect(body.server_info).toMatchObject({ node_version: process.versions.node, pid: process.pid, environment: 'development' });
    expect(body.system_info.memory_usage.total).toBeGreaterThan(0);
    expect(body.system_info.memory_usage.percentage).toBeGreaterThan(0);
    expect(body.system_info.load_average).toHaveLength(3);
    expect(body.system_info.process.rss).toBeGreaterThan(0);
    expect(body.system_info.process.event_loop_delay_ms).toEqual({ p50: expect.any(Number), p99: expect.any(Number) });
    expect(body.system_info.disk_usage.path).toBe('/');
    expect(body.application_info).toMatchObject({
      debug_mode: true,
      database_connected: null,
      static_files_accessible: null,
      request_count: 1,
    });
    expect(body.checks.queue).toMatchObject({
      status: 'pass',
      critical: true,
      duration_ms: expect.any(Number),
      checked_at: expect.any(Number),
    });
  });

  it('liveness never runs the checks, readiness does', async () => {
    const app = appWith({ checks: { db: () => Promise.reject(new Error('connection refused')) } });
    expect((await request(app).get('/api/health/live')).status).toBe(200);
    const ready = await request(app).get('/api/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: 'not_ready', reason: 'critical checks failing', failing: ['db'] });
  });

  it('serves application/health+json when asked', async () => {
    const app = appWith({ checks: { db: { check: () => Promise.reject(new Error('down')), critical: false } } });
    const res = await request(app).get('/api/health').set('Accept', 'application/health+json');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/health+json; charset=utf-8');
    expect(res.body.status).toBe('warn');
    expect(res.body.checks['db:responseTime'][0]).toMatchObject({ status: 'fail', output: 'down', componentType: 'component' });
    expect(res.body.checks['memory:utilization'][0]).toMatchObject({ observedUnit: 'percent', status: 'pass' });
    const ready = await request(app).get('/api/health/ready').set('Accept', 'application/health+json');
    expect(ready.body).toEqual({ status: 'pass' });
  });

  it('accepts browser and probe Accept headers, refuses ones it cannot satisfy with 406', async () => {
    const app = appWith();
    for (const accept of ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 'application/*', '*/*', 'application/json']) {
      expect((await request(app).get('/api/health').set('Accept', accept)).status, accept).toBe(200);
    }
    for (const accept of ['image/png', 'text/html', 'application/json;q=0']) {
      const res = await request(app).get('/api/health').set('Accept', accept);
      expect(res.status, accept).toBe(406);
      expect(res.body.error.status).toBe(406);
    }
    expect((await request(app).get('/api/ping').set('Accept', ';;;,,,=')).status).toBeLessThan(500);
  });

  const PARAMETERISED_ACCEPTS = [
    'application/json; charset=utf-8',
    'application/json;charset=UTF-8',
    'application/health+json; q=0.9',
    'application/json; charset=utf-8; q=0.8, text/html;q=0.1',
  ];
  it.each(ENDPOINTS.flatMap((path) => PARAMETERISED_ACCEPTS.map((accept) => [path, accept] as const)))(
    'Accept with parameters is not a 406: %s with %s',
    async (path, accept) => {
      const app = appWith();
      const res = await request(app).get(path).set('Accept', accept);
      expect(res.status).toBe(200);
      // Endpoints with an IETF format answer it when the client prefers it; the others answer their JSON.
      const ietf = accept.startsWith('application/health+json') && /health/.test(path);
      expect(res.headers['content-type']).toBe(ietf ? 'application/health+json; charset=utf-8' : 'application/json; charset=utf-8');
      if (path === '/api/keep-alive') {
        expect((await request(app).post(path).set('Accept', accept).send({ client_id: 'lb' })).status).toBe(200);
      }
    },
  );

  it.each(
    ENDPOINTS.flatMap((path) =>
      ['text/html', 'application/json;q=0', 'application/json; charset=utf-8; q=0'].map((a) => [path, a] as const),
    ),
  )('a truly unacceptable Accept still gets 406 JSON: %s with %s', async (path, accept) => {
    const res = await request(appWith()).get(path).set('Accept', accept);
    expect(res.status).toBe(406);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.body.error.status).toBe(406);
  });

  it('answers odd paths under the health prefix with a JSON 4xx, never 5xx', async () => {
    const app = appWith();
    for (const path of [
      '/api/health/..%2f',
      '/api/health/%2e%2e/%2e%2e/etc/passwd',
      '/api/health/live/x',
      '/api/health/%ff',
      '/api/health//',
    ]) {
      const res = await request(app).get(path);
      expect(res.status, path).toBe(404);
      expect(res.body.error.status).toBe(404);
    }
    const other = await request(app).get('/api/healthz');
    expect(other.status).toBe(404);
  });

  it('refuses a huge keep-alive POST with 413 and survives a malformed one', async () => {
    const app = express();
    const h = health({ logger: false, interval: 0 });
    closers.push(h.close);
    app.use(express.json({ limit: '1kb' }));
    app.use(h);
    app.use(errorHandler({ logger: false }));
    const huge = await request(app)
      .post('/api/keep-alive')
      .set('Content-Type', 'application/octet-stream')
      .send(Buffer.alloc(2 * 1024 * 1024));
    expect(huge.status).toBe(413);
    const malformed = await request(app).post('/api/keep-alive').set('Content-Type', 'application/json').send('{"client":');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.status).toBe(400);
    const fine = await request(app).post('/api/keep-alive').send({ client: 'web' });
    expect(fine.status).toBe(200);
  });

  it('serves the endpoints under a configured prefix, or at the root', async () => {
    const app = appWith({ prefix: '/internal' });
    expect((await request(app).get('/internal/ping')).status).toBe(200);
    expect((await request(app).get('/api/ping')).status).toBe(404);
    const root = appWith({ prefix: '' });
    expect((await request(root).get('/health/ready')).status).toBe(200);
  });
});

describe('detail gating', () => {
  const failing = { db: () => Promise.reject(new Error('password authentication failed for postgres://app:hunter2@db/x')) };

  it("'never' shows status, timestamp and each check's status only", async () => {
    const res = await request(appWith({ details: 'never', checks: failing })).get('/api/health');
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ status: 'unhealthy', service: null, timestamp: expect.any(Number), checks: { db: { status: 'fail' } } });
  });

  it("'authorized' shows details only with the right bearer token", async () => {
    const app = appWith({ details: 'authorized', token: 's3cret-token', checks: failing });
    const anonymous = await request(app).get('/api/health');
    expect(anonymous.body.server_info).toBeUndefined();
    expect(JSON.stringify(anonymous.body)).not.toMatch(/password|hunter2|pid/);
    const wrong = await request(app).get('/api/health').set('Authorization', 'Bearer s3cret-tokeN');
    expect(wrong.body.server_info).toBeUndefined();
    const right = await request(app).get('/api/health').set('Authorization', 'Bearer s3cret-token');
    expect(right.body.server_info.pid).toBe(process.pid);
    expect(right.body.checks.db.error).toContain('password authentication failed');
    expect(right.body.checks.db.error).not.toContain('hunter2');
  });

  it('production defaults to authorized with HEALTH_TOKEN', async () => {
    process.env.NODE_ENV = 'production';
    process.env.HEALTH_TOKEN = 'prod-token';
    try {
      const app = appWith();
      expect((await request(app).get('/api/health')).body.server_info).toBeUndefined();
      expect((await request(app).get('/api/health').set('Authorization', 'Bearer prod-token')).body.server_info.environment).toBe(
        'production',
      );
    } finally {
      delete process.env.NODE_ENV;
      delete process.env.HEALTH_TOKEN;
    }
  });

  it('warns at setup when details are authorized but no token exists', () => {
    const logger = memoryLogger();
    const h = health({ details: 'authorized', logger, interval: 0 });
    closers.push(h.close);
    expect(logger.text()).toMatch(/no HEALTH_TOKEN/);
  });
});

describe('service, version and the timestamp form', () => {
  it('name the app from options, the version only to callers who may see details', async () => {
    const app = appWith({ service: 'notes-api', version: '2.3.1', details: 'authorized', token: 'tok' });
    const anonymous = await request(app).get('/api/health');
    expect(anonymous.body).toEqual({ status: 'healthy', service: 'notes-api', timestamp: expect.any(Number), checks: {} });
    const full = await request(app).get('/api/health').set('Authorization', 'Bearer tok');
    expect(full.body).toMatchObject({ status: 'healthy', service: 'notes-api', version: '2.3.1' });
    expect(Object.keys(full.body).slice(0, 4)).toEqual(['status', 'service', 'version', 'timestamp']);
  });

  it("default to the app's package.json, found from its main script, never a tool's under node_modules", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeline-identity-'));
    try {
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'seed-backend', version: '0.9.0', type: 'module' }));
      mkdirSync(join(dir, 'node_modules'));
      symlinkSync(resolve('.'), join(dir, 'node_modules', 'express-lifeline'));
      writeFileSync(
        join(dir, 'app.mjs'),
        `import { health } from 'express-lifeline';\nimport express from '${pathToFileURL(require.resolve('express')).href}';\n` +
          `const app = express(); const h = health({ logger: false, interval: 0 }); app.use(h);\n` +
          `const server = app.listen(0, '127.0.0.1', async () => {\n` +
          `  const r = await fetch('http://127.0.0.1:' + server.address().port + '/api/health');\n` +
          `  console.log(JSON.stringify(await r.json())); server.close(); await h.close(); });\n`,
      );
      const out = execFileSync(process.execPath, [join(dir, 'app.mjs')], { cwd: tmpdir(), encoding: 'utf8', timeout: 15_000 });
      expect(JSON.parse(out)).toMatchObject({ status: 'healthy', service: 'seed-backend', version: '0.9.0' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("timestamp: 'iso' (or HEALTH_TIMESTAMP=iso) gives ISO 8601 UTC, for clients written for that contract", async () => {
    const before = Date.now();
    const iso = (await request(appWith({ timestamp: 'iso' })).get('/api/health')).body as { timestamp: string };
    expect(iso.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Date.parse(iso.timestamp)).toBeGreaterThanOrEqual(before - 1);
    process.env.HEALTH_TIMESTAMP = 'iso';
    try {
      const res = await request(appWith({ details: 'never' })).get('/api/health');
      expect(typeof res.body.timestamp).toBe('string');
      expect(() => appWith()).not.toThrow();
      process.env.HEALTH_TIMESTAMP = 'unix';
      expect(() => appWith()).toThrow("Invalid HEALTH_TIMESTAMP: expected epoch or iso, got 'unix'");
    } finally {
      delete process.env.HEALTH_TIMESTAMP;
    }
    expect(typeof (await request(appWith()).get('/api/health')).body.timestamp).toBe('number');
    expect(() => appWith({ timestamp: 'ISO' as never })).toThrow(/health: expected `timestamp` to be one of/);
    expect(() => appWith({ service: '' })).toThrow(/`service`/);
  });
});

describe('extra mount points', () => {
  const dbDown = { db: () => Promise.reject(new Error('connection refused to postgres://app:hunter2@db/x')) };
  const text = (res: { text: string }) => res.text;

  it('are off by default: /health, /livez and /readyz belong to the app', async () => {
    const app = appWith();
    for (const path of ['/health', '/livez', '/readyz', '/readyz/ping']) expect((await request(app).get(path)).status, path).toBe(404);
  });

  it('mounts.health answers /health with the same report as /api/health', async () => {
    const app = appWith({ mounts: { health: true }, checks: { queue: async () => undefined } });
    for (const path of ['/health', '/health/']) {
      const res = await request(app).get(path);
      expect(res.status).toBe(200);
      expect(res.body.server_info.pid).toBe(process.pid);
      expect(res.body.checks.queue.status).toBe('pass');
    }
    const ietf = await request(app).get('/health').set('Accept', 'application/health+json');
    expect(ietf.headers['content-type']).toBe('application/health+json; charset=utf-8');
    expect((await request(app).post('/health')).status).toBe(405);
    expect((await request(app).get('/livez')).status).toBe(404);
  });

  it('mounts.kubernetes answers /livez and /readyz in plain text, verbose on request', async () => {
    const app = appWith({ mounts: { kubernetes: true }, checks: { queue: async () => undefined } });
    for (const path of ['/livez', '/readyz', '/livez/', '/readyz?x=1']) {
      const res = await request(app).get(path).set('Accept', 'application/json');
      expect(res.status, path).toBe(200);
      expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(text(res)).toBe('ok');
    }
    expect(text(await request(app).get('/livez?verbose'))).toBe('[+]ping ok\nlivez check passed\n');
    expect(text(await request(app).get('/readyz?verbose=1'))).toBe('[+]ping ok\n[+]shutdown ok\n[+]queue ok\nreadyz check passed\n');
    expect(text(await request(app).get('/readyz/queue'))).toBe('ok');
    expect(text(await request(app).get('/livez/ping/'))).toBe('ok');
    expect((await request(app).get('/readyz/%ff')).status).toBe(404);
    expect((await request(app).get('/readyz/nope')).status).toBe(404);
    expect((await request(app).head('/readyz')).status).toBe(200);
    const post = await request(app).post('/readyz');
    expect(post.status).toBe(405);
    expect(post.body.error.status).toBe(405);
    expect((await request(app).get('/health')).status).toBe(404);
  });

  it('/readyz fails with the per-check list, and ?exclude= leaves a check out of the verdict', async () => {
    const app = appWith({
      mounts: { kubernetes: true },
      checks: { ...dbDown, cache: { check: () => Promise.reject(new Error('x')), critical: false } },
    });
    await request(app).get('/api/health');
    const failed = await request(app).get('/readyz');
    expect(failed.status).toBe(503);
    expect(text(failed)).toBe(
      '[+]ping ok\n[+]shutdown ok\n[-]db failed: connection refused to postgres://app:***@db/x\nreadyz check failed\n',
    );
    expect((await request(app).get('/livez')).status).toBe(200);
    const excluded = await request(app).get('/readyz?exclude=db&verbose');
    expect(excluded.status).toBe(200);
    expect(text(excluded)).toBe('[+]ping ok\n[+]shutdown ok\n[+]db excluded: ok\nreadyz check passed\n');
    expect(text(await request(app).get('/readyz?exclude=db'))).toBe('ok');
    const unknown = await request(app).get('/readyz?exclude=db&exclude=nope&verbose');
    expect(text(unknown)).toContain('warn: some health checks cannot be excluded: no matches for "nope"\n');
    const single = await request(app).get('/readyz/db');
    expect(single.status).toBe(503);
    expect(text(single)).toMatch(/^internal server error: connection refused/);
  });

  it('/readyz fails while draining', async () => {
    const app = appWith({ mounts: { kubernetes: true } });
    activityOf(app).draining = true;
    const res = await request(app).get('/readyz');
    expect(res.status).toBe(503);
    expect(text(res)).toBe('[+]ping ok\n[-]shutdown failed: draining\nreadyz check failed\n');
    expect((await request(app).get('/livez')).status).toBe(200);
  });

  it('withholds failure reasons from callers who may not see details', async () => {
    const app = appWith({ mounts: { kubernetes: true }, details: 'authorized', token: 'k8s-token', checks: dbDown });
    await request(app).get('/api/health');
    const anonymous = await request(app).get('/readyz?verbose');
    expect(text(anonymous)).toBe('[+]ping ok\n[+]shutdown ok\n[-]db failed: reason withheld\nreadyz check failed\n');
    expect(text(await request(app).get('/readyz/db'))).toBe('internal server error: reason withheld\n');
    const authorized = await request(app).get('/readyz').set('Authorization', 'Bearer k8s-token');
    expect(text(authorized)).toContain('[-]db failed: connection refused');
    const never = appWith({ mounts: { kubernetes: true }, details: 'never', checks: dbDown });
    await request(never).get('/api/health');
    expect(text(await request(never).get('/readyz'))).toContain('[-]db failed: reason withheld');
  });

  it('production hides reasons from anonymous callers by default', async () => {
    process.env.NODE_ENV = 'production';
    try {
      const app = appWith({ mounts: { kubernetes: true, health: true }, checks: dbDown });
      await request(app).get('/api/health');
      expect(text(await request(app).get('/readyz'))).toContain('[-]db failed: reason withheld');
      const report = await request(app).get('/health');
      expect(report.body.server_info).toBeUndefined();
      expect(JSON.stringify(report.body)).not.toMatch(/refused|hunter2/);
    } finally {
      delete process.env.NODE_ENV;
    }
  });

  it('HEALTH_MOUNTS turns them on from the environment', async () => {
    process.env.HEALTH_MOUNTS = 'health, kubernetes';
    try {
      const app = appWith();
      expect((await request(app).get('/health')).status).toBe(200);
      expect(text(await request(app).get('/livez'))).toBe('ok');
      // An explicit option wins over the environment.
      expect((await request(appWith({ mounts: {} })).get('/livez')).status).toBe(404);
      process.env.HEALTH_MOUNTS = 'health,k8s';
      expect(() => health({ logger: false, interval: 0 })).toThrow(
        "Invalid HEALTH_MOUNTS: expected a comma-separated list of health, kubernetes, got 'health,k8s'",
      );
    } finally {
      delete process.env.HEALTH_MOUNTS;
    }
  });

  it('rejects invalid mounts at setup, naming the option', () => {
    const cases: Array<[unknown, RegExp]> = [
      [true, /health: mounts: expected options to be an object, got true/],
      [{ healthz: true }, /healthz/],
      [{ health: 'yes' }, /health: expected `mounts.health` to be a boolean, got 'yes'/],
      [{ kubernetes: 1 }, /health: expected `mounts.kubernetes` to be a boolean, got 1/],
    ];
    for (const [mounts, message] of cases) {
      expect(() => health({ logger: false, interval: 0, mounts: mounts as HealthOptions['mounts'] })).toThrow(message);
    }
  });
});
