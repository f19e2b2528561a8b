import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import knex from 'knex';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { errorHandler, lifeline } from '../src/index.js';
import { express, expressMajor } from './helpers/express.js';
import { listen } from './helpers/server.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeline-composite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Res = { json(b: unknown): void };

describe(`lifeline() on Express ${expressMajor}`, () => {
  it('is corsSecurity + keepAlive + health in one middleware, with one close()', async () => {
    const db = knex({ client: 'better-sqlite3', connection: { filename: join(dir, 'app.db') }, useNullAsDefault: true });
    writeFileSync(join(dir, 'index.html'), '<!doctype html>');
    const life = lifeline({ database: db, staticDir: dir, logger: false, keepAlive: { interval: 0 }, health: { interval: 0 } });
    const app = express();
    app.use(life);
    app.get('/api/items', (_req: unknown, res: Res) => res.json([1, 2]));
    app.use(errorHandler({ logger: false }));

    const items = await request(app).get('/api/items').set('Origin', 'http://localhost:3000');
    expect(items.body).toEqual([1, 2]);
    expect(items.headers['access-control-allow-origin']).toBe('http://localhost:3000');
    expect(items.headers['x-backend-request-count']).toBe('1');
    expect(items.headers['x-frame-options']).toBe('DENY');
    expect(items.headers['x-powered-by']).toBeUndefined();

    const healthRes = await request(app).get('/api/health');
    expect(healthRes.status).toBe(200);
    expect(healthRes.body.checks.database.status).toBe('pass');
    expect(healthRes.body.checks.static_files.status).toBe('pass');
    expect(healthRes.body.application_info).toMatchObject({ database_connected: true, static_files_accessible: true, request_count: 2 });
    expect(healthRes.headers['x-backend-request-count']).toBe('2');

    const preflight = await request(app)
      .options('/api/items')
      .set('Origin', 'http://localhost:3000')
      .set('Access-Control-Request-Method', 'PUT');
    expect(preflight.status).toBe(204);
    expect(preflight.headers['x-backend-request-count']).toBe('3');
    expect(life.activity(app).requestCount).toBe(3);
    expect(await life.check()).toBe('healthy');

    await life.close();
    await db.destroy();
  });

  it('parts can be turned off', async () => {
    const life = lifeline({ cors: false, keepAlive: false, logger: false, health: { interval: 0 } });
    const app = express();
    app.use(life);
    const res = await request(app).get('/api/ping');
    expect(res.status).toBe(200);
    expect(res.headers['x-backend-request-count']).toBeUndefined();
    expect(res.headers['x-frame-options']).toBeUndefined();
    await life.close();
  });

  it('two apps in one process keep separate counts and checks', async () => {
    const a = lifeline({ logger: false, keepAlive: { interval: 0 }, health: { interval: 0, checks: { only_a: async () => undefined } } });
    const b = lifeline({
      logger: false,
      keepAlive: { interval: 0 },
      health: { interval: 0, checks: { only_b: () => Promise.reject(new Error('b is down')) } },
    });
    const appA = express();
    const appB = express();
    appA.use(a);
    appB.use(b);
    for (let i = 0; i < 4; i++) await request(appA).get('/api/ping');
    const healthA = await request(appA).get('/api/health');
    const healthB = await request(appB).get('/api/health');
    expect(healthA.body.application_info.request_count).toBe(5);
    expect(healthB.body.application_info.request_count).toBe(1);
    expect(Object.keys(healthA.body.checks)).toEqual(['only_a']);
    expect([healthB.status, Object.keys(healthB.body.checks)]).toEqual([503, ['only_b']]);
    await Promise.all([a.close(), b.close()]);
  });

  it('after close() no timer keeps the process alive', async () => {
    const started = Date.now();
    const out = execFileSync(process.execPath, [resolve('test/fixtures/closes-cleanly.mjs')], { encoding: 'utf8', timeout: 10_000 });
    expect(out.trim()).toBe('200');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('loads with require() from a CommonJS app', () => {
    const out = execFileSync(process.execPath, [resolve('test/fixtures/require.cjs')], { encoding: 'utf8', timeout: 10_000 });
    expect(JSON.parse(out)).toEqual({ status: 200, message: 'pong', count: '1', checks: ['knex', 'staticFiles'] });
  });

  it('serves a steady load with no 5xx', async () => {
    const life = lifeline({ logger: false, keepAlive: { interval: 0 }, health: { interval: 0 } });
    const app = express();
    app.use(life);
    app.get('/x', (_req: unknown, res: Res) => res.json({}));
    const running = await listen(app);
    try {
      const paths = ['/x', '/api/ping', '/api/health', '/api/health/ready', '/api/status', '/api/keep-alive'];
      const statuses = await Promise.all(
        Array.from({ length: 300 }, (_, i) => fetch(running.url + paths[i % paths.length]).then((r) => r.status)),
      );
      expect(new Set(statuses)).toEqual(new Set([200]));
    } finally {
      await running.close();
      await life.close();
    }
  });
});
