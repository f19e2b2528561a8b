import { appendFileSync, existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { loadApp } from '../cluster/load-app.js';
import { captureOwnOutput, STDOUT_LOGGED_ENV } from '../cluster/output.js';
import { runCluster } from '../cluster/primary.js';
import { relaunchForNotify } from '../cluster/systemd-notify.js';
import { serve } from '../lifecycle/serve.js';
import { resolveServerLimits, type ServerLimitOptions } from '../lifecycle/server-limits.js';
import { readShedEnabled, readShedEnv, resolveShed, type ShedOptions } from '../lifecycle/shed-options.js';
import { acquireLogger } from '../logging/logger.js';
import { loadConfig, readEnv } from '../options.js';
import { optionalInteger, workerCount } from './args.js';
import { CliError, readConfigFile } from './config-file.js';
import { writeReloadStatus } from './reload-status.js';

/** What `lifeline serve --help` adds below the options commander lists. */
export const SERVE_HELP_AFTER = `
Runs the Express app exported by <entry> (a .js, .mjs, .cjs or, with tsx installed, .ts
module whose default export is an app or a function returning one) in a cluster of
workers sharing one port. SIGTERM/SIGINT drain every worker; SIGHUP reloads them one at
a time with no downtime.

Flags win over the environment, which wins over .backend_config.json
(max_connections, headers_timeout, request_timeout, keep_alive_timeout, shed, shed_*).

Load shedding is on: while the event loop lags or more requests are in flight than a
limit adapted from measured latency, new requests get 503 with Retry-After (probes and
/metrics never); readiness then says "overloaded". --no-shed or SHED=0 turns it off.`;

/** The flags as commander hands them over: strings, parsed by the shared integer(). */
export interface ServeFlags {
  workers?: string;
  forceWorkers?: boolean;
  port?: string;
  host?: string;
  readyTimeout?: string;
  shutdownTimeout?: string;
  maxConnections?: string;
  headersTimeout?: string;
  requestTimeout?: string;
  keepAliveTimeout?: string;
  /** false with --no-shed. */
  shed?: boolean;
  shedMaxEventLoopDelay?: string;
  shedMaxConcurrency?: string;
  shedMinConcurrency?: string;
  shedLatencyTolerance?: string;
  shedRetryAfter?: string;
  single?: boolean;
  reload?: boolean;
  logOutput?: boolean;
  reloadStatus?: string;
}

/** Appends one line to the log file without a logger (the one thing that failed). */
function appendLine(line: string): void {
  try {
    appendFileSync(resolve(readEnv.logFile() ?? 'backend.log'), `${new Date().toISOString()} error ${line}\n`, { mode: 0o600 });
  } catch {
    // nowhere left to say it
  }
}

/**
 * The server limits: a flag, else (when its variable is unset, since serve() reads the
 * variable itself) the .backend_config.json key; undefined leaves serve()'s default.
 */
function serverLimits(flags: ServeFlags): ServerLimitOptions {
  const file = readConfigFile();
  const pick = (flag: string, value: string | undefined, variable: () => number | undefined, saved: number | undefined) => {
    const given = optionalInteger(flag, value);
    if (given !== undefined) return given;
    return variable() === undefined ? saved : undefined;
  };
  const limits: ServerLimitOptions = {
    maxConnections: pick('--max-connections', flags.maxConnections, readEnv.maxConnections, file.max_connections),
    headersTimeout: pick('--headers-timeout', flags.headersTimeout, readEnv.headersTimeout, file.headers_timeout),
    requestTimeout: pick('--request-timeout', flags.requestTimeout, readEnv.requestTimeout, file.request_timeout),
    keepAliveTimeout: pick('--keep-alive-timeout', flags.keepAliveTimeout, readEnv.keepAliveTimeout, file.keep_alive_timeout),
  };
  // Checked here too, so a bad value is one line before any worker starts.
  try {
    resolveServerLimits('serve', limits);
  } catch (error) {
    throw new CliError((error as Error).message.replace(/^serve: /, ''));
  }
  return Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined));
}

/** A decimal flag (the latency tolerance), one line when it is not a number. */
function decimal(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(value)) throw new CliError(`${flag} expects a number like 2 or 1.5, got '${value}'`);
  return Number(value);
}

/**
 * Load shedding: off with --no-shed (else SHED, else the file's `shed`); each limit a
 * flag, else (when its variable is unset, serve() reads it) the file's key. Checked here,
 * so a bad value is one line before any worker starts.
 */
