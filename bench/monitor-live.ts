// `npm run bench:live` (also the last part of `npm run bench`): the monitor's live updates,
// notifications and shared scheduler, with real clients, a real webhook receiver and a throwaway
// PostgreSQL (test/helpers/postgres.ts, destroyed at the end, also on failure or Ctrl-C).
//   1. check done → SSE / WebSocket event, 500 connected clients in another process (target p95 < 500 ms)
//   2. state change → first webhook attempt received, many servers going down at once (target p95 < 1 s)
//   3. scheduler throughput, one instance vs two sharing the checks on PostgreSQL, and no slot checked twice
// Sizes: BENCH_LIVE_SSE, BENCH_LIVE_WS, BENCH_LIVE_SERVERS, BENCH_LIVE_SECONDS, BENCH_WEBHOOK_SERVERS,
// BENCH_SCHED_SERVERS, BENCH_SCHED_INTERVAL, BENCH_SCHED_SECONDS. BENCH_WRITE=0: do not write bench/latest-live.md.
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import express from 'express';
import pg from 'pg';
import { serve } from 'express-lifeline';
import {
  attachMonitorSockets,
  createLiveUpdates,
  createMonitor,
  openStore,
  statusStream,
  validateNotificationConfig,
  validateServer,
  type LiveUser,
  type MonitorStore,
  type NotificationConfigInput,
} from 'express-lifeline/monitor';
import { hasTaskset, pin } from './cpu-pinning.js';
import { startPostgres, type PostgresServer } from '../test/helpers/postgres.js';
import { startWebhookReceiver } from '../test/monitor/receivers.js';
import { startTarget, type Target } from '../test/monitor/target.js';

const here = dirname(fileURLToPath(import.meta.url));
const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const SSE = env('BENCH_LIVE_SSE', 250);
const WS = env('BENCH_LIVE_WS', 250);
const LIVE_SERVERS = env('BENCH_LIVE_SERVERS', 200); // checked every 10 s: 20 checks/s
const LIVE_SECONDS = env('BENCH_LIVE_SECONDS', 20);
const WEBHOOK_SERVERS = env('BENCH_WEBHOOK_SERVERS', 100);
const SCHED_SERVERS = env('BENCH_SCHED_SERVERS', 4000);
const SCHED_INTERVAL = env('BENCH_SCHED_INTERVAL', 1); // 4000 checks/s due: more than one instance finishes here
const SCHED_SECONDS = env('BENCH_SCHED_SECONDS', 15);

/** Wall-clock ms with sub-ms resolution, as the clients' process takes it (bench/monitor-live-worker.ts). */
const wallNow = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const allCpus = `0-${os.cpus().length - 1}`;

// Children and PostgreSQL go away with this process whatever ends it: the helper stops its
// servers on 'exit', which a signal does not reach without these handlers.
const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(os.tmpdir(), 'lifeline-bench-monitor-'));
  tempDirs.add(dir);
  return dir;
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => process.exit(130));

interface Worker {
  child: ChildProcess;
  pid: number | undefined;
  send(message: unknown): void;
  /** The next message of this type (messages are queued: several may come in one tick). */
  message<T>(type: string): Promise<T>;
  exited: Promise<void>;
}

