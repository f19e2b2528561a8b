import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { freePort, loadUntil } from '../helpers/load.js';
import { runNode, sleep, type Child } from '../helpers/process.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeline-cluster-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = resolve('dist/cli/main.js');
const appModule = resolve('test/fixtures/cluster-app.mjs');
const running: Child[] = [];
afterEach(async () => {
  for (const c of running.splice(0)) {
    if (c.child.exitCode === null) {
      c.child.kill('SIGKILL');
      await c.exited();
    }
  }
});
let n = 0;

interface Cluster extends Child {
  url: string;
  logFile: string;
  log(): string;
  waitForLog(pattern: RegExp, ms?: number): Promise<void>;
}

async function startCluster(args: string[], env: Record<string, string> = {}, script = cli, entry = appModule): Promise<Cluster> {
  const port = await freePort();
  const logFile = join(dir, `cluster-${++n}.log`);
  const child = runNode(
    script,
    { LOG_FILE: logFile, PORT: String(port), ...env },
    script === cli ? ['serve', entry, '--port', String(port), ...args] : args,
  );
  running.push(child);
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const waitForLog = async (pattern: RegExp, ms = 15_000) => {
    const deadline = Date.now() + ms;
    while (!pattern.test(log())) {
      if (Date.now() > deadline) throw new Error(`no ${pattern} in the log after ${ms} ms:\n${log()}\n${child.output()}`);
      if (child.child.exitCode !== null) throw new Error(`primary exited with ${child.child.exitCode}:\n${log()}\n${child.output()}`);
      await sleep(50);
    }
  };
  return { ...child, url: `http://127.0.0.1:${port}`, logFile, log, waitForLog };
}

async function json<T>(url: string): Promise<T> {
  return (await (await fetch(url)).json()) as T;
}

interface Status {
  request_count: number;
  cluster: {
    primary_pid: number;
    workers: Array<{ pid: number; slot: number; requests: number; status: string; uptime: number }>;
    total_requests: number;
    restarts: number;
  };
}

