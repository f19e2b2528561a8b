import { appendFileSync, existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadApp } from '../cluster/load-app.js';
import { captureOwnOutput, STDOUT_LOGGED_ENV } from '../cluster/output.js';
import { runCluster } from '../cluster/primary.js';
import { serve } from '../lifecycle/serve.js';
import { resolveServerLimits, type ServerLimitOptions } from '../lifecycle/server-limits.js';
import { acquireLogger } from '../logging/logger.js';
import { loadConfig, readEnv } from '../options.js';
import { readConfigFile } from './config-file.js';

export const SERVE_HELP = `Usage: lifeline serve <entry> [options]

Runs the Express app exported by <entry> (a .js, .mjs, .cjs or, with tsx installed, .ts
module whose default export is an app or a function returning one) in a cluster of
workers sharing one port. SIGTERM/SIGINT drain every worker; SIGHUP reloads them one at
a time with no downtime.

Flags win over the environment, which wins over .backend_config.json
(max_connections, headers_timeout, request_timeout, keep_alive_timeout).

Options:
  -w, --workers <n|auto>     workers (default WORKERS or 1; auto = one per CPU; at most 4 per CPU)
      --force-workers        allow more than 4 workers per CPU, up to 1024 (or WORKERS_FORCE=1)
  -p, --port <n>             port (default PORT or 8000)
      --host <host>          host (default HOST or 127.0.0.1)
      --ready-timeout <ms>   time a new worker gets to become ready (default 30000)
      --shutdown-timeout <ms> time a worker gets to drain (default 10000)
      --max-connections <n>  open connections beyond which new ones are closed
                             (default MAX_CONNECTIONS, else 3/4 of ulimit -n)
      --headers-timeout <ms> time a client gets to send the headers (default HEADERS_TIMEOUT or 20000)
      --request-timeout <ms> time a client gets to send the whole request (default REQUEST_TIMEOUT or 30000)
      --keep-alive-timeout <ms> idle keep-alive connections close after this (default KEEP_ALIVE_TIMEOUT or 5000)
      --single               one process, no cluster (no reload); used by lifeline run
      --reload               dev mode: reload the workers when a source file changes
      --log-output           write the app's and the primary's stdout/stderr into the log
                             file (LOG_FILE), line by line; what lifeline start uses
  -h, --help                 show this help`;

/** Appends one line to the log file without a logger (the one thing that failed). */
function appendLine(line: string): void {
  try {
    appendFileSync(resolve(readEnv.logFile() ?? 'backend.log'), `${new Date().toISOString()} error ${line}\n`, { mode: 0o600 });
  } catch {
    // nowhere left to say it
  }
}

class UsageError extends Error {
  override readonly name = 'UsageError';
}

function integer(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} expects a whole number, got '${value}'`);
  return Number(value);
}

/**
 * The server limits: a flag, else (when its variable is unset, since serve() reads the
 * variable itself) the .backend_config.json key; undefined leaves serve()'s default.
 */
function serverLimits(values: Record<string, string | boolean | undefined>): ServerLimitOptions {
  const file = readConfigFile();
  const pick = (flag: string, variable: () => number | undefined, saved: number | undefined) => {
    const given = integer(flag, values[flag] as string | undefined);
    if (given !== undefined) return given;
    return variable() === undefined ? saved : undefined;
  };
  const limits: ServerLimitOptions = {
    maxConnections: pick('max-connections', readEnv.maxConnections, file.max_connections),
    headersTimeout: pick('headers-timeout', readEnv.headersTimeout, file.headers_timeout),
    requestTimeout: pick('request-timeout', readEnv.requestTimeout, file.request_timeout),
    keepAliveTimeout: pick('keep-alive-timeout', readEnv.keepAliveTimeout, file.keep_alive_timeout),
  };
  // Checked here too, so a bad value is one line before any worker starts.
  try {
    resolveServerLimits('serve', limits);
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/^serve: /, ''));
  }
  return Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined));
}

const VALUE_OPTIONS: Record<string, string> = {
  '-w': '--workers',
  '--workers': '--workers',
  '-p': '--port',
  '--port': '--port',
  '--host': '--host',
  '--ready-timeout': '--ready-timeout',
  '--shutdown-timeout': '--shutdown-timeout',
  '--max-connections': '--max-connections',
  '--headers-timeout': '--headers-timeout',
  '--request-timeout': '--request-timeout',
  '--keep-alive-timeout': '--keep-alive-timeout',
};

/**
 * `--workers -1` as `--workers=-1`: parseArgs takes a value starting with a dash for an
 * option and refuses it as "ambiguous"; joined, it gets the same message as any bad value.
 */
function joinNegativeValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const next = argv[i + 1];
    const long = Object.hasOwn(VALUE_OPTIONS, arg) ? VALUE_OPTIONS[arg] : undefined;
    if (long !== undefined && next !== undefined && /^-\d/.test(next)) {
      out.push(`${long}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

