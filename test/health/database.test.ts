import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knex, { type Knex } from 'knex';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checks, health } from '../../src/index.js';
import { express } from '../helpers/express.js';
import { memoryLogger } from '../helpers/logger.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

function appFor(db: Knex, timeout: number, logger: ReturnType<typeof memoryLogger> | false = false) {
  const app = express();
  const h = health({ logger, interval: 0, maxAge: 0, checks: { database: checks.knex(db, { timeout }) } });
  closers.push(h.close);
  app.use(h);
  return app;
}

describe('knex check on SQLite (better-sqlite3)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-sqlite-'));
  const db = knex({ client: 'better-sqlite3', connection: { filename: join(dir, 'app.db') }, useNullAsDefault: true });
  afterAll(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes against a real database file', async () => {
    const res = await request(appFor(db, 1000)).get('/api/health');
    expect(res.status).toBe(200);
    expect(res.body.checks.database).toMatchObject({ status: 'pass', critical: true });
    expect(res.body.application_info.database_connected).toBe(true);
  });

  it('fails critically when the query fails, with a short message', async () => {
    const bad = knex({ client: 'better-sqlite3', connection: { filename: join(dir, 'app.db') }, useNullAsDefault: true });
    try {
      const app = express();
      const h = health({
        logger: false,
        interval: 0,
        maxAge: 0,
        checks: { database: checks.knex(bad, { query: 'select * from no_such_table' }) },
      });
      closers.push(h.close);
      app.use(h);
      const res = await request(app).get('/api/health');
      expect(res.status).toBe(503);
      expect(res.body.checks.database.error).toMatch(/no such table/);
      expect(res.body.application_info.database_connected).toBe(false);
    } finally {
      await bad.destroy();
    }
  });
});

// A server of its own: the test stops it, which must disturb no other test and never the user's TEST_DATABASE_URL.
describe('knex check on a real PostgreSQL server', () => {
  let pg: PostgresServer;
  let db: Knex;
  beforeAll(async () => {
    pg = await startPostgres();
    db = knex({ client: 'pg', connection: pg.url, pool: { min: 0, max: 4 }, acquireConnectionTimeout: 3000 });
  });
  afterAll(async () => {
    await db?.destroy();
    await pg?.destroy();
  });

  it('passes, fails within the timeout while the server is stopped, and recovers when it is back', async () => {
    const logger = memoryLogger();
    const app = appFor(db, 1000, logger);
    expect((await request(app).get('/api/health')).status).toBe(200);

    await pg.stop();
    // Answers come at once from the last snapshot while a refresh runs; the failure shows
    // as soon as the check has failed, within its timeout.
    const started = performance.now();
    let down = await request(app).get('/api/health');
    while (down.status !== 503 && performance.now() - started < 3000) {
      await new Promise((r) => setTimeout(r, 50));
      down = await request(app).get('/api/health');
    }
    const elapsed = performance.now() - started;
    expect(down.status).toBe(503);
    expect(down.body.checks.database.status).toBe('fail');
    expect(elapsed).toBeLessThan(1000 + 300);
    expect(JSON.stringify(down.body)).not.toContain('postgres://');
    const live = await request(app).get('/api/health/live');
    expect(live.status).toBe(200);

    await pg.start();
    let status = 0;
    for (let i = 0; i < 40 && status !== 200; i++) {
      status = (await request(app).get('/api/health')).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 250));
    }
    expect(status).toBe(200);
    expect(logger.text()).toMatch(/database: /);
    expect(logger.text()).toMatch(/database: recovered/);
  });
});
