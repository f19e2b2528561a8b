import type { IncomingMessage, ServerResponse } from 'node:http';
import onHeaders from 'on-headers';
import type { Activity } from '../activity.js';
import type { LifelineLogger } from '../logging/logger.js';
import { errorBody } from '../middleware/respond.js';
import { AdaptiveLimit } from './adaptive-limit.js';
import { watchEventLoopLag, type EventLoopLag } from './event-loop-lag.js';
import { watchLoopSaturation } from './loop-saturation.js';
import { ReadWait } from './read-wait.js';
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
  /**
   * Decides a request's fate: calls `run` now (admitted), later (held while the loop is
   * saturated, see below), or never (answered 503).
   */
  admit(req: IncomingMessage, res: ServerResponse, run: () => void): void;
  /** The server accepted a connection (its 'connection' event). */
  connected(): void;
  stats(): ShedStats;
  stop(): void;
}

/** ms without a shed request before the overload is over (readiness 200 again, one log line). */
const RECOVERY_MS = 2000;
/** Connections may wait this long to be accepted, whatever the usual latency: a process descheduled for a moment. */
const WAIT_FLOOR_MS = 10;
/**
 * A handler's synchronous part (an average) from which one connection accepted per turn
 * can fall behind: 2 ms is 500 connections a second. Below it, connections waiting are a
 * burst that quick turns absorb (a client opening 50 at once), not an overload.
 */
const LONG_HANDLER_MS = 2;

const STARTED = Symbol('express-lifeline.shedStarted');
const BATCH = Symbol('express-lifeline.shedBatch');
/** When the request became ready (estimated), and when the batch that read it began. */
type Admitted = ServerResponse & { [STARTED]?: number; [BATCH]?: number };

