import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { health, keepAlive, type HealthCheckFn, type HealthOptions } from '../../src/index.js';
import { express } from '../helpers/express.js';
import { sleep } from '../helpers/process.js';

// No request to a health endpoint waits for a check (issue 12): answers come from the last
// snapshot while one refresh runs in the background.
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

function appWith(options: HealthOptions) {
  const app = express();
  const ka = keepAlive({ logger: false, interval: 0 });
  const h = health({ logger: false, interval: 0, ...options });
  closers.push(ka.close, h.close);
  app.use(ka);
  app.use(h);
  return app;
}

/** A check that passes until `hang()`, then never settles until `release()`. */
function hangable() {
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  let runs = 0;
  const check: HealthCheckFn = () => {
    runs++;
    return gate;
  };
  return {
    check,
    runs: () => runs,
    hang() {
      gate = new Promise((resolve) => (open = resolve));
    },
    release() {
      open?.();
      gate = undefined;
    },
  };
}

async function timed(app: ReturnType<typeof appWith>, path: string) {
  const started = performance.now();
  const res = await request(app).get(path);
  return { res, ms: performance.now() - started };
}

describe('stale-while-revalidate', () => {
  it('answers every health endpoint at once from the last snapshot while a hung check refreshes', async () => {
    const dep = hangable();
    const app = appWith({ maxAge: 50, timeout: 800, checks: { database: dep.check } });
    expect((await request(app).get('/api/health')).status).toBe(200);
    dep.hang();
    // The scenario, not a wait for an event: the snapshot must grow older than maxAge (50 ms)
    // so the next request starts a refresh, which hangs.
    await sleep(80);
    const slowest: number[] = [];
    const during = [];
    for (const path of ['/api/health', '/api/health/ready', '/api/status', '/api/health']) {
      const { res, ms } = await timed(app, path);
      slowest.push(ms);
      during.push(res);
    }
    expect(during.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    // The report says how old the answer is.
    expect(during[3]!.body.snapshot_age_ms).toBeGreaterThanOrEqual(80);
    expect(typeof during[3]!.body.checked_at).toBe('number');
    expect(during[3]!.body.checks.database.checked_at).toBeLessThanOrEqual(during[3]!.body.checked_at);

    // Once the hung check has timed out (800 ms) it counts as failed, still without any answer waiting.
    await expect.poll(async () => (await request(app).get('/api/health/ready')).status, { timeout: 5000, interval: 20 }).toBe(503);
    for (const path of ['/api/health', '/api/health/ready']) {
      const { res, ms } = await timed(app, path);
      slowest.push(ms);
      expect(res.status, path).toBe(503);
    }
    const report = (await request(app).get('/api/health')).body;
    expect(report.checks.database).toMatchObject({ status: 'fail', error: 'timed out after 800 ms' });
    expect(Math.max(...slowest)).toBeLessThan(50);

    dep.release();
    let status = 0;
    for (let i = 0; i < 40 && status !== 200; i++) {
      status = (await request(app).get('/api/health/ready')).status;
      if (status !== 200) await sleep(50);
    }
    expect(status).toBe(200);
  });

  it('runs the checks at most once per maxAge however many requests come, and nothing a client sends forces a refresh', async () => {
    const dep = hangable();
    const app = appWith({ maxAge: 200, checks: { dep: dep.check } });
    const server = app.listen(0);
    try {
      await request(server).get('/api/health');
      const before = dep.runs();
      const started = Date.now();
      let sent = 0;
      while (Date.now() - started < 1000) {
        await Promise.all(
          ['/api/health?refresh=1', '/api/health/ready?nocache=1', `/api/health?_=${sent}`, '/api/status'].map((path) =>
            request(server).get(path).set('Cache-Control', 'no-cache').set('Pragma', 'no-cache'),
          ),
        );
        sent += 4;
      }
      const elapsed = Date.now() - started;
      expect(sent).toBeGreaterThan(40);
      // One refresh per maxAge window, plus the window under way.
      expect(dep.runs() - before).toBeLessThanOrEqual(Math.ceil(elapsed / 200) + 1);
    } finally {
      server.close();
    }
  });

  it('before the first snapshot, waits at most initialWait (default 250 ms) and answers pending', async () => {
    const slow: HealthCheckFn = () => new Promise((resolve) => setTimeout(resolve, 1500));
    const app = appWith({ checks: { database: slow } });
    const { res, ms } = await timed(app, '/api/health/ready');
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ status: 'not_ready', reason: 'checks not completed yet' });
    expect(ms).toBeGreaterThanOrEqual(240);
    expect(ms).toBeLessThan(600);
    // Once a request has waited in vain, the next ones are answered pending at once.
    const report = await timed(app, '/api/health');
    expect(report.res.status).toBe(503);
    expect(report.res.body.status).toBe('pending');
    expect(report.ms).toBeLessThan(100);
  });
});
