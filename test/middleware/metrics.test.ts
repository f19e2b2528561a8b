import { connect } from 'node:net';
import { resolve } from 'node:path';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { lifeline, metrics, serve, type MetricsOptions } from '../../src/index.js';
import { express } from '../helpers/express.js';
import { runNode } from '../helpers/process.js';
import { listen } from '../helpers/server.js';

const closers: Array<() => Promise<void>> = [];
const ENV = ['NODE_ENV', 'HEALTH_TOKEN', 'METRICS_TOKEN', 'METRICS', 'METRICS_PATH'];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
  for (const name of ENV) delete process.env[name];
});

type Res = { json(b: unknown): void; status(code: number): Res };
type Req = { params: Record<string, string> };

/** An app with a route, a mounted router with a parameter, and lifeline() in front. */
function notesApp(options: Parameters<typeof lifeline>[0] = { metrics: true }) {
  const app = express();
  const life = lifeline({
    logger: false,
    keepAlive: { interval: 0 },
    ...options,
    health: { interval: 0, checks: { db: async () => undefined } },
  });
  closers.push(life.close);
  app.use(life);
  app.get('/items', (_req: unknown, res: Res) => res.json([]));
  const notes = (express as unknown as { Router(): ReturnType<typeof express> }).Router();
  notes.get('/:id', (req: Req, res: Res) => res.json({ id: req.params.id }));
  notes.post('/:id/tags/:tag', (_req: unknown, res: Res) => res.status(201).json({}));
  app.use('/api/notes', notes);
  return app;
}

/** `series{labels} value` lines of one metric, as a map. */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

async function scrape(app: Parameters<typeof request>[0], headers: Record<string, string> = {}): Promise<request.Response> {
  const req = request(app).get('/metrics');
  for (const [k, v] of Object.entries(headers)) void req.set(k, v);
  return req;
}

