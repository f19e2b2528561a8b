// @ts-check
// The monitor side of bench/monitor-mix.js: createMonitorApp() (checks and API in one process,
// pinned to core 0 by the parent) on a fresh SQLite database holding the realistic mix of
// servers. Runs warm-up + window, measures, answers once, and leaves when told.
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createMonitorApp, openStore, validateServer } from '../dist/monitor/index.js';
// Internal: the per-server phase, to count the slots that were due (no public export).
import { phaseOf } from '../dist/monitor/scheduler.js';

/**
 * @typedef {'http' | 'https' | 'slow' | 'blackholed' | 'refusing'} Kind
 * @typedef {{ servers: number, interval: number, warmup: number, seconds: number, sampleEvery: number,
 *   ports: Record<Kind, number>, ca: string, timeout: number, mix: Kind[] }} MixJob
 */

const send = (/** @type {unknown} */ message) => new Promise((resolve) => process.send?.(message, resolve));
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));
const RESOLUTION = 10;
const HEALTHY = new Set(['http', 'https', 'slow']);
const dir = mkdtempSync(join(tmpdir(), 'lifeline-bench-mix-'));
const database = join(dir, 'monitor.db');

/** @param {MixJob} job */
async function run(job) {
  // The servers are written before the monitor starts (bulk, like an existing database).
  const setup = await openStore({ database });
  const now = Date.now();
  /** @type {Map<number, Kind>} */
  const kindOf = new Map();
  for (let i = 0; i < job.servers; i += 200) {
    const rows = [];
    /** @type {Kind[]} */
    const kinds = [];
    for (let j = i; j < Math.min(job.servers, i + 200); j++) {
      const kind = job.mix[j % job.mix.length] ?? 'http';
      const checked = validateServer({
        name: `${kind}-${j}`,
        protocol: kind === 'https' ? 'https' : 'http',
        host: '127.0.0.1',
        port: job.ports[kind],
        path: `/s${j}`,
        check_interval: job.interval,
        timeout: job.timeout,
      });
      if (!checked.ok) throw new Error(`invalid server: ${JSON.stringify(checked.errors)}`);
      rows.push({ ...checked.value, tags: '[]', depends_on: '[]', created_at: now, updated_at: now });
      kinds.push(kind);
    }
    const ids = /** @type {Array<{ id: number }>} */ (await setup.db('monitor_servers').insert(rows).returning('id'));
    ids.forEach(({ id }, k) => kindOf.set(id, /** @type {Kind} */ (kinds[k])));
    await setup
      .db('monitor_server_status')
      .insert(ids.map(({ id }) => ({ server_id: id, status: 'pending', last_change: now, message: '' })));
    await setup.db('monitor_status_changes').insert(ids.map(({ id }) => ({ server_id: id, status: 'pending', at: now })));
  }
  await setup.close();

  const admin = { username: 'bench', password: 'bench-password-1' };
  const t0 = Date.now();
  const app = await createMonitorApp({ database, logger: false, admin, loginThrottle: false, ca: [job.ca] });
  const t1 = Date.now();
  const { monitor } = app;
  const server = app.app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();

  const intervalMs = job.interval * 1000;
  /** @type {Map<number, number>} */
  const lastCheck = new Map();
  let windowStart = Infinity;
  let windowEnd = Infinity;
  let made = 0;
  /** @type {number[]} */
  const gaps = [];
  let healthyFailed = 0;
  let healthyDown = 0;
  const failedBy = /** @type {Record<string, number>} */ ({});
  monitor.events.on('ping', ({ ping }) => {
    const at = Date.parse(ping.check_timestamp);
    const kind = kindOf.get(ping.server);
    if (kind && HEALTHY.has(kind) && ping.status !== 'success') {
      healthyFailed++;
      const key = `${kind}: ${ping.error_message}`;
      failedBy[key] = (failedBy[key] ?? 0) + 1;
    }
    if (at >= windowStart && at < windowEnd) {
      made++;
      const last = lastCheck.get(ping.server);
      if (last !== undefined) gaps.push(at - last);
    }
    lastCheck.set(ping.server, at);
  });
  monitor.events.on('status', ({ status }) => {
    const kind = kindOf.get(status.server);
    if (kind && HEALTHY.has(kind) && status.status === 'down') healthyDown++;
  });

  await send({ ready: true, port: typeof address === 'object' && address ? address.port : 0, admin });
  await sleep(job.warmup * 1000);

  const eld = monitorEventLoopDelay({ resolution: RESOLUTION });
  eld.enable();
  const startStats = monitor.stats();
  /** @type {Array<[number, number]>} */
  const rss = [[0, process.memoryUsage().rss]];
  // In the soak (samples ≥ 10 s apart), the heap after a full GC too: what RSS alone cannot tell from garbage.
  const gc = /** @type {{ gc?: () => void }} */ (globalThis).gc;
  const heapAfterGc = () => (gc?.(), process.memoryUsage().heapUsed);
  /** @type {Array<[number, number]>} */
  const heap = job.sampleEvery >= 10 && gc ? [[0, heapAfterGc()]] : [];
  windowStart = Date.now();
  const cpuStart = process.cpuUsage();
  await send({ window: 'start' });
  while (Date.now() - windowStart < job.seconds * 1000) {
    await sleep(Math.min(job.sampleEvery * 1000, windowStart + job.seconds * 1000 - Date.now()));
    rss.push([(Date.now() - windowStart) / 1000, process.memoryUsage().rss]);
    if (heap.length > 0) heap.push([(Date.now() - windowStart) / 1000, heapAfterGc()]);
  }
  windowEnd = Date.now();
  const cpu = process.cpuUsage(cpuStart);
  eld.disable();
  const endStats = monitor.stats();
  await send({ window: 'end' });
  // A check counts by its start: one started in the window on a target that never answers ends a
  // timeout later (and is stored a flush after). Wait for those before counting, or the window's
  // last `timeout` of blackholed checks would read as not made.
  await sleep(job.timeout * 1000 + 1500);

  // Slots due in the window: each server's grid starts at its phase after createMonitor() (t0..t1).
  let due = 0;
  for (const id of kindOf.keys()) {
    const first = t1 + phaseOf(id, intervalMs);
    const upTo = (/** @type {number} */ t) => (t < first ? 0 : Math.floor((t - first) / intervalMs) + 1);
    due += upTo(windowEnd) - upTo(windowStart);
  }
  // Statuses at the end: healthy targets up, blackholed and refusing ones down.
  let wrongAtEnd = 0;
  for (const status of await monitor.store.results.statuses()) {
    const kind = kindOf.get(status.server);
    if (!kind) continue;
    const want = HEALTHY.has(kind) ? 'up' : 'down';
    if (status.status !== want) wrongAtEnd++;
  }
  const result = {
    servers: job.servers,
    startupMs: t1 - t0,
    seconds: (windowEnd - windowStart) / 1000,
    due,
    made,
    gaps,
    healthyFailed,
    healthyDown,
    failedBy,
    wrongAtEnd,
    overloaded: endStats.overloaded - startStats.overloaded,
    lateStarts: endStats.overload.lateStarts - startStats.overload.lateStarts,
    loopWaits: endStats.overload.loopWaits - startStats.overload.loopWaits,
    overlapsSkipped: endStats.overlapsSkipped - startStats.overlapsSkipped,
    started: endStats.started - startStats.started,
    concurrency: endStats.concurrency,
    maxRunning: endStats.running,
    cpuMicros: cpu.user + cpu.system,
    eldP50: Math.max(0, eld.percentile(50) / 1e6 - RESOLUTION),
    eldP99: Math.max(0, eld.percentile(99) / 1e6 - RESOLUTION),
    eldMax: Math.max(0, eld.max / 1e6 - RESOLUTION),
    rss,
    heap,
  };
  await send(result);
  await once(process, 'message');
  server.close();
  await app.close();
}

// The parent gone (it failed or was stopped): nothing to answer to, and no server left behind.
process.once('disconnect', () => process.exit(0));
const [job] = /** @type {[MixJob]} */ (await once(process, 'message'));
try {
  await run(job);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.disconnect?.();
