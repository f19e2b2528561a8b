import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import Negotiator from 'negotiator';
import { activityOf, type Activity } from '../activity.js';
import { HealthRegistry, type SharedSnapshot, type SnapshotExchange, type Thresholds } from '../health/registry.js';
import {
  detailedReport,
  healthJsonReport,
  kubernetesReport,
  liveReport,
  minimalReport,
  notReadyReason,
  pingReport,
  readyReport,
  type ProbeCheck,
  type ReportContext,
} from '../health/report.js';
import type { HealthCheck, HealthCheckFn } from '../health/types.js';
import { acquireLogger, componentLogger, type LifelineLogger } from '../logging/logger.js';
import { ConfigError } from '../errors.js';
import { checkInteger, checkOneOf, checkOptionsObject, checkString, optionError, readEnv, type DetailsMode } from '../options.js';
import { SystemSampler } from '../system/sampler.js';
import { failureLog } from '../logging/failure-log.js';
import { serverFacts } from '../system/facts.js';
import { backgroundLoop, epochSeconds, round3 } from '../time.js';
import { readKeepAliveBody } from './keep-alive-body.js';
import { errorBody, sendError, sendJson } from './respond.js';
import { appOf, fromStep, type ClosableMiddleware, type NextFunction } from './types.js';

export interface HealthOptions {
  /** Path prefix of the endpoints. Default `/api`; `''` serves them at the root. */
  prefix?: string;
  /** Named checks: an async function (throw = fail) or `{ check, critical, timeout }`. */
  checks?: Readonly<Record<string, HealthCheck | HealthCheckFn>>;
  /** Per-check timeout in ms. Default 2000. */
  timeout?: number;
  /**
   * A request finding a snapshot older than this (ms) starts one background refresh and is
   * answered from the snapshot at once. Default 5000.
   */
  maxAge?: number;
  /** How long the first requests wait for the first run of the checks before answering `pending` (503 on readiness), ms. Default 250. */
  initialWait?: number;
  /** Background refresh period in ms; 0 turns it off. Default `KEEP_ALIVE_INTERVAL` or 30000. */
  interval?: number;
  /** Who sees details. Default `always` outside production, `authorized` in production. */
  details?: DetailsMode;
  /** Bearer token that unlocks details when `details` is `authorized`. Default `HEALTH_TOKEN`. */
  token?: string;
  /** Resource thresholds (percent, ms) above which the app is degraded. */
  thresholds?: Partial<Thresholds>;
  /** Filesystem whose usage is reported. Default `/`. */
  diskPath?: string;
  /** How often system figures are sampled in the background, ms. Default 5000. */
  sampleInterval?: number;
  /** Where to log; `false` for nowhere. Default: the shared `backend.log` logger. */
  logger?: LifelineLogger | false;
  /**
   * Extra mount points at the root, beside the prefixed endpoints; all off by default
   * (`HEALTH_MOUNTS=health,kubernetes` turns them on from the environment).
   * `health`: `/health`, the same answer as `/api/health`. `kubernetes`: `/livez` and
   * `/readyz` in Kubernetes' plain-text format (`?verbose`, `?exclude=<check>`).
   */
  mounts?: Readonly<HealthMounts>;
}

export interface HealthMounts {
  /** `/health`: the detailed report, as `/api/health`. Default false. */
  health?: boolean;
  /** `/livez` and `/readyz` (and `/livez/<check>`, `/readyz/<check>`), plain text like Kubernetes. Default false. */
  kubernetes?: boolean;
}

export interface Readiness {
  /** True when no critical check fails (draining is the server's to add). */
  ready: boolean;
  /** Names of the critical checks that fail. */
  failing: string[];
  /** True before the first run of the checks has finished (the failing checks have not answered yet). */
  pending: boolean;
}

/** A section added to /api/status and /api/health for callers allowed to see details. */
export type ReportSection = () => Promise<unknown>;

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

const KNOWN = [
  'prefix',
  'checks',
  'timeout',
  'maxAge',
  'initialWait',
  'interval',
  'details',
  'token',
  'thresholds',
  'diskPath',
  'sampleInterval',
  'logger',
  'mounts',
] as const;
const MOUNTS = ['health', 'kubernetes'] as const;
const DEFAULT_THRESHOLDS: Thresholds = { memory: 95, disk: 95, eventLoopDelay: 500 };
const KEEP_ALIVE_BODY_LIMIT = 64 * 1024;

