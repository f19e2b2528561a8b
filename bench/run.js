// @ts-check
// `npm run bench`: bare Express 5 against the same app behind lifeline(), in one run.
// Server on core 0, load on core 1 (taskset), scenarios interleaved over several rounds, medians compared.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { hasTaskset, pin } from './cpu-pinning.js';
import { measureLogLine } from './log-line.js';
import { compareInOneProcess } from './same-process.js';
import { median, sample, startServer } from './harness.js';
import { measureShedding, sheddingTable } from './shed.js';

const here = dirname(fileURLToPath(import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const LONG_REQUESTS = Number(process.env.BENCH_LONG_REQUESTS ?? 500_000);
// An untimed burst before each timed run (see bench/harness.js).
const WARM_SECONDS = Number(process.env.BENCH_WARM_SECONDS ?? 1);
// Metrics on vs off, inside one process (bench/same-process.js).
const PAIR_PROCESSES = Number(process.env.BENCH_PAIR_PROCESSES ?? 3);
const PAIR_ROUNDS = Number(process.env.BENCH_PAIR_ROUNDS ?? 6);
pin(process.pid, '1');

/** @param {{ stats(): Promise<{ cpuMicros: number }> }} server @param {string} url @param {Partial<autocannon.Options>} [extra] */
const load = (server, url, extra = {}) =>
  sample(() => server.stats(), url, { connections: CONNECTIONS, seconds: SECONDS, warmSeconds: WARM_SECONDS, extra });

const servers = {
  bare: await startServer('bare'),
  corsHelmet: await startServer('cors-helmet'),
  lifeline: await startServer('lifeline'),
  lifelineAccess: await startServer('lifeline-access'),
  serve: await startServer('serve'),
  hung: await startServer('lifeline-hung'),
};
const scenarios = [
  { name: 'bare Express 5, GET /api/items', server: servers.bare, url: `${servers.bare.url}/api/items` },
  { name: 'Express 5 + cors + helmet, GET /api/items', server: servers.corsHelmet, url: `${servers.corsHelmet.url}/api/items` },
  { name: 'lifeline(), GET /api/items', server: servers.lifeline, url: `${servers.lifeline.url}/api/items` },
  { name: 'lifeline(), GET /api/ping', server: servers.lifeline, url: `${servers.lifeline.url}/api/ping` },
  { name: 'lifeline(), GET /api/health', server: servers.lifeline, url: `${servers.lifeline.url}/api/health` },
  {
    name: 'lifeline() + access log to a file, GET /api/items',
    server: servers.lifelineAccess,
    url: `${servers.lifelineAccess.url}/api/items`,
  },
  { name: 'serve(app), GET /api/ping (answered before Express)', server: servers.serve, url: `${servers.serve.url}/api/ping` },
  { name: 'serve(app), GET /api/health/ready (before Express)', server: servers.serve, url: `${servers.serve.url}/api/health/ready` },
  { name: 'lifeline(), GET /api/health, dependency hung', server: servers.hung, url: `${servers.hung.url}/api/health` },
];

for (const s of scenarios) await load(s.server, s.url, { duration: 2 }); // warm-up: JIT, pools
const spawnedBefore = (await servers.lifeline.stats()).spawned;
/** @type {Record<string, Array<{ rps: number, p50: number, p99: number, cpu: number }>>} */
const samples = {};
for (let round = 0; round < ROUNDS; round++) {
  // Rotate the order each round so no scenario always runs first or last.
  const order = scenarios.map((_, i) => scenarios[(i + round) % scenarios.length]);
  for (const s of order) {
    if (!s) continue;
    const r = await load(s.server, s.url);
    (samples[s.name] ??= []).push(r);
    console.error(`round ${round + 1}/${ROUNDS} ${s.name}: ${r.rps.toFixed(0)} req/s, p99 ${r.p99} ms, ${r.cpu.toFixed(1)} µs CPU/request`);
  }
}
const spawnedDuring = (await servers.lifeline.stats()).spawned - spawnedBefore;

// Ratios are taken within each round (this scenario against bare Express a few seconds
// apart), then the median over rounds: the machine's speed drifts between rounds.
const bareSamples = samples[scenarios[0]?.name ?? ''] ?? [];
/**
 * The median over rounds of `compare(this round's sample, the same round's sample of base)`.
 * @param {Array<{ rps: number, cpu: number }>} list @param {Array<{ rps: number, cpu: number }>} base
 * @param {(s: { rps: number, cpu: number }, b: { rps: number, cpu: number }) => number} compare
 */
const versus = (list, base, compare) => median(list.map((x, i) => compare(x, base[i] ?? x)));
/** @param {Array<{ rps: number, cpu: number }>} list @param {(s: { rps: number, cpu: number }, b: { rps: number, cpu: number }) => number} ratio */
const perRound = (list, ratio) => versus(list, bareSamples, ratio);
const rows = scenarios.map((s) => {
  const list = samples[s.name] ?? [];
  return {
    name: s.name,
    rps: median(list.map((x) => x.rps)),
    p50: median(list.map((x) => x.p50)),
    p99: median(list.map((x) => x.p99)),
    cpu: median(list.map((x) => x.cpu)),
    throughput: perRound(list, (x, b) => x.rps / b.rps),
    efficiency: perRound(list, (x, b) => b.cpu / x.cpu),
    list,
  };
});
const ping = rows[3];
const healthRow = rows[4];
if (!ping || !healthRow) throw new Error('scenarios missing');
const healthVsPing = versus(healthRow.list, ping.list, (x, b) => x.rps / b.rps);
const healthVsPingCpu = versus(healthRow.list, ping.list, (x, b) => b.cpu / x.cpu);
const hungRow = rows.find((r) => r.name.endsWith('dependency hung'));
const routeRow = rows[2];
const accessRow = rows[5];
if (!routeRow || !accessRow) throw new Error('scenarios missing');
// Issue 9's speed target: a user route behind lifeline() against the same app with cors +
// helmet alone, within each round; and what each stack adds to bare Express's CPU per request.
const corsHelmetRow = rows[1];
if (!corsHelmetRow) throw new Error('scenarios missing');
const lifelineVsCorsHelmet = versus(routeRow.list, corsHelmetRow.list, (x, b) => x.rps / b.rps);
const lifelineVsCorsHelmetCpu = versus(routeRow.list, corsHelmetRow.list, (x, b) => b.cpu / x.cpu);
/** @param {Array<{ rps: number, cpu: number }>} list */
const addedCpu = (list) => perRound(list, (x, b) => x.cpu - b.cpu);
// The access log's cost: the same route and stack, with and without a line per request.
const accessVsOff = versus(accessRow.list, routeRow.list, (x, b) => x.rps / b.rps);
const accessCpu = versus(accessRow.list, routeRow.list, (x, b) => x.cpu - b.cpu);

// Memory: RSS after warm-up, then after a long mixed run on the lifeline server.
const lifelineUrl = servers.lifeline.url;
await servers.lifeline.gc();
const rssBefore = (await servers.lifeline.stats()).rss;
const paths = ['/api/items', '/api/ping', '/api/health', '/api/status'];
const perPath = Math.ceil(LONG_REQUESTS / paths.length);
let longTotal = 0;
await Promise.all(
  paths.map(async (path) => {
    const r = await autocannon({
      url: lifelineUrl + path,
      connections: Math.max(1, Math.floor(CONNECTIONS / paths.length)),
      amount: perPath,
    });
    if (r.errors > 0 || r.non2xx > 0) throw new Error(`${path}: ${r.errors} errors, ${r.non2xx} non-2xx`);
    longTotal += r.requests.total;
  }),
);
await servers.lifeline.gc();
const rssAfter = (await servers.lifeline.stats()).rss;
await Promise.all(Object.values(servers).map((s) => s.stop()));
const logLine = await measureLogLine();

// The cost of /metrics on a route: the same route and stack with and without the histogram,
// in one process (bench/same-process.js): a few µs, less than two processes of one stack differ.
const metricsPair = await compareInOneProcess({
  base: 'lifeline',
  variant: 'lifeline-metrics',
  path: '/api/items',
  processes: PAIR_PROCESSES,
  rounds: PAIR_ROUNDS,
  connections: CONNECTIONS,
  seconds: SECONDS,
  warmSeconds: WARM_SECONDS,
});

// Reload under load: a 2-worker cluster (`lifeline serve`), steady state, then a SIGHUP
// reload of both workers while autocannon keeps sending. Workers use both cores here.
const reload = await (async () => {
  const port = await new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
  const logFile = join(os.tmpdir(), `lifeline-bench-${process.pid}.log`);
  const cli = join(here, '..', 'dist', 'cli', 'main.js');
  const child = spawn(process.execPath, [cli, 'serve', join(here, 'cluster-app.js'), '--workers', '2', '--port', String(port)], {
    env: { ...process.env, LOG_FILE: logFile },
    stdio: 'ignore',
  });
  /** @param {RegExp} pattern */
  const waitForLog = async (pattern) => {
    for (let i = 0; i < 600; i++) {
      const match = existsSync(logFile) ? pattern.exec(readFileSync(logFile, 'utf8')) : null;
      if (match) return match;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no ${pattern} in ${logFile}`);
  };
  await waitForLog(/2 workers ready/);
  const url = `http://127.0.0.1:${port}/api/items`;
  await autocannon({ url, connections: CONNECTIONS, duration: 2 });
  const steady = await autocannon({ url, connections: CONNECTIONS, duration: 5 });
  /** @type {() => void} */
  let stopLoad = () => undefined;
  /** @type {Promise<autocannon.Result>} */
  const during = new Promise((resolve, reject) => {
    const instance = autocannon({ url, connections: CONNECTIONS, duration: 60 }, (error, result) =>
      error ? reject(error) : resolve(result),
    );
    stopLoad = () => instance.stop();
  });
  await new Promise((r) => setTimeout(r, 1000));
  child.kill('SIGHUP');
  const done = await waitForLog(/reload complete in (\d+) ms/);
  await new Promise((r) => setTimeout(r, 1000));
  stopLoad();
  const result = await during;
  child.kill('SIGTERM');
  await once(child, 'exit');
  rmSync(logFile, { force: true });
  return {
    reloadMs: Number(done[1]),
    sent: result.requests.sent,
    answered: result.requests.total,
    failed: result.errors + result.non2xx + result.timeouts,
    p99: result.latency.p99,
    steadyP99: steady.latency.p99,
    steadyRps: steady.requests.average,
    rps: result.requests.average,
  };
})();

// Load shedding at 3× a CPU-heavy route's capacity, on and off (bench/shed.js): one route
// that waits 5 ms (a database) then burns CPU, one that only burns CPU.
const shedding = [await measureShedding('await'), await measureShedding('sync')];

const mb = (/** @type {number} */ n) => `${(n / 1024 / 1024).toFixed(1)} MB`;
const signed = (/** @type {number} */ n) => `${n >= 0 ? '+' : ''}${n.toFixed(1)}`;
const table = [
  '| scenario | req/s | throughput vs bare | server CPU µs/request | CPU efficiency vs bare | p50 ms | p99 ms |',
  '|---|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.name} | ${r.rps.toFixed(0)} | ${r.throughput.toFixed(2)}× | ${r.cpu.toFixed(1)} | ${r.efficiency.toFixed(2)}× | ${r.p50} | ${r.p99} |`,
  ),
].join('\n');
const summary = [
  `- a user route behind lifeline() vs the same app with cors + helmet alone (GET /api/items): ${lifelineVsCorsHelmet.toFixed(2)}× throughput, ${lifelineVsCorsHelmetCpu.toFixed(2)}× CPU efficiency (target ≥ 1.00×); CPU added to bare Express per request: lifeline() ${addedCpu(routeRow.list).toFixed(1)} µs, cors + helmet ${addedCpu(corsHelmetRow.list).toFixed(1)} µs`,
  `- /api/health vs /api/ping: ${healthVsPing.toFixed(2)}× throughput, ${healthVsPingCpu.toFixed(2)}× CPU efficiency (target ≥ 0.95×); /api/health p99 ${healthRow.p99} ms vs bare route p99 ${rows[0]?.p99} ms`,
  `- /api/health while a dependency hangs (answered from the last snapshot, refreshed in the background): p99 ${hungRow?.p99} ms, p50 ${hungRow?.p50} ms, vs p99 ${healthRow.p99} ms, p50 ${healthRow.p50} ms with every dependency answering`,
  `- child processes spawned by the lifeline server during the timed runs: ${spawnedDuring}`,
  `- access log on vs off (lifeline(), GET /api/items): ${accessVsOff.toFixed(2)}× throughput, +${accessCpu.toFixed(1)} µs server CPU per request; p99 ${accessRow.p99} ms vs ${routeRow.p99} ms; one line alone (bench/log-line.js): ${logLine.cpuMicros.toFixed(1)} µs CPU`,
  `- metrics on vs off (lifeline() and lifeline({ metrics: true }) in one process, GET /api/items, ${PAIR_PROCESSES} processes × ${PAIR_ROUNDS} rounds): ${metricsPair.variant.efficiency.toFixed(3)}× CPU efficiency (target ≥ 0.98×), ${metricsPair.variant.throughput.toFixed(3)}× throughput, ${signed(metricsPair.variant.cpu)} µs server CPU per request of ${metricsPair.baseCpu.toFixed(1)} (per process ${metricsPair.variant.perProcess.map(signed).join(', ')}); the same lifeline() app on a third port, the noise floor: ${signed(metricsPair.twin.cpu)} µs, ${metricsPair.twin.efficiency.toFixed(3)}× (per process ${metricsPair.twin.perProcess.map(signed).join(', ')})`,
  `- serve(app) /api/ping answered at the http.Server level: ${rows[6]?.throughput.toFixed(2)}× bare throughput, ${rows[6]?.efficiency.toFixed(2)}× CPU efficiency`,
  `- reload under load (2 workers, ${CONNECTIONS} connections): both workers replaced in ${reload.reloadMs} ms; ${reload.sent} requests sent during the run, ${reload.answered} answered, ${reload.failed} failed (target 0); p99 ${reload.p99} ms during the reload vs ${reload.steadyP99} ms steady (${reload.rps.toFixed(0)} vs ${reload.steadyRps.toFixed(0)} req/s)`,
  `- RSS of the lifeline server: ${mb(rssBefore)} after warm-up, ${mb(rssAfter)} after ${longTotal} more requests (${(((rssAfter - rssBefore) / rssBefore) * 100).toFixed(1)} %)`,
].join('\n');
const machine = `${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, ${mb(os.totalmem())}, Node ${process.versions.node}, ${os.platform()} ${os.release()}`;
const header = `Run ${new Date().toISOString()} on ${machine}; ${CONNECTIONS} connections, ${ROUNDS} rounds × ${SECONDS} s per scenario, interleaved; ratios are medians of per-round ratios to bare Express; CPU efficiency = bare's server CPU per request / this one's; ${hasTaskset ? 'server on core 0, load on core 1' : 'no taskset: server and load share cores'}.`;
const report = `${header}\n\n${table}\n\n${summary}\n\n${sheddingTable(shedding)}\n`;
console.log(report);
if (process.env.BENCH_WRITE !== '0') {
  writeFileSync(join(here, 'latest.md'), report);
  console.error('written to bench/latest.md (copy into bench/RESULTS.md with your notes)');
}
