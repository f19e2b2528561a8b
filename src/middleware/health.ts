import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Activity } from '../activity.js';
import { HealthRegistry, type HealthSnapshot, type SharedSnapshot, type SnapshotExchange } from '../health/registry.js';
import {
  detailedReport,
  healthJsonReport,
  keepAliveReport,
  liveReport,
  minimalReport,
  reportIdentity,
  timestampFormatter,
  notReadyReason,
  pingReport,
  probeHealthJson,
  readyReport,
  statusReport,
  type ReportContext,
} from '../health/report.js';
import { acquireLogger, componentLogger } from '../logging/logger.js';
import { SystemSampler } from '../system/sampler.js';
import { failureLog } from '../logging/failure-log.js';
import { serverFacts } from '../system/facts.js';
import { backgroundLoop } from '../time.js';
import { activityLookup } from './app-activity.js';
import { detailsGate } from './health/details-gate.js';
import { postKeepAlive } from './health/keep-alive-body.js';
import { kubernetesAnswerer } from './health/kubernetes.js';
import { HEALTH_JSON_TYPE, JSON_TYPE, negotiate, NOT_ACCEPTABLE, type MediaType } from './health/negotiate.js';
import { healthSettings, type HealthOptions } from './health/options.js';
import { ReportSections, type ReportSection } from './health/report-sections.js';
import { routeMatcher, type Route } from './health/routes.js';
import { errorBody, sendError, sendJson } from './respond.js';
import { fromStep, type ClosableMiddleware, type NextFunction } from './types.js';

export type { HealthMounts, HealthOptions } from './health/options.js';
export type { ReportSection } from './health/report-sections.js';

export interface Readiness {
  /** True when no critical check fails (draining is the server's to add). */
  ready: boolean;
  /** Names of the critical checks that fail. */
  failing: string[];
  /** True before the first run of the checks has finished (the failing checks have not answered yet). */
  pending: boolean;
}

/** The last snapshot of a health(), without waiting or refreshing (metrics() reads the checks from it). */
export const PEEK_SNAPSHOT: unique symbol = Symbol('express-lifeline.health.peek');

export type HealthMiddleware = ClosableMiddleware & {
  /** Runs every check now and returns the new snapshot's status. */
  check(): Promise<'healthy' | 'degraded' | 'unhealthy'>;
  /** Readiness from the current snapshot, never waiting for a check (see `maxAge`, `initialWait`). */
  readiness(): Promise<Readiness>;
  /** The path prefix of the endpoints (`/api`). */
  readonly prefix: string;
  /** Adds a named section to the status and health answers; its provider must bound its own wait. */
  addReportSection(name: string, provider: ReportSection): void;
  /**
   * Runs the checks once between processes that share them (the cluster's workers):
   * background refreshes go through `exchange.claim()`; feed peers' snapshots to `adoptSnapshot()`.
   */
  shareSnapshots(exchange: SnapshotExchange): void;
  /** A peer's snapshot, taken when newer than this process's own. */
  adoptSnapshot(snapshot: SharedSnapshot): void;
};

/**
 * Answers `/api/ping`, `/api/status`, `/api/keep-alive`, `/api/health`,
 * `/api/health/live` and `/api/health/ready` before the app's own routes, from a
 * snapshot of the checks that is refreshed in the background. The parts live in
 * `./health/`: options, the details gate, content negotiation, report sections,
 * the route table, the keep-alive POST and the Kubernetes mounts; the bodies in `../health/report.ts`.
 *
 * @example
 * app.use(health({ checks: { database: checks.knex(db), queue: async () => { await queue.ping(); } } }));
 */