describe('metrics: /metrics', () => {
  it('answers the Prometheus text format with the OpenTelemetry HTTP histogram, active requests, process metrics and checks', async () => {
    const app = notesApp();
    await request(app).get('/items').expect(200);
    const res = await scrape(app);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-store');
    const text = res.text;
    expect(text).toContain('# TYPE http_server_request_duration_seconds histogram');
    const buckets = [...samples(text, 'http_server_request_duration_seconds_bucket').keys()]
      .filter((k) => k.includes('http_route="/items"'))
      .map((k) => /le="([^"]+)"/.exec(k)?.[1]);
    expect(buckets).toEqual([
      '0.005',
      '0.01',
      '0.025',
      '0.05',
      '0.075',
      '0.1',
      '0.25',
      '0.5',
      '0.75',
      '1',
      '2.5',
      '5',
      '7.5',
      '10',
      '+Inf',
    ]);
    expect(
      samples(text, 'http_server_request_duration_seconds_count').get(
        'http_server_request_duration_seconds_count{http_request_method="GET",http_route="/items",http_response_status_code="200"}',
      ),
    ).toBe(1);
    expect(text).toMatch(/^# TYPE http_server_active_requests gauge$/m);
    // Timed on keepAlive's record inside lifeline(): counted in and out once.
    expect(samples(text, 'http_server_active_requests').get('http_server_active_requests')).toBe(0);
    // prom-client's default names, so existing dashboards work.
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_gc_duration_seconds',
      'process_open_fds',
    ])
      expect(text).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    expect(text).toMatch(/^lifeline_check_up\{check="db"\} 1$/m);
    expect(text).toMatch(/^lifeline_check_duration_seconds\{check="db"\} [\d.e-]+$/m);
    expect(text).toMatch(/^lifeline_scrape_errors_total 0$/m);
  });

  it('answers OpenMetrics when the scraper asks for it, as Prometheus does', async () => {
    const app = notesApp();
    await request(app).get('/items').expect(200);
    const res = await scrape(app, {
      Accept:
        'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    const text = res.text;
    expect(text.endsWith('# EOF\n')).toBe(true);
    // A counter family is named without _total, its sample with it (and never _total_total).
    expect(text).toMatch(/^# TYPE process_cpu_seconds counter$/m);
    expect(text).toMatch(/^process_cpu_seconds_total [\d.e-]+$/m);
    expect(text).toMatch(/^lifeline_scrape_errors_total 0$/m);
    expect(text).not.toContain('_total_total');
    // A plain client still gets the text format.
    expect((await scrape(app, { Accept: '*/*' })).headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('labels requests with the route template, mount paths included, whatever case or values the client sent', async () => {
    const app = notesApp();
    await request(app).get('/api/notes/12').expect(200);
    await request(app).get('/API/Notes/13').expect(200);
    await request(app).post('/api/notes/7/tags/urgent').expect(201);
    const counts = samples((await scrape(app)).text, 'http_server_request_duration_seconds_count');
    expect(
      counts.get(
        'http_server_request_duration_seconds_count{http_request_method="GET",http_route="/api/notes/:id",http_response_status_code="200"}',
      ),
    ).toBe(2);
    expect(
      counts.get(
        'http_server_request_duration_seconds_count{http_request_method="POST",http_route="/api/notes/:id/tags/:tag",http_response_status_code="201"}',
      ),
    ).toBe(1);
    expect([...counts.keys()].join('\n')).not.toMatch(/12|13|urgent|Notes/);
  });

  it('labels a mount path with parameters by its template, not the values', async () => {
    const app = notesApp();
    const router = (express as unknown as { Router(o?: object): ReturnType<typeof express> }).Router({ mergeParams: true });
    router.get('/files/:file', (_req: unknown, res: Res) => res.json({}));
    app.use('/users/:user', router);
    for (const user of ['ann', 'bob', 'cyd']) await request(app).get(`/users/${user}/files/a.txt`).expect(200);
    const counts = samples((await scrape(app)).text, 'http_server_request_duration_seconds_count');
    expect(
      counts.get(
        'http_server_request_duration_seconds_count{http_request_method="GET",http_route="/users/:user/files/:file",http_response_status_code="200"}',
      ),
    ).toBe(3);
  });

  it('labels 404s and 1000 scanner paths `unmatched`: the series count does not grow', async () => {
    const app = notesApp();
    await request(app).get('/items').expect(200);
    await request(app).get('/nope').expect(404);
    const before = samples((await scrape(app)).text, 'http_server_request_duration_seconds_count');
    expect(
      before.get(
        'http_server_request_duration_seconds_count{http_request_method="GET",http_route="unmatched",http_response_status_code="404"}',
      ),
    ).toBe(1);
    const agent = request.agent(app);
    for (let i = 0; i < 1000; i++) {
      const path = `/${Math.random().toString(36).slice(2)}/${i}.php`;
      await agent.get(path).expect(404);
    }
    // Methods OpenTelemetry does not list are `_OTHER`, not a series each.
    await agent.search('/wp-admin').expect(404);
    await agent.search('/items').expect(404);
    const after = samples((await scrape(app)).text, 'http_server_request_duration_seconds_count');
    expect(after.size).toBe(before.size + 1);
    expect(
      after.get(
        'http_server_request_duration_seconds_count{http_request_method="_OTHER",http_route="unmatched",http_response_status_code="404"}',
      ),
    ).toBe(2);
    expect(
      after.get(
        'http_server_request_duration_seconds_count{http_request_method="GET",http_route="unmatched",http_response_status_code="404"}',
      ),
    ).toBe(1001);
  });

  it('is off by default: /metrics is the app’s, and prom-client is never loaded', async () => {
    const app = notesApp({});
    app.get('/metrics', (_req: unknown, res: Res) => res.json({ mine: true }));
    expect((await scrape(app)).body).toEqual({ mine: true });

    const probe = runNode(resolve('test/fixtures/metrics-loaded.mjs'));
    const result = await probe.firstJson<{ off: boolean; on: boolean }>();
    expect(result).toEqual({ off: false, on: true });
    expect(await probe.exited()).toEqual({ code: 0, signal: null });
  });

  it('turns on with METRICS=1, at METRICS_PATH', async () => {
    process.env.METRICS = '1';
    process.env.METRICS_PATH = '/internal/metrics';
    const app = notesApp({});
    const res = await request(app).get('/internal/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toContain('http_server_active_requests');
    process.env.METRICS = 'maybe';
    expect(() => notesApp({})).toThrow(/METRICS/);
  });

  it('in production answers 401 without a token, 200 with HEALTH_TOKEN or its own METRICS_TOKEN', async () => {
    process.env.NODE_ENV = 'production';
    process.env.HEALTH_TOKEN = 'health-secret';
    let app = notesApp();
    const denied = await scrape(app);
    expect(denied.status).toBe(401);
    expect(denied.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(denied.body).toEqual({ error: { status: 401, message: 'Unauthorized' } });
    expect((await scrape(app, { Authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await scrape(app, { Authorization: 'Bearer health-secret' })).status).toBe(200);

    process.env.METRICS_TOKEN = 'metrics-secret';
    app = notesApp();
    expect((await scrape(app, { Authorization: 'Bearer metrics-secret' })).status).toBe(200);
    expect((await scrape(app, { Authorization: 'Bearer health-secret' })).status).toBe(401);
    // Outside production it is open, like the health details; `public` says otherwise.
    delete process.env.NODE_ENV;
    expect((await scrape(notesApp())).status).toBe(200);
    expect((await scrape(notesApp({ metrics: { public: false } }))).status).toBe(401);
  });

  it('answers 405 to other methods, and works on its own as metrics()', async () => {
    const app = express();
    const m = metrics({ logger: false, path: '/m' });
    closers.push(m.close);
    app.use(m);
    app.get('/x', (_req: unknown, res: Res) => res.json({}));
    await request(app).get('/x').expect(200);
    const res = await request(app).post('/m');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD');
    const text = (await request(app).get('/m?x=1')).text;
    expect(text).toContain('http_route="/x"');
    expect(samples(text, 'http_server_active_requests').get('http_server_active_requests')).toBe(0);
    expect(text).not.toContain('lifeline_check_up{');
  });

  // Both take the status from the app's writeHead() hook: lifeline() keeps it on keepAlive's record, metrics() alone on its own.
  for (const stack of ['lifeline()', 'metrics() alone'] as const) {
    it(`labels the status that went out, with ${stack}: writeHead() with headers, an error's 500, none for a client gone first`, async () => {
      const app = express();
      const part =
        stack === 'lifeline()' ? lifeline({ logger: false, keepAlive: { interval: 0 }, metrics: true }) : metrics({ logger: false });
      closers.push(part.close);
      app.use(part);
      let reached = 0;
      type RawRes = { writeHead(code: number, headers: Record<string, string>): void; end(body: string): void };
      app.get('/queued', (_req: unknown, res: RawRes) => {
        res.writeHead(202, { 'Content-Type': 'text/plain' });
        res.end('queued');
      });
      app.get('/boom', () => {
        throw new Error('boom');
      });
      app.get('/hang', () => {
        reached += 1;
      });
      const running = await listen(app);
      closers.push(running.close);
      expect((await fetch(`${running.url}/queued`)).status).toBe(202);
      expect((await fetch(`${running.url}/boom`)).status).toBe(500);
      const socket = connect(Number(new URL(running.url).port), '127.0.0.1');
      socket.write('GET /hang HTTP/1.1\r\nHost: x\r\n\r\n');
      await expect.poll(() => reached, { timeout: 5000, interval: 10 }).toBe(1);
      socket.destroy();
      const count = (route: string, status: string) =>
        `http_server_request_duration_seconds_count{http_request_method="GET",http_route="${route}",http_response_status_code="${status}"}`;
      await expect
        .poll(async () => samples((await scrape(app)).text, 'http_server_request_duration_seconds_count').get(count('/hang', '')), {
          timeout: 5000,
          interval: 20,
        })
        .toBe(1);
      const counts = samples((await scrape(app)).text, 'http_server_request_duration_seconds_count');
      expect(counts.get(count('/queued', '202'))).toBe(1);
      expect(counts.get(count('/boom', '500'))).toBe(1);
      expect([...counts.keys()].filter((k) => k.includes('"/hang"'))).toEqual([count('/hang', '')]);
    });
  }

  it('under serve(), whose load shedder wraps writeHead before Express: keepAlive headers and the status label are still there', async () => {
    const app = express();
    const life = lifeline({ logger: false, keepAlive: { interval: 0 }, health: { interval: 0 }, metrics: true });
    closers.push(life.close);
    app.use(life);
    app.get('/items', (_req: unknown, res: Res) => res.status(201).json([]));
    const served = await serve(app, { port: 0, host: '127.0.0.1', signals: false, exit: false, handleCrashes: false, logger: false });
    closers.push(async () => {
      await served.shutdown('test over');
    });
    expect(served.shedding()).not.toBeUndefined();
    const base = `http://127.0.0.1:${served.port}`;
    const res = await fetch(`${base}/items`);
    expect(res.status).toBe(201);
    expect(res.headers.get('x-backend-request-count')).toBe('1');
    expect(res.headers.get('server-timing')).toMatch(/^app;dur=/);
    const key = 'http_server_request_duration_seconds_count{http_request_method="GET",http_route="/items",http_response_status_code="201"}';
    await expect
      .poll(async () => samples(await (await fetch(`${base}/metrics`)).text(), 'http_server_request_duration_seconds_count').get(key), {
        timeout: 5000,
        interval: 20,
      })
      .toBe(1);
  });

  it('rejects bad options with a TypeError naming the option', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ path: 'metrics' }, /metrics: expected `path`/],
      [{ path: '/metrics/' }, /`path`/],
      [{ public: 'yes' }, /`public` to be a boolean/],
      [{ token: '' }, /`token` to be a non-empty string/],
      [{ scrapeTimeout: 0 }, /`scrapeTimeout`/],
      [{ health: {} }, /`health` to be a middleware made by health\(\)/],
      [{ pth: '/m' }, /unknown option `pth`/],
    ];
    for (const [options, message] of bad) expect(() => metrics({ logger: false, ...(options as MetricsOptions) })).toThrow(message);
    expect(() => lifeline({ logger: false, metrics: 'on' as unknown as boolean })).toThrow(/lifeline: expected `metrics`/);
  });
});
