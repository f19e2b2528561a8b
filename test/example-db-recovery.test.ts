import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExampleApp } from './helpers/example-app.js';
import { startPostgres, type PostgresServer } from './helpers/postgres.js';
import { sleep } from './helpers/process.js';

// The example app on a real PostgreSQL server that goes away and comes back: a server of its own,
// so stopping it disturbs no other test and never the user's TEST_DATABASE_URL.
const dir = mkdtempSync(join(tmpdir(), 'lifeline-recovery-'));
let pg: PostgresServer;

async function waitForStatus(url: string, status: number, ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  let last = 0;
  while (Date.now() < deadline) {
    last = (await fetch(url)).status;
    if (last === status) return last;
    await sleep(200);
  }
  return last;
}

describe('database recovery (example app, PostgreSQL)', () => {
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(async () => {
    await pg?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 while the server is stopped and 200 after it restarts, with no app restart', async () => {
    const app = await startExampleApp({ DATABASE_URL: pg.url, LOG_FILE: join(dir, 'restart.log') });
    try {
      expect((await fetch(`${app.url}/api/health`)).status).toBe(200);
      expect((await fetch(`${app.url}/api/notes`)).status).toBe(200);
      await pg.stop();
      expect(await waitForStatus(`${app.url}/api/health/ready`, 503, 8000)).toBe(503);
      expect((await fetch(`${app.url}/api/health/live`)).status).toBe(200);
      await pg.start();
      expect(await waitForStatus(`${app.url}/api/health`, 200, 15_000)).toBe(200);
      // Pooled connections from before the restart are gone: the pool must hand out new ones.
      const created = await fetch(`${app.url}/api/notes`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{"title":"after restart"}',
      });
      expect(created.status).toBe(201);
      expect(app.child.exitCode).toBeNull();
    } finally {
      await app.stop();
    }
  });

  it('starts degraded when the database is down, then becomes healthy when it comes up', async () => {
    await pg.stop();
    const logFile = join(dir, 'startup.log');
    const app = await startExampleApp({ DATABASE_URL: pg.url, LOG_FILE: logFile });
    try {
      const log = readFileSync(logFile, 'utf8');
      expect(log).toMatch(/warn \[lifecycle\] critical checks failing at startup \(database\): try 2\/5 in 500 ms/);
      expect(log).toMatch(/warn \[lifecycle\] starting degraded: critical checks still failing after 5 tries \(database\)/);
      expect((await fetch(`${app.url}/api/health/ready`)).status).toBe(503);
      expect((await fetch(`${app.url}/api/health`)).status).toBe(503);
      await pg.start();
      expect(await waitForStatus(`${app.url}/api/health/ready`, 200, 15_000)).toBe(200);
      // The schema is created by the background retry once the database is back.
      expect(await waitForStatus(`${app.url}/api/notes`, 200, 20_000)).toBe(200);
    } finally {
      await app.stop();
    }
  });
});
