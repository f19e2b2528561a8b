import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import knex, { type Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checks, health, keepAlive } from '../../src/index.js';
import { express } from '../helpers/express.js';
import { sleep } from '../helpers/process.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';

// A network partition: every PostgreSQL process stopped with SIGSTOP, connections stay open
// and nothing answers. No health answer may wait for the hung check (issue 12).
describe('health answers while PostgreSQL hangs (SIGSTOP)', () => {
  let pg: PostgresServer;
  let db: Knex;
  let server: Server;
  let base = '';
  const closers: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    pg = await startPostgres();
    db = knex({ client: 'pg', connection: pg.url, pool: { min: 0, max: 4 }, acquireConnectionTimeout: 3000 });
    const app = express();
    const ka = keepAlive({ logger: false, interval: 0 });
    const h = health({ logger: false, interval: 0, maxAge: 200, checks: { database: checks.knex(db, { timeout: 1000 }) } });
    closers.push(ka.close, h.close);
    app.use(ka);
    app.use(h);
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    pg?.resume(); // always, even when a test failed while it was paused
    server?.close();
    await Promise.all(closers.map((close) => close()));
    await db?.destroy();
    await pg?.destroy();
  });

  /** The server's own time for the answer (X-Backend-Processing-Time) and the round trip seen by the client. */
  async function timed(path: string): Promise<{ status: number; ms: number; server: number }> {
    const started = performance.now();
    const res = await fetch(base + path);
    await res.arrayBuffer();
    const server = Number.parseFloat(res.headers.get('x-backend-processing-time') ?? 'NaN');
    return { status: res.status, ms: performance.now() - started, server };
  }

  it('answers /api/health, /ready and /status within 50 ms during the hang; readiness 503 once the check timed out; 200 after SIGCONT', async () => {
    for (let i = 0; i < 40 && (await timed('/api/health/ready')).status !== 200; i++) await sleep(100);
    expect((await timed('/api/health')).status).toBe(200);

    const times: number[] = [];
    const serverTimes: number[] = [];
    let notReadyAfter = -1;
    pg.pause();
    const pausedAt = performance.now();
    try {
      while (performance.now() - pausedAt < 2500) {
        for (const path of ['/api/health', '/api/health/ready', '/api/status']) {
          const { status, ms, server } = await timed(path);
          times.push(ms);
          serverTimes.push(server);
          if (path === '/api/health/ready' && status === 503 && notReadyAfter < 0) notReadyAfter = performance.now() - pausedAt;
        }
        await sleep(25);
      }
    } finally {
      pg.resume();
    }
    expect(times.length).toBeGreaterThan(30);
    // The server never waits: each answer is written within 50 ms of the request's arrival.
    // The round trip also holds the test's own scheduling on a loaded machine: its median is bound instead.
    expect(Math.max(...serverTimes)).toBeLessThan(50);
    expect(times.sort((a, b) => a - b)[Math.floor(times.length / 2)]).toBeLessThan(50);
    // Stale for maxAge (200 ms), then the refresh hangs until the check's 1000 ms timeout.
    expect(notReadyAfter).toBeGreaterThan(900);
    expect(notReadyAfter).toBeLessThan(2000);
    const report = (await (await fetch(`${base}/api/health`)).json()) as { checks: { database: { status: string; error?: string } } };
    expect(report.checks.database).toMatchObject({ status: 'fail', error: 'timed out after 1000 ms' });

    let status = 0;
    for (let i = 0; i < 60 && status !== 200; i++) {
      status = (await timed('/api/health/ready')).status;
      if (status !== 200) await sleep(250);
    }
    expect(status).toBe(200);
  });
});
