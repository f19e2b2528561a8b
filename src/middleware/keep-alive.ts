import type { IncomingMessage, ServerResponse } from 'node:http';
import { activityOf, type Activity, type BackendStatus } from '../activity.js';
import { acquireLogger, componentLogger, type LifelineLogger } from '../logging/logger.js';
import { redactUrl } from '../logging/redact.js';
import { checkBoolean, checkHttpUrl, checkInteger, checkLogger, checkOptionsObject, readEnv } from '../options.js';
import { backgroundLoop } from '../time.js';
import { failureLog } from '../logging/failure-log.js';
import { parseTraceparent, type TraceIds } from '../logging/trace-context.js';
import { activityLookup } from './app-activity.js';
import { beforeHeaders, writtenStatus } from './app-headers-hook.js';
import { fromStep, requestPath, type ClosableMiddleware } from './types.js';

export interface KeepAliveOptions {
  /** Background loop period in ms (heartbeat, self-ping); 0 turns it off. Default `KEEP_ALIVE_INTERVAL` or 30000. */
  interval?: number;
  /** URL requested on every loop so hosts that sleep idle apps keep this one awake. */
  selfPingUrl?: string;
  /** Requests slower than this (ms) are logged as warnings. Default 1000; 0 turns it off. */
  slowRequestMs?: number;
  /**
   * An access line per request (`GET /api/items 200 3.1 ms 1532 bytes`), written after the
   * response has finished. Default `ACCESS_LOG`, else on outside production, off in it.
   */
  accessLog?: boolean;
  /** Where to log; `false` for nowhere. Default: the shared `backend.log` logger. */
  logger?: LifelineLogger | false;
}

export type KeepAliveMiddleware = ClosableMiddleware & {
  /** The counters of an app this middleware serves (`app` is the Express app). */
  activity(app: object): Readonly<Activity>;
  /** For lifeline(): calls `done` as each request marked by markMetered() ends. */
  [METERED_DONE]?: (done: MeteredDone) => void;
};

/**
 * Called as a metered request ends, with what keepAlive already has at hand: the method
 * label metrics() gave markMetered(), the status code written (0 when the client left
 * before any answer) and the ms since keepAlive saw the request.
 */
export type MeteredDone = (req: IncomingMessage, method: string, status: number, ms: number) => void;
export const METERED_DONE: unique symbol = Symbol('express-lifeline.meteredDone');

const KNOWN = ['interval', 'selfPingUrl', 'slowRequestMs', 'accessLog', 'logger'] as const;

interface RequestTiming {
  activity: Activity;
  count: number;
  started: number;
  /** The connection's byte count when the request came, for the access line. */
  bytesBefore: number;
  /** From a valid `traceparent`, so the access line joins the distributed trace. */
  trace: TraceIds | undefined;
  /** The status code written with the headers; 0 until then. */
  status: number;
  /** metrics() times this request (markMetered), under this method label; '' when it does not. */
  meteredMethod: string;
}
// Kept beside the response, not on it: a property added to an Express response builds a
// hidden class for that response alone (see app-headers-hook.ts), a few µs a request. The
// record holds nothing that leads back to the response (its key), so the WeakMap's entries
// die with their responses in the young generation.
const requests = new WeakMap<ServerResponse, RequestTiming>();

function isEventStream(res: ServerResponse): boolean {
  const type = res.getHeader('content-type');
  return typeof type === 'string' && type.startsWith('text/event-stream');
}

/**
 * The X-Backend-* and Server-Timing headers of a request that started at `started`
 * (performance.now()), as a flat name, value, … list: keepAlive sets them, serve()'s
 * probes write them with the rest of their answer. `timing` is a Server-Timing already set.
 */
export function backendHeaders(started: number, count: number, status: BackendStatus, timing?: unknown): Array<string | number> {
  const duration = (performance.now() - started).toFixed(3);
  return [
    'X-Backend-Processing-Time',
    `${duration}ms`,
    'X-Backend-Request-Count',
    count,
    'X-Backend-Status',
    status,
    'Server-Timing',
    timing === undefined ? `app;dur=${duration}` : `${String(timing)}, app;dur=${duration}`,
  ];
}

/**
 * Lets metrics() time a request on keepAlive's own record and 'close' listener instead of
 * adding its own to the response: each property and listener added to every response
 * costs several µs a request in Node's http internals (measured in bench/RESULTS.md).
 * False when keepAlive has not seen the request.
 */
export function markMetered(res: ServerResponse, method: string): boolean {
  const r = requests.get(res);
  if (r === undefined) return false;
  r.meteredMethod = method;
  return true;
}

// Shared by every response (and, through the app's hook, every keepAlive()): a response
// keepAlive has not seen has no record and gets nothing. The status comes from the
// writeHead() call when the hook passes it: reading it back from an Express response
// (a hidden class of its own, see app-headers-hook.ts) costs more than the rest of metering.
function setBackendHeaders(this: ServerResponse, statusCode?: unknown): void {
  const r = requests.get(this);
  if (r === undefined) return;
  r.status = writtenStatus(this, statusCode);
  const headers = backendHeaders(r.started, r.count, r.activity.status, this.getHeader('Server-Timing'));
  for (let i = 0; i < headers.length; i += 2) this.setHeader(headers[i] as string, headers[i + 1] as string | number);
}

