import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import Negotiator from 'negotiator';
import { activityOf, type Activity } from '../activity.js';
import { HealthRegistry, type Thresholds } from '../health/registry.js';
import {
  detailedReport,
  healthJsonReport,
  liveReport,
  minimalReport,
  notReadyReason,
  pingReport,
  readyReport,
  type ReportContext,
} from '../health/report.js';
import type { HealthCheck, HealthCheckFn } from '../health/types.js';
import { acquireLogger, componentLogger, type LifelineLogger } from '../logging/logger.js';
import { checkInteger, checkOneOf, checkOptionsObject, checkString, optionError, readEnv, type DetailsMode } from '../options.js';
import { SystemSampler } from '../system/sampler.js';
import { serverFacts } from '../system/facts.js';
import { backgroundLoop, epochSeconds, round3 } from '../time.js';
import { errorBody, sendError, sendJson } from './respond.js';
import { appOf, fromStep, type ClosableMiddleware, type NextFunction } from './types.js';

export interface HealthOptions {
  /** Path prefix of the endpoints. Default `/api`; `''` serves them at the root. */
  prefix?: string;
  /** Named checks: an async function (throw = fail) or `{ check, critical, timeout }`. */
  checks?: Readonly<Record<string, HealthCheck | HealthCheckFn>>;
  /** Per-check timeout in ms. Default 2000. */
  timeout?: number;
  /** A request finding a snapshot older than this (ms) refreshes it. Default 5000. */
  maxAge?: number;
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
}

export interface Readiness {
  /** True when no critical check fails (draining is the server's to add). */
  ready: boolean;
  /** Names of the critical checks that fail. */
  failing: string[];
}

/** A section added to /api/status and /api/health for callers allowed to see details. */
export type ReportSection = () => Promise<unknown>;

export type HealthMiddleware = ClosableMiddleware & {
  /** Runs every check now and returns the new snapshot's status. */
  check(): Promise<'healthy' | 'degraded' | 'unhealthy'>;
  /** Readiness from the current snapshot (refreshed if older than `maxAge`). */
  readiness(): Promise<Readiness>;
  /** The path prefix of the endpoints (`/api`). */
  readonly prefix: string;
  /** Adds a named section to the status and health answers; its provider must bound its own wait. */
  addReportSection(name: string, provider: ReportSection): void;
};

const KNOWN = [
  'prefix',
  'checks',
  'timeout',
  'maxAge',
  'interval',
  'details',
  'token',
  'thresholds',
  'diskPath',
  'sampleInterval',
  'logger',
] as const;
const DEFAULT_THRESHOLDS: Thresholds = { memory: 95, disk: 95, eventLoopDelay: 500 };
const KEEP_ALIVE_BODY_LIMIT = 64 * 1024;

type Route = 'ping' | 'status' | 'keepAlive' | 'health' | 'live' | 'ready';
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
const JSON_ONLY = ['application/json'];
const JSON_OR_HEALTH = ['application/json', 'application/health+json'];

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

  const handle = acquireLogger(options.logger);
  const log = componentLogger(handle.logger, 'health');
  if (details === 'authorized' && token === undefined) {
    log.warn('details are limited to authorized callers but no HEALTH_TOKEN is set: details are hidden from everyone');
  }
  const tokenDigest = token === undefined ? undefined : digest(token);

  const sampler = new SystemSampler(diskPath, sampleInterval);
  sampler.start();
  const registry = new HealthRegistry({ checks, timeout, maxAge, thresholds, sampler, logger: log });
  const loop = interval > 0 ? backgroundLoop(interval, () => registry.refresh().then(() => undefined)) : undefined;
  void registry.refresh();

  const componentTypes = new Map<string, string>();
  for (const [name, check] of checks) componentTypes.set(name, check.componentType ?? 'component');
  const facts = serverFacts();
  const routes = new Map<string, Route>();
  for (const [path, route] of ROUTE_PATHS) {
    routes.set(prefix + path, route);
    routes.set(`${prefix + path}/`, route);
  }
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
  function negotiate(req: IncomingMessage, offered: string[]): string | undefined {
    const accept = req.headers.accept;
    if (accept === undefined || accept === '*/*' || accept === 'application/json') return 'application/json';
    return new Negotiator(req).mediaType(offered);
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
    const body = `{"status":"${activity.draining ? 'draining' : 'running'}","uptime":${round3(process.uptime())},"request_count":${activity.requestCount},"last_activity":${epochSeconds(activity.lastActivity)},"timestamp":${epochSeconds()}}`;
    sendJson(req, res, 200, sections.size === 0 ? body : withSections(body, await sectionsJson(req)));
  }

  async function readiness(): Promise<Readiness> {
    const snapshot = await registry.get();
    const failing = Object.entries(snapshot.checks)
      .filter(([, o]) => o.critical && o.status === 'fail')
      .map(([name]) => name);
    return { ready: failing.length === 0, failing };
  }

  async function answerReady(req: IncomingMessage, res: ServerResponse, activity: Activity, type: string): Promise<void> {
    const { failing } = await readiness();
    const reason = notReadyReason(activity.draining, failing);
    const code = reason === undefined ? 200 : 503;
    if (type === 'application/health+json') {
      sendJson(req, res, code, JSON.stringify({ status: reason === undefined ? 'pass' : 'fail' }), HEALTH_JSON_TYPE);
      return;
    }
    const body = readyReport(reason);
    if (reason !== undefined && showDetails(req)) body.failing = failing;
    sendJson(req, res, code, JSON.stringify(body));
  }

  function answer(route: Route, req: IncomingMessage, res: ServerResponse, next: NextFunction): void {
    const method = req.method;
    const allowed = method === 'GET' || method === 'HEAD' || (route === 'keepAlive' && method === 'POST');
    if (!allowed) {
      res.setHeader('Allow', route === 'keepAlive' ? 'GET, HEAD, POST' : 'GET, HEAD');
      sendError(req, res, 405);
      return;
    }
    const offered = route === 'health' || route === 'live' || route === 'ready' ? JSON_OR_HEALTH : JSON_ONLY;
    const type = negotiate(req, offered);
    if (type === undefined) {
      sendJson(req, res, 406, errorBody(406, `Not Acceptable: this endpoint answers ${offered.join(' or ')}`));
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
      case 'keepAlive': {
        if (method === 'POST') {
          const length = Number(req.headers['content-length'] ?? 0);
          if (!(length <= KEEP_ALIVE_BODY_LIMIT)) {
            res.setHeader('Connection', 'close');
            sendError(req, res, 413, `Payload Too Large: keep-alive accepts at most ${KEEP_ALIVE_BODY_LIMIT} bytes`);
            return;
          }
          activity.lastClientPing = Date.now();
          // The body carries nothing we need; read and drop it so the connection can be reused.
          req.resume();
        }
        sendJson(
          req,
          res,
          200,
          `{"status":"alive","timestamp":${epochSeconds()},"request_count":${activity.requestCount},"last_activity":${epochSeconds(activity.lastActivity)},"uptime":${round3(process.uptime())}}`,
        );
        return;
      }
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
    if (!url.startsWith(prefix)) return false;
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const route = routes.get(path);
    if (route !== undefined) answer(route, req, res, next);
    else if (path.startsWith(healthSubtree)) sendError(req, res, 404);
    else return false;
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
  middleware.close = async () => {
    loop?.stop();
    sampler.stop();
    await handle.release();
  };
  return middleware;
}
