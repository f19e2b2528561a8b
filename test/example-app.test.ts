import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import knex from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExampleApp, type ExampleApp } from './helpers/example-app.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeline-example-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

function notesApi(url: string) {
  const post = (body: string, type = 'application/json') =>
    fetch(`${url}/api/notes`, { method: 'POST', headers: { 'Content-Type': type }, body });
  return { post };
}

describe.each(['sqlite', 'postgres'] as const)('example app on %s', (kind) => {
  let app: ExampleApp;
  const logFile = join(dir, `${kind}.log`);
  beforeAll(async () => {
    let databaseUrl = join(dir, 'notes.db');
    if (kind === 'postgres') {
      const url = process.env.TEST_DATABASE_URL;
      if (!url) throw new Error('TEST_DATABASE_URL is not set: run the tests with `npm test` or `npx vitest run`, which start PostgreSQL');
      const db = knex({ client: 'pg', connection: url });
      await db.schema.dropTableIfExists('notes');
      await db.destroy();
      // A password in the URL must never reach backend.log.
      databaseUrl = url.replace('postgres@', 'postgres:not-a-real-secret@');
    }
    app = await startExampleApp({ DATABASE_URL: databaseUrl, LOG_FILE: logFile });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('serves the four endpoints and a healthy database', async () => {
    for (const path of ['/api/ping', '/api/status', '/api/keep-alive', '/api/health']) {
      const res = await fetch(app.url + path);
      expect(res.status, path).toBe(200);
    }
    const report = await json(await fetch(`${app.url}/api/health`));
    expect(report.status).toBe('healthy');
    expect(report.checks).toMatchObject({ database: { status: 'pass', critical: true }, static_files: { status: 'pass' } });
  });

  it('creates, reads, updates, lists and deletes notes', async () => {
    const created = await notesApi(app.url).post(JSON.stringify({ title: '  First  ', body: 'hello' }));
    expect(created.status).toBe(201);
    const note = await json(created);
    expect(note).toMatchObject({ title: 'First', body: 'hello' });
    expect(created.headers.get('location')).toBe(`/api/notes/${note.id}`);
    const patched = await fetch(`${app.url}/api/notes/${note.id}`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json' },
      body: '{"body":"changed"}',
    });
    expect(await json(patched)).toMatchObject({ id: note.id, title: 'First', body: 'changed' });
    const list = (await (await fetch(`${app.url}/api/notes`)).json()) as Array<{ id: number }>;
    expect(list.map((n) => n.id)).toContain(note.id);
    expect((await fetch(`${app.url}/api/notes/${note.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${app.url}/api/notes/${note.id}`)).status).toBe(404);
  });

  it('answers bad input with a JSON 4xx and keeps serving', async () => {
    const { post } = notesApi(app.url);
    const cases: Array<[Promise<Response>, number, RegExp]> = [
      [post('{"title":'), 400, /JSON|Unexpected|Expected/],
      [post('{"title":""}'), 400, /^title: expected a string of 1-200 characters$/],
      [post(JSON.stringify({ title: 'x'.repeat(201) })), 400, /^title:/],
      [post('[1,2]'), 400, /^body: expected a JSON object$/],
      [post('{"title":"a","admin":true}'), 400, /^admin: unknown field/],
      [post(JSON.stringify({ title: 'a', body: 'x'.repeat(20_000) })), 413, /too large/i],
      [post('title=a', 'application/x-www-form-urlencoded'), 415, /^Content-Type: expected application\/json$/],
      [fetch(`${app.url}/api/notes/abc`), 400, /^id: expected a positive integer$/],
      [fetch(`${app.url}/api/notes/99999999999`), 400, /^id:/],
      [fetch(`${app.url}/api/notes/424242`), 404, /^note not found$/],
      [fetch(`${app.url}/api/notes?limit=1000`), 400, /^limit:/],
      [fetch(`${app.url}/api/nope`), 404, /^Not Found$/],
      [fetch(`${app.url}/api/health/..%2f..%2fetc`), 404, /^Not Found$/],
      [fetch(`${app.url}/api/notes/%E0%A4%A`), 400, /.+/],
    ];
    for (const [pending, status, message] of cases) {
      const res = await pending;
      const body = (await res.json()) as { error: { status: number; message: string; stack?: unknown } };
      expect(res.status, body.error.message).toBe(status);
      expect(body.error.status).toBe(status);
      expect(body.error.message).toMatch(message);
      expect(body.error.stack).toBeUndefined();
    }
    expect((await fetch(`${app.url}/api/ping`)).status).toBe(200);
  });

  it('serves the page and writes backend.log without secrets', async () => {
    const page = await fetch(`${app.url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('polls <code>/api/health</code>');
    const log = readFileSync(logFile, 'utf8');
    expect(log).toMatch(/^\S+Z info \[lifecycle\] listening on http:\/\/127\.0\.0\.1:\d+ \(development, pid \d+\)$/m);
    expect(log).toMatch(/^\S+Z info \[server\] database .+$/m);
    expect(log).not.toContain('not-a-real-secret');
  });

  it('stops cleanly on SIGTERM and says so in backend.log', async () => {
    expect(await app.stop('SIGTERM')).toBe(0);
    const log = readFileSync(logFile, 'utf8');
    expect(log).toMatch(/info \[lifecycle\] shutting down \(SIGTERM\): draining \d+ in-flight requests/);
    expect(log).toMatch(/info \[lifecycle\] stopped \(exit code 0\)\n$/);
  });
});

describe('example app configuration', () => {
  it.each([
    ['PORT', 'http'],
    ['KEEP_ALIVE_INTERVAL', '5 minutes'],
    ['FRONTEND_URL', 'localhost:3000'],
    ['LOG_LEVEL', 'chatty'],
  ])('an invalid %s stops startup with one line naming it', (name, value) => {
    const run = spawnSync(process.execPath, [resolve('example-app/server.js')], {
      env: { ...process.env, [name]: value, LOG_FILE: join(dir, 'bad.log') },
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^error: Invalid ${name}: expected .+, got '${value}'$`)),
    ]);
    expect(run.stdout).toBe('');
  });
});

describe('example app clustered (WORKERS=2)', () => {
  it('serves from two workers behind one port and reports them in /api/status', async () => {
    const { freePort } = await import('./helpers/load.js');
    const port = await freePort();
    const { runNode, sleep } = await import('./helpers/process.js');
    const app = runNode(resolve('example-app/server.js'), {
      WORKERS: '2',
      PORT: String(port),
      LOG_FILE: join(dir, 'cluster.log'),
      DATABASE_URL: join(dir, 'cluster.db'),
    });
    try {
      let status: { cluster?: { workers: unknown[] } } = {};
      for (let i = 0; i < 100 && (status.cluster?.workers.length ?? 0) < 2; i++) {
        await sleep(100);
        status = (await fetch(`http://127.0.0.1:${port}/api/status`).then(
          (r) => r.json(),
          () => ({}),
        )) as typeof status;
      }
      expect(status.cluster?.workers).toHaveLength(2);
      const created = await fetch(`http://127.0.0.1:${port}/api/notes`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{"title":"clustered"}',
      });
      expect(created.status).toBe(201);
      app.child.kill('SIGTERM');
      expect(await app.exited()).toEqual({ code: 0, signal: null });
      expect(readFileSync(join(dir, 'cluster.log'), 'utf8')).toMatch(/info \[cluster\] primary stopped \(exit code 0\)/);
    } finally {
      if (app.child.exitCode === null) app.child.kill('SIGKILL');
    }
  });
});