/**
 * Counts requests, tracks in-flight requests and last activity, and sets
 * `X-Backend-Processing-Time`, `X-Backend-Request-Count`, `X-Backend-Status` and
 * `Server-Timing` on every response, just before its headers are written.
 *
 * @example
 * app.use(keepAlive({ interval: 30_000, slowRequestMs: 500 }));
 */
export function keepAlive(options: Readonly<KeepAliveOptions> = {}): KeepAliveMiddleware {
  checkOptionsObject('keepAlive', options, KNOWN);
  const interval = checkInteger('keepAlive', 'interval', options.interval ?? readEnv.keepAliveInterval() ?? 30_000, {
    min: 0,
    unit: 'ms, 0 = off',
  });
  const slowRequestMs = checkInteger('keepAlive', 'slowRequestMs', options.slowRequestMs ?? 1000, { min: 0, unit: 'ms, 0 = off' });
  const selfPingUrl = options.selfPingUrl === undefined ? undefined : checkHttpUrl('keepAlive', 'selfPingUrl', options.selfPingUrl);
  // A token in the URL's userinfo or query must not reach the log, whatever the logger.
  const shownPingUrl = selfPingUrl === undefined ? '' : redactUrl(selfPingUrl);
  const accessLogOption =
    options.accessLog === undefined
      ? (readEnv.accessLog() ?? !readEnv.production())
      : checkBoolean('keepAlive', 'accessLog', options.accessLog);
  // With nowhere to log, no line is formatted per request.
  const accessLog = accessLogOption && options.logger !== false;
  const handle = acquireLogger(checkLogger('keepAlive', options.logger));
  const log = componentLogger(handle.logger, 'keep-alive');
  const access = componentLogger(handle.logger, 'access');

  const served = new Set<Activity>();
  const activityFor = activityLookup((activity) => served.add(activity));

  // A host that is down stays down for many ticks: one line per kind of failure, then one on recovery.
  const pingFailures = failureLog(
    `self-ping ${shownPingUrl}`,
    (m) => log.warn(m),
    (m) => log.info(m),
  );
  const loopFailures = failureLog(
    'keep-alive loop',
    (m) => log.error(m),
    (m) => log.info(m),
  );
  const loop =
    interval > 0
      ? backgroundLoop(
          interval,
          async () => {
            for (const a of served) {
              log.info(`heartbeat: ${a.requestCount} requests, ${a.inFlight} in flight, status ${a.status}`);
            }
            if (selfPingUrl) {
              try {
                const response = await fetch(selfPingUrl, { signal: AbortSignal.timeout(Math.min(interval, 10_000)) });
                await response.arrayBuffer();
                if (!response.ok) throw Object.assign(new Error(`answered ${response.status}`), { code: `HTTP ${response.status}` });
                pingFailures.succeeded();
              } catch (error) {
                pingFailures.failed(error);
              }
            }
          },
          loopFailures,
        )
      : undefined;

  function keepAliveStep(req: IncomingMessage, res: ServerResponse): boolean {
    const activity = activityFor(req);
    requests.set(res, {
      activity,
      count: activity.begin(),
      started: performance.now(),
      bytesBefore: accessLog ? req.socket.bytesWritten : 0,
      trace: accessLog ? parseTraceparent(req.headers.traceparent) : undefined,
      status: 0,
      meteredMethod: '',
    });
    beforeHeaders(res, setBackendHeaders);
    res.on('close', requestDone);
    return false;
  }

  // Shared by every response, like setBackendHeaders: per-request state is in `requests`.
  function requestDone(this: ServerResponse & { req: IncomingMessage }): void {
    const r = requests.get(this);
    if (r === undefined) return;
    r.activity.end();
    const ms = performance.now() - r.started;
    if (r.meteredMethod !== '') meteredDone?.(this.req, r.meteredMethod, r.status, ms);
    if (slowRequestMs === 0 && !accessLog) return;
    const req = this.req;
    // An event stream (SSE) stays open for as long as its client watches: long by design, not slow.
    if (slowRequestMs > 0 && ms >= slowRequestMs && !isEventStream(this)) {
      log.warn(
        `slow request: ${req.method ?? 'GET'} ${requestPath(req)} ${this.statusCode} took ${ms.toFixed(1)} ms (threshold ${slowRequestMs} ms)`,
      );
    }
    if (accessLog) {
      // On 'close' the answer has left: the line costs the event loop, never the caller.
      // Bytes are what went on the connection for this answer, headers included; no
      // status when the client left before any was sent.
      const bytes = req.socket.bytesWritten - r.bytesBefore;
      access.info(
        `${req.method ?? 'GET'} ${requestPath(req)} ${this.headersSent ? this.statusCode : '-'} ${ms.toFixed(1)} ms ${bytes} bytes${this.writableFinished ? '' : ' (aborted)'}`,
        r.trace,
      );
    }
  }

  let meteredDone: MeteredDone | undefined;
  const middleware = fromStep<KeepAliveMiddleware>('keepAliveMiddleware', keepAliveStep);

  middleware.activity = (app: object) => activityOf(app);
  middleware[METERED_DONE] = (done) => {
    meteredDone = done;
  };
  middleware.close = async () => {
    loop?.stop();
    await handle.release();
  };
  return middleware;
}
