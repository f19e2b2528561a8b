// @ts-check
// `npm run bench:mix` (also part of `npm run bench`): the monitor against a fleet as it looks on
// a bad day (issue 16): 10 % of the servers blackholed (accept, never answer), 5 % refusing, 5 %
// slow (answer after 2 s), the rest half plain HTTP, half HTTPS (a self-signed certificate made
// at start, trusted through the monitor's `ca` option). The monitor (createMonitorApp(): checks
// and API in one process, defaults, SQLite) runs on core 0; the targets and the API client here
// on core 1.
//
// Time is compressed 10×: N servers every 6 s are the check rate of 10 × N at 60 s. Timeouts are
// NOT compressed (5 s, as in real time), so the checks waiting at once are as many as in the real
// fleet: rate × share × timeout is the same. Then a soak: one steady run, RSS sampled throughout.
import { execFileSync, fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasTaskset, pin } from './cpu-pinning.js';

const here = dirname(fileURLToPath(import.meta.url));
/** Steps, in servers at 60 s. */
const STEPS = (process.env.BENCH_MIX_STEPS ?? '50000,100000').split(',').filter(Boolean).map(Number);
const INTERVAL = Number(process.env.BENCH_MIX_INTERVAL ?? 6);
const TIMEOUT = Number(process.env.BENCH_MIX_TIMEOUT ?? 5);
const WARMUP = Number(process.env.BENCH_MIX_WARMUP ?? 10);
const SECONDS = Number(process.env.BENCH_MIX_SECONDS ?? 30);
/** The soak: servers at 60 s and seconds (0: none). */
const SOAK_SERVERS = Number(process.env.BENCH_SOAK_SERVERS ?? 50000);
const SOAK_SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 120);
/** API requests per second during the window (GET /api/server-status/?page_size=100, a dashboard's page). */
const API_RATE = Number(process.env.BENCH_MIX_API_RATE ?? 10);
const SLOW_MS = 2000;
const TARGET = { made: 0.99, gap: 1.25, apiP95: 100 };
/** @type {Array<'http' | 'https' | 'slow' | 'blackholed' | 'refusing'>} 20 slots: 2 blackholed, 1 refusing, 1 slow, 8 https, 8 http. */
const MIX = ['blackholed', 'https', 'http', 'https', 'http', 'refusing', 'https', 'http', 'https', 'http'];
MIX.push('blackholed', 'https', 'http', 'https', 'http', 'slow', 'https', 'http', 'https', 'http');

pin(process.pid, '1');

// The certificate: EC P-256 for 127.0.0.1, made with the openssl CLI.
const certDir = mkdtempSync(join(os.tmpdir(), 'lifeline-bench-cert-'));
execFileSync(
  'openssl',
  ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem'].concat([
    '-days',
    '2',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ]),
  { cwd: certDir, stdio: 'ignore' },
);
const cert = readFileSync(join(certDir, 'cert.pem'), 'utf8');
const key = readFileSync(join(certDir, 'key.pem'), 'utf8');
rmSync(certDir, { recursive: true, force: true });

/** @param {net.Server} server */
async function listening(server) {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}
const plain = http.createServer((_req, res) => res.end('ok'));
const secure = https.createServer({ key, cert }, (_req, res) => res.end('ok'));
const slow = http.createServer((_req, res) => setTimeout(() => res.end('ok'), SLOW_MS));
/** @type {Set<net.Socket>} */
const held = new Set();
const blackhole = net.createServer((socket) => {
  held.add(socket);
  socket.on('error', () => {});
  socket.on('close', () => held.delete(socket));
});
for (const s of [plain, secure, slow]) s.keepAliveTimeout = 1000;
const refusing = net.createServer();
const ports = {
  http: await listening(plain),
  https: await listening(secure),
  slow: await listening(slow),
  blackholed: await listening(blackhole),
  refusing: await listening(refusing),
};
refusing.close(); // nothing listens there now: connections are refused

/** @param {number[]} sorted @param {number} p */
const quantile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;