type Route = 'ping' | 'status' | 'keepAlive' | 'health' | 'live' | 'ready' | 'livez' | 'readyz';
const ROUTE_PATHS: ReadonlyArray<[string, Route]> = [
  ['/ping', 'ping'],
  ['/status', 'status'],
  ['/keep-alive', 'keepAlive'],
  ['/health', 'health'],
  ['/health/live', 'live'],
  ['/health/ready', 'ready'],
];
const JSON_TYPE = 'application/json; charset=utf-8';
const HEALTH_JSON_TYPE = 'application/health+json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';
const JSON_OR_HEALTH = ['application/json', 'application/health+json'];
// Offered with their charset: negotiator matches a range's parameters against the offer's,
// so `application/json; charset=utf-8` (what load balancers send) matches these and not bare types.
const OFFERED = JSON_OR_HEALTH.map((type) => `${type}; charset=utf-8`);

function normaliseChecks(checks: HealthOptions['checks']): Map<string, HealthCheck> {
  const out = new Map<string, HealthCheck>();
  if (checks === undefined) return out;
  if (checks === null || typeof checks !== 'object' || Array.isArray(checks)) {
    throw optionError('health', 'checks', 'an object of named checks', checks);
  }
  for (const [name, value] of Object.entries(checks)) {
    if (typeof value === 'function') {
      out.set(name, { check: value, critical: true });
    } else if (value && typeof value === 'object' && typeof value.check === 'function') {
      checkOptionsObject(`health: check \`${name}\``, value, ['check', 'critical', 'timeout', 'componentType']);
      if (value.critical !== undefined && typeof value.critical !== 'boolean')
        throw optionError('health', `checks.${name}.critical`, 'a boolean', value.critical);
      if (value.timeout !== undefined) checkInteger('health', `checks.${name}.timeout`, value.timeout, { min: 1, unit: 'ms' });
      out.set(name, value);
    } else {
      throw optionError('health', `checks.${name}`, 'an async function or { check, critical, timeout }', value);
    }
  }
  return out;
}

