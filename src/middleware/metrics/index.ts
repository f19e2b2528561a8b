import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HealthSnapshot } from '../../health/registry.js';
import { acquireLogger, componentLogger } from '../../logging/logger.js';
import { beforeHeaders, writtenStatus } from '../app-headers-hook.js';
import { PEEK_SNAPSHOT, type HealthMiddleware } from '../health.js';
import { detailsGate } from '../health/details-gate.js';
import { markMetered, METERED_DONE, type KeepAliveMiddleware } from '../keep-alive.js';
import { sendError } from '../respond.js';
import { fromStep, type ClosableMiddleware, type NextFunction } from '../types.js';
import { methodLabel, RequestDurations } from './durations.js';
import { keepOmitted, OPENMETRICS_TYPE, PROMETHEUS_TYPE, render, type MetricFamily, type ProcessMetrics } from './families.js';
import { wantsOpenMetrics } from './negotiate.js';
import { metricsSettings, type MetricsOptions } from './options.js';
import { promClient } from './prom-client.js';
import { routeLabel } from './route-label.js';

export type { MetricFamily, ProcessMetrics, Sample } from './families.js';
export type { MetricsOptions } from './options.js';

/**
 * How a worker of `lifeline serve` answers a scrape for the whole cluster: `gather()`
 * resolves with every worker's figures merged and rendered, or undefined when the primary
 * did not answer in time (the worker then answers with its own).
 */
export interface ScrapeExchange {
  gather(openMetrics: boolean): Promise<string | undefined>;
}

export type MetricsMiddleware = ClosableMiddleware & {
  /** The path of the endpoint (`/metrics`). */
  readonly path: string;
  /** ms the primary of `lifeline serve` waits for each worker's figures. */
  readonly scrapeTimeout: number;
  /** This process's figures, as the primary of `lifeline serve` collects them. */
  collect(): Promise<ProcessMetrics>;
  /** Answers scrapes through `exchange` (the cluster's), this process's own figures being one part. */
  shareScrapes(exchange: ScrapeExchange): void;
  /** For lifeline(): time requests on keepAlive's record (see markMetered) when it has one. */
  [TIME_WITH_KEEPALIVE]?: (keepAlive: KeepAliveMiddleware) => void;
};

export const TIME_WITH_KEEPALIVE: unique symbol = Symbol('express-lifeline.metrics.timeWithKeepAlive');

/** A request metrics() times itself (without lifeline()'s keepAlive). */
interface Timing {
  started: number;
  method: string;
  /** The status code written with the headers; 0 until then. */
  status: number;
}
// Beside the response rather than on it, for the reason keepAlive's records are (keep-alive.ts).
const timings = new WeakMap<ServerResponse, Timing>();

function statusWritten(this: ServerResponse, statusCode?: unknown): void {
  const t = timings.get(this);
  if (t !== undefined) t.status = writtenStatus(this, statusCode);
}

const SCRAPE_ERRORS = 'lifeline_scrape_errors_total';

function checkFamilies(snapshot: HealthSnapshot | undefined): MetricFamily[] {
  const up: MetricFamily = {
    name: 'lifeline_check_up',
    help: 'Whether a health check passes (1) or fails (0), from the last health snapshot.',
    type: 'gauge',
    // Across workers, a check is up only where every worker sees it up.
    aggregator: 'min',
    values: [],
  };
  const duration: MetricFamily = {
    name: 'lifeline_check_duration_seconds',
    help: 'How long the last run of a health check took.',
    type: 'gauge',
    aggregator: 'max',
    values: [],
  };
  if (snapshot !== undefined && snapshot.pending !== true) {
    for (const [check, outcome] of Object.entries(snapshot.checks)) {
      up.values.push({ labels: { check }, value: outcome.status === 'fail' ? 0 : 1 });
      duration.values.push({ labels: { check }, value: outcome.duration_ms / 1000 });
    }
  }
  return [up, duration];
}

/**
 * Serves Prometheus metrics at `/metrics` (OpenMetrics when the scraper asks for it):
 * `http_server_request_duration_seconds` by method, route template and status code
 * (OpenTelemetry's names and buckets), `http_server_active_requests`, prom-client's
 * default process metrics, and each health check as `lifeline_check_up{check}` and
 * `lifeline_check_duration_seconds{check}`. Public outside production; in production
 * only for `Authorization: Bearer <METRICS_TOKEN or HEALTH_TOKEN>`. Requests are timed
 * from this middleware on: put it before the routes. prom-client is loaded when this
 * factory is first called, never by an app that does not use it.
 *
 * @example
 * app.use(metrics({ path: '/metrics', health: life.health }));
 */
