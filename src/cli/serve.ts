import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadApp } from '../cluster/load-app.js';
import { runCluster } from '../cluster/primary.js';
import { serve } from '../lifecycle/serve.js';
import { loadConfig } from '../options.js';

export const SERVE_HELP = `Usage: lifeline serve <entry> [options]

Runs the Express app exported by <entry> (a .js, .mjs, .cjs or, with tsx installed, .ts
module whose default export is an app or a function returning one) in a cluster of
workers sharing one port. SIGTERM/SIGINT drain every worker; SIGHUP reloads them one at
a time with no downtime.

Options:
  -w, --workers <n|auto>     workers (default WORKERS or 1; auto = one per CPU; at most 4 per CPU)
      --force-workers        allow more than 4 workers per CPU, up to 1024 (or WORKERS_FORCE=1)
  -p, --port <n>             port (default PORT or 8000)
      --host <host>          host (default HOST or 127.0.0.1)
      --ready-timeout <ms>   time a new worker gets to become ready (default 30000)
      --shutdown-timeout <ms> time a worker gets to drain (default 10000)
      --single               one process, no cluster (no reload); used by lifeline run
      --reload               dev mode: reload the workers when a source file changes
  -h, --help                 show this help`;

class UsageError extends Error {
  override readonly name = 'UsageError';
}

function integer(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} expects a whole number, got '${value}'`);
  return Number(value);
}

/** `lifeline serve`: parses the arguments and starts the primary; usage errors are one line. */
export async function serveCommand(argv: string[]): Promise<number> {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        workers: { type: 'string', short: 'w' },
        'force-workers': { type: 'boolean' },
        port: { type: 'string', short: 'p' },
        host: { type: 'string' },
        'ready-timeout': { type: 'string' },
        'shutdown-timeout': { type: 'string' },
        single: { type: 'boolean' },
        reload: { type: 'boolean' },
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
    const forceWorkers = values['force-workers'] === true;
    // Every variable is checked before a worker is forked: a bad one is one line here, not a stack per worker.
    const config = loadConfig(forceWorkers ? { ...process.env, WORKERS_FORCE: '1' } : process.env);
    const workers = values.workers === 'auto' ? 'auto' : integer('workers', values.workers);
    if (workers === 0) throw new UsageError('--workers expects at least 1');
    if (values.single) {
      if (workers !== undefined && workers !== 1) throw new UsageError('--single runs one process: leave out --workers');
      const { app, beforeShutdown, onShutdown } = await loadApp(entry);
      await serve(app, {
        port: integer('port', values.port),
        host: values.host,
        shutdownTimeout: integer('shutdown-timeout', values['shutdown-timeout']),
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
    });
    return -1; // keeps running; signals end it
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n', 1)[0] : String(error);
    console.error(`lifeline serve: ${message}`);
    return 1;
  }
}
