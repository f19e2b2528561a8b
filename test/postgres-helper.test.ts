import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive as alive, startPostgres, stopRegistered, type PostgresServer } from './helpers/postgres.js';
import { runNode } from './helpers/process.js';

// The tests' own PostgreSQL (test/helpers/postgres.ts): what the database tests rely on.
async function query(url: string, timeoutMs = 3000): Promise<string> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
    const { rows } = await client.query<{ db: string }>('select current_database() as db');
    return rows[0]!.db;
  } finally {
    await client.end().catch(() => {});
  }
}

/** A process's state letter from /proc (Linux): T when stopped by SIGSTOP. */
function state(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.charAt(stat.lastIndexOf(')') + 2);
}

describe('the tests’ PostgreSQL server', () => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it('serves lifeline_test on 127.0.0.1, stops, and starts again on the same port and data', async () => {
    expect(server.url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/lifeline_test$/);
    expect(await query(server.url)).toBe('lifeline_test');
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    await client.query('create table kept (id int)');
    await client.end();

    await server.stop();
    expect(server.pids()).toEqual([]);
    await expect(query(server.url)).rejects.toThrow(/ECONNREFUSED/);

    await server.start();
    expect(server.pids().length).toBeGreaterThan(1);
    expect(await query(server.url)).toBe('lifeline_test');
    const again = new pg.Client({ connectionString: server.url });
    await again.connect();
    expect((await again.query('select count(*)::int as n from kept')).rows[0]).toEqual({ n: 0 });
    await again.end();
  });

  it('pause() freezes every server process so queries hang, resume() lets them finish', async () => {
    server.pause();
    try {
      const started = performance.now();
      await expect(query(server.url, 500)).rejects.toThrow(/timeout/i);
      expect(performance.now() - started).toBeGreaterThanOrEqual(400);
      // Stopped, not gone: the kernel reports state T (stopped) for the postmaster and its children.
      const pids = server.pids();
      expect(pids.length).toBeGreaterThan(1);
      for (const pid of pids) expect(state(pid), `pid ${pid}`).toBe('T');
    } finally {
      server.resume();
    }
    expect(await query(server.url)).toBe('lifeline_test');
    expect(state(server.pids()[0]!)).not.toBe('T');
  });

  it('destroy() stops a paused server and removes its data folder', async () => {
    const other = await startPostgres();
    const pids = other.pids();
    other.pause();
    await other.destroy();
    for (const pid of pids) expect(alive(pid)).toBe(false);
    expect(existsSync(other.dataDir)).toBe(false);
  });
});

describe('no server outlives the run', () => {
  const registry = mkdtempSync(join(tmpdir(), 'lifeline-pg-registry-test-'));
  afterAll(() => {
    stopRegistered(registry);
    rmSync(registry, { recursive: true, force: true });
  });

  const script = (ending: string) => `
    import { startPostgres } from ${JSON.stringify(join(import.meta.dirname, 'helpers/postgres.ts'))};
    const server = await startPostgres();
    console.log(JSON.stringify({ pids: server.pids(), dataDir: server.dataDir }));
    ${ending}
  `;

  async function runScript(ending: string, env: Record<string, string> = {}) {
    const file = join(registry, '..', `lifeline-pg-script-${process.pid}-${Math.random().toString(36).slice(2)}.mts`);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, script(ending));
    // tsx as a loader in this one process, not tsx's CLI: that CLI runs the script in a child of its own,
    // and a SIGKILL to the CLI would leave that child (and its setInterval) running after the tests.
    const child = runNode('--import', { LIFELINE_TEST_PG_REGISTRY: registry, ...env }, ['tsx', file]);
    const started = await child.firstJson<{ pids: number[]; dataDir: string }>();
    return { child, started, cleanup: () => rmSync(file, { force: true }) };
  }

  it('a process that started a server and then throws stops it on exit', async () => {
    const { child, started, cleanup } = await runScript(`setTimeout(() => { throw new Error('a failing test'); }, 200);`);
    expect((await child.exited()).code).not.toBe(0);
    cleanup();
    for (const pid of started.pids) expect(alive(pid)).toBe(false);
    expect(existsSync(started.dataDir)).toBe(false);
  });

  it('the registry stops the server of a process killed with SIGKILL', async () => {
    const { child, started, cleanup } = await runScript(`setInterval(() => {}, 1000);`);
    child.child.kill('SIGKILL');
    await child.exited();
    cleanup();
    // The process killed is the one that ran the script: nothing of it lives on.
    expect(alive(child.child.pid!)).toBe(false);
    expect(started.pids.some(alive)).toBe(true);
    expect(readdirSync(registry)).toHaveLength(1);
    stopRegistered(registry);
    for (const pid of started.pids) expect(alive(pid)).toBe(false);
    expect(existsSync(started.dataDir)).toBe(false);
    expect(readdirSync(registry)).toEqual([]);
  });
});
