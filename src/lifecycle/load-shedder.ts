import type { IncomingMessage, ServerResponse } from 'node:http';
import onHeaders from 'on-headers';
import type { Activity } from '../activity.js';
import type { LifelineLogger } from '../logging/logger.js';
import { errorBody } from '../middleware/respond.js';
import { AdaptiveLimit } from './adaptive-limit.js';
import { watchEventLoopLag, type EventLoopLag } from './event-loop-lag.js';
import type { ShedSettings } from './shed-options.js';

/** What the shedder has done, for status pages and metrics. */
export interface ShedStats {
  /** True from the first shed request until none was shed for a while. */
  overloaded: boolean;
  /** Requests answered 503 since the start. */
  shed: number;
  /** Admitted requests not answered yet. */
  inFlight: number;
  /** The adaptive concurrency limit now; undefined when it is off. */
  limit: number | undefined;
  /** Event-loop delay p99 of the last window (ms); undefined when that limit is off. */
  eventLoopDelay: number | undefined;
}

export interface LoadShedder {
  /** False when the request was answered 503 (the caller stops there). */
  admit(req: IncomingMessage, res: ServerResponse): boolean;
  stats(): ShedStats;
  stop(): void;
}

/** ms without a shed request before the overload is over (readiness 200 again, one log line). */
const RECOVERY_MS = 2000;

const STARTED = Symbol('express-lifeline.shedStarted');
type Admitted = ServerResponse & { [STARTED]?: number };

/**
 * Answers new requests 503 (`Retry-After`, `Connection: close`) while the event loop
 * lags or more requests are in flight than the adaptive limit allows; the probes and
 * `exemptPaths` always pass. While it sheds, `activity.overloaded` is set, so readiness
 * fails with `overloaded` and a balancer sends the traffic elsewhere.
 *
 * A request's latency is counted from the start of the event-loop turn that read it
 * (its "batch"): requests read together were waiting together, and a synchronous
 * handler answering them one after the other makes the later ones wait. Requests
 * answered within the current batch still count as in flight, so a CPU-bound app (whose
 * requests never overlap in time) gets a limit per turn of the loop.
 */
export function createLoadShedder(
  settings: ShedSettings,
  activity: Activity,
  exempt: ReadonlySet<string>,
  log: Pick<LifelineLogger, 'warn' | 'info'>,
): LoadShedder {
  const limiter =
    settings.maxConcurrency > 0
      ? new AdaptiveLimit({ min: settings.minConcurrency, max: settings.maxConcurrency, tolerance: settings.latencyTolerance })
      : undefined;
  const lag: EventLoopLag | undefined = settings.maxEventLoopDelay > 0 ? watchEventLoopLag(settings.maxEventLoopDelay) : undefined;
  const body = errorBody(503, 'server overloaded, retry later');
  const headers = [
    'Content-Type',
    'application/json; charset=utf-8',
    'Cache-Control',
    'no-store',
    'Retry-After',
    String(settings.retryAfter),
    'Connection',
    'close',
    'Content-Length',
    String(Buffer.byteLength(body)),
  ];

  let inFlight = 0;
  let batchStart = 0;
  let batchDone = 0;
  let batchOpen = false;
  const endBatch = () => {
    batchOpen = false;
    batchDone = 0;
  };

  let shed = 0;
  let shedAtStart = 0;
  let overloadStart = 0;
  let lastShed = 0;
  let recovery: NodeJS.Timeout | undefined;
  function checkRecovery(): void {
    const now = performance.now();
    if (now - lastShed < RECOVERY_MS || lag?.lagging) {
      recovery?.refresh();
      return;
    }
    recovery = undefined;
    activity.overloaded = false;
    log.info(`load shedding ended after ${((now - overloadStart) / 1000).toFixed(1)} s: ${shed - shedAtStart} requests answered 503`);
  }

  function startShedding(reason: string, now: number): void {
    activity.overloaded = true;
    overloadStart = now;
    shedAtStart = shed;
    lastShed = now;
    log.warn(`load shedding started: ${reason}; new requests get 503 until it recovers`);
    recovery = setTimeout(checkRecovery, RECOVERY_MS);
    recovery.unref();
  }

  function reject(req: IncomingMessage, res: ServerResponse, reason: () => string, now: number): false {
    if (!activity.overloaded) startShedding(reason(), now);
    shed += 1;
    lastShed = now;
    res.shouldKeepAlive = false;
    res.writeHead(503, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
    return false;
  }

  const lagReason = () => `event-loop delay p99 ${lag?.p99.toFixed(0)} ms over ${settings.maxEventLoopDelay} ms`;

  function answered(this: Admitted): void {
    const started = this[STARTED];
    if (started === undefined) return;
    this[STARTED] = undefined;
    const now = performance.now();
    limiter?.sample(now - started, inFlight + batchDone, now);
    inFlight -= 1;
    if (batchOpen && started === batchStart) batchDone += 1;
  }

  function gone(this: Admitted): void {
    // Left before any answer: no latency to learn from.
    if (this[STARTED] === undefined) return;
    this[STARTED] = undefined;
    inFlight -= 1;
  }

  return {
    admit(req, res) {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const now = performance.now();
      if (exempt.has(q === -1 ? url : url.slice(0, q))) {
        // A lagging loop makes readiness say so even when only probes come.
        if (lag?.lagging && !activity.overloaded) startShedding(lagReason(), now);
        return true;
      }
      if (!batchOpen) {
        batchOpen = true;
        batchStart = now;
        setImmediate(endBatch);
      }
      if (lag?.lagging) {
        return reject(req, res, lagReason, now);
      }
      if (limiter && inFlight + batchDone >= limiter.limit) {
        return reject(
          req,
          res,
          () => {
            const { usual, recent } = limiter.latency;
            return `${inFlight + batchDone} requests in flight reached the adaptive limit ${limiter.limit} (latency ${recent.toFixed(1)} ms, usually ${usual.toFixed(1)} ms)`;
          },
          now,
        );
      }
      inFlight += 1;
      const admitted = res as Admitted;
      admitted[STARTED] = batchStart;
      // Time to the first byte of the answer: a stream (SSE) stops counting once it started.
      onHeaders(res, answered);
      res.once('close', gone);
      return true;
    },
    stats() {
      return {
        overloaded: activity.overloaded,
        shed,
        inFlight,
        limit: limiter?.limit,
        eventLoopDelay: lag?.p99,
      };
    },
    stop() {
      clearTimeout(recovery);
      activity.overloaded = false;
      lag?.stop();
    },
  };
}
