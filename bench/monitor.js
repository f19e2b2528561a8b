// @ts-check
// `npm run bench:monitor` (also the last part of `npm run bench`): the monitor's speed against
// the targets of issue 10. The monitor runs in a child process on core 0 (bench/monitor-child.js),
// the target HTTP server and the API client here on core 1 (taskset). SQLite in a temp dir.
//
// Capacity is measured in steps of load. Time is compressed: N servers at an interval of I s
// make the check rate of N × 60 / I servers at 60 s, which is what each step reports.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasTaskset, pin } from './cpu-pinning.js';

const here = dirname(fileURLToPath(import.meta.url));
/** Load steps, in servers at a 60 s interval; stops after the first step that does not hold. */
const STEPS = (process.env.BENCH_MONITOR_STEPS ?? '2000,8000,32000,64000,128000,192000,256000').split(',').map(Number);
/** The interval the steps really use, s (the compression: 60 / INTERVAL). */
const INTERVAL = Number(process.env.BENCH_MONITOR_INTERVAL ?? 6);
const SECONDS = Number(process.env.BENCH_MONITOR_SECONDS ?? 15);
const WARMUP = Number(process.env.BENCH_MONITOR_WARMUP ?? 3);
const STATUS_SERVERS = Number(process.env.BENCH_MONITOR_STATUS_SERVERS ?? 1000);
const STATUS_REQUESTS = Number(process.env.BENCH_MONITOR_STATUS_REQUESTS ?? 300);
const TARGET = { servers: 2000, eldP99: 50, driftP99: 250, insertsPerCheck: 1, statusP95: 50, kbPerServer: 50 };

pin(process.pid, '1');

// The servers being checked: one plain http server answering 200 to every path.
const target = createServer((_req, res) => res.end('ok'));
target.listen(0, '127.0.0.1');
await once(target, 'listening');
const targetAddress = target.address();
const port = typeof targetAddress === 'object' && targetAddress ? targetAddress.port : 0;

