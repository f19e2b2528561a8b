// @ts-check
// Load shedding under 3× overload (part of `npm run bench`, or `node bench/shed.js` alone):
// a CPU-heavy route (WORK_MS of CPU per request) on one core; its capacity and unloaded
// latency measured first, then an open-loop load at 3× that capacity with shedding on and
// off, probes (GET /api/health/live) sent alongside. Load on the other core.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pin } from './cpu-pinning.js';

const here = dirname(fileURLToPath(import.meta.url));
const OVERLOAD_SECONDS = Number(process.env.BENCH_SHED_SECONDS ?? 10);
/** The first seconds of the overload, while the limit adapts, are left out of the figures. */
const SETTLE_SECONDS = Number(process.env.BENCH_SHED_SETTLE ?? 2);
const FACTOR = 3;
const WORK_MS = Number(process.env.WORK_MS ?? 8);

/** @param {Record<string, string>} env */
async function startServer(env) {
  const logFile = join(os.tmpdir(), `lifeline-shed-bench-${process.pid}-${Math.random().toString(36).slice(2)}.log`);
  const child = fork(join(here, 'shed-server.js'), [], {
    env: { ...process.env, NODE_ENV: 'production', LOG_FILE: logFile, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [message] = /** @type {[{ port: number }]} */ (await once(child, 'message'));
  pin(child.pid, '0');
  return {
    base: `http://127.0.0.1:${message.port}`,
    log: () => readFileSync(logFile, 'utf8'),
    async stop() {
      child.kill('SIGTERM');
      await once(child, 'exit');
      rmSync(logFile, { force: true });
    },
  };
}

/** @param {number[]} values @param {number} p */
function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/**
 * One GET; resolves with its status (0 on a socket error) and latency in ms.
 * @param {Agent} agent @param {string} url
 * @returns {Promise<{ status: number, ms: number, at: number }>}
 */
function get(agent, url) {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started, at: started }));
    });
    req.on('error', () => resolve({ status: 0, ms: performance.now() - started, at: started }));
    req.end();
  });
}

/** Sequential requests on one connection for `seconds`: capacity of one client, unloaded latency. @param {string} url @param {number} seconds @param {number} clients */
async function closedLoop(url, seconds, clients) {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const end = performance.now() + seconds * 1000;
  /** @type {number[]} */
  const latencies = [];
  let refused = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        const r = await get(agent, url);
        // A 503 (shed: on a busy shared machine even one client can find the loop late) is counted, not timed.
        if (r.status === 503) refused += 1;
        else if (r.status !== 200) throw new Error(`${url}: ${r.status}`);
        else latencies.push(r.ms);
      }
    }),
  );
  agent.destroy();
  return { rps: latencies.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), refused };
}

/**
 * Open-loop load: `rate` requests per second whatever the answers (as users arrive), and
 * a probe every 50 ms on its own connection.
 * @param {string} base @param {number} rate @param {number} seconds
 */
