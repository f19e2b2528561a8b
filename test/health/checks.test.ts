import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { checks, health, type HealthCheckFn, type HealthOptions } from '../../src/index.js';
import { express } from '../helpers/express.js';
import { memoryLogger } from '../helpers/logger.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

const POLL = { timeout: 5000, interval: 10 };

function appWith(options: HealthOptions) {
  const app = express();
  const h = health({ logger: false, interval: 0, ...options });
  closers.push(h.close);
  app.use(h);
  return app;
}

describe('check outcomes', () => {
  it('pass, non-critical fail and critical fail give healthy 200, degraded 200, unhealthy 503', async () => {
    const ok: HealthCheckFn = async () => undefined;
    const bad: HealthCheckFn = async () => {
      throw new Error('queue unreachable');
    };
    expect((await request(appWith({ checks: { ok } })).get('/api/health')).status).toBe(200);
    const degraded = await request(appWith({ checks: { ok, bad: { check: bad, critical: false } } })).get('/api/health');
    expect([degraded.status, degraded.body.status]).toEqual([200, 'degraded']);
    expect(degraded.body.checks.bad).toMatchObject({ status: 'fail', critical: false, error: 'queue unreachable' });
    const unhealthy = await request(appWith({ checks: { ok, bad } })).get('/api/health');
    expect([unhealthy.status, unhealthy.body.status]).toEqual([503, 'unhealthy']);
  });

  it('a synchronous throw, a rejection with a non-Error and a warn result are all handled', async () => {
    const res = await request(
      appWith({
        checks: {
          sync: {
            check: () => {
              throw new Error('sync boom\n    at secret/path.js:1');
            },
            critical: false,
          },
          odd: { check: () => Promise.reject('plain string'), critical: false },
          warn: async () => ({ status: 'warn', message: 'disk filling', details: { free_gb: 3 } }),
        },
      }),
    ).get('/api/health');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('degraded');
    expect(res.body.checks.sync.error).toBe('sync boom');
    expect(res.body.checks.odd.error).toBe('plain string');
    expect(res.body.checks.warn).toMatchObject({ status: 'warn', message: 'disk filling', details: { free_gb: 3 } });
  });

  it('a hanging check fails at its timeout, the first answer waits only initialWait, and its signal is aborted', async () => {
    let aborted: unknown;
    const hang: HealthCheckFn = (signal) =>
      new Promise(() => {
        signal.addEventListener('abort', () => {
          aborted = signal.reason;
        });
      });
    const app = appWith({ timeout: 300, initialWait: 100, checks: { hang } });
    const started = performance.now();
    const first = await request(app).get('/api/health');
    const elapsed = performance.now() - started;
    expect(first.status).toBe(503);
    expect(first.body).toMatchObject({ status: 'pending', message: 'checks have not completed yet' });
    expect(first.body.checks.hang).toMatchObject({ status: 'fail', error: 'not completed yet' });
    expect(elapsed).toBeGreaterThanOrEqual(90);
    expect(elapsed).toBeLessThan(250);
    const ready = await request(app).get('/api/health/ready');
    expect([ready.status, ready.body.reason]).toEqual([503, 'checks not completed yet']);
    // The first run ends at the check's 300 ms timeout: from then on the report is final.
    let res = first;
    await expect
      .poll(async () => {
        res = await request(app).get('/api/health');
        return res.body.status;
      }, POLL)
      .toBe('unhealthy');
    expect(res.status).toBe(503);
    expect(res.body.checks.hang.error).toBe('timed out after 300 ms');
    expect(aborted).toBeInstanceOf(Error);
  });

  it('a per-check timeout overrides the default', async () => {
    // A check that takes 150 ms, three times its own 50 ms timeout: the delay is the scenario.
    const slow: HealthCheckFn = () => new Promise((resolve) => setTimeout(resolve, 150));
    const res = await request(appWith({ timeout: 1000, checks: { slow: { check: slow, timeout: 50 } } })).get('/api/health');
    expect(res.body.checks.slow.error).toBe('timed out after 50 ms');
  });

  it('a failing check recovers without a restart', async () => {
    let up = false;
    const logger = memoryLogger();
    const app = appWith({
      maxAge: 0,
      logger,
      checks: {
        dep: async () => {
          if (!up) throw new Error('connection refused');
        },
      },
    });
    expect((await request(app).get('/api/health')).status).toBe(503);
    up = true;
    // The stale answer comes at once and starts the refresh; the next one has its result.
    expect((await request(app).get('/api/health')).status).toBe(503);
    // The refresh that request started ends shortly: poll for its result.
    const get = () => request(app).get('/api/health');
    let res: Awaited<ReturnType<typeof get>> | undefined;
    await expect
      .poll(async () => {
        res = await get();
        return res.status;
      }, POLL)
      .toBe(200);
    expect(res?.body.checks.dep.status).toBe('pass');
    expect(logger.text()).toMatch(/dep: connection refused/);
    expect(logger.text()).toMatch(/status healthy -> unhealthy \(dep: connection refused\)/);
    expect(logger.text()).toMatch(/dep: recovered/);
    expect(logger.text()).toMatch(/status unhealthy -> healthy/);
  });
});

