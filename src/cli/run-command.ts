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
  /** Restart the app after this many failed health checks in a row; 0 (default) = only when it exits. */
  healthFailures?: number;
  /** ms between health checks. Default 10000. */
  healthInterval?: number;
  /** Path checked. Default `/api/health/live` (liveness: a database outage must not restart the app). */
  healthPath?: string;
}

/** How long a hung app gets to end on SIGTERM before SIGKILL. */
const KILL_GRACE = 5000;
/** Failed checks count only once the app has answered once, or after this long (it may be slow to start). */
const STARTUP_GRACE = 30_000;

function note(line: string, io: Output): void {
  const stamped = `${new Date().toISOString()} ${line}`;
  appendFileSync(RESTART_LOG, `${stamped}\n`, { mode: PRIVATE_MODE });
  io.err(`lifeline run: ${line}`);
}

function probeUrl(host: string, port: number, path: string): string {
  const reachable = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}${path}`;
}

/**
 * Checks the app's health endpoint every `interval` and calls `onDead` once after `failures`
 * failed checks in a row (no answer within the interval, at most 5 s, or a non-2xx answer).
 */
function watchHealth(url: string, failures: number, interval: number, onDead: (why: string) => void): { stop(): void } {
  const spawned = Date.now();
  let answered = false;
  let streak = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    let why: string | undefined;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(Math.min(interval, 5000)) });
      await response.body?.cancel();
      if (response.ok) answered = true;
      else why = `answered ${response.status}`;
    } catch (error) {
      why = error instanceof Error && error.name === 'TimeoutError' ? 'no answer in time' : 'no answer';
    }
    if (stopped) return;
    if (why === undefined) streak = 0;
    else if (answered || Date.now() - spawned >= STARTUP_GRACE) streak++;
    if (streak >= failures) {
      stopped = true;
      onDead(`${url} failed ${streak} checks in a row (last: ${why})`);
      return;
    }
    timer = setTimeout(() => void tick(), interval);
  };
  timer = setTimeout(() => void tick(), interval);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
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
    const running = spawn(process.execPath, [cli, 'serve', entry, '--single', '--port', String(config.port), '--host', config.host], {
      stdio: 'inherit',
    });
    child = running;
    let killTimer: NodeJS.Timeout | undefined;
    const watch = flags.healthFailures
      ? watchHealth(
          probeUrl(config.host, config.port, flags.healthPath ?? '/api/health/live'),
          flags.healthFailures,
          flags.healthInterval ?? 10_000,
          (why) => {
            note(`app stopped answering: ${why}; stopping it to restart`, io);
            running.kill('SIGTERM');
            killTimer = setTimeout(() => running.kill('SIGKILL'), KILL_GRACE);
          },
        )
      : undefined;
    const [code, signal] = (await once(running, 'exit')) as [number | null, NodeJS.Signals | null];
    watch?.stop();
    clearTimeout(killTimer);
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
