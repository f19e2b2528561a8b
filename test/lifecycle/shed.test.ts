import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { serve } from '../../src/index.js';
import { AdaptiveLimit } from '../../src/lifecycle/adaptive-limit.js';
import { watchLoopSaturation } from '../../src/lifecycle/loop-saturation.js';
import { resolveShed } from '../../src/lifecycle/shed-options.js';
import { express } from '../helpers/express.js';
import { runNode, type Child } from '../helpers/process.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeline-shed-'));
const fixture = resolve('test/fixtures/shed-app.mjs');
const POLL = { timeout: 20_000, interval: 50 };
let n = 0;
const running: Child[] = [];
afterEach(async () => {
  for (const app of running.splice(0)) {
    app.child.kill('SIGTERM');
    await app.exited();
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function start(env: Record<string, string>) {
  const logFile = join(dir, `backend-${++n}.log`);
  const app = runNode(fixture, { LOG_FILE: logFile, NODE_ENV: 'test', ...env });
  running.push(app);
  const { url } = await app.firstJson<{ url: string }>();
  return { ...app, url, log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '') };
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request on its own connection. */
function get(url: string): Promise<Answer> {
  return new Promise((done, fail) => {
    const req = httpRequest(url, { agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

/** Keeps the event loop of the app blocked (150 ms per request, back to back) until stopped. */
function blockLoop(url: string): { stop(): Promise<void> } {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) await get(`${url}/block?ms=150`).catch(() => undefined);
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

describe('load shedding: event-loop delay', () => {
  it('answers 503 with Retry-After and Connection: close while the loop lags, never the probes or /metrics; readiness says overloaded; logs start and end once', async () => {
    // The adaptive rules off: this is the event-loop delay's test (a blocked loop trips those first).
    const app = await start({ SHED_MAX_EVENT_LOOP_DELAY: '50', SHED_RETRY_AFTER: '3', SHED_MAX_CONCURRENCY: '0' });
    expect((await get(`${app.url}/api/items`)).status).toBe(200);
    const blocker = blockLoop(app.url);
    let shed: Answer | undefined;
    await expect
      .poll(async () => {
        const answer = await get(`${app.url}/api/items`);
        if (answer.status === 503) shed = answer;
        return answer.status;
      }, POLL)
      .toBe(503);
    // While shedding: the probes and /metrics still answer, readiness says why it is not ready.
    const [live, ping, metrics, ready] = await Promise.all([
      get(`${app.url}/api/health/live`),
      get(`${app.url}/api/ping`),
      get(`${app.url}/metrics`),
      get(`${app.url}/api/health/ready`),
    ]);
    await blocker.stop();
    expect(shed?.headers['retry-after']).toBe('3');
    expect(shed?.headers.connection).toBe('close');
    expect(shed?.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(shed?.body ?? '{}')).toEqual({ error: { status: 503, message: 'server overloaded, retry later' } });
    expect(live.status).toBe(200);
    expect(ping.status).toBe(200);
    expect(metrics.status).toBe(200);
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toMatchObject({ status: 'not_ready', reason: 'overloaded' });
    // Once the loop is free again: served, ready, one line at the start and one at the end.
    await expect.poll(async () => (await get(`${app.url}/api/health/ready`)).status, POLL).toBe(200);
    expect((await get(`${app.url}/api/items`)).status).toBe(200);
    await expect.poll(app.log, POLL).toMatch(/load shedding ended after [\d.]+ s: \d+ requests answered 503/);
    expect(app.log()).toMatch(/warn \[lifecycle\] load shedding started: event-loop delay p99 \d+ ms over 50 ms/);
    expect(app.log().match(/load shedding started/g)?.length).toBeGreaterThanOrEqual(1);
    expect(app.log().match(/load shedding started/g)?.length).toBe(app.log().match(/load shedding ended/g)?.length);
  }, 40_000);

  it('SHED=0 turns it off: the same lag sheds nothing', async () => {
    const app = await start({ SHED: '0', SHED_MAX_EVENT_LOOP_DELAY: '50' });
    const blocker = blockLoop(app.url);
    const statuses: number[] = [];
    const until = Date.now() + 2500;
    while (Date.now() < until) statuses.push((await get(`${app.url}/api/items`)).status);
    await blocker.stop();
    expect(statuses.length).toBeGreaterThan(3);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(app.log()).not.toMatch(/load shedding/);
  }, 30_000);
});

describe('load shedding: adaptive concurrency limit', () => {
  it('sheds once requests queue (latency grows with those in flight), with the event-loop limit off', async () => {
    const app = await start({ SHED_MAX_EVENT_LOOP_DELAY: '0' });
    // The usual latency: one request at a time.
    for (let i = 0; i < 40; i++) expect((await get(`${app.url}/queued`)).status).toBe(200);
    // Then 30 clients at once: each request waits for those before it.
    const statuses: number[] = [];
    const until = Date.now() + 6000;
    await Promise.all(
      Array.from({ length: 30 }, async () => {
        while (Date.now() < until && !statuses.includes(503)) statuses.push((await get(`${app.url}/queued`)).status);
      }),
    );
    expect(statuses).toContain(503);
    expect(statuses.filter((s) => s !== 200 && s !== 503)).toEqual([]);
    await expect.poll(app.log, POLL).toMatch(/load shedding started: \d+ requests in flight reached the adaptive limit \d+/);
    // Load gone: served again.
    await expect.poll(async () => (await get(`${app.url}/queued`)).status, POLL).toBe(200);
  }, 40_000);

  it('the limit shrinks with latency and grows back when it falls', () => {
    const limit = new AdaptiveLimit({ min: 1, max: 100, tolerance: 2 });
    let now = 0;
    const windowOf = (ms: number, inFlight: number) => {
      for (let i = 0; i < 10; i++) limit.sample(ms, inFlight, (now += 11));
    };
    for (let i = 0; i < 5; i++) windowOf(10, 3);
    expect(limit.limit).toBe(100);
    for (let i = 0; i < 30; i++) windowOf(200, 20);
    expect(limit.limit).toBeLessThan(20);
    const low = limit.limit;
    for (let i = 0; i < 60; i++) windowOf(10, limit.limit);
    expect(limit.limit).toBeGreaterThan(low);
  });
});

describe('load shedding: a saturated event loop', () => {
  it('a CPU-bound route offered about 3x what it serves: the excess answered 503 at once, no queue left behind, probes answered', async () => {
    const app = await start({});
    // The usual latency: one at a time.
    for (let i = 0; i < 20; i++) expect((await get(`${app.url}/block?ms=20`)).status).toBe(200);
    // Open loop, as users arrive: a request every 7 ms (about 140/s for a route that serves
    // at most 50/s), each on a new connection, whatever the answers; a probe alongside.
    const timed = (url: string) => {
      const at = performance.now();
      return get(url).then(
        (answer) => ({ status: answer.status, at, done: performance.now() }),
        () => ({ status: 0, at, done: performance.now() }),
      );
    };
    const sent: Array<ReturnType<typeof timed>> = [];
    const probes: Array<ReturnType<typeof timed>> = [];
    const end = performance.now() + 3000;
    while (performance.now() < end) {
      sent.push(timed(`${app.url}/block?ms=20`));
      if (sent.length % 10 === 0) probes.push(timed(`${app.url}/api/health/live`));
      await new Promise((r) => setTimeout(r, 7));
    }
    const stopped = performance.now();
    const results = await Promise.all(sent);
    const served = results.filter((r) => r.status === 200);
    const shed = results.filter((r) => r.status === 503);
    expect(results.filter((r) => r.status !== 200 && r.status !== 503)).toEqual([]);
    expect(shed.length).toBeGreaterThan(results.length / 4);
    expect(served.length).toBeGreaterThan(20);
    // Without shedding about 250 requests (5 s of work) would still be queued here.
    const drained = Math.max(...results.map((r) => r.done)) - stopped;
    expect(drained).toBeLessThan(1500);
    expect((await Promise.all(probes)).every((p) => p.status === 200)).toBe(true);
    expect(app.log()).toMatch(/load shedding started: (the event loop is saturated|\d+ requests in flight)/);
  }, 40_000);

  it('the loop counts as saturated while it has no idle time, and for a second after', async () => {
    const loop = watchLoopSaturation(0.9, 50, 1000);
    try {
      await new Promise((r) => setTimeout(r, 120));
      expect(loop.saturated).toBe(false);
      const until = performance.now() + 300;
      while (performance.now() < until);
      // The window's timer runs once the loop is free: it measures the blocked stretch.
      await new Promise((r) => setTimeout(r, 60));
      expect(loop.saturated).toBe(true);
      await expect.poll(() => loop.saturated, { timeout: 3000, interval: 50 }).toBe(false);
    } finally {
      loop.stop();
    }
  });
});

describe('load shedding: options', () => {
  it.each([
    [{ maxConcurrency: -1 }, /serve: expected `shed.maxConcurrency` to be an integer 0-1000000/],
    [{ maxEventLoopDelay: 1.5 }, /`shed.maxEventLoopDelay`/],
    [{ latencyTolerance: 0.5 }, /`shed.latencyTolerance` to be a number 1-100, got 0.5/],
    [{ minConcurrency: 50, maxConcurrency: 10 }, /`shed.minConcurrency` to be at most maxConcurrency \(10\)/],
    [{ exemptPaths: ['metrics'] }, /`shed.exemptPaths`/],
    [{ maxConcurency: 5 }, /serve shed: unknown option `maxConcurency`/],
    ['yes', /expected `shed` to be a boolean or an object/],
  ])('serve rejects shed %j', async (shed, message) => {
    await expect(serve(express(), { port: 0, exit: false, logger: false, signals: false, shed: shed as never })).rejects.toThrow(message);
  });

  it.each([
    [{ SHED: 'maybe' }, /Invalid SHED: expected '1' or '0'/],
    [{ SHED_MAX_CONCURRENCY: 'ten' }, /Invalid SHED_MAX_CONCURRENCY: expected a whole number, got 'ten'/],
    [{ SHED_LATENCY_TOLERANCE: '0.5' }, /`shed.latencyTolerance` to be a number 1-100, got 0.5/],
  ])('variables %j are checked', (env, message) => {
    expect(() => resolveShed('serve', undefined, env)).toThrow(message);
  });

  it('an option wins over SHED=0; SHED=0 turns it off otherwise', () => {
    expect(resolveShed('serve', undefined, { SHED: '0' })).toBeUndefined();
    expect(resolveShed('serve', { retryAfter: 5 }, { SHED: '0', SHED_RETRY_AFTER: '9' })?.retryAfter).toBe(5);
    expect(resolveShed('serve', undefined, { SHED_MAX_CONCURRENCY: '42' })).toMatchObject({ maxConcurrency: 42, maxEventLoopDelay: 200 });
  });
});
