import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { checkDatabaseUrl } from '../database-url.js';
import { redactText } from '../logging/redact.js';
import { databaseReason } from './monitor-commands.js';

/** `ENVIRONMENT` → the .env file PulseGuard loads for it. */
const ENV_FILES: Record<string, string> = { development: '.env.dev', staging: '.env.stg', production: '.env.prod' };

/**
 * Loads `.env.dev`, `.env.stg` or `.env.prod` (by `ENVIRONMENT`) from the working directory when
 * present; variables already set win. `staging` and `production` set NODE_ENV=production when it
 * is unset. An unknown ENVIRONMENT is one line and exit 1.
 */
export function loadEnvironmentFile(): void {
  const environment = process.env.ENVIRONMENT?.trim().toLowerCase();
  if (environment === undefined || environment === '') return;
  const file = ENV_FILES[environment];
  if (!file) throw new Error(`Invalid ENVIRONMENT: expected development, staging or production, got '${environment.slice(0, 40)}'`);
  const path = resolve(file);
  if (existsSync(path)) process.loadEnvFile(path);
  // Staging behaves like production for secrets and details: no health details or stacks to anonymous callers.
  if (environment !== 'development' && !process.env.NODE_ENV) process.env.NODE_ENV = 'production';
}

/**
 * A monitor error as the CLI prints it: `lifeline: <message>`, except missing packages, which
 * read as the command's own line (`lifeline monitor: missing packages; run: npm install …`).
 */
export function monitorErrorLine(message: string): string {
  return message.startsWith('monitor: missing package') ? `lifeline ${message}` : `lifeline: ${message}`;
}

function port(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new InvalidArgumentError('--port expects a whole number 0-65535');
  return Number(value);
}

/** Runs the monitor in the foreground until SIGTERM/SIGINT; startup errors are one line. */
async function serveMonitor(o: { port?: number; host?: string; database?: string }): Promise<void> {
  loadEnvironmentFile();
  // Loaded here, so the other commands do not pay for express, knex and jose.
  const [{ createMonitorApp }, { serve }, { checkHost, readEnv }] = await Promise.all([
    import('../monitor/app.js'),
    import('../lifecycle/serve.js'),
    import('../options.js'),
  ]);
  if (o.host !== undefined) checkHost('lifeline monitor serve', '--host', o.host);
  // Checked before the database is opened: a bad PORT or HOST creates nothing.
  if (o.port === undefined) readEnv.port();
  if (o.host === undefined) readEnv.host();
  if (o.database !== undefined && o.database.trim() === '') throw new Error('--database expects a URL or a SQLite file name');
  if (o.database !== undefined) checkDatabaseUrl(o.database, '--database');
  const { app, close, attachSockets } = await createMonitorApp(o.database === undefined ? {} : { database: o.database });
  try {
    const served = await serve(app, {
      ...(o.port === undefined ? {} : { port: o.port }),
      ...(o.host === undefined ? {} : { host: o.host }),
      onShutdown: close,
    });
    attachSockets(served.server);
    console.log(`lifeline monitor: dashboard at ${served.url}/monitor/ (REST API under ${served.url}/api/)`);
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * `lifeline monitor serve [--port N] [--host H] [--database URL]`: the monitor (API,
 * dashboard, checks) in the foreground; SIGTERM drains it and closes the database.
 */
export function registerMonitorServe(monitorCommand: Command): void {
  monitorCommand
    .command('serve')
    .description('run the monitor in the foreground: REST API, dashboard at /monitor/, checks (SIGTERM drains)')
    .option('-p, --port <n>', 'port (default PORT or 8000)', port)
    .option('--host <host>', 'host (default HOST or 127.0.0.1)')
    .option('--database <url>', 'postgres://… or a SQLite file (default DATABASE_URL, else monitor.db)')
    .action(async (o: { port?: number; host?: string; database?: string }) => {
      try {
        await serveMonitor(o);
      } catch (error) {
        console.error(monitorErrorLine(redactText(databaseReason(error))));
        // Whatever startup left open (a pool still connecting) must not keep the process alive.
        process.exit(1);
      }
    });
}
