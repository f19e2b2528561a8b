// @ts-check
// The monitor side of bench/monitor.js, one process per measurement (pinned to core 0 by
// the parent, started with --expose-gc). The parent sends one job over IPC and gets one
// answer back: `capacity` runs createMonitor() on N servers for a while and measures it;
// `status` serves createMonitorApp() with 1,000 checked servers until told to stop.
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createMonitor, createMonitorApp, openStore, validateServer } from '../dist/monitor/index.js';
// Internal: the per-server phase, to count the slots that were due (no public export).
import { phaseOf } from '../dist/monitor/scheduler.js';

/**
 * @typedef {{ mode: 'capacity', servers: number, interval: number, warmup: number, seconds: number, port: number }} CapacityJob
 * @typedef {{ mode: 'status', servers: number, port: number }} StatusJob
 */

const send = (/** @type {unknown} */ message) => new Promise((resolve) => process.send?.(message, resolve));
const gc = () => /** @type {{ gc?: () => void }} */ (globalThis).gc?.();
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));
const RESOLUTION = 10;
const dir = mkdtempSync(join(tmpdir(), 'lifeline-bench-monitor-'));
const database = join(dir, 'monitor.db');

/** @param {number} port @param {number} i @param {number} interval */
function serverInput(port, i, interval) {
  const checked = validateServer({ name: `s${i}`, protocol: 'http', host: '127.0.0.1', port, path: `/s${i}`, check_interval: interval });
  if (!checked.ok) throw new Error(`invalid server: ${JSON.stringify(checked.errors)}`);
  return checked.value;
}

/** @param {CapacityJob} job */
async function capacity(job) {
  // The servers are written before the monitor starts (bulk, like an existing database).
  const setup = await openStore({ database });
  const now = Date.now();
  for (let i = 0; i < job.servers; i += 200) {
    const rows = [];
    for (let j = i; j < Math.min(job.servers, i + 200); j++) {
      rows.push({ ...serverInput(job.port, j, job.interval), tags: '[]', depends_on: '[]', created_at: now, updated_at: now });
    }
    const ids = /** @type {Array<{ id: number }>} */ (await setup.db('monitor_servers').insert(rows).returning('id'));
    await setup
      .db('monitor_server_status')
      .insert(ids.map(({ id }) => ({ server_id: id, status: 'pending', last_change: now, message: '' })));
    await setup.db('monitor_status_changes').insert(ids.map(({ id }) => ({ server_id: id, status: 'pending', at: now })));
  }
  await setup.close();

  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const t0 = Date.now();
  const monitor = await createMonitor({ database, logger: false });
  const t1 = Date.now(); // the servers were put on the schedule between t0 and t1
  let inserts = 0;
  let pingInserts = 0;
  let busy = 0;
  let pings = 0;
  let failed = 0;
  monitor.store.db.on('query', (/** @type {{ sql: string }} */ q) => {
    if (/^\s*insert/i.test(q.sql)) inserts++;
    if (/^\s*insert into [`"]?monitor_ping_results/i.test(q.sql)) pingInserts++;
  });
  monitor.store.db.on('query-error', (/** @type {unknown} */ error) => {
    if (/SQLITE_BUSY/.test(String(error))) busy++;
  });
  monitor.events.on('ping', ({ ping }) => {
    pings++;
    if (ping.status !== 'success') failed++; // a failing check is cheaper: it would flatter the figures
  });

  // Lateness: the scheduler keeps the last 1,000; polled often enough to see every one.
  /** @type {Array<{ at: number, late: number }>} */
  const lateness = [];
  let seen = monitor.stats().started;
  const poll = () => {
    const s = monitor.stats();
    const fresh = Math.min(s.started - seen, s.lateness.length);
    const at = Date.now();
    for (const late of s.lateness.slice(s.lateness.length - fresh)) lateness.push({ at, late });
    seen = s.started;
  };
  const poller = setInterval(poll, 100);

  await sleep(job.warmup * 1000);
  poll();
  lateness.length = 0;
  // The histogram holds the time between its ticks: the delay is that minus the resolution.
  const eld = monitorEventLoopDelay({ resolution: RESOLUTION });
  eld.enable();
  const startStats = monitor.stats();
  const counts = { inserts, pingInserts, busy, pings, failed };
  const windowStart = Date.now();
  const cpuStart = process.cpuUsage();
  await sleep(job.seconds * 1000);
  poll();
  const cpu = process.cpuUsage(cpuStart);
  const windowEnd = Date.now();
  eld.disable();
  clearInterval(poller);
  const endStats = monitor.stats();

  // Slots due since the start (each server's first at start + phase, then every interval),
  // counted from both ends of createMonitor(): the started checks should fall in between.
  const intervalMs = job.interval * 1000;
  const dueFrom = (/** @type {number} */ start) => {
    let due = 0;
    for (let id = 1; id <= job.servers; id++) {
      const first = start + phaseOf(id, intervalMs);
      if (first <= windowEnd) due += Math.floor((windowEnd - first) / intervalMs) + 1;
    }
    return due;
  };
  gc();
  const heapAfter = process.memoryUsage().heapUsed;
  await monitor.close();
  const window = (windowEnd - windowStart) / 1000;
  return {
    servers: job.servers,
    interval: job.interval,
    seconds: window,
    started: endStats.started - startStats.started,
    startedTotal: endStats.started,
    dueMin: dueFrom(t1),
    dueMax: dueFrom(t0),
    cpuMicros: cpu.user + cpu.system,
    missed: endStats.missed,
    overlapsSkipped: endStats.overlapsSkipped,
    pings: pings - counts.pings,
    failed: failed - counts.failed,
    inserts: inserts - counts.inserts,
    pingInserts: pingInserts - counts.pingInserts,
    busy,
    batches: endStats.batches - startStats.batches,
    lateness: lateness.map((l) => [l.at - windowStart, l.late]),
    eldP50: Math.max(0, eld.percentile(50) / 1e6 - RESOLUTION),
    eldP99: Math.max(0, eld.percentile(99) / 1e6 - RESOLUTION),
    eldMax: Math.max(0, eld.max / 1e6 - RESOLUTION),
    heapGrowth: heapAfter - heapBefore,
  };
}

/** @param {StatusJob} job */
async function status(job) {
  const admin = { username: 'bench', password: 'bench-password-1' };
  const app = await createMonitorApp({ database, logger: false, schedule: false, admin, loginThrottle: false });
  for (let i = 0; i < job.servers; i++) await app.monitor.store.servers.create(serverInput(job.port, i, 60));
  await app.monitor.runNow(); // every server with a stored check and status, as in use
  const server = app.app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  await send({ port: typeof address === 'object' && address ? address.port : 0, admin });
  await once(process, 'message');
  server.close();
  await app.close();
  return {};
}

// The parent gone (it failed or was stopped): nothing to answer to, and no server left behind.
process.once('disconnect', () => process.exit(0));
const [job] = /** @type {[CapacityJob | StatusJob]} */ (await once(process, 'message'));
try {
  await send(job.mode === 'capacity' ? await capacity(job) : await status(job));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.disconnect?.();
