import cluster from 'node:cluster';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server as NetServer } from 'node:net';
import { activityOf } from '../activity.js';
import { ConfigError } from '../errors.js';
import { acquireLogger, componentLogger, type LifelineLogger } from '../logging/logger.js';
import { checkBoolean, checkHost, checkInteger, checkLogger, checkOptionsObject, checkSignals, optionError, readEnv } from '../options.js';
import { backoffDelay, sleep } from '../time.js';
import { ConnectionTracker } from './connections.js';
import type { HealthMiddleware } from '../middleware/health.js';
import { findHealth, findSameOriginHeaders } from './find-health.js';
import { createProbeAnswerer } from './probes.js';
import { applyServerLimits, resolveServerLimits } from './server-limits.js';
import { failureLog } from '../logging/failure-log.js';
import { createLoadShedder, type ShedStats } from './load-shedder.js';
import { resolveShed, type ShedOptions } from './shed-options.js';

type Hook = () => unknown;
type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export interface ServeOptions {
  /** Default `PORT` or 8000; 0 picks a free port. */
  port?: number;
  /** Default `HOST` or 127.0.0.1. */
  host?: string;
  /** ms in-flight requests get to finish after a signal; then sockets are destroyed and the exit code is 1. Default 10000. */
  shutdownTimeout?: number;
  /** ms to keep serving (readiness already 503) so load balancers notice before the server stops accepting. Default 0. */
  shutdownDelay?: number;
  /** ms a keep-alive connection idle at drain start may still bring a request before it is closed. Default 1000. */
  idleGrace?: number;
  /** Runs first on shutdown, while still serving. */
  beforeShutdown?: Hook | readonly Hook[];
  /** Runs after the last connection closed: close the database pool, flush logs. */
  onShutdown?: Hook | readonly Hook[];
  /** Signals that start a graceful shutdown; a second one forces the exit. Default SIGTERM and SIGINT; `false` for none. */
  signals?: readonly NodeJS.Signals[] | false;
  /** Log an uncaught exception or unhandled rejection with its stack, drain and exit 1. Default true. */
  handleCrashes?: boolean;
  /** Answer ping, liveness and readiness at the http.Server level, before Express. Default true. */
  fastProbes?: boolean;
  /** Tries of the critical health checks before listening, with exponential backoff; then it starts anyway, degraded. Default 5; 1 = no retry. */
  startupTries?: number;
  /** ms before the second try; doubles each time. Default 500. */
  startupDelay?: number;
  /** Call process.exit when the shutdown ends. Default true. */
  exit?: boolean;
  /** Where to log; `false` for nowhere. Default: the shared `backend.log` logger. */
  logger?: LifelineLogger | false;
  /**
   * Open connections beyond which new ones are closed at accept. Default `MAX_CONNECTIONS` or
   * 3/4 of the descriptor limit (`ulimit -n`), keeping at least 64 descriptors for everything else.
   */
  maxConnections?: number;
  /** ms a client gets to send the request headers. Default `HEADERS_TIMEOUT` or 20000 (at most requestTimeout). */
  headersTimeout?: number;
  /** ms a client gets to send the whole request, body included; answered 408. Default `REQUEST_TIMEOUT` or 30000; 0 = off. */
  requestTimeout?: number;
  /** ms an idle keep-alive connection stays open. Default `KEEP_ALIVE_TIMEOUT` or 5000. */
  keepAliveTimeout?: number;
  /**
   * Load shedding, before Express: new requests get 503 with `Retry-After` and
   * `Connection: close` while the event loop lags or more are in flight than a limit
   * adapted from measured latency allows; probes and `/metrics` never. `false` (or
   * `SHED=0`) turns it off; an object tunes it (see ShedOptions). Default on.
   */
  shed?: boolean | ShedOptions;
}

export interface Served {
  server: Server;
  port: number;
  url: string;
  /** Starts (or joins) the graceful shutdown; resolves with the exit code, 0 when everything drained. */
  shutdown(reason?: string): Promise<number>;
  /** What load shedding has done; undefined when it is off. */
  shedding(): ShedStats | undefined;
}

const KNOWN = [
  'startupTries',
  'startupDelay',
  'port',
  'host',
  'shutdownTimeout',
  'shutdownDelay',
  'idleGrace',
  'beforeShutdown',
  'onShutdown',
  'signals',
  'handleCrashes',
  'fastProbes',
  'exit',
  'logger',
  'maxConnections',
  'headersTimeout',
  'requestTimeout',
  'keepAliveTimeout',
  'shed',
] as const;

function hooks(name: string, value: Hook | readonly Hook[] | undefined): Hook[] {
  const list = value === undefined ? [] : typeof value === 'function' ? [value] : value;
  if (!Array.isArray(list) || list.some((h) => typeof h !== 'function'))
    throw optionError('serve', name, 'a function or an array of functions', value);
  return [...list];
}

