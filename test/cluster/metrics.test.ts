import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/load.js';
import { runNode, sleep, type Child } from '../helpers/process.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeline-metrics-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = resolve('dist/cli/main.js');
const appModule = resolve('test/fixtures/metrics-app.mjs');
const running: Child[] = [];
const stopped: number[] = [];
afterEach(async () => {
  for (const pid of stopped.splice(0)) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // already gone
    }
  }
  for (const c of running.splice(0)) {
    if (c.child.exitCode === null) {
      c.child.kill('SIGKILL');
      await c.exited();
    }
  }
});
let n = 0;

async function startCluster(env: Record<string, string> = {}) {
  const port = await freePort();
  const logFile = join(dir, `cluster-${++n}.log`);
  const child = runNode(cli, { LOG_FILE: logFile, PORT: String(port), ...env }, [
    'serve',
    appModule,
    '--port',
    String(port),
    '--workers',
    '2',
  ]);
  running.push(child);
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const deadline = Date.now() + 20_000;
  while (!/2 workers ready/.test(log())) {
    if (Date.now() > deadline || child.child.exitCode !== null) throw new Error(`cluster did not start:\n${log()}\n${child.output()}`);
    await sleep(50);
  }
  return { ...child, url: `http://127.0.0.1:${port}`, log };
}

const COUNT =
  'http_server_request_duration_seconds_count{http_request_method="GET",http_route="/notes/:id",http_response_status_code="200"}';

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** n requests to /notes/:id; the pids that answered them. */
async function drive(url: string, count: number): Promise<Set<number>> {
  const pids = new Set<number>();
  for (let i = 0; i < count; i += 10) {
    const answers = await Promise.all(
      Array.from(
        { length: Math.min(10, count - i) },
        async (_, j) => (await (await fetch(`${url}/notes/${i + j}`)).json()) as { pid: number },
      ),
    );
    for (const a of answers) pids.add(a.pid);
  }
  return pids;
}

async function scrapeText(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

interface Status {
  cluster: { workers: Array<{ pid: number; slot: number }>; restarts: number };
}

describe('lifeline serve: /metrics for the whole cluster', () => {
  it('answers one scrape with every worker’s counts summed and process metrics per worker', async () => {
    const c = await startCluster();
    const pids = await drive(c.url, 60);
    expect(pids.size).toBe(2);
    // Any worker may get the scrape: each answers for both.
    for (let i = 0; i < 4; i++) {
      const text = await scrapeText(c.url);
      expect(sample(text, COUNT)).toBe(60);
      expect(text).toMatch(/^process_resident_memory_bytes\{worker="0"\} \d+/m);
      expect(text).toMatch(/^process_resident_memory_bytes\{worker="1"\} \d+/m);
      expect(sample(text, 'lifeline_scrape_errors_total')).toBe(0);
    }
    const om = await fetch(`${c.url}/metrics`, { headers: { Accept: 'application/openmetrics-text; version=1.0.0' } });
    expect(om.headers.get('content-type')).toMatch(/^application\/openmetrics-text/);
    expect(sample(await om.text(), COUNT)).toBe(60);
  });

  it('never lets a counter go backwards when a worker is killed (SIGKILL) and respawned', async () => {
    const c = await startCluster();
    await drive(c.url, 60);
    const before = sample(await scrapeText(c.url), COUNT) ?? 0;
    expect(before).toBe(60);
    const status = (await (await fetch(`${c.url}/api/status`)).json()) as Status;
    const victim = status.cluster.workers[0]!.pid;
    process.kill(victim, 'SIGKILL');
    const deadline = Date.now() + 15_000;
    for (;;) {
      // A connection kept alive to the killed worker is reset: ask again.
      const now = (await fetch(`${c.url}/api/status`).then(
        (r) => r.json(),
        () => ({ cluster: { workers: [], restarts: 0 } }),
      )) as Status;
      if (now.cluster.restarts >= 1 && now.cluster.workers.length === 2 && !now.cluster.workers.some((w) => w.pid === victim)) break;
      if (Date.now() > deadline) throw new Error(`no respawn:\n${c.log()}`);
      await sleep(100);
    }
    const after = sample(await scrapeText(c.url), COUNT) ?? 0;
    expect(after).toBeGreaterThanOrEqual(before);
    await drive(c.url, 10);
    expect(sample(await scrapeText(c.url), COUNT)).toBe(before + 10);
  });

  it('keeps every count across a zero-downtime reload (SIGHUP): the old workers hand over their last figures', async () => {
    const c = await startCluster();
    await drive(c.url, 30);
    expect(sample(await scrapeText(c.url), COUNT)).toBe(30);
    // Counted after the last scrape: only the old workers' final figures carry them over.
    await drive(c.url, 20);
    c.child.kill('SIGHUP');
    const deadline = Date.now() + 20_000;
    while (!/reload complete/.test(c.log())) {
      if (Date.now() > deadline) throw new Error(`no reload:\n${c.log()}`);
      await sleep(100);
    }
    expect(sample(await scrapeText(c.url), COUNT)).toBe(50);
  });

  it('answers in bounded time when a worker is stopped (SIGSTOP), counting lifeline_scrape_errors_total', async () => {
    const c = await startCluster({ SCRAPE_TIMEOUT: '300' });
    const pids = await drive(c.url, 40);
    const before = sample(await scrapeText(c.url), COUNT) ?? 0;
    expect(before).toBe(40);
    const [victim] = [...pids];
    process.kill(victim!, 'SIGSTOP');
    stopped.push(victim!);
    // Requests may land on the stopped worker and hang: scrape until the live worker answers.
    let text = '';
    const deadline = Date.now() + 15_000;
    while (text === '') {
      const started = Date.now();
      const res = await fetch(`${c.url}/metrics`, { signal: AbortSignal.timeout(2500) }).catch(() => undefined);
      if (res) {
        expect(res.status).toBe(200);
        text = await res.text();
        // The primary waited at most SCRAPE_TIMEOUT for the stopped worker.
        expect(Date.now() - started).toBeLessThan(2000);
      }
      if (Date.now() > deadline) throw new Error('no scrape answered');
    }
    expect(sample(text, 'lifeline_scrape_errors_total')).toBeGreaterThanOrEqual(1);
    // The stopped worker counts with its last figures: the sum does not drop.
    expect(sample(text, COUNT)).toBeGreaterThanOrEqual(before);
    process.kill(victim!, 'SIGCONT');
  });
});