export function metrics(options: Readonly<MetricsOptions> = {}): MetricsMiddleware {
  const settings = metricsSettings(options);
  const { path } = settings;
  const handle = acquireLogger(settings.logger);
  const log = componentLogger(handle.logger, 'metrics');
  if (!settings.public && settings.token === undefined) {
    log.warn(`${path} is limited to token holders but neither METRICS_TOKEN nor HEALTH_TOKEN is set: it answers 401 to everyone`);
  }
  const allowed = settings.public ? () => true : detailsGate('authorized', settings.token);
  const peek = (settings.health as (HealthMiddleware & { [PEEK_SNAPSHOT]?: () => HealthSnapshot | undefined }) | undefined)?.[
    PEEK_SNAPSHOT
  ];

  const prom = promClient();
  const processRegistry = new prom.Registry();
  prom.collectDefaultMetrics({ register: processRegistry });

  const durations = new RequestDurations();
  let active = 0;
  // Scrapes this process answered alone because the cluster's primary did not answer in time.
  let localScrapeErrors = 0;
  let exchange: ScrapeExchange | undefined;

  function appFamilies(): MetricFamily[] {
    return [
      durations.family(),
      {
        name: 'http_server_active_requests',
        help: 'HTTP server requests in flight.',
        type: 'gauge',
        aggregator: 'sum',
        values: [{ labels: {}, value: active }],
      },
      ...checkFamilies(peek?.()),
      {
        name: SCRAPE_ERRORS,
        help: 'Scrapes answered without some worker’s current figures (it did not answer in time).',
        type: 'counter',
        aggregator: 'sum',
        values: [{ labels: {}, value: localScrapeErrors }],
      },
    ];
  }

  async function collect(): Promise<ProcessMetrics> {
    const process = (await processRegistry.getMetricsAsJSON()) as unknown as MetricFamily[];
    return { app: appFamilies(), process: keepOmitted(process) };
  }

  async function body(openMetrics: boolean): Promise<string> {
    if (exchange !== undefined) {
      const merged = await exchange.gather(openMetrics);
      if (merged !== undefined) return merged;
      localScrapeErrors += 1;
    }
    const own = await collect();
    return render([...own.app, ...own.process], openMetrics);
  }

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const openMetrics = wantsOpenMetrics(req.headers.accept);
    const text = await body(openMetrics);
    res.statusCode = 200;
    res.setHeader('Content-Type', openMetrics ? OPENMETRICS_TYPE : PROMETHEUS_TYPE);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Length', Buffer.byteLength(text));
    res.end(req.method === 'HEAD' ? undefined : text);
  }

  function isMetricsPath(url: string): boolean {
    if (!url.startsWith(path)) return false;
    const rest = url.length - path.length;
    if (rest === 0) return true;
    const next = url[path.length];
    return next === '?' || (next === '/' && (rest === 1 || url[path.length + 1] === '?'));
  }

  // A client gone before any answer has no status code (OpenTelemetry leaves it out): status 0, label ''.
  function record(req: IncomingMessage, method: string, status: number, ms: number): void {
    active -= 1;
    durations.observe(method, routeLabel(req), status, ms / 1000);
  }

  // Shared by every response, like statusWritten: per-request state is in `timings`.
  function requestDone(this: ServerResponse & { req: IncomingMessage }): void {
    const t = timings.get(this);
    if (t !== undefined) record(this.req, t.method, t.status, performance.now() - t.started);
  }

  let withKeepAlive = false;

  function metricsStep(req: IncomingMessage, res: ServerResponse, next: NextFunction): boolean {
    const url = req.url ?? '/';
    if (isMetricsPath(url)) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('Allow', 'GET, HEAD');
        sendError(req, res, 405);
      } else if (!allowed(req)) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
        sendError(req, res, 401);
      } else {
        answer(req, res).catch(next);
      }
      return true;
    }
    active += 1;
    // The method is read here, where the router and corsSecurity() have just read it and V8's
    // lookup cache still holds this request's hidden class; at the end it is a slow lookup.
    const method = methodLabel(req.method);
    if (withKeepAlive && markMetered(res, method)) return false;
    timings.set(res, { started: performance.now(), method, status: 0 });
    beforeHeaders(res, statusWritten);
    res.on('close', requestDone);
    return false;
  }

  const middleware = fromStep<MetricsMiddleware>('metricsMiddleware', metricsStep);
  Object.defineProperty(middleware, 'path', { value: path, enumerable: true });
  Object.defineProperty(middleware, 'scrapeTimeout', { value: settings.scrapeTimeout, enumerable: true });
  middleware.collect = collect;
  middleware.shareScrapes = (e) => {
    exchange = e;
  };
  middleware[TIME_WITH_KEEPALIVE] = (keepAlive) => {
    keepAlive[METERED_DONE]?.(record);
    withKeepAlive = true;
  };
  middleware.close = async () => {
    processRegistry.clear();
    await handle.release();
  };
  return middleware;
}