/**
 * Reads a variable; a bad one is the operator's mistake, not the program's, so a serve()
 * that owns the process says it in one line and exits 1, as `lifeline serve` does.
 */
function fromEnv<T>(read: () => T, exit: boolean): T {
  try {
    return read();
  } catch (error) {
    if (!exit || !(error instanceof ConfigError)) throw error;
    console.error(`serve: ${error.message}`);
    process.exit(1);
  }
}

/** Paths load shedding never touches: the probes (wherever health() is mounted, with or without a trailing slash) and the given ones. */
function exemptPaths(health: HealthMiddleware | undefined, extra: readonly string[]): Set<string> {
  const paths = new Set(extra);
  for (const prefix of new Set(['/api', health?.prefix ?? '/api'])) {
    for (const suffix of ['/ping', '/health/live', '/health/ready']) {
      paths.add(prefix + suffix);
      paths.add(`${prefix + suffix}/`);
    }
  }
  return paths;
}

/** Runs the critical checks up to `tries` times with exponential backoff; true when they passed. */
async function waitForCriticalChecks(health: HealthMiddleware, tries: number, delay: number, log: LifelineLogger): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    await health.check();
    const { ready, failing } = await health.readiness();
    if (ready) return true;
    if (attempt >= tries) {
      log.warn(
        `starting degraded: critical checks still failing after ${tries} tries (${failing.join(', ')}); health recovers when they pass`,
      );
      return false;
    }
    const wait = backoffDelay(attempt - 1, { base: delay });
    log.warn(`critical checks failing at startup (${failing.join(', ')}): try ${attempt + 1}/${tries} in ${wait} ms`);
    await sleep(wait);
  }
}

/**
 * Listens with an Express app (or any request listener) and owns its shutdown: on
 * SIGTERM/SIGINT readiness turns 503 and `X-Backend-Status: draining` at once, then the
 * server stops accepting, idle keep-alive connections close, in-flight requests finish
 * (up to `shutdownTimeout`), event streams and WebSockets are told to go, hooks run,
 * and the process exits 0 — or 1 when it had to cut connections.
 *
 * @example
 * await serve(app, { port: 8000, onShutdown: () => db.destroy() });
 */