/** `lifeline serve`: parses the arguments and starts the primary; usage errors are one line. */
export async function serveCommand(argv: string[]): Promise<number> {
  let values;
  let captured = false;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: joinNegativeValues(argv),
      allowPositionals: true,
      options: {
        workers: { type: 'string', short: 'w' },
        'force-workers': { type: 'boolean' },
        port: { type: 'string', short: 'p' },
        host: { type: 'string' },
        'ready-timeout': { type: 'string' },
        'shutdown-timeout': { type: 'string' },
        'max-connections': { type: 'string' },
        'headers-timeout': { type: 'string' },
        'request-timeout': { type: 'string' },
        'keep-alive-timeout': { type: 'string' },
        single: { type: 'boolean' },
        reload: { type: 'boolean' },
        'log-output': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
    if (values.help) {
      console.log(SERVE_HELP);
      return 0;
    }
    if (positionals.length !== 1)
      throw new UsageError(
        positionals.length === 0
          ? 'serve needs the app module, e.g. lifeline serve ./app.js'
          : `serve takes one app module, got ${positionals.length}`,
      );
    const entry = positionals[0] as string;
    if (!existsSync(entry)) throw new UsageError(`${entry} does not exist`);
    if (values['log-output']) {
      // Before any logger exists: none may also write to the console, which now leads back into the log.
      process.env[STDOUT_LOGGED_ENV] = resolve(readEnv.logFile() ?? 'backend.log');
      captureOwnOutput(acquireLogger(undefined).logger, 'primary');
      captured = true;
    }
    const forceWorkers = values['force-workers'] === true;
    // Every variable is checked before a worker is forked: a bad one is one line here, not a stack per worker.
    const config = loadConfig(forceWorkers ? { ...process.env, WORKERS_FORCE: '1' } : process.env);
    const workers = values.workers === 'auto' ? 'auto' : integer('workers', values.workers);
    if (workers === 0) throw new UsageError('--workers expects at least 1');
    const limits = serverLimits(values);
    if (values.single) {
      if (workers !== undefined && workers !== 1) throw new UsageError('--single runs one process: leave out --workers');
      const { app, beforeShutdown, onShutdown } = await loadApp(entry);
      await serve(app, {
        port: integer('port', values.port),
        host: values.host,
        shutdownTimeout: integer('shutdown-timeout', values['shutdown-timeout']),
        ...limits,
        beforeShutdown,
        onShutdown,
      });
      return -1;
    }
    await runCluster({
      entry,
      workers: workers ?? config.workers,
      forceWorkers: forceWorkers || undefined,
      port: integer('port', values.port),
      host: values.host,
      readyTimeout: integer('ready-timeout', values['ready-timeout']),
      shutdownTimeout: integer('shutdown-timeout', values['shutdown-timeout']),
      watch: values.reload ? dirname(resolve(entry)) : undefined,
      ...limits,
      output: values['log-output'] ? 'log' : 'inherit',
    });
    return -1; // keeps running; signals end it
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n', 1)[0] : String(error);
    // Under lifeline start, before the output went to the log (the logger could not be made), stderr is /dev/null.
    if (values?.['log-output'] && !captured) appendLine(`lifeline serve: ${message}`);
    console.error(`lifeline serve: ${message}`);
    return 1;
  }
}
