import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/load.js';
import { runNode, sleep } from '../helpers/process.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeline-top-'));
const cli = resolve('dist/cli/main.js');
const appModule = resolve('test/fixtures/cluster-app.mjs');

function lifeline(...args: string[]) {
  const result = spawnSync(process.execPath, [cli, ...args], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, PORT: '', LOG_FILE: '' },
  });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

const WORKER = /^ {2}worker (\d) {4}pid (\d+), (\w+), (\d+) restarts, ([\d.]+) req\/s, p99 ([\d.]+ ms|-), (\d+) requests, up [\d.]+ s$/gm;
function workers(out: string) {
  return [...out.matchAll(WORKER)].map((m) => ({
    slot: Number(m[1]),
    pid: Number(m[2]),
    restarts: Number(m[4]),
    rps: Number(m[5]),
    p99: m[6] ?? '-',
  }));
}

describe('lifeline status and top: per-worker restarts, req/s and p99', async () => {
  const port = await freePort();
  const serving = runNode(cli, { LOG_FILE: join(dir, 'serve.log') }, ['serve', appModule, '--workers', '2', '--port', String(port)], {
    cwd: dir,
  });
  afterAll(async () => {
    serving.child.kill('SIGKILL');
    await serving.exited();
    rmSync(dir, { recursive: true, force: true });
  });
  // Until the test is done: 50 ms answers, so each worker has a rate and a p99 to show.
  let loading = true;
  const load = (async () => {
    while (loading)
      await fetch(`http://127.0.0.1:${port}/slow?ms=50`).then(
        (r) => r.arrayBuffer(),
        () => sleep(100),
      );
  })();
  afterAll(async () => {
    loading = false;
    await load;
  });

  it('status prints each worker with its restarts, requests per second and p99; a killed worker counts a restart', async () => {
    let seen: ReturnType<typeof workers> = [];
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; await sleep(300)) {
      seen = workers(lifeline('status', '--port', String(port)).out);
      // Until the 50 ms load shows (status's own quick health requests come first).
      if (seen.length === 2 && seen.some((w) => w.rps > 0 && Number.parseFloat(w.p99) >= 50)) break;
    }
    expect(seen).toHaveLength(2);
    const busy = seen.find((w) => w.rps > 0 && Number.parseFloat(w.p99) >= 50);
    expect(busy).toBeDefined();
    // The app answers after 50 ms: the p99 cannot be below it, nor the rate above 20 per second per client.
    expect(Number.parseFloat(busy?.p99 ?? '0')).toBeGreaterThanOrEqual(50);
    expect(busy?.rps).toBeLessThanOrEqual(25);
    expect(seen.every((w) => w.restarts === 0)).toBe(true);

    const victim = seen[1];
    process.kill(victim?.pid ?? 0, 'SIGKILL');
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; await sleep(300)) {
      seen = workers(lifeline('status', '--port', String(port)).out);
      if (seen.find((w) => w.slot === victim?.slot && w.pid !== victim.pid)) break;
    }
    expect(seen.find((w) => w.slot === victim?.slot)).toMatchObject({ restarts: 1 });
    expect(seen.find((w) => w.slot !== victim?.slot)).toMatchObject({ restarts: 0 });
    const json = JSON.parse(lifeline('status', '--json', '--port', String(port)).out) as { workers: Array<Record<string, unknown>> };
    expect(json.workers[0]).toHaveProperty('rps');
    expect(json.workers[0]).toHaveProperty('p99_ms');
    expect(json.workers[0]).toHaveProperty('restarts');
  }, 60_000);

  it('top with nothing running on the port says so in one line and exits 1 (no endless STOPPED)', async () => {
    const free = await freePort();
    const run = lifeline('top', '--port', String(free), '--interval', '200');
    expect(run).toMatchObject({ code: 1, out: '' });
    expect(run.err).toBe(`not running on port ${free}: nothing to watch (lifeline start, or lifeline serve in another terminal)\n`);
  });

  it('top without a terminal prints the view once per interval until SIGINT, then exits 0', async () => {
    const top = spawn(process.execPath, [cli, 'top', '--port', String(port), '--interval', '300'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    top.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    top.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = once(top, 'exit');
    // The cluster may still be starting: frames come until one shows both workers.
    const frames = () => out.split(/^--- lifeline top.*\n/m).filter(Boolean);
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; await sleep(50)) {
      if (frames().length >= 3 && frames().some((f) => workers(f).length === 2)) break;
    }
    expect(frames().length).toBeGreaterThanOrEqual(3);
    expect(frames().filter((f) => workers(f).length === 2).length).toBeGreaterThan(0);
    top.kill('SIGINT');
    expect(await exited).toEqual([0, null]);
  }, 30_000);

  it('top on a terminal quits on q, and on Ctrl-C, with exit 0', () => {
    for (const key of ['q', '\x03']) {
      const run = spawnSync(
        'python3',
        [resolve('test/fixtures/pty-run.py'), process.execPath, cli, 'top', '--port', String(port), '--interval', '200'],
        {
          cwd: dir,
          encoding: 'utf8',
          timeout: 30_000,
          env: { ...process.env, KEY: key },
        },
      );
      expect(JSON.parse(run.stdout) as unknown).toMatchObject({ exit: 0, sent: true });
    }
  }, 60_000);
});