function startChild() {
  // BENCH_MONITOR_CPU_PROF=<dir>: a CPU profile of each monitor process (node --cpu-prof) in that directory.
  const profile = process.env.BENCH_MONITOR_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_MONITOR_CPU_PROF] : [];
  const child = fork(join(here, 'monitor-child.js'), [], {
    execArgv: ['--expose-gc', ...profile],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  pin(child.pid, '0');
  return child;
}

/** @param {number[]} sorted @param {number} p */
const quantile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
/** @param {number[]} values */
const sortedOf = (values) => [...values].sort((a, b) => a - b);

/**
 * @typedef {{ servers: number, interval: number, seconds: number, started: number, startedTotal: number, dueMin: number, dueMax: number, cpuMicros: number,
 *   missed: number, overlapsSkipped: number, pings: number, failed: number, inserts: number, pingInserts: number, busy: number,
 *   batches: number, lateness: Array<[number, number]>, eldP50: number, eldP99: number, eldMax: number, heapGrowth: number }} StepResult
 */

/** @param {number} equivalent servers at 60 s */
async function runStep(equivalent) {
  const servers = Math.max(1, Math.round((equivalent * INTERVAL) / 60));
  const child = startChild();
  child.send({ mode: 'capacity', servers, interval: INTERVAL, warmup: WARMUP, seconds: SECONDS, port });
  const [result] = /** @type {[StepResult]} */ (await once(child, 'message'));
  await once(child, 'exit');
  const late = sortedOf(result.lateness.map(([, l]) => l));
  const third = (SECONDS * 1000) / 3;
  const firstThird = sortedOf(result.lateness.filter(([at]) => at < third).map(([, l]) => l));
  const lastThird = sortedOf(result.lateness.filter(([at]) => at >= 2 * third).map(([, l]) => l));
  const step = {
    equivalent: (servers * 60) / INTERVAL,
    servers,
    expectedRate: servers / INTERVAL,
    rate: result.started / result.seconds,
    driftP50: quantile(late, 0.5),
    driftP99: quantile(late, 0.99),
    driftMax: late[late.length - 1] ?? NaN,
    driftFirstP99: quantile(firstThird, 0.99),
    driftLastP99: quantile(lastThird, 0.99),
    eldP99: result.eldP99,
    eldMax: result.eldMax,
    failed: result.failed,
    insertsPerCheck: result.inserts / Math.max(1, result.pings),
    pingInsertsPerCheck: result.pingInserts / Math.max(1, result.pings),
    checksPerBatch: result.pings / Math.max(1, result.batches),
    busy: result.busy,
    missed: result.missed,
    overlapsSkipped: result.overlapsSkipped,
    cpu: result.cpuMicros / 1e4 / result.seconds,
    cpuPerCheck: result.cpuMicros / Math.max(1, result.started),
    dueMin: result.dueMin,
    dueMax: result.dueMax,
    startedTotal: result.startedTotal,
    kbPerServer: result.heapGrowth / 1024 / servers,
    heapGrowth: result.heapGrowth,
  };
  const holds = step.eldP99 < TARGET.eldP99 && step.driftP99 < TARGET.driftP99;
  console.error(
    `${step.equivalent} servers at 60 s (${servers} at ${INTERVAL} s): ${step.rate.toFixed(1)}/${step.expectedRate.toFixed(1)} checks/s, drift p99 ${step.driftP99} ms, ELD p99 ${step.eldP99.toFixed(1)} ms: ${holds ? 'holds' : 'does not hold'}`,
  );
  return { ...step, holds };
}

/** @type {Array<Awaited<ReturnType<typeof runStep>>>} */
const steps = [];
for (const equivalent of STEPS) {
  const step = await runStep(equivalent);
  steps.push(step);
  if (!step.holds) break;
}

// GET /api/server-status/ of STATUS_SERVERS checked servers, sequential, with a JWT.
const status = await (async () => {
  const child = startChild();
  child.send({ mode: 'status', servers: STATUS_SERVERS, port });
  const [ready] = /** @type {[{ port: number, admin: { username: string, password: string } }]} */ (await once(child, 'message'));
  const base = `http://127.0.0.1:${ready.port}`;
  const login = await fetch(`${base}/api/auth/token/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(ready.admin),
  });
  const { access } = /** @type {{ access: string }} */ (await login.json());
  const headers = { authorization: `Bearer ${access}` };
  const times = [];
  let bytes = 0;
  for (let i = 0; i < STATUS_REQUESTS + 20; i++) {
    const t = performance.now();
    const res = await fetch(`${base}/api/server-status/`, { headers });
    const text = await res.text();
    const elapsed = performance.now() - t;
    const body = /** @type {{ results?: unknown[] }} */ (JSON.parse(text));
    if (res.status !== 200 || body.results?.length !== STATUS_SERVERS)
      throw new Error(`GET /api/server-status/: ${res.status}, ${text.slice(0, 200)}`);
    bytes = text.length;
    if (i >= 20) times.push(elapsed); // the first 20 warm up
  }
  child.send('stop');
  await once(child, 'message');
  await once(child, 'exit');
  const sorted = sortedOf(times);
  return { p50: quantile(sorted, 0.5), p95: quantile(sorted, 0.95), p99: quantile(sorted, 0.99), bytes };
})();
target.close();

const mb = (/** @type {number} */ n) => `${(n / 1024 / 1024).toFixed(1)} MB`;
const ms = (/** @type {number} */ n) => (Number.isFinite(n) ? n.toFixed(0) : '–');
const met = (/** @type {boolean} */ ok) => (ok ? 'met' : 'missed');
const table = [
  '| servers at 60 s (real: servers × interval) | checks/s achieved / expected | start drift p50 / p99 / max ms | drift p99 first → last third ms | event-loop delay p99 / max ms | INSERTs per check (pings only) | checks per batch | failed checks | SQLITE_BUSY | slots missed / overlaps skipped | started / due since start | monitor CPU % of a core (µs per check) | heap KB per server | holds |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ...steps.map(
    (s) =>
      `| ${s.equivalent} (${s.servers} × ${INTERVAL} s) | ${s.rate.toFixed(1)} / ${s.expectedRate.toFixed(1)} | ${ms(s.driftP50)} / ${ms(s.driftP99)} / ${ms(s.driftMax)} | ${ms(s.driftFirstP99)} → ${ms(s.driftLastP99)} | ${s.eldP99.toFixed(1)} / ${s.eldMax.toFixed(0)} | ${s.insertsPerCheck.toFixed(3)} (${s.pingInsertsPerCheck.toFixed(3)}) | ${s.checksPerBatch.toFixed(0)} | ${s.failed} | ${s.busy} | ${s.missed} / ${s.overlapsSkipped} | ${s.startedTotal} / ${s.dueMin}–${s.dueMax} | ${s.cpu.toFixed(0)} (${s.cpuPerCheck.toFixed(0)}) | ${s.kbPerServer.toFixed(1)} | ${s.holds ? 'yes' : 'no'} |`,
  ),
].join('\n');

const holding = steps.filter((s) => s.holds);
const best = holding[holding.length - 1];
const firstFailing = steps.find((s) => !s.holds);
const atTarget = steps.find((s) => s.equivalent >= TARGET.servers);
const maxInserts = Math.max(...steps.map((s) => s.insertsPerCheck));
const totalBusy = steps.reduce((sum, s) => sum + s.busy, 0);
// Memory: the slope of heap growth over the number of servers (fixed costs cancel out),
// and the plain growth per server at the largest step (fixed costs included).
const slope = (() => {
  if (steps.length < 2) return NaN;
  const mx = steps.reduce((a, s) => a + s.servers, 0) / steps.length;
  const my = steps.reduce((a, s) => a + s.heapGrowth, 0) / steps.length;
  const num = steps.reduce((a, s) => a + (s.servers - mx) * (s.heapGrowth - my), 0);
  const den = steps.reduce((a, s) => a + (s.servers - mx) ** 2, 0);
  return num / den / 1024;
})();
const largest = steps.reduce((a, s) => (s.servers > a.servers ? s : a), steps[0] ?? { servers: 0, kbPerServer: NaN });
const kbPerServer = Number.isFinite(slope) ? Math.max(slope, 0) : largest.kbPerServer;

const summary = [
  `- capacity (event-loop delay p99 < ${TARGET.eldP99} ms and start drift p99 < ${TARGET.driftP99} ms): ${best ? `${best.equivalent} servers at 60 s (${best.rate.toFixed(0)} checks/s)` : 'no step held'}${firstFailing ? `; ${firstFailing.equivalent} did not hold (drift p99 ${ms(firstFailing.driftP99)} ms, ELD p99 ${firstFailing.eldP99.toFixed(0)} ms, ${firstFailing.rate.toFixed(0)} of ${firstFailing.expectedRate.toFixed(0)} checks/s)` : `; the largest step tried held`} (target ≥ ${TARGET.servers}: ${met((best?.equivalent ?? 0) >= TARGET.servers)})`,
  atTarget
    ? `- at ${atTarget.equivalent} servers at 60 s: start drift p99 ${ms(atTarget.driftP99)} ms (target < ${TARGET.driftP99}: ${met(atTarget.driftP99 < TARGET.driftP99)}), event-loop delay p99 ${atTarget.eldP99.toFixed(1)} ms (target < ${TARGET.eldP99}: ${met(atTarget.eldP99 < TARGET.eldP99)})`
    : `- no step at ${TARGET.servers} servers was run`,
  best
    ? `- no cumulative drift, at ${best.equivalent} servers: drift p99 ${ms(best.driftFirstP99)} ms in the first third of the step, ${ms(best.driftLastP99)} ms in the last; ${best.startedTotal} checks started since the monitor started, ${best.dueMin}–${best.dueMax} slots due (counted from the end and the start of createMonitor()), ${best.missed} skipped`
    : '- no cumulative drift: no step held',
  `- INSERT statements per check (pings, statuses, state changes; batched): at most ${maxInserts.toFixed(3)} over the steps (target ≤ ${TARGET.insertsPerCheck}: ${met(maxInserts <= TARGET.insertsPerCheck)}); SQLITE_BUSY ${totalBusy} (target 0: ${met(totalBusy === 0)})`,
  `- GET /api/server-status/ of ${STATUS_SERVERS} servers (${(status.bytes / 1024).toFixed(0)} KB of JSON), ${STATUS_REQUESTS} sequential requests with a JWT: p50 ${status.p50.toFixed(1)} ms, p95 ${status.p95.toFixed(1)} ms, p99 ${status.p99.toFixed(1)} ms (target p95 < ${TARGET.statusP95} ms: ${met(status.p95 < TARGET.statusP95)})`,
  `- memory per server, heap with the scheduler running (after GC): ${Number.isFinite(slope) ? `${slope.toFixed(1)} KB marginal (slope over the steps), ` : ''}${largest.kbPerServer.toFixed(1)} KB at ${largest.servers} servers with fixed costs (target ≤ ${TARGET.kbPerServer} KB: ${met(kbPerServer <= TARGET.kbPerServer)})`,
].join('\n');
const machine = `${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, ${mb(os.totalmem())}, Node ${process.versions.node}, ${os.platform()} ${os.release()}`;
const header = `Monitor run ${new Date().toISOString()} on ${machine}, load average ${os.loadavg()[0]?.toFixed(1)} at the end; SQLite (temp file); each step ${WARMUP} s warm-up + ${SECONDS} s measured, at a ${INTERVAL} s interval (${(60 / INTERVAL).toFixed(1)}× compressed: N servers at ${INTERVAL} s = N × ${(60 / INTERVAL).toFixed(0)} at 60 s); the target servers answer 200 from one http server; ${hasTaskset ? 'monitor on core 0, target servers and API client on core 1' : 'no taskset: monitor and targets share cores'}.`;
const report = `${header}\n\n${table}\n\n${summary}\n`;
console.log(report);
if (process.env.BENCH_WRITE !== '0') {
  writeFileSync(join(here, 'latest-monitor.md'), report);
  console.error('written to bench/latest-monitor.md (copy into bench/RESULTS.md with your notes)');
}