/** Paced GETs of a page of statuses with a JWT, until `stop` resolves; latencies in ms. */
async function apiLoad(
  /** @type {number} */ port,
  /** @type {{ username: string, password: string }} */ admin,
  /** @type {Promise<unknown>} */ stop,
) {
  const base = `http://127.0.0.1:${port}`;
  const login = await fetch(`${base}/api/auth/token/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(admin),
  });
  const { access } = /** @type {{ access: string }} */ (await login.json());
  const headers = { authorization: `Bearer ${access}` };
  let stopped = false;
  void stop.then(() => (stopped = true));
  /** @type {number[]} */
  const times = [];
  let failed = 0;
  let page = 1;
  const gap = 1000 / API_RATE;
  while (!stopped) {
    const t = performance.now();
    try {
      const res = await fetch(`${base}/api/server-status/?page_size=100&page=${page}`, { headers });
      const body = /** @type {{ next?: string | null }} */ (await res.json());
      if (res.status !== 200) failed++;
      page = body.next ? page + 1 : 1;
    } catch {
      failed++;
    }
    const elapsed = performance.now() - t;
    times.push(elapsed);
    await new Promise((r) => setTimeout(r, Math.max(0, gap - elapsed)));
  }
  return { times: times.sort((a, b) => a - b), failed };
}

/** @param {number} equivalent @param {number} seconds @param {number} sampleEvery */
async function runMix(equivalent, seconds, sampleEvery) {
  const servers = Math.max(1, Math.round((equivalent * INTERVAL) / 60));
  const child = fork(join(here, 'monitor-mix-child.js'), [], {
    // BENCH_MIX_NODE_ARGS: extra node flags for the monitor child, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
    execArgv: [...(sampleEvery >= 10 ? ['--expose-gc'] : []), ...(process.env.BENCH_MIX_NODE_ARGS ?? '').split(' ').filter(Boolean)],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  pin(child.pid, '0');
  const messages = /** @type {Array<any>} */ ([]);
  /** @type {Array<() => void>} */
  const waiting = [];
  child.on('message', (m) => {
    messages.push(m);
    for (const w of waiting.splice(0)) w();
  });
  const next = async () => {
    while (messages.length === 0) await new Promise((r) => waiting.push(() => r(undefined)));
    return messages.shift();
  };
  child.send({ servers, interval: INTERVAL, warmup: WARMUP, seconds, sampleEvery, ports, ca: cert, timeout: TIMEOUT, mix: MIX });
  const ready = await next();
  await next(); // window start
  /** @type {(v?: unknown) => void} */
  let endWindow = () => {};
  const windowOver = new Promise((r) => (endWindow = r));
  const api = apiLoad(ready.port, ready.admin, windowOver);
  await next(); // window end
  endWindow();
  const load = await api;
  const result = await next();
  child.send('stop');
  await once(child, 'exit');
  const gaps = /** @type {number[]} */ (result.gaps).sort((a, b) => a - b);
  const rss = /** @type {Array<[number, number]>} */ (result.rss);
  const step = {
    equivalent: (servers * 60) / INTERVAL,
    servers,
    ...result,
    madeShare: result.made / Math.max(1, result.due),
    gapP50: quantile(gaps, 0.5) / 1000,
    gapP99: quantile(gaps, 0.99) / 1000,
    gapMax: (gaps[gaps.length - 1] ?? NaN) / 1000,
    apiP50: quantile(load.times, 0.5),
    apiP95: quantile(load.times, 0.95),
    apiMax: load.times[load.times.length - 1] ?? NaN,
    apiRequests: load.times.length,
    apiFailed: load.failed,
    cpu: result.cpuMicros / 1e4 / result.seconds,
    rssStart: rss[0]?.[1] ?? NaN,
    rssEnd: rss[rss.length - 1]?.[1] ?? NaN,
    rssMax: Math.max(...rss.map(([, r]) => r)),
    gaps: undefined,
  };
  const holds =
    step.madeShare >= TARGET.made &&
    step.gapP99 <= TARGET.gap * INTERVAL &&
    step.healthyDown === 0 &&
    step.wrongAtEnd === 0 &&
    step.apiP95 < TARGET.apiP95;
  console.error(
    `mix ${step.equivalent} at 60 s: ${(step.madeShare * 100).toFixed(1)} % made, gap p99 ${step.gapP99.toFixed(2)} s, healthy down ${step.healthyDown}, wrong ${step.wrongAtEnd}, API p95 ${step.apiP95.toFixed(0)} ms, ELD p99 ${step.eldP99.toFixed(0)} ms, overloaded ${step.overloaded}: ${holds ? 'holds' : 'does not hold'}`,
  );
  return { ...step, holds };
}

/**
 * Whether samples [seconds, bytes] levelled off: the least-squares slope of the last third,
 * carried over the whole run, adds less than 5 % of the end value (or 5 MB).
 * @param {Array<[number, number]>} samples
 */
function levelled(samples) {
  const tail = samples.slice(Math.floor((samples.length * 2) / 3));
  if (tail.length < 3) return 'levelled: too few samples';
  const mx = tail.reduce((a, [x]) => a + x, 0) / tail.length;
  const my = tail.reduce((a, [, y]) => a + y, 0) / tail.length;
  const slope = tail.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / tail.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  const span = (samples[samples.length - 1]?.[0] ?? 0) - (samples[0]?.[0] ?? 0);
  const end = samples[samples.length - 1]?.[1] ?? 0;
  const yes = slope * span < Math.max(5 * 1024 * 1024, end * 0.05);
  return `levelled: ${yes ? 'yes' : 'no'} (last third ${slope >= 0 ? '+' : ''}${((slope * 60) / 1024 / 1024).toFixed(1)} MB/min)`;
}

const steps = [];
for (const equivalent of STEPS) steps.push(await runMix(equivalent, SECONDS, 5));
const soak = SOAK_SECONDS > 0 ? await runMix(SOAK_SERVERS, SOAK_SECONDS, 10) : undefined;
for (const s of [plain, secure, slow, blackhole]) s.close();
for (const socket of held) socket.destroy();
plain.closeAllConnections();
secure.closeAllConnections();
slow.closeAllConnections();

const mb = (/** @type {number} */ n) => `${(n / 1024 / 1024).toFixed(0)} MB`;
const pct = (/** @type {number} */ n) => `${(n * 100).toFixed(1)} %`;
const met = (/** @type {boolean} */ ok) => (ok ? 'met' : 'missed');
const table = [
  '| servers at 60 s (real: servers × interval) | checks made / due | gap between checks p50 / p99 / max s (interval 6) | healthy checks failed / recorded down / wrong at end | overloaded (late starts / waited on loop) | API p50 / p95 / max ms (requests, failed) | event-loop delay p50 / p99 / max ms | monitor CPU % of a core (µs per check started) | checks at once (concurrency) | RSS start → end MB | holds |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ...steps.map(
    (s) =>
      `| ${s.equivalent} (${s.servers} × ${INTERVAL} s) | ${s.made} / ${s.due} (${pct(s.madeShare)}) | ${s.gapP50.toFixed(2)} / ${s.gapP99.toFixed(2)} / ${s.gapMax.toFixed(2)} | ${s.healthyFailed} / ${s.healthyDown} / ${s.wrongAtEnd} | ${s.overloaded} (${s.lateStarts} / ${s.loopWaits}) | ${s.apiP50.toFixed(1)} / ${s.apiP95.toFixed(1)} / ${s.apiMax.toFixed(0)} (${s.apiRequests}, ${s.apiFailed}) | ${s.eldP50.toFixed(1)} / ${s.eldP99.toFixed(1)} / ${s.eldMax.toFixed(0)} | ${s.cpu.toFixed(0)} (${(s.cpuMicros / Math.max(1, s.started)).toFixed(0)}) | ${s.concurrency} | ${mb(s.rssStart)} → ${mb(s.rssEnd)} | ${s.holds ? 'yes' : 'no'} |`,
  ),
].join('\n');
const lines = steps.map(
  (s) =>
    `- ${s.equivalent} servers at 60 s with the mix: ${pct(s.madeShare)} of the checks due made (target ≥ 99 %: ${met(s.madeShare >= TARGET.made)}), gap p99 ${(s.gapP99 / INTERVAL).toFixed(2)} × interval (target ≤ ${TARGET.gap}: ${met(s.gapP99 <= TARGET.gap * INTERVAL)}), healthy targets recorded down ${s.healthyDown} and wrong statuses at the end ${s.wrongAtEnd} (target 0: ${met(s.healthyDown === 0 && s.wrongAtEnd === 0)}), API p95 ${s.apiP95.toFixed(1)} ms (target < ${TARGET.apiP95}: ${met(s.apiP95 < TARGET.apiP95)})${Object.keys(s.failedBy).length ? `; healthy checks failed: ${JSON.stringify(s.failedBy)}` : ''}`,
);
if (soak) {
  const rss = /** @type {Array<[number, number]>} */ (soak.rss);
  const heap = /** @type {Array<[number, number]>} */ (soak.heap);
  const half = rss[Math.floor(rss.length / 2)]?.[1] ?? NaN;
  lines.push(
    `- soak, ${soak.equivalent} servers at 60 s with the mix for ${soak.seconds.toFixed(0)} s after ${WARMUP} s of warm-up: RSS ${mb(soak.rssStart)} at the start, ${mb(half)} half-way, ${mb(soak.rssEnd)} at the end (max ${mb(soak.rssMax)}), ${levelled(rss)}; heap after a full GC ${heap.length ? `${mb(heap[0]?.[1] ?? NaN)} → ${mb(heap[heap.length - 1]?.[1] ?? NaN)}, ${levelled(heap)}` : 'not sampled'}; samples every 10 s: RSS ${rss.map(([, r]) => (r / 1024 / 1024).toFixed(0)).join(', ')} MB; heap ${heap.map(([, h]) => (h / 1024 / 1024).toFixed(0)).join(', ')} MB; ${pct(soak.madeShare)} made, gap p99 ${soak.gapP99.toFixed(2)} s, API p95 ${soak.apiP95.toFixed(1)} ms (${soak.apiRequests} requests, ${soak.apiFailed} failed), healthy recorded down ${soak.healthyDown}, ${(soak.cpuMicros / Math.max(1, soak.started)).toFixed(0)} µs of monitor CPU per check started`,
  );
}
const machine = `${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, ${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB, Node ${process.versions.node}, ${os.platform()} ${os.release()}`;
const header = `Monitor mix run ${new Date().toISOString()} on ${machine}, load average ${os.loadavg()[0]?.toFixed(1)} at the end; createMonitorApp() at its defaults (concurrency from ulimit -n ${execFileSync('sh', ['-c', 'ulimit -n']).toString().trim()}), SQLite; ${WARMUP} s warm-up + ${SECONDS} s measured per step at a ${INTERVAL} s interval (${(60 / INTERVAL).toFixed(0)}× compressed), timeouts ${TIMEOUT} s (not compressed); mix: 10 % blackholed, 5 % refusing, 5 % slow (${SLOW_MS} ms), 40 % HTTPS (EC P-256, no session reuse), 40 % HTTP; API: ${API_RATE} GET /api/server-status/?page_size=100 per second; ${hasTaskset ? 'monitor on core 0, targets and API client on core 1' : 'no taskset: monitor and targets share cores'}.`;
const report = `${header}\n\n${table}\n\n${lines.join('\n')}\n`;
console.log(report);
if (process.env.BENCH_WRITE !== '0') {
  writeFileSync(join(here, 'latest-mix.md'), report);
  console.error('written to bench/latest-mix.md (copy into bench/RESULTS.md with your notes)');
}
