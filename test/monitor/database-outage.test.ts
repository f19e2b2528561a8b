import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryLogger } from '../helpers/logger.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { startApi, ADMIN, READER, type ApiHarness } from './api-helpers.js';
import { sqliteDatabase, waitFor, type TestDatabase } from './helpers.js';
import { startTarget, type Target } from './target.js';

// Issue 16 point 2: the database goes away under a running monitor app (PostgreSQL stopped;
// a SQLite file that is full through `max_page_count`) and comes back, with no restart.

/** Results kept in memory during the outage: small, so the outage overflows it. */
const BUFFER = 3;

interface Outage {
  /** Whether reads fail too (a stopped server) or only writes (a full file). */
  readsFail: boolean;
  begin(app: ApiHarness): Promise<void>;
  end(app: ApiHarness): Promise<void>;
}

interface Answer {
  status: number;
  retryAfter: string | null;
  type: string | null;
  body: unknown;
  ms: number;
}

async function call(url: string, method = 'GET', token?: string, body?: unknown): Promise<Answer> {
  const started = performance.now();
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: kept as text for the assertion's message
  }
  return {
    status: res.status,
    retryAfter: res.headers.get('retry-after'),
    type: res.headers.get('content-type'),
    body: parsed,
    ms: performance.now() - started,
  };
}

/** Opens the SSE stream and gives back its status and type, then closes it. */
async function stream(url: string): Promise<{ status: number; type: string | null; retryAfter: string | null; body: unknown }> {
  const controller = new AbortController();
  const res = await fetch(url, { signal: controller.signal });
  const out = {
    status: res.status,
    type: res.headers.get('content-type'),
    retryAfter: res.headers.get('retry-after'),
    body: undefined as unknown,
  };
  if (res.status !== 200) out.body = await res.json();
  controller.abort();
  return out;
}

/** Inserts `row(i)` until SQLite says the file is full; gives back how many fitted. */
async function fill(app: ApiHarness, table: string, row: (i: number) => Record<string, unknown>): Promise<number> {
  for (let i = 0; i < 100_000; i++) {
    try {
      await app.monitor.store.db(table).insert(row(i));
    } catch (error) {
      expect((error as { code?: string }).code).toBe('SQLITE_FULL');
      return i;
    }
  }
  throw new Error(`${table} never filled up`);
}

const FILLER_TIME = 1; // far in the past: never in the outage window, and removed afterwards

const full: Outage = {
  readsFail: false,
  async begin(app) {
    const db = app.monitor.store.db;
    // The monitor's one SQLite connection: the limit applies to every write it makes.
    const pages = ((await db.raw('pragma page_count')) as Array<{ page_count: number }>)[0]!.page_count;
    await db.raw(`pragma max_page_count = ${pages}`);
    const now = Date.now();
    // Fill the last pages of the tables the writer and the API write, with rows no bigger than theirs.
    await fill(app, 'monitor_servers', (i) => ({
      name: `f${i}`,
      protocol: 'tcp',
      host: 'h',
      port: 1,
      enabled: false,
      created_at: now,
      updated_at: now,
    }));
    const id = ((await db('monitor_servers').min('id as id')) as Array<{ id: number }>)[0]!.id;
    await fill(app, 'monitor_ping_results', () => ({ server_id: id, status: 'error', check_timestamp: FILLER_TIME }));
  },
  async end(app) {
    const db = app.monitor.store.db;
    await db.raw('pragma max_page_count = 1073741823');
    await db('monitor_ping_results').where('check_timestamp', FILLER_TIME).delete();
    await db('monitor_servers').where('name', 'like', 'f%').andWhere('host', 'h').delete();
  },
};

let pg: PostgresServer | undefined;
const stopped: Outage = {
  readsFail: true,
  begin: () => pg!.stop(),
  end: () => pg!.start(),
};

const CASES: Array<[string, () => Promise<TestDatabase>, Outage]> = [
  ['SQLite (file full: max_page_count)', async () => sqliteDatabase(), full],
  [
    'PostgreSQL (server stopped)',
    async () => {
      pg = await startPostgres();
      return { kind: 'postgres', url: pg.url, drop: () => pg!.destroy() };
    },
    stopped,
  ],
];

