import cluster, { type Worker } from 'node:cluster';
import { once } from 'node:events';
import os from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { acquireLogger, componentLogger, type LifelineLogger } from '../logging/logger.js';
import {
  checkBoolean,
  checkHost,
  checkInteger,
  checkOneOf,
  checkOptionsObject,
  checkString,
  maxWorkers,
  checkLogger,
  optionError,
  readEnv,
  workersExpected,
} from '../options.js';
import { resolveServerLimits } from '../lifecycle/server-limits.js';
import { resolveShed, SHED_VARIABLES, type ShedOptions } from '../lifecycle/shed-options.js';
import { logLines, STDOUT_LOGGED_ENV } from './output.js';
import { watchSources } from './watch.js';
import { ClusterScrapes } from './primary-metrics.js';
import { notifySystemd } from './systemd-cluster.js';
import { bootOutcome, decideRespawn, type RespawnPolicy } from './respawn.js';
import { isLifelineMessage, type ClusterInfo, type PrimaryMessage, type WorkerMessage, type WorkerStats } from './messages.js';

export interface ClusterOptions {
  /** The app module: its default export is an Express app or a function returning one. */
  entry: string;
  /** Number of workers, or 'auto' for one per CPU. Default `WORKERS` or 1. At most 4 per CPU unless `forceWorkers`. */
  workers?: number | 'auto';
  /** Allow up to 1024 workers whatever the CPU count. Default `WORKERS_FORCE=1`. */
  forceWorkers?: boolean;
  /** Default `PORT` or 8000. */
  port?: number;
  /** Default `HOST` or 127.0.0.1. */
  host?: string;
  /** ms a new worker gets to answer readiness, at start and during a reload. Default 30000. */
  readyTimeout?: number;
  /** ms a worker gets to drain when told to stop. Default 10000. */
  shutdownTimeout?: number;
  /** Deaths of one slot within `restartWindow` after which it is not respawned. Default 5. */
  maxRestarts?: number;
  /** Default 60000 ms. */
  restartWindow?: number;
  /** First respawn delay in ms, doubled per consecutive death, with ±50 % jitter. Default 1000. */
  restartDelay?: number;
  /** Respawn delay cap in ms. Default 30000. */
  maxRestartDelay?: number;
  /** A worker up this long (ms) resets its slot's backoff. Default 30000. */
  stableAfter?: number;
  /** Handle SIGTERM/SIGINT (shutdown) and SIGHUP (reload) in the primary. Default true. */
  signals?: boolean;
  /** Dev mode: reload the workers when a source file under this folder changes. */
  watch?: string;
  /**
   * Where the workers' stdout and stderr go: `inherit` (default) shares the primary's;
   * `log` pipes them into the log line by line, tagged `[worker N stdout]` (what
   * `lifeline start` uses, so no process writes to a log file after it was rotated).
   */
  output?: 'inherit' | 'log';
  logger?: LifelineLogger | false;
  /** Passed to each worker's serve() (see ServeOptions); unset, each worker reads MAX_CONNECTIONS … or takes serve()'s default. */
  maxConnections?: number;
  headersTimeout?: number;
  requestTimeout?: number;
  keepAliveTimeout?: number;
  /** Each worker's load shedding (see ServeOptions.shed); `false` turns it off. Unset, each worker reads SHED, SHED_* … */
  shed?: boolean | Omit<ShedOptions, 'exemptPaths'>;
  /**
   * Told when a reload starts and how it ended, so a caller can report the outcome
   * without reading the log (lifeline serve writes it to the reload status file).
   */
  onReload?: (report: ReloadReport) => void;
}

/** One reload's progress: `id` counts the reloads of this primary from 1. */
export interface ReloadReport {
  id: number;
  startedAt: string;
  result: 'started' | 'complete' | 'failed';
  /** How long it took, once it ended. */
  ms?: number;
  /** Why it failed. */
  reason?: string;
}

