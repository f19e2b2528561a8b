import knexFactory, { type Knex } from 'knex';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { lifeline } from '../../src/lifeline.js';
import { monitor } from '../../src/monitor/middleware.js';
import { listen } from '../helpers/server.js';
import { DATABASES, type TestDatabase } from './helpers.js';
import { startTarget } from './target.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

type Json = Record<string, unknown>;
const ADMIN = { username: 'ops', password: 'ops-password-123' };

function knexFor(db: TestDatabase): Knex {
  return db.kind === 'postgres'
    ? knexFactory({ client: 'pg', connection: db.url, pool: { min: 0, max: 4 } })
    : knexFactory({ client: 'better-sqlite3', connection: { filename: db.url }, useNullAsDefault: true });
}

/** An app of the given Express major with its own routes, lifeline() and the monitor on the caller's knex. */
async function existingApp(major: 4 | 5, db: TestDatabase) {
  const express = ((await import(major === 4 ? 'express4' : 'express')) as { default: typeof import('express') }).default;
  const knex = knexFor(db);
  cleanups.push(() => knex.destroy());
  const app = express();
  const life = lifeline({ database: knex, logger: false });
  cleanups.push(() => life.close());
  app.use(life);
  const watch = monitor({ database: knex, logger: false, schedule: false, admin: ADMIN, secret: 's'.repeat(40) });
  cleanups.push(() => watch.close());
  app.use(watch);
  // The app's own API beside the monitor's: its body must reach its own parser.
  app.post('/api/echo', express.json(), (req, res) => {
    res.json({ echoed: req.body as Json });
  });
  const running = await listen(app);
  cleanups.push(() => running.close());
  return { url: running.url, watch, knex };
}

describe.each(DATABASES)('a PulseGuard client against monitor() in an existing app on %s', (_kind, make) => {
  for (const major of [5, 4] as const) {
    it(`logs in, adds a server, runs checks against a local target, lists ping results and statuses (Express ${major})`, async () => {
      const db = await make();
      cleanups.push(() => db.drop());
      const target = await startTarget();
      cleanups.push(() => target.close());
      const { url, watch, knex } = await existingApp(major, db);

      // A request that comes while the monitor is still opening its database waits for it.
      const login = await request(url).post('/api/auth/token/').send(ADMIN);
      expect(login.status).toBe(200);
      const auth = { Authorization: `Bearer ${(login.body as { access: string }).access}` };
      await watch.ready;

      const created = await request(url)
        .post('/api/servers/')
        .set(auth)
        .send({ name: 'shop api', protocol: 'http', host: '127.0.0.1', port: target.port, path: '/health', failure_threshold: 1 });
      expect(created.status).toBe(201);
      const id = (created.body as { id: number }).id;
      const broken = await request(url)
        .post('/api/servers')
        .set(auth)
        .send({ name: 'billing', protocol: 'http', host: '127.0.0.1', port: target.port, path: '/billing', failure_threshold: 1 });
      target.failing.add('/billing');

      expect((await request(url).post('/api/checks/run/').set(auth).send({})).status).toBe(202);
      let pings: Json[] = [];
      const end = Date.now() + 10_000;
      while (pings.length < 2 && Date.now() < end) {
        pings = ((await request(url).get('/api/ping-results/').set(auth)).body as { results: Json[] }).results;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(pings).toHaveLength(2);
      expect(pings.find((p) => p.server === id)).toMatchObject({ status: 'success', status_code: 200, error_message: null });
      expect(pings.find((p) => p.server !== id)).toMatchObject({ status: 'failure', status_code: 503 });
      expect(target.arrivals.get('/health')).toHaveLength(1);

      const statuses = (await request(url).get('/api/server-status/?status=up,down').set(auth)).body as { count: number; results: Json[] };
      expect(statuses.results.map((s) => [s.server, s.status])).toEqual([
        [id, 'up'],
        [(broken.body as { id: number }).id, 'down'],
      ]);
      const listed = (await request(url).get('/api/servers/').set(auth)).body as { results: Array<{ current_status: Json }> };
      expect(listed.results[0]!.current_status).toMatchObject({ status: 'up', consecutive_successes: 1 });
      expect(listed.results[0]!.current_status.uptime).toEqual({ '24h': 100, '7d': 100, '30d': 100 });

      // The app keeps its own routes, its body parser and the health endpoints.
      expect((await request(url).post('/api/echo').send({ a: 1 })).body).toEqual({ echoed: { a: 1 } });
      expect((await request(url).get('/api/health/ready')).status).toBe(200);
      expect((await request(url).get('/api/nothing-here')).status).toBe(404);
      // The monitor did not take the caller's knex: it is still open after close().
      await watch.close();
      expect(await knex.raw('select 1')).toBeDefined();
    });
  }
});

describe('monitor() middleware', () => {
  it('rejects unknown options at setup, naming them', () => {
    expect(() => monitor({ databse: 'x' } as never)).toThrow(/monitor: unknown option `databse`/);
    expect(() => monitor({ secret: 'short' })).toThrow(/monitor: expected `secret` to be a string of at least 32 characters/);
    expect(() => monitor({ loginThrottle: { attempts: 0 } })).toThrow(/loginThrottle\.attempts/);
  });

  it('answers 503 on its own paths, and passes the others on, when the monitor could not start', async () => {
    const express = (await import('express')).default;
    const app = express();
    const watch = monitor({ database: '/nonexistent-dir/sub/monitor.db', logger: false });
    cleanups.push(() => watch.close());
    app.use(watch);
    app.get('/hello', (_req, res) => void res.json({ hello: true }));
    const running = await listen(app);
    cleanups.push(() => running.close());
    await expect(watch.ready).rejects.toThrow();
    const res = await request(running.url).get('/api/servers/');
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ detail: 'The monitor is not available.' });
    expect((await request(running.url).get('/hello')).body).toEqual({ hello: true });
  });
});
