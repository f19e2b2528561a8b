#!/usr/bin/env node
// The `lifeline` command: runs and manages an Express backend (start, stop, status, logs,
// serve …). Every misuse prints one line on stderr and exits 1.
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { integerFlag as integer } from './args.js';
import { CliError } from './config-file.js';
import { config, logs, status } from './info-commands.js';
import { killPort, reload, start, stop, type Output } from './daemon-commands.js';
import { registerMonitorCommands } from './monitor-commands.js';
import { registerMonitorServe } from './monitor-serve.js';
import { registerMonitorWrap } from './monitor-wrap.js';
import { readPidFile } from './pid-file.js';
import { run } from './run-command.js';
import { SERVE_HELP_AFTER, serveCommand, type ServeFlags } from './serve-command.js';
import { systemdUnit, type UnitFlags } from './systemd-unit.js';
import { top } from './top-command.js';

const io: Output = { out: (line) => console.log(line), err: (line) => console.error(line) };
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** Runs an action and turns its outcome into the exit code; a CliError is one line. */
function action<A extends unknown[]>(fn: (...args: A) => Promise<number> | number) {
  return async (...args: A) => {
    try {
      process.exitCode = await fn(...args);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      console.error(`lifeline: ${error instanceof CliError ? message : message.split('\n', 1)[0]}`);
      process.exitCode = 1;
    }
  };
}

/** Commander's error, with its "(Did you mean …?)" on the same line: every misuse is one line. */
function oneLine(text: string): string {
  const [first = '', ...rest] = text
    .replace(/^error: /, '')
    .trim()
    .split('\n');
  const hint = rest.map((line) => line.trim()).find((line) => /^\(Did you mean/.test(line));
  return `lifeline: ${first}${hint ? ` ${hint.replace('(Did you mean', '(did you mean')}` : ''}`;
}

const PROGRAM_EXAMPLES = `
Examples:
  lifeline start app.js --port 8000        start in the background (.backend.pid, backend.log)
  lifeline status                          RUNNING or STOPPED, health, workers
  lifeline logs -f                         follow backend.log
  lifeline serve app.js --workers auto     a cluster in the foreground (Ctrl-C drains)
  lifeline reload                          zero-downtime reload of a started cluster
  lifeline run app.js --health-failures 3  restart on exit or when health stops answering
  lifeline kill-port --port 8000           free a port held by a stray process
  lifeline monitor serve --port 8001       the monitor: dashboard at http://127.0.0.1:8001/monitor/

'lifeline <command> --help' tells more about each.
`;

const program = new Command('lifeline')
  .description('Run and manage an Express backend: start, stop, status, logs, a cluster with zero-downtime reload.')
  .version(pkg.version, '-v, --version')
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(`${oneLine(text)}\n`) })
  .addHelpText('after', PROGRAM_EXAMPLES);

program
  .command('start')
  .description('start the app in the background, write .backend.pid, wait until it is ready')
  .argument('[entry]', 'the app module (default: entry in .backend_config.json, else app.js)')
  .option('--force', 'stop the process holding the port first')
  .option('-p, --port <n>', 'port', integer('--port', 1, 65535))
  .option('--host <host>', 'host')
  .option('-w, --workers <n|auto>', "workers: 'auto' or 1 to 4 per CPU")
  .option('--force-workers', 'allow more than 4 workers per CPU, up to 1024 (or WORKERS_FORCE=1)')
  .option('--reload', 'dev mode: reload the workers when a source file changes')
  .option('--startup-timeout <ms>', 'how long to wait for readiness', integer('--startup-timeout', 1, 3_600_000), 30_000)
  .action(
    action(
      (
        entry: string | undefined,
        o: {
          force?: boolean;
          port?: number;
          host?: string;
          workers?: string;
          forceWorkers?: boolean;
          reload?: boolean;
          startupTimeout: number;
        },
      ) =>
        start(
          {
            entry,
            port: o.port,
            host: o.host,
            workers: o.workers,
            forceWorkers: o.forceWorkers,
            force: o.force,
            reload: o.reload,
            startupTimeout: o.startupTimeout,
          },
          io,
        ),
    ),
  );

program
  .command('stop')
  .description('SIGTERM, wait for the drain, SIGKILL after the timeout; remove .backend.pid')
  .option('--timeout <ms>', 'drain time before SIGKILL', integer('--timeout', 0, 3_600_000), 10_000)
  .action(action((o: { timeout: number }) => stop(o.timeout, io)));

program
  .command('restart')
  .description('stop, then start again with the same app and port (or the ones given)')
  .argument('[entry]', 'the app module (default: the running one)')
  .option('--force', 'stop the process holding the port first')
  .option('-p, --port <n>', 'port (default: the running one)', integer('--port', 1, 65535))
  .option('--timeout <ms>', 'drain time before SIGKILL', integer('--timeout', 0, 3_600_000), 10_000)
  .action(
    action(async (entry: string | undefined, o: { force?: boolean; port?: number; timeout: number }) => {
      const state = readPidFile();
      const was = state.kind === 'running' ? state.record : undefined;
      await stop(o.timeout, io);
      return start(
        {
          entry: entry ?? was?.entry,
          port: o.port ?? was?.port,
          host: was?.host,
          workers: was?.workers,
          forceWorkers: was?.forceWorkers,
          force: o.force,
        },
        io,
      );
    }),
  );