export interface ClusterHandle {
  /** Replaces the workers one at a time; false when a new worker did not get ready (the old ones keep serving). */
  reload(): Promise<boolean>;
  /** Drains every worker and resolves with the exit code the primary should use. */
  shutdown(): Promise<number>;
  info(): ClusterInfo;
}

interface Slot {
  index: number;
  worker: Worker | undefined;
  startedAt: number;
  deaths: number[];
  consecutive: number;
  /** Respawns of this slot after a death (a reload's replacements do not count). */
  restarts: number;
  gaveUp: boolean;
  timer: NodeJS.Timeout | undefined;
}

const KNOWN = [
  'entry',
  'workers',
  'forceWorkers',
  'port',
  'host',
  'readyTimeout',
  'shutdownTimeout',
  'maxRestarts',
  'restartWindow',
  'restartDelay',
  'maxRestartDelay',
  'stableAfter',
  'signals',
  'watch',
  'output',
  'logger',
  'maxConnections',
  'headersTimeout',
  'requestTimeout',
  'keepAliveTimeout',
  'shed',
  'onReload',
] as const;

const LIMIT_VARIABLES = [
  ['maxConnections', 'MAX_CONNECTIONS'],
  ['headersTimeout', 'HEADERS_TIMEOUT'],
  ['requestTimeout', 'REQUEST_TIMEOUT'],
  ['keepAliveTimeout', 'KEEP_ALIVE_TIMEOUT'],
] as const;

function workerCount(value: number | 'auto' | undefined, forced: boolean): number {
  const raw = value ?? readEnv.workers() ?? 1;
  if (raw === 'auto') return os.availableParallelism();
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1 || raw > maxWorkers(forced)) {
    throw optionError('cluster', 'workers', `${workersExpected(forced)} or 'auto'`, raw);
  }
  return raw;
}

/**
 * The primary of a gunicorn-like cluster on node:cluster: forks the workers, which
 * share the port, respawns the ones that die with exponential backoff and jitter,
 * stops respawning a slot that crash-loops, reloads with no downtime on SIGHUP, and
 * drains every worker on SIGTERM/SIGINT.
 *
 * @example
 * await runCluster({ entry: './app.js', workers: 4, port: 8000 });
 */