/**
 * Answers new requests 503 (`Retry-After`, `Connection: close`) before Express sees them
 * when the event loop lags (its delay p99 over a limit) or more requests are in flight
 * than the adaptive limit allows. The probes and `exemptPaths` always pass. While it
 * sheds, `activity.overloaded` is set, so readiness fails with `overloaded` and a balancer
 * sends the traffic elsewhere.
 *
 * While the loop is saturated (LoopSaturation), the loop itself is the queue, and one part
 * of it is out of sight: libuv accepts one connection per turn of the loop, so a turn spent
 * in a long handler leaves every other new connection in the kernel, unread and ageing
 * (ReadWait.backlogAge), and with each 503 closing its connection, every refused client
 * comes back as a new one. When handlers hold the loop for long (2 ms and more on
 * average) and connections have waited longer than `latencyTolerance - 1` times the
 * usual latency (at least 10 ms), a request is not run then: quick turns that answer 503
 * drain the queue. The newest such request is held instead (the one it replaces gets the
 * 503) and runs in the first turn that neither accepted a connection nor admitted a
 * request: the loop's free moment goes to it rather than to waiting for the next arrival.
 *
 * A request's latency is counted from the moment it is estimated to have become ready
 * (ReadWait): requests read together were waiting together, and a synchronous handler
 * answering them one after the other makes the later ones wait. Requests answered within
 * the current batch still count as in flight, so a CPU-bound app (whose requests never
 * overlap in time) gets a limit per turn of the loop.
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
  const loop = watchLoopSaturation();
  const reads = new ReadWait();
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
  /** Requests admitted in the current batch and answered already: still in flight for the limit. */
  let batchDone = 0;
  let doneBatch = 0;
  const doneInBatch = () => (reads.openBatch === doneBatch ? batchDone : 0);

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

  function reject(req: IncomingMessage, res: ServerResponse, reason: () => string, now: number): void {
    if (!activity.overloaded) startShedding(reason(), now);
    shed += 1;
    lastShed = now;
    res.shouldKeepAlive = false;
    res.writeHead(503, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  const lagReason = () => `event-loop delay p99 ${lag?.p99.toFixed(0)} ms over ${settings.maxEventLoopDelay} ms`;

  function answered(this: Admitted): void {
    const started = this[STARTED];
    if (started === undefined) return;
    this[STARTED] = undefined;
    const now = performance.now();
    const batch = reads.openBatch;
    if (batch !== undefined && batch !== doneBatch) {
      doneBatch = batch;
      batchDone = 0;
    }
    limiter?.sample(now - started, inFlight + doneInBatch(), now);
    reads.worked(now);
    inFlight -= 1;
    if (batch !== undefined && this[BATCH] === batch) batchDone += 1;
    if (held) scheduleCheck();
  }

  function gone(this: Admitted): void {
    // Left before any answer: no latency to learn from.
    if (this[STARTED] === undefined) return;
    this[STARTED] = undefined;
    inFlight -= 1;
    if (held) scheduleCheck();
  }

  function start(res: ServerResponse, readyAt: number, batch: number | undefined, run: () => void): void {
    inFlight += 1;
    admittedSinceCheck = true;
    const admitted = res as Admitted;
    admitted[STARTED] = readyAt;
    admitted[BATCH] = batch;
    // Time to the first byte of the answer: a stream (SSE) stops counting once it started.
    onHeaders(res, answered);
    res.once('close', gone);
    const started = performance.now();
    run();
    handlerMs += (performance.now() - started - handlerMs) / 10;
  }

  /** The synchronous part of a handler (ms), a moving average over about ten requests. */
  let handlerMs = 0;

  /** The request held while the loop is saturated, run when the loop has a moment for it. */
  let held: { req: IncomingMessage; res: ServerResponse; run: () => void; readyAt: number; reason: () => string } | undefined;
  let acceptedSinceCheck = false;
  let admittedSinceCheck = false;
  let checkScheduled = false;
  const dropHeld = function (this: ServerResponse): void {
    if (held?.res === this) held = undefined;
  };

  function hold(req: IncomingMessage, res: ServerResponse, run: () => void, readyAt: number, reason: () => string, now: number): void {
    if (held) {
      held.res.removeListener('close', dropHeld);
      reject(held.req, held.res, held.reason, now);
    }
    held = { req, res, run, readyAt, reason };
    res.once('close', dropHeld);
    scheduleCheck();
  }

  function scheduleCheck(): void {
    if (checkScheduled) return;
    checkScheduled = true;
    // Queued from a check phase this runs in the next turn's, after that turn's poll.
    setImmediate(checkHeld);
  }

  function checkHeld(): void {
    checkScheduled = false;
    const busy = acceptedSinceCheck || admittedSinceCheck;
    acceptedSinceCheck = false;
    admittedSinceCheck = false;
    if (!held) return;
    // A full limit is rechecked when a request in flight is answered.
    if (limiter && inFlight >= limiter.limit) return;
    if (busy) {
      scheduleCheck();
      return;
    }
    const { res, run, readyAt } = held;
    held = undefined;
    res.removeListener('close', dropHeld);
    start(res, readyAt, undefined, run);
  }

  return {
    admit(req, res, run) {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const now = performance.now();
      if (exempt.has(q === -1 ? url : url.slice(0, q))) {
        // A lagging loop makes readiness say so even when only probes come.
        if (lag?.lagging && !activity.overloaded) startShedding(lagReason(), now);
        run();
        return;
      }
      const readyAt = reads.readyAt(now);
      if (lag?.lagging) {
        reject(req, res, lagReason, now);
        return;
      }
      if (limiter) {
        const inFlightNow = inFlight + doneInBatch();
        if (inFlightNow >= limiter.limit) {
          reject(
            req,
            res,
            () => {
              const { usual, recent } = limiter.latency;
              return `${inFlightNow} requests in flight reached the adaptive limit ${limiter.limit} (latency ${recent.toFixed(1)} ms, usually ${usual.toFixed(1)} ms)`;
            },
            now,
          );
          return;
        }
        // The cheap test first: `saturated` reads the clock, and quick handlers never need it.
        if (handlerMs >= LONG_HANDLER_MS && loop.saturated) {
          // Read only here: `latency` builds an object, and most requests never get this far.
          const budget = Math.max(WAIT_FLOOR_MS, (settings.latencyTolerance - 1) * limiter.latency.usual);
          const backlog = reads.backlogAge(now);
          if (backlog > budget) {
            hold(
              req,
              res,
              run,
              readyAt,
              () => `the event loop is saturated and connections have waited ${backlog.toFixed(1)} ms to be accepted`,
              now,
            );
            return;
          }
        }
      }
      start(res, readyAt, reads.openBatch, run);
    },
    connected() {
      acceptedSinceCheck = true;
      reads.connected(performance.now());
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
      if (held) reject(held.req, held.res, held.reason, performance.now());
      held = undefined;
      activity.overloaded = false;
      lag?.stop();
      loop.stop();
    },
  };
}