describe.each(CASES)('a database outage on %s', (_name, make, outage) => {
  let db: TestDatabase;
  let target: Target;
  let app: ApiHarness;
  const log = memoryLogger();

  beforeAll(async () => {
    db = await make();
    target = await startTarget();
    app = await startApi(db, { schedule: true, logger: log, flushInterval: 50, resultBuffer: BUFFER, notifications: false });
  }, 30_000);
  afterAll(async () => {
    pg?.resume();
    await app?.shutdown();
    await target?.close();
    await db?.drop();
  });

  it('answers 503 + Retry-After, keeps checking, stores the buffered results and answers 200 again without a restart', async () => {
    const token = await app.login();
    // Never used before the outage: its user is not in the authenticator's cache, so the stream must read it.
    const unseen = await app.login(READER);
    const created = await call(`${app.url}/api/servers/`, 'POST', token, {
      name: 'watched',
      protocol: 'http',
      host: '127.0.0.1',
      port: target.port,
      path: '/ok',
      check_interval: 1,
      timeout: 1,
    });
    expect(created.status).toBe(201);
    const id = (created.body as { id: number }).id;
    const rows = async (from: number, to: number) =>
      Number(
        (
          (await app.monitor.store
            .db('monitor_ping_results')
            .where('server_id', id)
            .whereBetween('check_timestamp', [from, to])
            .count('* as n')) as Array<{ n: number | string }>
        )[0]!.n,
      );
    await waitFor(async () => (await rows(0, Date.now() + 1000)) >= 1, 10_000, 'a first stored result');
    await waitFor(async () => (await call(`${app.url}/api/health/ready`)).status === 200, 5000, 'ready');

    const began = Date.now();
    await outage.begin(app);
    // A full file fails at the next write (a check a second): readiness counts from there.
    let failedAt = began;
    if (!outage.readsFail) {
      await waitFor(() => app.monitor.stats().results.error !== null, 5000, 'a failed write');
      failedAt = Date.now();
    }
    await waitFor(async () => (await call(`${app.url}/api/health/ready`)).status === 503, 4000, 'not ready');
    expect(Date.now() - failedAt).toBeLessThan(2000);

    const routes: Array<[string, string, unknown?]> = outage.readsFail
      ? [
          ['GET', '/api/servers/'],
          ['POST', '/api/servers/', { name: 'new', protocol: 'tcp', host: '127.0.0.1', port: 1 }],
          ['GET', `/api/servers/${id}/`],
          ['PATCH', `/api/servers/${id}/`, { name: 'renamed' }],
          ['DELETE', `/api/servers/${id}/`],
          ['GET', '/api/ping-results/'],
          ['GET', '/api/server-status/'],
          ['GET', '/api/notification-configs/'],
          ['POST', '/api/checks/run/', {}],
        ]
      : // Reads still work on a full file; what writes is refused.
        [['POST', '/api/servers/', { name: 'a new server during the outage', protocol: 'tcp', host: '127.0.0.1', port: 1 }]];
    for (const [method, path, body] of routes) {
      const answer = await call(`${app.url}${path}`, method, token, body);
      expect({ route: `${method} ${path}`, status: answer.status, retryAfter: answer.retryAfter }).toEqual({
        route: `${method} ${path}`,
        status: 503,
        retryAfter: '5',
      });
      expect(answer.type).toMatch(/^application\/json/);
      expect(answer.body).toEqual({ detail: expect.stringMatching(/database is unavailable/) });
      expect(answer.ms).toBeLessThan(2500);
    }
    if (outage.readsFail) {
      const login = await call(`${app.url}/api/auth/token/`, 'POST', undefined, ADMIN);
      expect([login.status, login.retryAfter, login.body]).toEqual([503, '5', { detail: expect.any(String) }]);
      // Before the stream starts: a JSON 503, not a 200 event stream that ends at once.
      const sse = await stream(`${app.url}/api/events/status/?token=${token}`);
      expect([sse.status, sse.retryAfter, sse.type]).toEqual([503, '5', expect.stringMatching(/^application\/json/)]);
      // Its user cannot be read: 503 too (not 401, which would make the client drop a good token).
      const uncached = await stream(`${app.url}/api/events/status/?token=${unseen}`);
      expect([uncached.status, uncached.retryAfter]).toEqual([503, '5']);
    } else {
      expect((await call(`${app.url}/api/servers/${id}/`, 'GET', token)).status).toBe(200);
      expect((await call(`${app.url}/api/auth/token/`, 'POST', undefined, ADMIN)).status).toBe(200);
    }

    // The checks go on in memory; past the buffer the oldest are dropped and counted.
    await waitFor(() => app.monitor.stats().results.dropped >= 1, 15_000, 'a dropped result');
    expect(target.arrivals.get('/ok')!.filter((at) => at >= began).length).toBeGreaterThan(BUFFER);
    expect(app.monitor.stats().results.pending).toBe(BUFFER);

    const ended = Date.now();
    await outage.end(app);
    await waitFor(async () => (await call(`${app.url}/api/health/ready`)).status === 200, 15_000, 'ready again');
    await waitFor(() => app.monitor.stats().results.pending === 0 && app.monitor.stats().results.error === null, 10_000, 'stored');
    // The newest results of the outage are stored: the buffer's worth (one may be replaced by a check at the very end).
    const during = await rows(began, ended);
    expect(during).toBeGreaterThanOrEqual(BUFFER - 1);
    expect(during).toBeLessThanOrEqual(BUFFER);

    // Said once: one warning when writes started failing, one recovery line, one line for the drops.
    const lines = (level: string, pattern: RegExp) => log.lines.filter((l) => l.level === level && pattern.test(l.message));
    expect(lines('warn', /storing check results failed/)).toHaveLength(1);
    expect(lines('info', /storing check results recovered/)).toHaveLength(1);
    // The writer backs off (250 ms doubling to 5 s), not a retry every flush (50 ms here: 100+ tries in the outage).
    const tries = Number(/after (\d+) failed/.exec(lines('info', /storing check results recovered/)[0]!.message)?.[1]);
    expect(tries).toBeGreaterThanOrEqual(2);
    expect(tries).toBeLessThanOrEqual(Math.ceil((Date.now() - began) / 1000) + 2);
    expect(lines('error', /results buffer full/)).toHaveLength(1);
    expect(
      log.lines.filter((l) => l.level === 'warn' && /^monitor: .*(check results|claim)/.test(l.message)),
      log.text(),
    ).toHaveLength(1);

    // Back to normal without a restart.
    const fresh = await app.login();
    expect((await call(`${app.url}/api/servers/${id}/`, 'GET', fresh)).status).toBe(200);
    expect(
      (await call(`${app.url}/api/servers/`, 'POST', fresh, { name: 'after', protocol: 'tcp', host: '127.0.0.1', port: 1 })).status,
    ).toBe(201);
    const sse = await stream(`${app.url}/api/events/status/?token=${fresh}`);
    expect([sse.status, sse.type]).toEqual([200, expect.stringMatching(/^text\/event-stream/)]);
  }, 90_000);
});