function checkPrefix(prefix: unknown): string {
  if (typeof prefix !== 'string' || (prefix !== '' && (!prefix.startsWith('/') || prefix.endsWith('/') || /[?#\s]/.test(prefix)))) {
    throw optionError('health', 'prefix', "a path like '/api' (leading slash, no trailing slash) or ''", prefix);
  }
  return prefix;
}

function checkMounts(mounts: unknown): Required<HealthMounts> {
  const out = { health: false, kubernetes: false };
  if (mounts === undefined) {
    const raw = process.env.HEALTH_MOUNTS?.trim();
    if (!raw) return out;
    for (const part of raw.split(',')) {
      const name = part.trim();
      if (!(MOUNTS as readonly string[]).includes(name)) {
        throw new ConfigError(
          'HEALTH_MOUNTS',
          `Invalid HEALTH_MOUNTS: expected a comma-separated list of health, kubernetes, got '${raw}'`,
        );
      }
      out[name as keyof HealthMounts] = true;
    }
    return out;
  }
  checkOptionsObject('health: mounts', mounts, MOUNTS);
  for (const name of MOUNTS) {
    const value = (mounts as HealthMounts)[name];
    if (value !== undefined && typeof value !== 'boolean') throw optionError('health', `mounts.${name}`, 'a boolean', value);
    out[name] = value === true;
  }
  return out;
}

/** The request's query parameters (`?verbose&exclude=a&exclude=b`); parsed only on the Kubernetes endpoints. */
function queryOf(url: string): URLSearchParams {
  const q = url.indexOf('?');
  return new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
}

function sendText(req: IncomingMessage, res: ServerResponse, status: number, text: string): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  sendJson(req, res, status, text, TEXT_TYPE);
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * Answers `/api/ping`, `/api/status`, `/api/keep-alive`, `/api/health`,
 * `/api/health/live` and `/api/health/ready` before the app's own routes, from a
 * snapshot of the checks that is refreshed in the background.
 *
 * @example
 * app.use(health({ checks: { database: checks.knex(db), queue: async () => { await queue.ping(); } } }));
 */
export function health(options: Readonly<HealthOptions> = {}): HealthMiddleware {
  checkOptionsObject('health', options, KNOWN);
  const production = readEnv.production();
  const prefix = checkPrefix(options.prefix ?? '/api');
  const checks = normaliseChecks(options.checks);
  const timeout = checkInteger('health', 'timeout', options.timeout ?? 2000, { min: 1, unit: 'ms' });
  const maxAge = checkInteger('health', 'maxAge', options.maxAge ?? 5000, { min: 0, unit: 'ms' });
  const initialWait = checkInteger('health', 'initialWait', options.initialWait ?? 250, { min: 0, unit: 'ms' });
  const interval = checkInteger('health', 'interval', options.interval ?? readEnv.keepAliveInterval() ?? 30_000, {
    min: 0,
    unit: 'ms, 0 = off',
  });
  const details = checkOneOf('health', 'details', options.details ?? (production ? 'authorized' : 'always'), [
    'always',
    'never',
    'authorized',
  ]);
  const token = options.token === undefined ? readEnv.healthToken() : checkString('health', 'token', options.token);
  const diskPath = checkString('health', 'diskPath', options.diskPath ?? '/');
  const sampleInterval = checkInteger('health', 'sampleInterval', options.sampleInterval ?? 5000, { min: 100, unit: 'ms' });
  if (options.thresholds !== undefined) checkOptionsObject('health: thresholds', options.thresholds, Object.keys(DEFAULT_THRESHOLDS));
  const thresholds: Thresholds = { ...DEFAULT_THRESHOLDS };
  for (const key of Object.keys(DEFAULT_THRESHOLDS) as Array<keyof Thresholds>) {
    const value = options.thresholds?.[key];
    if (value !== undefined) thresholds[key] = checkInteger('health', `thresholds.${key}`, value, { min: 0 });
  }
  if (options.logger !== undefined && options.logger !== false && typeof options.logger?.warn !== 'function') {
    throw optionError('health', 'logger', 'a logger with error/warn/info/debug methods, or false', options.logger);
  }

  const mounts = checkMounts(options.mounts);
  // "Clients in the last interval": the period clients are asked to ping at, 30 s when the loop is off.
  const clientWindow = interval > 0 ? interval : 30_000;

  const handle = acquireLogger(options.logger);
  const log = componentLogger(handle.logger, 'health');
  if (details === 'authorized' && token === undefined) {
    log.warn('details are limited to authorized callers but no HEALTH_TOKEN is set: details are hidden from everyone');
  }
  const tokenDigest = token === undefined ? undefined : digest(token);

  const sampler = new SystemSampler(diskPath, sampleInterval, { logger: componentLogger(handle.logger, 'system') });
  sampler.start();
  const refreshFailures = failureLog(
    'health refresh',
    (m) => log.error(m),
    (m) => log.info(m),
  );
  const registry = new HealthRegistry({
    checks,
    timeout,
    maxAge,
    initialWait,
    thresholds,
    sampler,
    logger: log,
    failures: refreshFailures,
  });
  const loop = interval > 0 ? backgroundLoop(interval, () => registry.refreshInBackground()) : undefined;
  void registry.refresh();

  const componentTypes = new Map<string, string>();
  for (const [name, check] of checks) componentTypes.set(name, check.componentType ?? 'component');
  const facts = serverFacts();
  const routes = new Map<string, Route>();
  for (const [path, route] of ROUTE_PATHS) {
    routes.set(prefix + path, route);
    routes.set(`${prefix + path}/`, route);
  }
  const extraRoutes: Array<[string, Route]> = [];
  if (mounts.health) extraRoutes.push(['/health', 'health']);
  if (mounts.kubernetes) extraRoutes.push(['/livez', 'livez'], ['/readyz', 'readyz']);
  for (const [path, route] of extraRoutes) {
    // The prefixed endpoints win where the two meet (prefix '' and /health).
    if (!routes.has(path)) routes.set(path, route);
    if (!routes.has(`${path}/`)) routes.set(`${path}/`, route);
  }
  const anyMount = extraRoutes.length > 0;
  const healthSubtree = `${prefix}/health/`;
  const ownApp = {};
  let lastApp: object | undefined;
  let lastActivity: Activity | undefined;
  const linked = new WeakSet<Activity>();

  function activityFor(req: IncomingMessage): Activity {
    const app = appOf(req) ?? ownApp;
    if (app === lastApp && lastActivity) return lastActivity;
    const activity = activityOf(app);
    if (!linked.has(activity)) {
      linked.add(activity);
      registry.onStatus((status) => {
        activity.health = status;
      });
    }
    lastApp = app;
    lastActivity = activity;
    return activity;
  }

  function showDetails(req: IncomingMessage): boolean {
    if (details === 'always') return true;
    if (details === 'never' || tokenDigest === undefined) return false;
    const header = req.headers.authorization;
    // The scheme is case-insensitive (RFC 9110 §11.1): `bearer` and `BEARER` are Bearer too.
    if (header === undefined || !/^bearer /i.test(header)) return false;
    return timingSafeEqual(digest(header.slice(7).trim()), tokenDigest);
  }

  /** The media type to answer with, or undefined when the client accepts none of ours. */
  function negotiate(req: IncomingMessage): string | undefined {
    const accept = req.headers.accept;
    if (accept === undefined || accept === '*/*' || accept === 'application/json') return 'application/json';
    const offer = new Negotiator(req).mediaType(OFFERED);
    return offer === undefined ? undefined : JSON_OR_HEALTH[OFFERED.indexOf(offer)];
  }

  /** `"last_client_activity":…,"clients_last_interval":…` for the status and keep-alive bodies. */
  function clientsJson(activity: Activity): string {
    const last = activity.lastClientPing === undefined ? 'null' : String(epochSeconds(activity.lastClientPing));
    return `"last_client_activity":${last},"clients_last_interval":${activity.clients.countSince(Date.now() - clientWindow)}`;
  }

  /** Who sent a keep-alive: its `client_id`, else its address (Express's `req.ip` honours `trust proxy`). */
  function clientKey(req: IncomingMessage, clientId: string | undefined): string {
    if (clientId !== undefined) return `id:${clientId}`;
    return `ip:${(req as IncomingMessage & { ip?: string }).ip ?? req.socket.remoteAddress ?? 'unknown'}`;
  }

  function answerKeepAlive(req: IncomingMessage, res: ServerResponse, activity: Activity): void {
    sendJson(
      req,
      res,
      200,
      `{"status":"alive","timestamp":${epochSeconds()},"request_count":${activity.requestCount},"last_activity":${epochSeconds(activity.lastActivity)},"uptime":${round3(process.uptime())},${clientsJson(activity)}}`,
    );
  }

  function postKeepAlive(req: IncomingMessage, res: ServerResponse, activity: Activity): void {
    readKeepAliveBody(req, KEEP_ALIVE_BODY_LIMIT, (result) => {
      if (result.tooLarge) {
        // The rest of the body is never read: closing the connection is the only way to stop it.
        res.setHeader('Connection', 'close');
        sendError(req, res, 413, `Payload Too Large: keep-alive accepts at most ${KEEP_ALIVE_BODY_LIMIT} bytes`);
        return;
      }
      const now = Date.now();
      activity.lastClientPing = now;
      activity.clients.record(clientKey(req, result.clientId), now);
      answerKeepAlive(req, res, activity);
    });
  }

  /** The checks behind /livez or /readyz: liveness has only `ping`; readiness adds draining and each critical check. */
  async function probeChecks(route: 'livez' | 'readyz', activity: Activity): Promise<ProbeCheck[]> {
    const list: ProbeCheck[] = [{ name: 'ping' }];
    if (route === 'livez') return list;
    list.push({ name: 'shutdown', error: activity.draining ? 'draining' : undefined });
    const snapshot = await registry.get();
    for (const [name, outcome] of Object.entries(snapshot.checks)) {
      if (!outcome.critical) continue;
      list.push({ name, error: outcome.status === 'fail' ? (outcome.error ?? 'failed') : undefined });
    }
    return list;
  }

  async function answerKubernetes(
    route: 'livez' | 'readyz',
    only: string | undefined,
    req: IncomingMessage,
    res: ServerResponse,
    activity: Activity,
  ): Promise<void> {
    const checks = await probeChecks(route, activity);
    const reasons = showDetails(req);
    if (only !== undefined) {
      // /readyz/<check>: that one check, as Kubernetes answers it.
      const check = checks.find((c) => c.name === only);
      if (check === undefined) {
        sendError(req, res, 404, `Not Found: no ${route} check named ${JSON.stringify(only.slice(0, 64))}`);
      } else if (check.error === undefined) {
        sendText(req, res, 200, 'ok');
      } else {
        sendText(req, res, 503, `internal server error: ${reasons ? check.error.replace(/\s+/g, ' ') : 'reason withheld'}\n`);
      }
      return;
    }
    const query = queryOf(req.url ?? '/');
    const report = kubernetesReport(route, checks, {
      verbose: query.has('verbose'),
      exclude: new Set(query.getAll('exclude')),
      reasons,
    });
    sendText(req, res, report.ok ? 200 : 503, report.text);
  }

  function reportContext(activity: Activity): ReportContext {
    return { facts, activity, componentTypes };
  }

  const sections = new Map<string, ReportSection>();

  /** `,"name":{…}` for each added section, or '' when there are none or details are hidden. */
  async function sectionsJson(req: IncomingMessage): Promise<string> {
    if (sections.size === 0 || !showDetails(req)) return '';
    const parts = await Promise.all(
      [...sections].map(async ([name, provider]) => {
        try {
          return `,${JSON.stringify(name)}:${JSON.stringify((await provider()) ?? null)}`;
        } catch {
          return `,${JSON.stringify(name)}:null`;
        }
      }),
    );
    return parts.join('');
  }

  /** Appends sections to a JSON object body. */
  function withSections(body: string, extra: string): string {
    return extra === '' ? body : `${body.slice(0, -1)}${extra}}`;
  }

  async function answerHealth(req: IncomingMessage, res: ServerResponse, activity: Activity, type: string): Promise<void> {
    const snapshot = await registry.get();
    const code = snapshot.status === 'unhealthy' ? 503 : 200;
    const full = showDetails(req);
    if (type === 'application/health+json') {
      sendJson(req, res, code, healthJsonReport(snapshot, reportContext(activity), full), HEALTH_JSON_TYPE);
    } else if (full) {
      sendJson(req, res, code, withSections(detailedReport(snapshot, reportContext(activity)), await sectionsJson(req)));
    } else {
      sendJson(req, res, code, minimalReport(snapshot));
    }
  }

  async function answerStatus(req: IncomingMessage, res: ServerResponse, activity: Activity): Promise<void> {
    const body = `{"status":"${activity.draining ? 'draining' : 'running'}","uptime":${round3(process.uptime())},"request_count":${activity.requestCount},"last_activity":${epochSeconds(activity.lastActivity)},${clientsJson(activity)},"timestamp":${epochSeconds()}}`;
    sendJson(req, res, 200, sections.size === 0 ? body : withSections(body, await sectionsJson(req)));
  }

  async function readiness(): Promise<Readiness> {
    const snapshot = await registry.get();
    const failing = Object.entries(snapshot.checks)
      .filter(([, o]) => o.critical && o.status === 'fail')
      .map(([name]) => name);
    return { ready: failing.length === 0, failing, pending: snapshot.pending === true };
  }

  async function answerReady(req: IncomingMessage, res: ServerResponse, activity: Activity, type: string): Promise<void> {
    const { failing, pending } = await readiness();
    const reason = notReadyReason(activity.draining, failing, pending);
    const code = reason === undefined ? 200 : 503;
    if (type === 'application/health+json') {
      sendJson(req, res, code, JSON.stringify({ status: reason === undefined ? 'pass' : 'fail' }), HEALTH_JSON_TYPE);
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
      sendJson(req, res, 406, errorBody(406, `Not Acceptable: this endpoint answers ${JSON_OR_HEALTH.join(' or ')}`));
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
        if (method === 'POST') postKeepAlive(req, res, activity);
        else answerKeepAlive(req, res, activity);
        return;
      case 'live':
        if (type === 'application/health+json') sendJson(req, res, 200, '{"status":"pass"}', HEALTH_JSON_TYPE);
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
    const url = req.url ?? '/';
    if (!anyMount && !url.startsWith(prefix)) return false;
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const route = routes.get(path);
    if (route !== undefined) answer(route, req, res, next);
    else if (path.startsWith(healthSubtree)) sendError(req, res, 404);
    else if (mounts.kubernetes && (path.startsWith('/livez/') || path.startsWith('/readyz/'))) {
      const slash = path.indexOf('/', 1);
      let name: string;
      try {
        name = decodeURIComponent(path.slice(slash + 1, path.endsWith('/') ? -1 : undefined));
      } catch {
        sendError(req, res, 404);
        return true;
      }
      answer(path.startsWith('/livez/') ? 'livez' : 'readyz', req, res, next, name);
    } else return false;
    return true;
  }

  const middleware = fromStep<HealthMiddleware>('healthMiddleware', healthStep);

  middleware.check = async () => (await registry.refresh()).status;
  middleware.readiness = readiness;
  Object.defineProperty(middleware, 'prefix', { value: prefix, enumerable: true });
  middleware.addReportSection = (name, provider) => {
    checkString('health.addReportSection', 'name', name);
    if (typeof provider !== 'function') throw optionError('health.addReportSection', 'provider', 'an async function', provider);
    sections.set(name, provider);
  };
  middleware.shareSnapshots = (exchange) => registry.share(exchange);
  middleware.adoptSnapshot = (snapshot) => registry.adopt(snapshot);
  middleware.close = async () => {
    loop?.stop();
    sampler.stop();
    await handle.release();
  };
  return middleware;
}