export async function serve(app: RequestListener, options: Readonly<ServeOptions> = {}): Promise<Served> {
  checkOptionsObject('serve', options, KNOWN);
  if (typeof app !== 'function') throw optionError('serve', 'app', 'an Express app or a request listener', app);
  const exit = checkBoolean('serve', 'exit', options.exit ?? true);
  const port = checkInteger('serve', 'port', options.port ?? fromEnv(readEnv.port, exit) ?? 8000, { min: 0, max: 65535 });
  const host = checkHost('serve', 'host', options.host ?? fromEnv(readEnv.host, exit) ?? '127.0.0.1');
  const shutdownTimeout = checkInteger('serve', 'shutdownTimeout', options.shutdownTimeout ?? 10_000, { min: 0, unit: 'ms' });
  const shutdownDelay = checkInteger('serve', 'shutdownDelay', options.shutdownDelay ?? 0, { min: 0, unit: 'ms' });
  const idleGrace = checkInteger('serve', 'idleGrace', options.idleGrace ?? 1000, { min: 0, unit: 'ms' });
  const before = hooks('beforeShutdown', options.beforeShutdown);
  const after = hooks('onShutdown', options.onShutdown);
  const signals = checkSignals('serve', 'signals', options.signals ?? ['SIGTERM', 'SIGINT']);
  const handleCrashes = checkBoolean('serve', 'handleCrashes', options.handleCrashes ?? true);
  const fastProbes = checkBoolean('serve', 'fastProbes', options.fastProbes ?? true);
  const startupTries = checkInteger('serve', 'startupTries', options.startupTries ?? 5, { min: 1, max: 100 });
  const startupDelay = checkInteger('serve', 'startupDelay', options.startupDelay ?? 500, { min: 0, unit: 'ms' });
  const limits = resolveServerLimits('serve', options);
  const shedSettings = fromEnv(() => resolveShed('serve', options.shed), exit);
  const handle = acquireLogger(checkLogger('serve', options.logger));
  const log = componentLogger(handle.logger, 'lifecycle');

  const activity = activityOf(app);
  const found = findHealth(app);
  if (found) await waitForCriticalChecks(found, startupTries, startupDelay, log);
  // Headers that change per request (a CSP nonce) cannot be precomputed: Express answers then.
  const sameOrigin = found && fastProbes ? findSameOriginHeaders(app, found) : 'per-request';
  const probe = found && sameOrigin !== 'per-request' ? createProbeAnswerer(found, activity, sameOrigin) : undefined;
  const shedder = shedSettings && createLoadShedder(shedSettings, activity, exemptPaths(found, shedSettings.exemptPaths), log);
  const server = createServer(
    {
      headersTimeout: limits.headersTimeout,
      requestTimeout: limits.requestTimeout,
      connectionsCheckingInterval: limits.connectionsCheckingInterval,
    },
    (req, res) => {
      tracker.track(req, res);
      if (probe?.(req, res)) return;
      if (shedder) shedder.admit(req, res, () => app(req, res));
      else app(req, res);
    },
  );
  applyServerLimits(server, limits);
  const tracker = new ConnectionTracker(server);
  server.listen(port, host);
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([error]) => Promise.reject(error as Error))]);
  // Once listening, an error (accept failing with EMFILE) must not become an uncaught exception.
  const acceptFailures = failureLog(
    'accepting connections',
    (m) => log.error(m),
    (m) => log.info(m),
  );
  server.on('error', (error) => acceptFailures.failed(error));
  server.on('connection', () => {
    acceptFailures.succeeded();
    shedder?.connected();
  });
  // One warning per minute at most while the limit is hit, with the count closed since.
  let dropped = 0;
  let lastDropWarning = 0;
  server.on('drop', () => {
    dropped += 1;
    if (Date.now() - lastDropWarning < 60_000) return;
    lastDropWarning = Date.now();
    log.warn(`connection limit reached (maxConnections ${limits.maxConnections}): new connections are closed (${dropped} so far)`);
  });
  const address = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;

  let shuttingDown: Promise<number> | undefined;
  let forced = false;

  async function runHooks(name: string, list: Hook[]): Promise<void> {
    for (const hook of list) {
      try {
        await hook();
      } catch (error) {
        log.error(`${name} hook failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }

  async function drain(reason: string, failed: boolean): Promise<number> {
    const started = Date.now();
    activity.draining = true;
    log.info(`shutting down (${reason}): draining ${tracker.inFlight} in-flight requests, timeout ${shutdownTimeout} ms`);
    await runHooks('beforeShutdown', before);
    if (shutdownDelay > 0) {
      log.info(`still serving for ${shutdownDelay} ms so load balancers see the 503`);
      await sleep(shutdownDelay);
    }
    // net.Server's close stops accepting; http.Server's would also cut idle keep-alive
    // connections at once, racing clients that are about to reuse them.
    NetServer.prototype.close.call(server);
    shedder?.stop();
    tracker.beginDrain(idleGrace);
    const left = Math.max(0, shutdownTimeout - (Date.now() - started));
    const drained = forced ? false : await tracker.waitUntilClosed(left);
    let code = failed ? 1 : 0;
    if (!drained) {
      code = 1;
      log.error(
        `shutdown timeout: destroying ${tracker.open} connections with ${tracker.inFlight} requests still in flight after ${Date.now() - started} ms`,
      );
      tracker.destroyAll();
    } else {
      log.info(`drained in ${Date.now() - started} ms`);
    }
    log.info(`stopped (exit code ${code})`);
    // Last, so the hooks can close the database pool and flush the log.
    await runHooks('onShutdown', after);
    for (const signal of signals) process.removeListener(signal, onSignal);
    process.removeListener('uncaughtException', onException);
    process.removeListener('unhandledRejection', onRejection);
    await handle.release();
    if (exit) process.exit(code);
    return code;
  }

  function shutdown(reason = 'shutdown requested', failed = false): Promise<number> {
    shuttingDown ??= drain(reason, failed);
    return shuttingDown;
  }

  function onSignal(signal: NodeJS.Signals): void {
    if (shuttingDown) {
      forced = true;
      log.warn(`${signal} again during shutdown: forcing exit`);
      tracker.destroyAll();
      void handle.release().then(() => process.exit(1));
      return;
    }
    void shutdown(signal);
  }
  for (const signal of signals) process.on(signal, onSignal);

  // A crash is logged with its stack; the process then drains what it can and exits 1.
  const crash = (kind: string) => (error: unknown) => {
    const err = error instanceof Error ? error : new Error(String(error));
    log.error(`${kind}: ${err.message}`, { stack: err.stack });
    void shutdown(kind, true);
  };
  const onException = crash('uncaught exception');
  const onRejection = crash('unhandled rejection');
  if (handleCrashes) {
    process.on('uncaughtException', onException);
    process.on('unhandledRejection', onRejection);
  }

  log.info(`listening on ${url} (${readEnv.nodeEnv()}, pid ${process.pid})`);
  // Once per start: a cluster's primary has already said it for its workers.
  const nodeEnvWarning = cluster.isWorker ? undefined : readEnv.nodeEnvWarning();
  if (nodeEnvWarning) log.warn(nodeEnvWarning);
  return { server, port: address.port, url, shutdown, shedding: () => shedder?.stats() };
}
