import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError, effectiveConfig } from './config-file.js';
import { PRIVATE_MODE } from './pid-file.js';
import { backoffDelay, sleep } from '../time.js';
import type { Output } from './daemon-commands.js';

export const RESTART_LOG = 'auto_restart.log';

export interface RunFlags {
  entry?: string;
  port?: number;
  host?: string;
  restart: 'on-failure' | 'always';
  maxRestarts: number;
  restartDelay?: number;
}

function note(line: string, io: Output): void {
  const stamped = `${new Date().toISOString()} ${line}`;
  appendFileSync(RESTART_LOG, `${stamped}\n`, { mode: PRIVATE_MODE });
  io.err(`lifeline run: ${line}`);
}

/** `lifeline run`: the app in the foreground, restarted with backoff when it exits. */
export async function run(flags: RunFlags, io: Output): Promise<number> {
  const config = effectiveConfig({ entry: flags.entry, port: flags.port, host: flags.host });
  const entry = resolve(config.entry);
  if (!existsSync(entry)) throw new CliError(`${config.entry} does not exist`);
  const cli = fileURLToPath(new URL('./main.js', import.meta.url));
  const restartDelay = flags.restartDelay ?? 1000;
  let stopping = false;
  let child: ReturnType<typeof spawn> | undefined;
  const forward = (signal: NodeJS.Signals) => {
    stopping = true;
    child?.kill(signal);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  for (let restarts = 0; ; restarts++) {
    const started = Date.now();
    // One process: a crash ends it at once and this loop restarts it.
    child = spawn(process.execPath, [cli, 'serve', entry, '--single', '--port', String(config.port), '--host', config.host], {
      stdio: 'inherit',
    });
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    if (stopping) return code ?? 0;
    const failed = code !== 0;
    if (!failed && flags.restart === 'on-failure') {
      note(`app exited cleanly (${how}); not restarting (--restart on-failure)`, io);
      return 0;
    }
    if (restarts >= flags.maxRestarts) {
      note(`app exited (${how}) after ${Math.round((Date.now() - started) / 1000)} s; gave up after ${flags.maxRestarts} restarts`, io);
      return 1;
    }
    const delay = backoffDelay(restarts, { base: restartDelay, cap: 30_000 });
    note(
      `app exited (${how}) after ${Math.round((Date.now() - started) / 1000)} s; restart ${restarts + 1}/${flags.maxRestarts} in ${delay} ms`,
      io,
    );
    await sleep(delay);
    if (stopping) return 0;
  }
}