export function health(options: Readonly<HealthOptions> = {}): HealthMiddleware {
  const settings = healthSettings(options);
  const { prefix, clientWindow } = settings;

  const handle = acquireLogger(settings.logger);
  const log = componentLogger(handle.logger, 'health');
  if (settings.details === 'authorized' && settings.token === undefined) {
    log.warn('details are limited to authorized callers but no HEALTH_TOKEN is set: details are hidden from everyone');
  }
  const showDetails = detailsGate(settings.details, settings.token);

  const sampler = new SystemSampler(settings.diskPath, settings.sampleInterval, { logger: componentLogger(handle.logger, 'system') });
  sampler.start();
  const refreshFailures = failureLog(
    'health refresh',
    (m) => log.error(m),
    (m) => log.info(m),
  );
  const registry = new HealthRegistry({
    checks: settings.checks,
    timeout: settings.timeout,
    maxAge: settings.maxAge,
    initialWait: settings.initialWait,
    thresholds: settings.thresholds,
    sampler,
    logger: log,
    failures: refreshFailures,
  });
  const loop = settings.interval > 0 ? backgroundLoop(settings.interval, () => registry.refreshInBackground()) : undefined;
  void registry.refresh();

  const componentTypes = new Map<string, string>();
  for (const [name, check] of settings.checks) componentTypes.set(name, check.componentType ?? 'component');
  const facts = serverFacts();
  const sections = new ReportSections();
  const answerKubernetes = kubernetesAnswerer(registry, showDetails);

  const match = routeMatcher(prefix, settings.mounts);

  /** The app's Activity, its health status kept up to date by this registry. */
  const activityFor = activityLookup((activity) => {
    registry.onStatus((status) => {
      activity.health = status;
    });
  });

  const identity = reportIdentity(settings.service, settings.version);
  const timestamp = timestampFormatter(settings.timestamp);
  function reportContext(activity: Activity): ReportContext {
    return { facts, activity, componentTypes, identity, timestamp };
  }

  async function answerHealth(req: IncomingMessage, res: ServerResponse, activity: Activity, type: MediaType): Promise<void> {
    const snapshot = await registry.get();
    const code = snapshot.status === 'unhealthy' ? 503 : 200;
    const full = showDetails(req);
    if (type === 'application/health+json') {
      sendJson(req, res, code, healthJsonReport(snapshot, reportContext(activity), full), HEALTH_JSON_TYPE);
    } else if (full) {
      sendJson(req, res, code, await sections.appendTo(detailedReport(snapshot, reportContext(activity)), true));
    } else {
      sendJson(req, res, code, minimalReport(snapshot, { identity, timestamp }));
    }
  }

  async function answerStatus(req: IncomingMessage, res: ServerResponse, activity: Activity): Promise<void> {
    const body = statusReport(activity, clientWindow);
    sendJson(req, res, 200, sections.empty ? body : await sections.appendTo(body, showDetails(req)));
  }

  async function readiness(): Promise<Readiness> {
    const snapshot = await registry.get();
    const failing = Object.entries(snapshot.checks)
      .filter(([, o]) => o.critical && o.status === 'fail')
      .map(([name]) => name);
    return { ready: failing.length === 0, failing, pending: snapshot.pending === true };
  }

  async function answerReady(req: IncomingMessage, res: ServerResponse, activity: Activity, type: MediaType): Promise<void> {
    const { failing, pending } = await readiness();
    const reason = notReadyReason(activity.draining, failing, pending, activity.overloaded);
    const code = reason === undefined ? 200 : 503;
    if (type === 'application/health+json') {
      sendJson(req, res, code, probeHealthJson(reason === undefined), HEALTH_JSON_TYPE);
      return;
    }
    const body = readyReport(reason);
    if (reason !== undefined && showDetails(req)) body.failing = failing;
    sendJson(req, res, code, JSON.stringify(body));
  }

  function answer(route: Route, req: IncomingMessage, res: ServerResponse, next: NextFunction, only?: string): void {
    const method = req.method;
    const allowed = method === 'GET' || method === 'HEAD' || (route === 'keepAlive' && method === 'POST');
    if (!allowed) {
      res.setHeader('Allow', route === 'keepAlive' ? 'GET, HEAD, POST' : 'GET, HEAD');
      sendError(req, res, 405);
      return;
    }
    if (route === 'livez' || route === 'readyz') {
      // Kubernetes' endpoints answer plain text whatever the Accept, as the API server does.
      answerKubernetes(route, only, req, res, activityFor(req)).catch(next);
      return;
    }
    // Endpoints without a health+json format still take a client asking for it: they answer their JSON.
    const type = negotiate(req);
    if (type === undefined) {
      sendJson(req, res, 406, errorBody(406, NOT_ACCEPTABLE));
      return;
    }
    const activity = activityFor(req);
    switch (route) {
      case 'ping':
        sendJson(req, res, 200, pingReport(), JSON_TYPE);
        return;
      case 'status':
        answerStatus(req, res, activity).catch(next);
        return;
      case 'keepAlive':
        if (method === 'POST') postKeepAlive(req, res, activity, clientWindow);
        else sendJson(req, res, 200, keepAliveReport(activity, clientWindow));
        return;
      case 'live':
        if (type === 'application/health+json') sendJson(req, res, 200, probeHealthJson(true), HEALTH_JSON_TYPE);
        else sendJson(req, res, 200, liveReport());
        return;
      case 'health':
        answerHealth(req, res, activity, type).catch(next);
        return;
      case 'ready':
        answerReady(req, res, activity, type).catch(next);
        return;
    }
  }

  function healthStep(req: IncomingMessage, res: ServerResponse, next: NextFunction): boolean {
    const found = match(req.url ?? '/');
    if (found === undefined) return false;
    if (found === 'not found') sendError(req, res, 404);
    else answer(found.route, req, res, next, found.only);
    return true;
  }

  const middleware = fromStep<HealthMiddleware>('healthMiddleware', healthStep);

  middleware.check = async () => (await registry.refresh()).status;
  middleware.readiness = readiness;
  Object.defineProperty(middleware, 'prefix', { value: prefix, enumerable: true });
  middleware.addReportSection = (name, provider) => sections.add(name, provider);
  middleware.shareSnapshots = (exchange) => registry.share(exchange);
  middleware.adoptSnapshot = (snapshot) => registry.adopt(snapshot);
  Object.defineProperty(middleware, PEEK_SNAPSHOT, { value: (): HealthSnapshot | undefined => registry.peek() });
  middleware.close = async () => {
    loop?.stop();
    sampler.stop();
    await handle.release();
  };
  return middleware;
}