program
  .command('reload')
  .description('zero-downtime reload: SIGHUP to the cluster primary, then report the result it writes to .backend.reload.json')
  .option('--timeout <ms>', 'how long to wait for the result', integer('--timeout', 1, 3_600_000), 120_000)
  .action(action((o: { timeout: number }) => reload(o.timeout, io)));

program
  .command('status')
  .description('RUNNING or STOPPED, pid, start time, CPU, memory, ports, health, workers; exit 0 only when healthy')
  .option('--json', 'machine-readable output')
  .option('-p, --port <n>', 'port to check when stopped', integer('--port', 1, 65535))
  .action(action((o: { json?: boolean; port?: number }) => status(Boolean(o.json), io, o.port)));

program
  .command('logs')
  .description('the last lines of backend.log')
  .option('-n, --lines <n>', 'how many lines', integer('--lines', 1, 1_000_000), 50)
  .option('-f, --follow', 'keep printing new lines, across rotations, until Ctrl+C')
  .action(action((o: { lines: number; follow?: boolean }) => logs(o.lines, Boolean(o.follow), io)));

program
  .command('kill-port')
  .description('stop the process listening on a port (SIGTERM, then SIGKILL) and confirm it is free')
  .requiredOption('-p, --port <n>', 'port', integer('--port', 1, 65535))
  .action(action((o: { port: number }) => killPort(o.port, io)));

program
  .command('config')
  .description('show or update .backend_config.json (validated, written atomically)')
  .option('--port <n>')
  .option('--host <host>')
  .option('--workers <n|auto>')
  .option('--reload <true|false>')
  .option('--log-level <level>')
  .option('--entry <file>')
  .option('--max-connections <n>')
  .option('--headers-timeout <ms>')
  .option('--request-timeout <ms>')
  .option('--keep-alive-timeout <ms>')
  .action(
    action(
      (o: {
        port?: string;
        host?: string;
        workers?: string;
        reload?: string;
        logLevel?: string;
        entry?: string;
        maxConnections?: string;
        headersTimeout?: string;
        requestTimeout?: string;
        keepAliveTimeout?: string;
      }) =>
        config(
          {
            port: o.port,
            host: o.host,
            workers: o.workers,
            reload: o.reload,
            log_level: o.logLevel,
            entry: o.entry,
            max_connections: o.maxConnections,
            headers_timeout: o.headersTimeout,
            request_timeout: o.requestTimeout,
            keep_alive_timeout: o.keepAliveTimeout,
          },
          io,
        ),
    ),
  );

program
  .command('run')
  .description('run the app in the foreground and restart it when it exits (auto_restart.log)')
  .argument('[entry]', 'the app module')
  .addOption(new Option('--restart <policy>', 'when to restart').choices(['on-failure', 'always']).default('on-failure'))
  .option('--max-restarts <n>', 'give up after this many restarts', integer('--max-restarts', 0, 1_000_000), 10)
  .option('--restart-delay <ms>', 'first restart delay, doubled each time (at most 30 s)', integer('--restart-delay', 0, 600_000), 1000)
  .option('-p, --port <n>', 'port', integer('--port', 1, 65535))
  .option('--host <host>', 'host')
  .option(
    '--health-failures <n>',
    'also restart the app after this many failed health checks in a row (default 0: only when it exits)',
    integer('--health-failures', 0, 1000),
    0,
  )
  .option('--health-interval <ms>', 'time between health checks', integer('--health-interval', 100, 3_600_000), 10_000)
  .option('--health-path <path>', 'the path checked (liveness: a database outage is not a reason to restart)', '/api/health/live')
  .addHelpText(
    'after',
    `
Examples:
  lifeline run app.js                                  restart when it crashes (exit code not 0), at most 10 times
  lifeline run app.js --restart always                 restart whenever it exits
  lifeline run app.js --health-failures 3              also restart after 3 failed checks of /api/health/live (10 s apart)
  lifeline run app.js --health-failures 3 --health-path /healthz   the same, for an app whose liveness route is /healthz
`,
  )
  .action(
    action(
      (
        entry: string | undefined,
        o: {
          restart: 'on-failure' | 'always';
          maxRestarts: number;
          restartDelay: number;
          port?: number;
          host?: string;
          healthFailures: number;
          healthInterval: number;
          healthPath: string;
        },
      ) => {
        if (!o.healthPath.startsWith('/')) throw new CliError(`--health-path must start with '/', got '${o.healthPath}'`);
        return run(
          {
            entry,
            port: o.port,
            host: o.host,
            restart: o.restart,
            maxRestarts: o.maxRestarts,
            restartDelay: o.restartDelay,
            healthFailures: o.healthFailures,
            healthInterval: o.healthInterval,
            healthPath: o.healthPath,
          },
          io,
        );
      },
    ),
  );