describe('snapshot cache', () => {
  it('serves a snapshot younger than maxAge without running the checks again', async () => {
    let runs = 0;
    const app = appWith({ maxAge: 60_000, checks: { counted: async () => void runs++ } });
    await request(app).get('/api/health');
    const before = runs;
    for (let i = 0; i < 5; i++) await request(app).get('/api/health');
    expect(runs).toBe(before);
  });

  it('concurrent requests finding a stale snapshot share one refresh', async () => {
    let runs = 0;
    const app = appWith({
      maxAge: 0,
      checks: {
        // 100 ms per run, so the 20 requests below all find the same refresh running.
        slow: () =>
          new Promise<void>((resolve) =>
            setTimeout(() => {
              runs++;
              resolve();
            }, 100),
          ),
      },
    });
    await expect.poll(() => runs, POLL).toBe(1); // the startup refresh has finished
    const before = runs;
    const server = app.listen(0);
    try {
      const all = await Promise.all(Array.from({ length: 20 }, () => request(server).get('/api/health')));
      expect(all.every((r) => r.status === 200)).toBe(true);
      expect(runs - before).toBeLessThanOrEqual(2);
    } finally {
      server.close();
    }
  });

  it('the background loop refreshes the snapshot at its interval', async () => {
    let runs = 0;
    const started = Date.now();
    const h = health({ logger: false, interval: 50, checks: { counted: async () => void runs++ } });
    closers.push(h.close);
    await expect.poll(() => runs, POLL).toBeGreaterThanOrEqual(3);
    // Three runs come within a few 50 ms intervals, not at the 30 s default.
    expect(Date.now() - started).toBeLessThan(1500);
  });
});

describe('static files check', () => {
  it('passes with a readable index, fails (non-critical) when it is missing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeline-static-'));
    try {
      mkdirSync(join(dir, 'public'));
      writeFileSync(join(dir, 'public', 'index.html'), '<!doctype html>');
      const ok = await request(appWith({ checks: { static_files: checks.staticFiles(join(dir, 'public')) } })).get('/api/health');
      expect(ok.body.checks.static_files).toMatchObject({ status: 'pass', critical: false });
      expect(ok.body.application_info.static_files_accessible).toBe(true);
      rmSync(join(dir, 'public', 'index.html'));
      const missing = await request(appWith({ checks: { static_files: checks.staticFiles(join(dir, 'public')) } })).get('/api/health');
      expect([missing.status, missing.body.status]).toEqual([200, 'degraded']);
      expect(missing.body.checks.static_files.error).toMatch(/index.html is missing/);
      expect(missing.body.application_info.static_files_accessible).toBe(false);
      const noDir = await request(appWith({ checks: { s: checks.staticFiles(join(dir, 'nope')) } })).get('/api/health');
      expect(noDir.body.checks.s.error).toMatch(/static directory .* is missing/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('resource thresholds', () => {
  it('crossing one makes the app degraded with a warning', async () => {
    const res = await request(appWith({ thresholds: { memory: 0 } })).get('/api/health');
    expect([res.status, res.body.status]).toEqual([200, 'degraded']);
    expect(res.body.system_info.warnings[0]).toMatch(/^memory .*% used \(threshold 0%\)/);
  });
});
