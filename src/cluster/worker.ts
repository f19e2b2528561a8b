import cluster from 'node:cluster';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { activityOf } from '../activity.js';
import { findHealth } from '../lifecycle/find-health.js';
import type { HealthMiddleware } from '../middleware/health.js';
import { serve, type Served } from '../lifecycle/serve.js';
import { acquireLogger, componentLogger } from '../logging/logger.js';
import { backgroundLoop, sleep } from '../time.js';
import { loadApp } from './load-app.js';
import { LatencyRing } from './latency-ring.js';
import { findMetrics, shareMetrics } from './worker-metrics.js';
import { isLifelineMessage, type ClusterInfo, type PrimaryMessage, type WorkerMessage } from './messages.js';

const CLUSTER_INFO_WAIT = 250;

function send(message: WorkerMessage): void {
  // After the primary is gone (or during exit) the channel is closed: drop the message.
  if (process.connected) process.send?.(message);
}

/** Sends and resolves once the message has left (or could not): a last message before exit must not be lost. */
function sendAndWait(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected || !process.send) resolve();
    else process.send(message, undefined, {}, () => resolve());
  });
}

/**
 * A worker of the clustered runner: loads the app, serves it on the shared port with a
 * graceful shutdown, reports readiness and counters to the primary, and adds the
 * cluster-wide view to /api/status and /api/health.
 */
export async function runWorker(): Promise<void> {
  const entry = process.env.LIFELINE_ENTRY;
  if (!entry || !cluster.isWorker) throw new Error('runWorker() runs in a worker forked by the lifeline primary');
  const readyTimeout = Number(process.env.LIFELINE_READY_TIMEOUT ?? 30_000);
  const shutdownTimeout = Number(process.env.LIFELINE_SHUTDOWN_TIMEOUT ?? 10_000);
  const log = componentLogger(acquireLogger(undefined).logger, `worker ${process.env.LIFELINE_WORKER_SLOT ?? '?'}`);

  let nextId = 0;
  const pending = new Map<number, (info: ClusterInfo) => void>();
  const claims = new Map<number, (answer: { run: boolean; retryIn: number }) => void>();
  // Stop requests can come while the app is still starting (loading the app,
  // checks retrying before listen): remember them and shut down as soon as the server exists.
  const life: { served?: Served; stopReason?: string; health?: HealthMiddleware; metrics?: (m: PrimaryMessage) => void } = {};
  const stop = (reason: string) => {
    if (life.served) void life.served.shutdown(reason);
    else life.stopReason ??= reason;
  };
  process.on('message', (message: unknown) => {
    if (!isLifelineMessage<PrimaryMessage>(message)) return;
    if (message.lifeline === 'shutdown') stop('primary asked');
    else if (message.lifeline === 'cluster-info') pending.get(message.id)?.(message.info);
    else if (message.lifeline === 'health-claim') claims.get(message.id)?.(message);
    else if (message.lifeline === 'health-snapshot') life.health?.adoptSnapshot(message.snapshot);
    else life.metrics?.(message);
  });
  // The primary forwards signals as a 'shutdown' message; a signal sent straight to a
  // worker (kill <pid>) drains it too. The primary replaces it.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => stop(signal));
  // SIGHUP is the primary's (reload); a hangup of the terminal's process group must not kill workers.
  process.on('SIGHUP', () => undefined);

  const { app, beforeShutdown, onShutdown } = await loadApp(entry);
  const activity = activityOf(app);
  const health = findHealth(app);
  life.health = health;
  const metrics = findMetrics(app);
  const scrapes = metrics && shareMetrics(metrics, sendAndWait);
  life.metrics = scrapes?.onMessage;

  // One worker runs the checks per maxAge window and the others adopt its snapshot; when
  // the primary does not answer in time, this worker runs them itself.
  health?.shareSnapshots({
    claim: (maxAge) =>
      new Promise((resolve) => {
        const id = ++nextId;
        const timer = setTimeout(() => {
          claims.delete(id);
          resolve({ run: true, retryIn: 0 });
        }, CLUSTER_INFO_WAIT);
        claims.set(id, ({ run, retryIn }) => {
          clearTimeout(timer);
          claims.delete(id);
          resolve({ run, retryIn });
        });
        send({ lifeline: 'health-claim?', id, maxAge });
      }),
    publish: (snapshot) => send({ lifeline: 'health-snapshot', snapshot }),
  });

  // Cluster-wide figures come from the primary, which holds every worker's last report;
  // a request waits for them at most CLUSTER_INFO_WAIT ms.
  health?.addReportSection('cluster', () => {
    const id = ++nextId;
    return new Promise<ClusterInfo | { unavailable: true }>((resolve) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        resolve({ unavailable: true });
      }, CLUSTER_INFO_WAIT);
      pending.set(id, (info) => {
        clearTimeout(timer);
        // The primary's figures are up to a second old; this worker's own are live.
        const own = info.workers.find((w) => w.pid === process.pid);
        if (own) {
          info.total_requests += activity.requestCount - own.requests;
          Object.assign(own, { requests: activity.requestCount, in_flight: activity.inFlight, status: activity.status });
        }
        resolve(info);
      });
      send({ lifeline: 'cluster-info?', id });
    });
  });

  const served = await serve(app, {
    signals: false,
    shutdownTimeout,
    beforeShutdown,
    onShutdown: scrapes ? [scrapes.beforeExit, ...onShutdown] : onShutdown,
    port: Number(process.env.PORT),
    host: process.env.HOST ?? '127.0.0.1',
  });
  life.served = served;
  if (life.stopReason !== undefined) {
    await served.shutdown(life.stopReason);
    return;
  }

  // Every answer's duration, for the p99 that lifeline status and top show: one clock read at each end.
  const latencies = new LatencyRing();
  served.server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    res.once('finish', () => latencies.record(performance.now() - started));
  });
  let last = { at: performance.now(), requests: activity.requestCount };
  const report = () => {
    const now = performance.now();
    const rps = ((activity.requestCount - last.requests) * 1000) / Math.max(1, now - last.at);
    last = { at: now, requests: activity.requestCount };
    send({
      lifeline: 'stats',
      requests: activity.requestCount,
      inFlight: activity.inFlight,
      status: activity.status,
      rps: Math.round(rps * 10) / 10,
      p99: latencies.quantile(0.99),
    });
  };
  // The one kind of background loop: unref'd, so it never holds the worker open, and a failed send never stops it.
  backgroundLoop(1000, report);
  report();

  const deadline = Date.now() + readyTimeout;
  while (health && !(await health.readiness()).ready && Date.now() < deadline) {
    await sleep(200);
  }
  if (!health || (await health.readiness()).ready) send({ lifeline: 'ready' });
  else log.error(`not ready after ${readyTimeout} ms`);
}