describe('lifeline serve: a cluster of workers', () => {
  it('shares the port between workers, shows one cluster view, and stops on SIGTERM', async () => {
    const c = await startCluster(['--workers', '2']);
    await c.waitForLog(/2 workers ready/);
    const pids = new Set<number>();
    for (let i = 0; i < 20 && pids.size < 2; i++) pids.add((await json<{ pid: number }>(`${c.url}/pid`)).pid);
    expect(pids.size).toBe(2);
    const status = await json<Status>(`${c.url}/api/status`);
    expect(status.cluster.primary_pid).toBe(c.child.pid);
    expect(status.cluster.workers.map((w) => w.pid).sort()).toEqual([...pids].sort());
    expect(status.cluster.workers.every((w) => w.status === 'active' && w.uptime > 0)).toBe(true);
    expect(status.cluster.total_requests).toBeGreaterThanOrEqual(status.request_count);
    const health = await json<{ cluster?: Status['cluster'] }>(`${c.url}/api/health`);
    expect(health.cluster?.workers).toHaveLength(2);
    c.child.kill('SIGTERM');
    expect(await c.exited()).toEqual({ code: 0, signal: null });
    expect(c.log()).toMatch(/primary stopped \(exit code 0\)/);
  });

  it('runs the checks once per maxAge for the whole cluster: workers adopt the snapshot one of them took', async () => {
    const runsFile = join(dir, 'check-runs.txt');
    const c = await startCluster(['--workers', '2'], { CHECK_RUNS_FILE: runsFile });
    await c.waitForLog(/2 workers ready/);
    const runs = () => readFileSync(runsFile, 'utf8').trim().split('\n');
    const before = runs().length;
    const started = Date.now();
    const answeredBy = new Set<number>();
    while (Date.now() - started < 2000) {
      const answers = await Promise.all(
        Array.from({ length: 4 }, async () => {
          const res = await fetch(`${c.url}/api/health`);
          expect(res.status).toBe(200);
          return (await res.json()) as { server_info: { pid: number }; checks: { counted: { status: string } } };
        }),
      );
      for (const a of answers) {
        expect(a.checks.counted.status).toBe('pass');
        answeredBy.add(a.server_info.pid);
      }
    }
    const elapsed = Date.now() - started;
    expect(answeredBy.size).toBe(2);
    // maxAge is 200 ms in the fixture: one run per window for both workers together
    // (each worker on its own would run them about twice as often).
    expect(runs().length - before).toBeLessThanOrEqual(Math.ceil(elapsed / 200) + 2);
    expect(runs().length - before).toBeGreaterThanOrEqual(3);
  });

  it('runs a TypeScript app module (through tsx) that exports a function returning the app', async () => {
    const c = await startCluster(['--workers', '2'], {}, cli, resolve('test/fixtures/cluster-app.ts'));
    await c.waitForLog(/2 workers ready/);
    expect(await json<{ typescript: boolean }>(`${c.url}/pid`)).toMatchObject({ typescript: true });
    c.child.kill('SIGTERM');
    expect(await c.exited()).toEqual({ code: 0, signal: null });
  });

  it('a SIGTERM while the workers are still starting stops them all, exit 0', async () => {
    const c = await startCluster(['--workers', '2'], { SLOW_START_MS: '1500' });
    await c.waitForLog(/starting 2 workers/);
    // At once: the workers may still be loading, before any of their handlers exist.
    const started = Date.now();
    c.child.kill('SIGTERM');
    expect(await c.exited()).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(6000);
    expect(c.log()).toMatch(/primary stopped \(exit code 0\)/);
  });

  it('replaces a worker killed with SIGKILL under load; only requests on its sockets fail', async () => {
    const c = await startCluster(['--workers', '2']);
    await c.waitForLog(/2 workers ready/);
    const before = await json<Status>(`${c.url}/api/status`);
    const victim = before.cluster.workers[0]!.pid;
    const load = loadUntil(`${c.url}/pid`, sleep(3000), { concurrency: 8 });
    await sleep(700);
    process.kill(victim, 'SIGKILL');
    const result = await load;
    await c.waitForLog(/worker \d \(pid \d+\) died \(signal SIGKILL\): respawning in \d+ ms/);
    let after = await json<Status>(`${c.url}/api/status`);
    for (let i = 0; i < 40 && after.cluster.workers.length < 2; i++) {
      await sleep(100);
      after = await json<Status>(`${c.url}/api/status`);
    }
    expect(after.cluster.workers).toHaveLength(2);
    expect(after.cluster.workers.map((w) => w.pid)).not.toContain(victim);
    expect(after.cluster.restarts).toBe(1);
    expect(result.ok).toBeGreaterThan(100);
    // At most the in-flight requests of the killed worker's 8 keep-alive sockets.
    expect(result.failed).toBeLessThanOrEqual(8);
  });

  it('logs a worker crash with its stack, drains it, and the primary replaces it', async () => {
    const c = await startCluster(['--workers', '2']);
    await c.waitForLog(/2 workers ready/);
    const { pid } = await json<{ pid: number }>(`${c.url}/throw`);
    await c.waitForLog(
      new RegExp(`error \\[lifecycle\\] uncaught exception: worker ${pid} blew up\\nError: worker ${pid} blew up\\n\\s+at `),
    );
    await c.waitForLog(new RegExp(`worker \\d \\(pid ${pid}\\) died \\(exit code 1\\): respawning in \\d+ ms`));
    let status = await json<Status>(`${c.url}/api/status`);
    for (let i = 0; i < 50 && (status.cluster.workers.length < 2 || status.cluster.restarts < 1); i++) {
      await sleep(100);
      status = await json<Status>(`${c.url}/api/status`);
    }
    expect(status.cluster.workers.map((w) => w.pid)).not.toContain(pid);
    expect(status.cluster.workers).toHaveLength(2);
  });

  it('stops respawning a crash-looping worker, logs why, and keeps serving with the rest', async () => {
    const options = {
      entry: appModule,
      workers: 2,
      port: 0,
      restartDelay: 20,
      maxRestartDelay: 100,
      maxRestarts: 5,
      restartWindow: 60_000,
    };
    const port = await freePort();
    options.port = port;
    const c = await startCluster(
      [],
      { CLUSTER_OPTIONS: JSON.stringify(options), CRASH_SLOT: '1', CRASH_AFTER_MS: '50' },
      resolve('test/fixtures/cluster-primary.mjs'),
    );
    c.url = `http://127.0.0.1:${port}`;
    await c.waitForLog(
      /worker 1 \(pid \d+\) died \(exit code 3\): 5 deaths within 60000 ms, not respawning it; 1 of 2 workers serving/,
      20_000,
    );
    expect(c.log().match(/worker 1 \(pid \d+\) died \(exit code 3\): respawning in \d+ ms/g)).toHaveLength(4);
    expect(c.child.exitCode).toBeNull();
    const status = await json<Status>(`${c.url}/api/status`);
    expect(status.cluster.workers.map((w) => w.slot)).toEqual([0]);
    expect((await fetch(`${c.url}/pid`)).status).toBe(200);
  });

  it('shutdown() leaves no race timer behind: the primary exits as soon as its workers are gone', async () => {
    const port = await freePort();
    const options = { entry: appModule, workers: 1, port, signals: false, shutdownTimeout: 20_000 };
    const c = await startCluster([], { CLUSTER_OPTIONS: JSON.stringify(options) }, resolve('test/fixtures/cluster-shutdown-idle.mjs'));
    const exited = await c.exited();
    const exitedAt = Date.now();
    expect(exited).toEqual({ code: 0, signal: null });
    const resolvedAt = Number(/shutdown resolved 0 at (\d+)/.exec(c.output())?.[1]);
    // Before the fix the stop() race timer (shutdownTimeout + 2 s) held the primary 22 s.
    expect(exitedAt - resolvedAt).toBeLessThan(5000);
  }, 40_000);

  it('exits 1 at once, like gunicorn, when every worker fails to boot (a broken app module)', async () => {
    const broken = join(dir, 'broken-app.mjs');
    writeFileSync(broken, "throw new Error('the app module is broken');\n");
    const started = Date.now();
    const c = await startCluster(['--workers', '2'], {}, cli, broken);
    expect(await c.exited()).toEqual({ code: 1, signal: null });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(c.log()).toMatch(/error \[cluster\] no worker booted: every worker exited before it was ready/);
    expect(c.log()).toMatch(/primary stopped \(exit code 1\)/);
  });

  it('exits 1 when every worker crash-loops: nothing is left to serve', async () => {
    const port = await freePort();
    const options = { entry: appModule, workers: 1, port, restartDelay: 20, maxRestartDelay: 100, maxRestarts: 3 };
    const c = await startCluster(
      [],
      { CLUSTER_OPTIONS: JSON.stringify(options), CRASH_SLOT: '0', CRASH_AFTER_MS: '30' },
      resolve('test/fixtures/cluster-primary.mjs'),
    );
    expect(await c.exited()).toEqual({ code: 1, signal: null });
    expect(c.log()).toMatch(/error \[cluster\] no worker left: the primary exits/);
  });

  it('reloads every worker on SIGHUP with zero failed requests under load', async () => {
    const statusFile = join(dir, `reload-${++n}.json`);
    const c = await startCluster(['--workers', '2', '--reload-status', statusFile]);
    await c.waitForLog(/2 workers ready/);
    const oldPids = new Set((await json<Status>(`${c.url}/api/status`)).cluster.workers.map((w) => w.pid));
    let reloaded: () => void = () => undefined;
    const done = new Promise<void>((r) => (reloaded = r));
    const load = loadUntil(`${c.url}/pid`, done, { concurrency: 10 });
    await sleep(500);
    c.child.kill('SIGHUP');
    await c.waitForLog(/reload complete in \d+ ms/, 30_000);
    // The result for lifeline reload, private to the owner like .backend.pid.
    expect(JSON.parse(readFileSync(statusFile, 'utf8'))).toMatchObject({
      pid: c.child.pid,
      id: 1,
      result: 'complete',
      ms: expect.any(Number),
    });
    expect(statSync(statusFile).mode & 0o777).toBe(0o600);
    await sleep(500);
    reloaded();
    const result = await load;
    if (result.failed)
      console.log(
        c
          .log()
          .split('\n')
          .filter((l) => /shedding/.test(l))
          .join('\n'),
      );
    expect(result.errors).toEqual([]);
    expect(result.failed).toBe(0);
    expect(result.ok).toBeGreaterThan(200);
    const newPids = (await json<Status>(`${c.url}/api/status`)).cluster.workers.map((w) => w.pid);
    expect(newPids).toHaveLength(2);
    for (const pid of newPids) expect(oldPids.has(pid)).toBe(false);
  });

  it('a bad deploy during reload is killed after readyTimeout; the old workers keep serving', async () => {
    const marker = join(dir, `bad-deploy-${++n}`);
    const statusFile = join(dir, `reload-${++n}.json`);
    const c = await startCluster(['--workers', '2', '--ready-timeout', '1500', '--reload-status', statusFile], { BAD_DEPLOY_FILE: marker });
    await c.waitForLog(/2 workers ready/);
    const oldPids = (await json<Status>(`${c.url}/api/status`)).cluster.workers.map((w) => w.pid).sort();
    writeFileSync(marker, 'broken');
    let stop: () => void = () => undefined;
    const load = loadUntil(`${c.url}/pid`, new Promise<void>((r) => (stop = r)), { concurrency: 4 });
    c.child.kill('SIGHUP');
    await c.waitForLog(/reload failed: the new worker 0 was not ready within 1500 ms; the old workers keep serving/, 20_000);
    expect(JSON.parse(readFileSync(statusFile, 'utf8'))).toMatchObject({
      pid: c.child.pid,
      id: 1,
      result: 'failed',
      reason: 'the new worker 0 was not ready within 1500 ms; the old workers keep serving',
    });
    stop();
    const result = await load;
    expect(result.failed).toBe(0);
    expect([...result.pids].sort()).toEqual(oldPids);
    expect((await json<Status>(`${c.url}/api/status`)).cluster.workers.map((w) => w.pid).sort()).toEqual(oldPids);
  });
});