async function openLoop(base, rate, seconds) {
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const probeAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  const start = performance.now();
  const end = start + seconds * 1000;
  /** @type {Array<Promise<{ status: number, ms: number, at: number }>>} */
  const sent = [];
  /** @type {Array<Promise<{ status: number, ms: number, at: number }>>} */
  const probes = [];
  const probing = (async () => {
    while (performance.now() < end) {
      const p = get(probeAgent, `${base}/api/health/live`);
      probes.push(p);
      await p;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  // A tick every 5 ms sends what is due by then: the rate holds whatever the answers.
  let due = 0;
  while (performance.now() < end) {
    const should = Math.floor(((performance.now() - start) / 1000) * rate);
    for (; due < should; due++) sent.push(get(agent, `${base}/api/work`));
    await new Promise((r) => setTimeout(r, 5));
  }
  await probing;
  const results = await Promise.all(sent);
  const probeResults = await Promise.all(probes);
  agent.destroy();
  probeAgent.destroy();
  const from = start + SETTLE_SECONDS * 1000;
  const window = seconds - SETTLE_SECONDS;
  // Sent within the window (offered, shed), and answered 200 within it (goodput): a
  // queue that is still draining after the end is not throughput.
  const counted = results.filter((r) => r.at >= from);
  const shed = counted.filter((r) => r.status === 503);
  const ok = results.filter((r) => r.status === 200 && r.at + r.ms >= from && r.at + r.ms <= end);
  const probeMs = probeResults.filter((r) => r.at >= from).map((r) => r.ms);
  return {
    offered: counted.length / window,
    goodput: ok.length / window,
    shed: shed.length / window,
    errors: counted.filter((r) => r.status !== 200 && r.status !== 503).length,
    /** Sent in the window and still unanswered at its end. */
    late: counted.filter((r) => r.status === 200 && r.at + r.ms > end).length,
    okP50: percentile(
      ok.map((r) => r.ms),
      50,
    ),
    okP99: percentile(
      ok.map((r) => r.ms),
      99,
    ),
    probeP99: percentile(probeMs, 99),
    probeFailures: probeResults.filter((r) => r.status !== 200).length,
  };
}

/** @param {string} route */
export async function measureShedding(route = process.env.ROUTE ?? 'sync') {
  pin(process.pid, '1');
  // Capacity is the route's, measured without shedding (closed-loop clients queue by design).
  const off = await startServer({ ROUTE: route, SHED: '0' });
  await closedLoop(`${off.base}/api/work`, 2, 4); // warm-up: JIT
  const unloaded = await closedLoop(`${off.base}/api/work`, 3, 1);
  const capacity = await closedLoop(`${off.base}/api/work`, 3, route === 'await' ? 8 : 4);
  const rate = Math.round(capacity.rps * FACTOR);
  const offResult = { ...(await openLoop(off.base, rate, OVERLOAD_SECONDS)), log: off.log() };
  await off.stop();
  // Shedding on: warmed up by one client (the latency it learns as usual), then the same overload.
  const on = await startServer({ ROUTE: route });
  const unloadedOn = await closedLoop(`${on.base}/api/work`, 4, 1);
  const onResult = { ...(await openLoop(on.base, rate, OVERLOAD_SECONDS)), log: on.log() };
  await on.stop();
  return { route, unloaded, unloadedOn, capacity, rate, overload: { on: onResult, off: offResult } };
}

const fixed = (/** @type {number} */ n, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

/**
 * The Markdown table of some runs, with the targets checked.
 * @param {Array<Awaited<ReturnType<typeof measureShedding>>>} runs
 */
export function sheddingTable(runs) {
  const rows = [
    '| route | shedding | capacity req/s | offered req/s | goodput req/s (% of capacity) | shed req/s | admitted p50 / p99 ms | unloaded p99 ms | probes p99 ms |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const notes = [];
  for (const r of runs) {
    const route = r.route === 'await' ? `await 5 ms, then ${WORK_MS} ms CPU` : `${WORK_MS} ms CPU`;
    for (const mode of /** @type {const} */ (['on', 'off'])) {
      const o = r.overload[mode];
      const unloaded = mode === 'on' ? r.unloadedOn : r.unloaded;
      rows.push(
        `| ${route} | ${mode} | ${fixed(r.capacity.rps)} | ${fixed(o.offered)} | ${fixed(o.goodput)} (${fixed((o.goodput / r.capacity.rps) * 100)} %) | ${fixed(o.shed)} | ${fixed(o.okP50)} / ${fixed(o.okP99)} | ${fixed(unloaded.p99)} | ${fixed(o.probeP99)} |`,
      );
    }
    const on = r.overload.on;
    const met = (/** @type {boolean} */ ok) => (ok ? 'met' : 'not met');
    notes.push(
      `- ${route}, shedding on: goodput ${fixed((on.goodput / r.capacity.rps) * 100)} % of capacity (target ≥ 90 %: ${met(on.goodput >= 0.9 * r.capacity.rps)}), admitted p99 ${fixed(on.okP99 / r.unloadedOn.p99, 2)}× unloaded (target ≤ 2×: ${met(on.okP99 <= 2 * r.unloadedOn.p99)}), probes p99 ${fixed(on.probeP99)} ms (target < 50: ${met(on.probeP99 < 50)}); ${on.late} admitted requests answered after the run, ${on.errors} errors; off: ${r.overload.off.late} still queued at the end, probes p99 ${fixed(r.overload.off.probeP99)} ms`,
    );
    for (const line of on.log
      .split('\n')
      .filter((l) => /load shedding/.test(l))
      .slice(0, 2))
      notes.push(`  - log: \`${line}\``);
  }
  return [
    `Load shedding: open-loop load at ${FACTOR}× the route's capacity for ${OVERLOAD_SECONDS} s (the first ${SETTLE_SECONDS} s left out), a probe (GET /api/health/live) every 50 ms; server on core 0, load on core 1.`,
    '',
    ...rows,
    '',
    ...notes,
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const routes = process.env.ROUTE ? [process.env.ROUTE] : ['await', 'sync'];
  const runs = [];
  for (const route of routes) runs.push(await measureShedding(route));
  console.log(sheddingTable(runs));
}