function worker(args: string[]): Worker {
  const child = fork(join(here, 'monitor-live-worker.ts'), args, {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  const inbox: Array<{ type: string }> = [];
  let wake = () => {};
  let exit: string | undefined;
  child.on('message', (m: { type: string }) => {
    inbox.push(m);
    wake();
  });
  const exited = new Promise<void>((resolve) =>
    child.on('exit', (code, signal) => {
      children.delete(child);
      exit = `exit code ${code}, signal ${signal}`;
      wake();
      resolve();
    }),
  );
  return {
    child,
    pid: child.pid,
    send: (m) => void (child.connected && child.send(m as object)),
    exited,
    async message<T>(type: string): Promise<T> {
      for (;;) {
        const at = inbox.findIndex((m) => m.type === type);
        if (at >= 0) return inbox.splice(at, 1)[0] as T;
        if (exit) throw new Error(`a benchmark process ended before '${type}' (${exit})`);
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}

interface Spread {
  n: number;
  p50: number;
  p95: number;
  max: number;
}
function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { n: sorted.length, p50: at(0.5), p95: at(0.95), max: sorted[sorted.length - 1] ?? NaN };
}
const ms = (n: number) => (Number.isNaN(n) ? '–' : n < 10 ? n.toFixed(1) : n.toFixed(0));

async function addServers(store: MonitorStore, count: number, port: number, prefix: string, fields: Record<string, unknown> = {}) {
  const ids: number[] = [];
  for (let i = 0; i < count; i += 25) {
    const batch = Array.from({ length: Math.min(25, count - i) }, (_, j) => {
      const checked = validateServer({
        name: `${prefix}${i + j}`,
        protocol: 'http',
        host: '127.0.0.1',
        port,
        path: `/${prefix}${i + j}`,
        ...fields,
      });
      if (!checked.ok) throw new Error(`invalid server: ${JSON.stringify(checked.errors)}`);
      return store.servers.create(checked.value);
    });
    ids.push(...(await Promise.all(batch)).map((s) => s.id));
  }
  return ids;
}

// 1. Check done → live event, clients in another process. Without `postgres`: one instance, memory
// channel, SQLite. With it: the checks run on one instance and the clients are served by another,
// the events going through PostgreSQL LISTEN/NOTIFY.
async function liveEvents(target: Target, postgres?: string) {
  const dir = tempDir();
  const database = postgres ?? join(dir, 'monitor.db');
  const seed = await openStore({ database });
  await addServers(seed, LIVE_SERVERS, target.port, 'live', { check_interval: 10 });
  await seed.close();

  const checker = await createMonitor({ database, logger: false, notifications: false });
  // Registered before the live layer's listener: `emit` is when the stored check is announced.
  const pings = new Map<number, { done: number; emit: number }>();
  checker.events.on('ping', ({ ping }) => {
    pings.set(ping.id, { done: Date.parse(ping.check_timestamp) + (ping.response_time ?? 0), emit: wallNow() });
  });
  const publisher = await createLiveUpdates({ monitor: checker, logger: false });
  const monitor = postgres ? await createMonitor({ database, logger: false, notifications: false, schedule: false }) : checker;
  const live = postgres ? await createLiveUpdates({ monitor, logger: false }) : publisher;
  const token = randomBytes(16).toString('hex');
  const user: LiveUser = { id: 1, username: 'bench', is_admin: true };
  const authenticate = async (given: string) => (given === token ? user : undefined);
  const app = express();
  app.get('/api/events/status/', statusStream({ live, authenticate }));
  const served = await serve(app, { port: 0, exit: false, signals: false, handleCrashes: false, logger: false, idleGrace: 0 });
  const sockets = attachMonitorSockets(served.server, { live, authenticate });
  pin(process.pid, '0');
  const clients = worker(['clients', served.url, String(SSE), String(WS), token]);
  pin(clients.pid, '1');
  try {
    await clients.message('ready');
    await sleep(2000); // the first checks' burst is over, the clients' JIT warm
    const from = wallNow();
    await sleep(LIVE_SECONDS * 1000);
    const to = wallNow();
    await sleep(1000); // what was announced in the window arrives
    clients.send({ type: 'report' });
    const report = await clients.message<{ sse: Array<[number, number]>; ws: Array<[number, number]> }>('report');
    const inWindow = new Map([...pings].filter(([, t]) => t.emit >= from && t.emit < to));
    const latencies = (arrivals: Array<[number, number]>) => {
      const done: number[] = [];
      const emit: number[] = [];
      for (const [id, at] of arrivals) {
        const t = inWindow.get(id);
        if (!t) continue;
        done.push(at - t.done);
        emit.push(at - t.emit);
      }
      return { done: spread(done), emit: spread(emit) };
    };
    return { checks: inWindow.size, perSecond: inWindow.size / LIVE_SECONDS, sse: latencies(report.sse), ws: latencies(report.ws) };
  } finally {
    clients.send({ type: 'stop' });
    await clients.exited;
    pin(process.pid, allCpus);
    await served.shutdown();
    await sockets.close();
    await live.close();
    await publisher.close();
    await monitor.close();
    await checker.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// 2. State change → first webhook attempt, every server going down in the same round of checks.
async function webhooks(target: Target, database: string) {
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const receiver = await startWebhookReceiver(secret);
  const monitor = await createMonitor({ database, logger: false, schedule: false }); // default notification settings
  try {
    const prefix = `hook${Date.now()}-`;
    const ids = await addServers(monitor.store, WEBHOOK_SERVERS, target.port, prefix, { failure_threshold: 1 });
    for (const id of ids) {
      const checked = validateNotificationConfig({ server: id, notification_type: 'webhook', recipient: receiver.url, secret });
      if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
      await monitor.store.notifications.create(checked.value as NotificationConfigInput);
    }
    await monitor.runNow(ids); // pending → up
    await sleep(500);
    const changedAt = new Map<number, number>();
    monitor.events.on('status', ({ status }) => {
      if (status.status === 'down') changedAt.set(status.server, Date.parse(status.last_change));
    });
    for (let i = 0; i < ids.length; i++) target.failing.add(`/${prefix}${i}`);
    const first = new Map<number, number>();
    const countFirst = () => {
      for (const r of receiver.requests) {
        const id = (r.body.server as { id: number } | undefined)?.id;
        if (r.body.type === 'server.down' && id !== undefined && !first.has(id)) first.set(id, r.at);
      }
      return first.size;
    };
    await monitor.runNow(ids);
    const deadline = Date.now() + 20_000;
    while (countFirst() < ids.length && Date.now() < deadline) await sleep(10);
    const latencies = [...first].map(([id, at]) => at - (changedAt.get(id) ?? NaN)).filter((n) => !Number.isNaN(n));
    return { servers: ids.length, received: first.size, verified: receiver.requests.every((r) => r.verified), ...spread(latencies) };
  } finally {
    await monitor.close();
    await receiver.close();
  }
}

// 3. Shared scheduler: checks per second finished by one instance, then by two, on the same PostgreSQL.
/** CPU time used so far by a set of processes, ms (Linux /proc; NaN elsewhere). */
function cpuOf(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      return NaN;
    }
  }
  return ticks * 10; // USER_HZ is 100 on Linux
}

async function schedulerRun(database: string, instances: number, postgres: PostgresServer) {
  const workers = Array.from({ length: instances }, () => worker(['scheduler', database]));
  try {
    await Promise.all(workers.map((w) => w.message('ready')));
    const from = Date.now() + 3000; // start-up burst over
    const to = from + SCHED_SECONDS * 1000;
    for (const w of workers) w.send({ type: 'window', from, to });
    // PostgreSQL's CPU over the window: its backends are the pools' connections, open all along.
    await sleep(from - Date.now());
    const pgFrom = postgres.pids();
    const pgCpuFrom = cpuOf(pgFrom);
    await sleep(to - Date.now());
    const pgCpu = cpuOf(pgFrom) - pgCpuFrom;
    await sleep(500);
    for (const w of workers) w.send({ type: 'stop' });
    const reports = await Promise.all(
      workers.map((w) =>
        w.message<{ checks: number; claimed: Array<[number, number]>; cpuMs: number; claimsLost: number; skipped: number }>('report'),
      ),
    );
    // A slot checked twice: the same server and slot won by more than one claim.
    const slots = new Set<string>();
    let twice = 0;
    for (const r of reports) {
      for (const [server, slot] of r.claimed) {
        const key = `${server}:${slot}`;
        if (slots.has(key)) twice++;
        slots.add(key);
      }
    }
    const checks = reports.reduce((sum, r) => sum + r.checks, 0);
    return {
      instances,
      checks,
      perSecond: checks / SCHED_SECONDS,
      split: reports.map((r) => r.checks),
      claimed: slots.size + twice,
      claimsLost: reports.reduce((sum, r) => sum + r.claimsLost, 0),
      skipped: reports.reduce((sum, r) => sum + r.skipped, 0),
      twice,
      monitorCpuPerCheck: (reports.reduce((sum, r) => sum + r.cpuMs, 0) * 1000) / checks,
      postgresCpuPerCheck: (pgCpu * 1000) / checks,
    };
  } finally {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
  }
}

async function scheduler(target: Target, database: string, postgres: PostgresServer) {
  const seeding = Date.now();
  const seed = await openStore({ database });
  await addServers(seed, SCHED_SERVERS, target.port, 'sched', { check_interval: SCHED_INTERVAL, timeout: Math.min(5, SCHED_INTERVAL) });
  await seed.close();
  console.error(`   ${SCHED_SERVERS} servers added in ${((Date.now() - seeding) / 1000).toFixed(1)} s`);
  const one = await schedulerRun(database, 1, postgres);
  const two = await schedulerRun(database, 2, postgres);
  return { due: SCHED_SERVERS / SCHED_INTERVAL, one, two };
}

const started = Date.now();
let postgres: PostgresServer | undefined;
let target: Target | undefined;
let dir: string | undefined;
try {
  target = await startTarget();
  console.error(`1/3 live events: ${SSE} SSE + ${WS} WebSocket clients, ${LIVE_SERVERS} servers every 10 s, ${LIVE_SECONDS} s…`);
  const liveResult = await liveEvents(target);
  postgres = await startPostgres();
  const admin = new pg.Client(postgres.url);
  await admin.connect();
  // One database per part: the servers of one part would be checked during the next.
  for (const name of ['live', 'hooks', 'sched']) await admin.query(`create database lifeline_${name}`);
  await admin.end();
  const databaseUrl = (name: string) => postgres!.url.replace(/\/lifeline_test$/, `/lifeline_${name}`);
  console.error(`   …and across two instances through PostgreSQL LISTEN/NOTIFY`);
  const liveShared = await liveEvents(target, databaseUrl('live'));
  console.error(`2/3 webhooks: ${WEBHOOK_SERVERS} servers going down (SQLite, then PostgreSQL)…`);
  dir = tempDir();
  const hooksSqlite = await webhooks(target, join(dir, 'monitor.db'));
  const hooksPostgres = await webhooks(target, databaseUrl('hooks'));
  console.error(
    `3/3 scheduler: ${SCHED_SERVERS} servers every ${SCHED_INTERVAL} s on PostgreSQL, one instance then two, ${SCHED_SECONDS} s each…`,
  );
  const sched = await scheduler(target, databaseUrl('sched'), postgres);

  const hooks = [
    ['SQLite', hooksSqlite],
    ['PostgreSQL', hooksPostgres],
  ] as const;
  const lives = [
    ['one instance, memory channel', liveResult],
    ['checked on one instance, clients on another, PostgreSQL LISTEN/NOTIFY', liveShared],
  ] as const;
  const liveWorst = Math.max(...lives.flatMap(([, r]) => [r.sse.done.p95, r.ws.done.p95]));
  const liveAll = lives.every(([, r]) => r.sse.done.n === r.checks * SSE && r.ws.done.n === r.checks * WS);
  const hookWorst = Math.max(hooksSqlite.p95, hooksPostgres.p95);
  const ratio = sched.two.perSecond / sched.one.perSecond;
  const machine = `${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, ${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB, Node ${process.versions.node}, ${os.platform()} ${os.release()}`;
  const report = [
    `Run ${new Date().toISOString()} on ${machine}; ${hasTaskset ? 'monitor on core 0, live clients on core 1 (taskset)' : 'no taskset: monitor and clients share cores'}; ${((Date.now() - started) / 1000).toFixed(0)} s in all.`,
    '',
    `| live events: ${LIVE_SERVERS} servers checked every 10 s, ${LIVE_SECONDS} s | clients | checks | events received | check done → received p50 / p95 / max ms | announced → received p50 / p95 / max ms |`,
    '|---|---:|---:|---:|---:|---:|',
    ...lives.flatMap(([setup, result]) =>
      (
        [
          ['SSE', SSE, result.sse],
          ['WebSocket', WS, result.ws],
        ] as const
      ).map(
        ([name, n, r]) =>
          `| ${setup}: ${name} | ${n} | ${result.checks} | ${r.done.n} of ${result.checks * n} | ${ms(r.done.p50)} / ${ms(r.done.p95)} / ${ms(r.done.max)} | ${ms(r.emit.p50)} / ${ms(r.emit.p95)} / ${ms(r.emit.max)} |`,
      ),
    ),
    '',
    `| webhooks: ${WEBHOOK_SERVERS} servers down in one round of checks | first attempts received | state change → first attempt p50 / p95 / max ms | signatures valid |`,
    '|---|---:|---:|---:|',
    ...hooks.map(
      ([name, r]) =>
        `| ${name}, default notification settings | ${r.received} of ${r.servers} | ${ms(r.p50)} / ${ms(r.p95)} / ${ms(r.max)} | ${r.verified ? 'all' : 'NOT ALL'} |`,
    ),
    '',
    `| scheduler: ${SCHED_SERVERS} servers every ${SCHED_INTERVAL} s (${sched.due.toFixed(0)} checks/s due), PostgreSQL, ${SCHED_SECONDS} s | checks finished | slots claimed | checks/s | per instance | monitor CPU µs/check | PostgreSQL CPU µs/check | slots skipped (late or still running), whole run | slots taken by the other instance, whole run | slots checked twice |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...[sched.one, sched.two].map(
      (r) =>
        `| ${r.instances} instance${r.instances > 1 ? 's' : ''} | ${r.checks} | ${r.claimed} | ${r.perSecond.toFixed(0)} | ${r.split.join(' + ')} | ${r.monitorCpuPerCheck.toFixed(0)} | ${r.postgresCpuPerCheck.toFixed(0)} | ${r.skipped} | ${r.claimsLost} | ${r.twice} |`,
    ),
    '',
    `- check done → live event p95 with ${SSE + WS} clients, worst of the two setups: ${ms(liveWorst)} ms (target < 500 ms): ${liveWorst < 500 ? 'met' : 'MISSED'}; every event reached every client: ${liveAll ? 'yes' : 'NO'}`,
    `- state change → first webhook attempt p95: ${ms(hookWorst)} ms (target < 1 s): ${hookWorst < 1000 && hooks.every(([, r]) => r.received === r.servers) ? 'met' : 'MISSED'}`,
    `- scheduler, two instances vs one on the same PostgreSQL: ${ratio.toFixed(2)}× the checks per second (${sched.two.perSecond.toFixed(0)} vs ${sched.one.perSecond.toFixed(0)}, ${sched.due.toFixed(0)} due); slots checked twice: ${sched.one.twice + sched.two.twice} (target 0)`,
    '',
  ].join('\n');
  console.log(report);
  if (process.env.BENCH_WRITE !== '0') {
    writeFileSync(join(here, 'latest-live.md'), report);
    console.error('written to bench/latest-live.md (copy into bench/RESULTS.md with your notes)');
  }
} finally {
  await target?.close();
  await postgres?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
}