// Its values stay strings here and go through the same integer() in the action, so a bad
// one is reported as \`lifeline serve: …\` and, under lifeline start, also lands in the log.
program
  .command('serve')
  .description('run an app module in a cluster of workers in the foreground')
  .argument('[entry]', 'the app module')
  .option('-w, --workers <n|auto>', "workers (default WORKERS or 1; 'auto' = one per CPU; at most 4 per CPU)")
  .option('--force-workers', 'allow more than 4 workers per CPU, up to 1024 (or WORKERS_FORCE=1)')
  .option('-p, --port <n>', 'port (default PORT or 8000)')
  .option('--host <host>', 'host (default HOST or 127.0.0.1)')
  .option('--ready-timeout <ms>', 'time a new worker gets to become ready (default 30000)')
  .option('--shutdown-timeout <ms>', 'time a worker gets to drain (default 10000)')
  .option('--max-connections <n>', 'open connections beyond which new ones are closed (default MAX_CONNECTIONS, else 3/4 of ulimit -n)')
  .option('--headers-timeout <ms>', 'time a client gets to send the headers (default HEADERS_TIMEOUT or 20000)')
  .option('--request-timeout <ms>', 'time a client gets to send the whole request (default REQUEST_TIMEOUT or 30000)')
  .option('--keep-alive-timeout <ms>', 'idle keep-alive connections close after this (default KEEP_ALIVE_TIMEOUT or 5000)')
  .option('--no-shed', 'turn load shedding off (or SHED=0)')
  .option(
    '--shed-max-event-loop-delay <ms>',
    'event-loop delay p99 past which every new request is shed; 0 = off (default SHED_MAX_EVENT_LOOP_DELAY or 200)',
  )
  .option('--shed-max-concurrency <n>', 'highest adaptive concurrency limit; 0 = no adaptive limit (default SHED_MAX_CONCURRENCY or 1000)')
  .option('--shed-min-concurrency <n>', 'lowest adaptive concurrency limit (default SHED_MIN_CONCURRENCY or 1)')
  .option(
    '--shed-latency-tolerance <x>',
    'latency may reach x times the usual before the limit shrinks (default SHED_LATENCY_TOLERANCE or 2)',
  )
  .option('--shed-retry-after <s>', 'Retry-After of a shed answer (default SHED_RETRY_AFTER or 1)')
  .option('--single', 'one process, no cluster (no reload); used by lifeline run')
  .option('--reload', 'dev mode: reload the workers when a source file changes')
  .option('--log-output', "write the app's and the primary's stdout/stderr into the log file (LOG_FILE); what lifeline start uses")
  .option('--reload-status <file>', "write each reload's result to this file (0600); what lifeline start uses for lifeline reload")
  .addHelpText('after', SERVE_HELP_AFTER)
  .action(async (entry: string | undefined, flags: ServeFlags) => {
    const code = await serveCommand(entry, flags);
    if (code >= 0) process.exitCode = code;
  });

const systemdCmd = program.command('systemd').description('systemd integration');
systemdCmd
  .command('unit')
  .description('print a service unit for the app in this folder (Type=notify, watchdog, hardening); save it under /etc/systemd/system/')
  .argument('[entry]', 'the app module (default: entry in .backend_config.json, else app.js)')
  .option('-w, --workers <n|auto>', 'workers')
  .option('--user <name>', 'run as this user')
  .option('--type <type>', 'notify or notify-reload (default: notify-reload on systemd 253 and later)')
  .option('-p, --port <n>', 'port', integer('--port', 1, 65535))
  .option(
    '--shutdown-timeout <ms>',
    'time a worker gets to drain (default 10000); TimeoutStopSec follows',
    integer('--shutdown-timeout', 0, 3_600_000),
  )
  .action(action((entry: string | undefined, o: UnitFlags) => systemdUnit(entry, o, io.out)));

program
  .command('top')
  .description("the cluster's workers live (pid, status, restarts, req/s, p99), refreshed every second; q or Ctrl-C quits")
  .option('-p, --port <n>', 'port of a lifeline serve run by hand', integer('--port', 1, 65535))
  .option('--interval <ms>', 'refresh period', integer('--interval', 100, 60_000), 1000)
  .action(action((o: { port?: number; interval: number }) => top(o, io)));

const monitorCmd = program.command('monitor').description('watch many backends: REST API, dashboard, checks, notifications');
registerMonitorServe(monitorCmd);
registerMonitorCommands(monitorCmd);
registerMonitorWrap(monitorCmd);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exitCode = error.exitCode === 0 ? 0 : 1;
  else if (error instanceof CliError) {
    // A bad value from integer() as an option parser: commander passes it through.
    console.error(`lifeline: ${error.message}`);
    process.exitCode = 1;
  } else throw error;
}