function shedding(flags: ServeFlags): ShedOptions | false {
  const file = readConfigFile();
  const env = process.env;
  let enabled: boolean | undefined;
  let fromEnv: ShedOptions;
  try {
    enabled = readShedEnabled(env);
    fromEnv = readShedEnv(env);
  } catch (error) {
    throw new CliError((error as Error).message);
  }
  if (flags.shed === false || (enabled ?? file.shed) === false) return false;
  const pick = <K extends keyof ShedOptions>(key: K, given: ShedOptions[K], saved: ShedOptions[K]) =>
    given ?? (fromEnv[key] === undefined ? saved : undefined);
  const options: ShedOptions = {
    maxEventLoopDelay: pick(
      'maxEventLoopDelay',
      optionalInteger('--shed-max-event-loop-delay', flags.shedMaxEventLoopDelay),
      file.shed_max_event_loop_delay,
    ),
    maxConcurrency: pick('maxConcurrency', optionalInteger('--shed-max-concurrency', flags.shedMaxConcurrency), file.shed_max_concurrency),
    minConcurrency: pick(
      'minConcurrency',
      optionalInteger('--shed-min-concurrency', flags.shedMinConcurrency, 1),
      file.shed_min_concurrency,
    ),
    latencyTolerance: pick(
      'latencyTolerance',
      decimal('--shed-latency-tolerance', flags.shedLatencyTolerance),
      file.shed_latency_tolerance,
    ),
    retryAfter: pick('retryAfter', optionalInteger('--shed-retry-after', flags.shedRetryAfter, 1, 3600), file.shed_retry_after),
  };
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as ShedOptions;
  try {
    resolveShed('serve', given);
  } catch (error) {
    throw new CliError(
      (error as Error).message
        .replace(/^serve: /, '')
        .replace(/`shed\.(\w+)`/, (_m, name: string) => `--shed-${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`),
    );
  }
  return given;
}

/** `lifeline serve`: checks the flags and starts the primary; usage errors are one line. */
export async function serveCommand(entry: string | undefined, flags: ServeFlags): Promise<number> {
  let captured = false;
  try {
    if (entry === undefined) throw new CliError('serve needs the app module, e.g. lifeline serve ./app.js');
    if (!existsSync(entry)) throw new CliError(`${entry} does not exist`);
    if (flags.logOutput) {
      // Before any logger exists: none may also write to the console, which now leads back into the log.
      process.env[STDOUT_LOGGED_ENV] = resolve(readEnv.logFile() ?? 'backend.log');
      captureOwnOutput(acquireLogger(undefined).logger, 'primary');
      captured = true;
    }
    const forceWorkers = flags.forceWorkers === true;
    // Every variable is checked before a worker is forked: a bad one is one line here, not a stack per worker.
    const config = loadConfig(forceWorkers ? { ...process.env, WORKERS_FORCE: '1' } : process.env);
    const forced = forceWorkers || readEnv.workersForced();
    const workers = flags.workers === undefined ? undefined : workerCount('--workers', flags.workers, forced);
    const limits = serverLimits(flags);
    const shed = shedding(flags);
    const port = optionalInteger('--port', flags.port, 0, 65535);
    const shutdownTimeout = optionalInteger('--shutdown-timeout', flags.shutdownTimeout);
    if (flags.single) {
      if (workers !== undefined && workers !== 1) throw new CliError('--single runs one process: leave out --workers');
      const { app, beforeShutdown, onShutdown } = await loadApp(entry);
      await serve(app, { port, host: flags.host, shutdownTimeout, ...limits, shed, beforeShutdown, onShutdown });
      return -1;
    }
    // Under Type=notify: the socket is opened by perl, which runs this command again (flags already checked).
    const relaunched = relaunchForNotify();
    if (relaunched !== undefined) {
      const code = await relaunched;
      if (code >= 0) return code;
    }
    const statusFile = flags.reloadStatus === undefined ? undefined : resolve(flags.reloadStatus);
    await runCluster({
      entry,
      workers: workers ?? config.workers,
      forceWorkers: forceWorkers || undefined,
      port,
      host: flags.host,
      readyTimeout: optionalInteger('--ready-timeout', flags.readyTimeout),
      shutdownTimeout,
      watch: flags.reload ? dirname(resolve(entry)) : undefined,
      ...limits,
      shed,
      output: flags.logOutput ? 'log' : 'inherit',
      onReload: statusFile === undefined ? undefined : (report) => writeReloadStatus(statusFile, report),
    });
    return -1; // keeps running; signals end it
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n', 1)[0] : String(error);
    // Under lifeline start, before the output went to the log (the logger could not be made), stderr is /dev/null.
    if (flags.logOutput && !captured) appendLine(`lifeline serve: ${message}`);
    console.error(`lifeline serve: ${message}`);
    return 1;
  }
}