export async function runCluster(options: Readonly<ClusterOptions>): Promise<ClusterHandle> {
  checkOptionsObject('cluster', options, KNOWN);
  if (!cluster.isPrimary) throw new Error('runCluster() runs in the primary process');
  const entry = checkString('cluster', 'entry', options.entry);
  const forced =
    options.forceWorkers === undefined ? readEnv.workersForced() : checkBoolean('cluster', 'forceWorkers', options.forceWorkers);
  const workers = workerCount(options.workers, forced);
  const port = checkInteger('cluster', 'port', options.port ?? readEnv.port() ?? 8000, { min: 0, max: 65535 });
  if (port === 0) throw optionError('cluster', 'port', 'a fixed port (workers must share it)', port);
  const host = checkHost('cluster', 'host', options.host ?? readEnv.host() ?? '127.0.0.1');
  const ms = (name: keyof ClusterOptions, fallback: number) =>
    checkInteger('cluster', name, options[name] ?? fallback, { min: 0, unit: 'ms' });
  const readyTimeout = ms('readyTimeout', 30_000);
  const shutdownTimeout = ms('shutdownTimeout', 10_000);
  const restartWindow = ms('restartWindow', 60_000);
  const restartDelay = ms('restartDelay', 1000);
  const maxRestartDelay = ms('maxRestartDelay', 30_000);
  const stableAfter = ms('stableAfter', 30_000);
  const maxRestarts = checkInteger('cluster', 'maxRestarts', options.maxRestarts ?? 5, { min: 1 });
  const policy: RespawnPolicy = { restartWindow, restartDelay, maxRestartDelay, stableAfter, maxRestarts };
  // Validated here, so a bad value stops the primary before any fork; the workers get
  // the given ones as the variables their serve() reads (the default maxConnections
  // depends on each worker's own descriptor limit).
  resolveServerLimits('cluster', options);
  const limitEnv: Record<string, string> = {};
  for (const [option, variable] of LIMIT_VARIABLES) {
    if (options[option] !== undefined) limitEnv[variable] = String(options[option]);
  }
  // Shedding too: checked here, given to the workers as the variables their serve() reads.
  resolveShed('cluster', options.shed);
  if (options.shed === false) limitEnv.SHED = '0';
  else if (typeof options.shed === 'object') {
    limitEnv.SHED = '1';
    for (const [option, variable] of SHED_VARIABLES) {
      const value = options.shed[option];
      if (value !== undefined) limitEnv[variable] = String(value);
    }
  }
  const output = checkOneOf('cluster', 'output', options.output ?? 'inherit', ['inherit', 'log']);
  if (options.onReload !== undefined && typeof options.onReload !== 'function')
    throw optionError('cluster', 'onReload', 'a function', options.onReload);
  const onReload = options.onReload;
  const handle = acquireLogger(checkLogger('cluster', options.logger));
  const log = componentLogger(handle.logger, 'cluster');
  // The workers' own loggers write the file; on the console too, their lines would come back through the pipe.
  const loggedEnv = output === 'log' ? { [STDOUT_LOGGED_ENV]: resolve(readEnv.logFile() ?? 'backend.log') } : {};

  const typescript = /\.[mc]?tsx?$/.test(entry);
  cluster.setupPrimary({
    exec: fileURLToPath(new URL('./worker-main.js', import.meta.url)),
    execArgv: typescript ? [...process.execArgv, '--import', 'tsx'] : process.execArgv,
    silent: output === 'log',
  });

  const slots: Slot[] = Array.from({ length: workers }, (_, index) => ({
    index,
    worker: undefined,
    startedAt: 0,
    deaths: [],
    consecutive: 0,
    restarts: 0,
    gaveUp: false,
    timer: undefined,
  }));
  const stats = new Map<number, WorkerStats & { at: number }>();
  const retired = new Set<number>();
  let restarts = 0;
  let stopping = false;
  let reloading: Promise<boolean> | undefined;

  function info(): ClusterInfo {
    const now = Date.now();
    const views = slots.flatMap((slot) => {
      const w = slot.worker;
      if (!w?.process.pid) return [];
      const s = stats.get(w.id);
      return [
        {
          slot: slot.index,
          pid: w.process.pid,
          uptime: Math.round(now - slot.startedAt) / 1000,
          requests: s?.requests ?? 0,
          in_flight: s?.inFlight ?? 0,
          status: s?.status ?? 'starting',
          restarts: slot.restarts,
          rps: s?.rps ?? 0,
          p99_ms: s?.p99 ?? null,
        },
      ];
    });
    const oldest = Math.min(now, ...[...stats.values()].map((s) => s.at));
    return {
      primary_pid: process.pid,
      workers: views,
      total_requests: views.reduce((sum, v) => sum + v.requests, 0),
      restarts,
      stats_age_ms: now - oldest,
    };
  }

  // Workers of one generation run the same code and checks: one of them runs the checks
  // per maxAge window and the others adopt its snapshot, so the checks' load on a database
  // does not grow with the workers. A reload starts a new generation: new code never
  // adopts the old code's results (a bad deploy must fail its own checks).
  let generation = 0;
  const generationOf = new Map<number, number>();
  const checksClaimedAt = new Map<number, number>();
  function claimChecks(worker: Worker, maxAge: number): { run: boolean; retryIn: number } {
    const gen = generationOf.get(worker.id) ?? generation;
    const now = Date.now();
    const wait = (checksClaimedAt.get(gen) ?? 0) + maxAge - now;
    if (wait > 0) return { run: false, retryIn: wait };
    checksClaimedAt.set(gen, now);
    return { run: true, retryIn: 0 };
  }
  function shareSnapshot(from: Worker, message: PrimaryMessage): void {
    const gen = generationOf.get(from.id);
    for (const slot of slots) {
      const peer = slot.worker;
      if (peer && peer !== from && generationOf.get(peer.id) === gen) tell(peer, message);
    }
  }

  const scrapes = new ClusterScrapes((worker, message) => tell(worker, message));
  function answerScrape(from: Worker, id: number, openMetrics: boolean, timeout: number): void {
    const live = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());
    scrapes.scrape(live, openMetrics, timeout).then(
      (text) => tell(from, { lifeline: 'metrics', id, text }),
      (error: unknown) => log.error(`metrics scrape: ${error instanceof Error ? error.message : String(error)}`),
    );
  }

  /** Sends over IPC unless the worker is already disconnected (it is exiting). */
  function tell(worker: Worker, message: PrimaryMessage): boolean {
    if (!worker.isConnected()) return false;
    try {
      worker.send(message);
      return true;
    } catch {
      return false;
    }
  }

  function fork(slot: Slot): Worker {
    const worker = cluster.fork({
      ...limitEnv,
      LIFELINE_ENTRY: entry,
      LIFELINE_WORKER_SLOT: String(slot.index),
      LIFELINE_READY_TIMEOUT: String(readyTimeout),
      LIFELINE_SHUTDOWN_TIMEOUT: String(shutdownTimeout),
      PORT: String(port),
      HOST: host,
      ...loggedEnv,
    });
    if (output === 'log') {
      logLines(worker.process.stdout, handle.logger, 'info', `worker ${slot.index} stdout`);
      logLines(worker.process.stderr, handle.logger, 'warn', `worker ${slot.index} stderr`);
    }
    worker.on('message', (message: unknown) => {
      if (!isLifelineMessage<WorkerMessage>(message)) return;
      if (message.lifeline === 'stats')
        stats.set(worker.id, {
          requests: message.requests,
          inFlight: message.inFlight,
          status: message.status,
          rps: typeof message.rps === 'number' ? message.rps : 0,
          p99: typeof message.p99 === 'number' ? message.p99 : null,
          at: Date.now(),
        });
      else if (message.lifeline === 'cluster-info?') tell(worker, { lifeline: 'cluster-info', id: message.id, info: info() });
      else if (message.lifeline === 'health-claim?')
        tell(worker, { lifeline: 'health-claim', id: message.id, ...claimChecks(worker, message.maxAge) });
      else if (message.lifeline === 'health-snapshot') shareSnapshot(worker, message);
      else if (message.lifeline === 'metrics?') answerScrape(worker, message.id, message.openMetrics, message.timeout);
      else if (message.lifeline === 'metrics-data') scrapes.received(worker, message.id, message.metrics);
    });
    scrapes.track(worker, slot.index);
    worker.on('error', (error) => log.warn(`worker ${slot.index} (pid ${worker.process.pid}): ${error.message}`));
    generationOf.set(worker.id, generation);
    worker.on('exit', (code, signal) => {
      stats.delete(worker.id);
      generationOf.delete(worker.id);
      scrapes.exited(worker);
      if (retired.delete(worker.id) || stopping || slot.worker !== worker) return;
      slot.worker = undefined;
      died(slot, worker, code, signal);
    });
    return worker;
  }

  function start(slot: Slot): Worker {
    const worker = fork(slot);
    slot.worker = worker;
    slot.startedAt = Date.now();
    return worker;
  }

  function died(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    const decision = decideRespawn(slot, Date.now(), policy);
    slot.deaths = decision.deaths;
    slot.consecutive = decision.consecutive;
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    if (decision.action === 'give up') {
      slot.gaveUp = true;
      const alive = slots.filter((s) => s.worker).length;
      log.error(
        `worker ${slot.index} (pid ${worker.process.pid}) died (${how}): ${slot.deaths.length} deaths within ${restartWindow} ms, not respawning it; ${alive} of ${workers} workers serving`,
      );
      if (slots.every((s) => s.gaveUp)) {
        // Nothing left to serve or respawn: exit so a supervisor (systemd, lifeline run) can act.
        log.error('no worker left: the primary exits');
        void shutdown(true).then((code) => {
          if (options.signals !== false) process.exit(code);
        });
      }
      return;
    }
    const delay = decision.delay;
    log.warn(`worker ${slot.index} (pid ${worker.process.pid}) died (${how}): respawning in ${delay} ms`);
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      if (stopping) return;
      restarts += 1;
      slot.restarts += 1;
      start(slot);
    }, delay);
  }

  /** Resolves true when the worker says it is ready, false when it dies or the time is up. */
  function ready(worker: Worker, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        resolve(ok);
      };
      const onMessage = (message: unknown) => {
        if (isLifelineMessage<WorkerMessage>(message) && message.lifeline === 'ready') done(true);
      };
      const onExit = () => done(false);
      const timer = setTimeout(() => done(false), ms);
      worker.on('message', onMessage);
      worker.on('exit', onExit);
    });
  }

  /** Tells a worker to drain and waits for its exit; kills it past the shutdown timeout. */
  async function stop(worker: Worker): Promise<boolean> {
    if (worker.isDead()) return true;
    const exited = once(worker, 'exit');
    // The message is lost if the worker is still loading (no listener yet): SIGTERM too.
    // A worker that set up its handlers drains on either; one that did not has nothing to drain.
    tell(worker, { lifeline: 'shutdown' });
    worker.process.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([
      exited.then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), shutdownTimeout + 2000))),
    ]);
    // Decided: the timer must not hold the primary for seconds after its last worker left.
    clearTimeout(timer);
    if (!inTime) {
      log.error(`worker pid ${worker.process.pid} did not exit within ${shutdownTimeout + 2000} ms: killing it`);
      worker.process.kill('SIGKILL');
      await exited;
    }
    return inTime;
  }

  let reloads = 0;
  /** A throwing listener must not break the reload it is told about. */
  function report(value: ReloadReport): void {
    try {
      onReload?.(value);
    } catch (error) {
      log.warn(`onReload: ${(error as Error).message}`);
    }
  }

  async function doReload(): Promise<boolean> {
    const started = Date.now();
    const id = ++reloads;
    const startedAt = new Date(started).toISOString();
    report({ id, startedAt, result: 'started' });
    systemd?.reloading();
    log.info(`reload: replacing ${workers} workers one at a time`);
    generation += 1;
    for (const slot of slots) {
      const fresh = fork(slot);
      if (!(await ready(fresh, readyTimeout))) {
        retired.add(fresh.id);
        const why = fresh.isDead() ? 'exited before it was ready' : `was not ready within ${readyTimeout} ms`;
        if (!fresh.isDead()) fresh.process.kill('SIGKILL');
        const reason = `the new worker ${slot.index} ${why}; the old workers keep serving`;
        // The result first: `lifeline reload` reads it, a reader of the log comes after.
        report({ id, startedAt, result: 'failed', ms: Date.now() - started, reason });
        log.error(`reload failed: ${reason}`);
        return false;
      }
      const old = slot.worker;
      clearTimeout(slot.timer);
      Object.assign(slot, { worker: fresh, startedAt: Date.now(), deaths: [], consecutive: 0, gaveUp: false, timer: undefined });
      if (old) {
        retired.add(old.id);
        await stop(old);
      }
      log.info(`reload: worker ${slot.index} replaced (pid ${old?.process.pid ?? '-'} -> ${fresh.process.pid})`);
    }
    const ms = Date.now() - started;
    report({ id, startedAt, result: 'complete', ms });
    log.info(`reload complete in ${ms} ms`);
    return true;
  }

  function reload(): Promise<boolean> {
    if (stopping) return Promise.resolve(false);
    if (reloading) {
      log.warn('reload already in progress');
      return reloading;
    }
    reloading = doReload().finally(() => {
      reloading = undefined;
      if (!stopping) systemd?.reloaded();
    });
    return reloading;
  }

  let stopped: Promise<number> | undefined;
  /** Drains and stops every worker; the code is 1 when one had to be killed, or when `failed`. */
  function shutdown(failed = false): Promise<number> {
    stopped ??= (async () => {
      stopping = true;
      systemd?.stopping();
      log.info(`shutting down ${slots.filter((s) => s.worker).length} workers`);
      for (const slot of slots) clearTimeout(slot.timer);
      const live = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
      const results = await Promise.all(live.map((w) => stop(w)));
      const code = !failed && results.every(Boolean) ? 0 : 1;
      log.info(`primary stopped (exit code ${code})`);
      await handle.release();
      return code;
    })();
    return stopped;
  }

  /** Live slot workers, and those that reported (or started) within `window` ms: what the systemd watchdog asks. */
  function answering(window: number): { live: number; answering: number } {
    const now = Date.now();
    const live = slots.flatMap((slot) => (slot.worker && !slot.worker.isDead() ? [slot] : []));
    const fresh = live.filter((slot) => {
      const at = stats.get((slot.worker as Worker).id)?.at ?? slot.startedAt;
      return now - at <= window;
    });
    return { live: live.length, answering: fresh.length };
  }
  const systemd = notifySystemd({ info, answering }, workers, log);

  if (options.signals !== false) {
    let signalled = 0;
    const onStop = (signal: NodeJS.Signals) => {
      // systemd signals the whole control group and a terminal the whole process group: the
      // same stop can arrive twice at once (directly and through perl's parent, see
      // systemd-notify.ts). Only a second one a while later means "kill them now".
      if (signalled && Date.now() - signalled < 1000) return;
      if (signalled) {
        log.warn(`${signal} again: killing the workers`);
        for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
        process.exit(1);
      }
      signalled = Date.now();
      void shutdown().then((code) => process.exit(code));
    };
    process.on('SIGTERM', onStop);
    process.on('SIGINT', onStop);
    process.on('SIGHUP', () => void reload());
  }

  if (options.watch !== undefined) {
    const dir = checkString('cluster', 'watch', options.watch);
    watchSources(dir, (file) => {
      log.info(`${file} changed: reloading`);
      void reload();
    });
  }

  log.info(`primary ${process.pid} starting ${workers} workers of ${entry} on http://${host}:${port}`);
  const nodeEnvWarning = readEnv.nodeEnvWarning();
  if (nodeEnvWarning) log.warn(nodeEnvWarning);
  const first = slots.map((slot) => start(slot));
  const startedAt = Date.now();
  const readyAll = await Promise.all(first.map((w) => ready(w, readyTimeout)));
  const count = readyAll.filter(Boolean).length;
  const outcome = bootOutcome(first.map((w, i) => ({ ready: readyAll[i] === true, dead: w.isDead() })));
  if (outcome === 'ready') {
    log.info(`${workers} workers ready on http://${host}:${port}`);
    systemd?.ready();
  } else if (outcome === 'failed to boot') {
    // Every worker died while booting (a broken app module, a host that does not resolve):
    // like gunicorn's "worker failed to boot", stop rather than respawn the same failure.
    log.error(`no worker booted: every worker exited before it was ready (its error is above); the primary exits`);
    void shutdown(true).then((code) => {
      if (options.signals !== false) process.exit(code);
    });
  } else {
    // Serving, if not fully: systemd should not time the start out on the workers that could not.
    systemd?.ready();
    log.error(
      `${count} of ${workers} workers ready after ${Date.now() - startedAt} ms (the others exited or were not ready within ${readyTimeout} ms)`,
    );
  }
  return { reload, shutdown, info };
}
