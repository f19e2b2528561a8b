import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError, effectiveConfig, type BackendConfig } from './config-file.js';
import { formatPidFile, PID_FILE, PRIVATE_MODE, readPidFile, removePidFile, writeAtomic, type PidRecord } from './pid-file.js';
import { logFileMode } from '../logging/rotating-file.js';
import { readEnv } from '../options.js';
import { sleep } from '../time.js';
import { findListener, isAlive, isHidden, isRunning, processFacts } from './proc.js';

export const LOG_FILE = 'backend.log';
const LOCK_FILE = `${PID_FILE}.lock`;

export interface Output {
  out(line: string): void;
  err(line: string): void;
}

/** Sends SIGTERM, waits up to `timeout` ms, then SIGKILL; resolves with what it took. */
export async function terminate(pid: number, timeout: number): Promise<'exited' | 'killed' | 'gone'> {
  if (!isRunning(pid)) return 'gone';
  try {
    process.kill(pid, 'SIGTERM');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EPERM')
      throw new CliError(`cannot signal pid ${pid}: EPERM, it belongs to another user (run this as that user or as root)`);
    throw error;
  }
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    if (!isRunning(pid)) return 'exited';
    await sleep(50);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return 'exited';
  }
  for (let i = 0; i < 100 && isRunning(pid); i++) await sleep(20);
  return 'killed';
}

const WHY: Record<string, string> = {
  EACCES: ' (permission denied: start from a folder this user can write, or as its owner)',
  EPERM: ' (operation not permitted: start from a folder this user can write, or as its owner)',
  EROFS: ' (read-only file system)',
  ENOSPC: ' (no space left on the device)',
};

/** Takes the start lock with O_EXCL so two `lifeline start` at once start one server. */
function takeLock(): () => void {
  try {
    writeFileSync(LOCK_FILE, String(process.pid), { flag: 'wx', mode: PRIVATE_MODE });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST')
      throw new CliError(`cannot write in ${process.cwd()}: ${code ?? (error as Error).message}${WHY[code ?? ''] ?? ''}`);
    const holder = Number(readFileSync(LOCK_FILE, 'utf8'));
    // An empty file is a lock being written this very moment by the other start.
    if (!(holder > 0) || isAlive(holder))
      throw new CliError(`another lifeline start${holder > 0 ? ` (pid ${holder})` : ''} is in progress`);
    // Left by a start that died: take it over.
    writeAtomic(LOCK_FILE, String(process.pid));
  }
  return () => rmSync(LOCK_FILE, { force: true });
}

function urlOf(config: BackendConfig): string {
  return `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`;
}

function lastLines(file: string, n: number): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).slice(-n);
  } catch {
    return [];
  }
}

export interface StartFlags {
  entry?: string;
  port?: number;
  host?: string;
  workers?: number | 'auto';
  force?: boolean;
  reload?: boolean;
  startupTimeout?: number;
}

/** `lifeline start`: starts the app detached, records it, waits for readiness. */
export async function start(flags: StartFlags, io: Output): Promise<number> {
  const fromFlags: Partial<BackendConfig> = {
    port: flags.port,
    host: flags.host,
    workers: flags.workers,
    entry: flags.entry,
    reload: flags.reload,
  };
  const config = effectiveConfig(fromFlags);
  try {
    // The daemon has no stderr: what would stop it is said here, in one line.
    logFileMode();
    readEnv.logMaxSize();
  } catch (error) {
    throw new CliError((error as Error).message);
  }
  const entry = resolve(config.entry);
  if (!existsSync(entry)) throw new CliError(`${config.entry} does not exist (give the app module: lifeline start ./app.js)`);
  const release = takeLock();
  try {
    const state = readPidFile();
    if (state.kind === 'running') {
      io.err(`already running: pid ${state.record.pid} on ${state.record.url} (lifeline stop first, or lifeline restart)`);
      return 1;
    }
    if (state.kind === 'stale') {
      removePidFile();
      io.out(`removed a stale ${PID_FILE}: ${state.why}`);
    }
    const holder = findListener(config.port);
    if (isHidden(holder)) {
      io.err(
        `port ${config.port} is held by a process this user cannot see (another user's); pick another --port, or stop it as its owner or root`,
      );
      return 1;
    }
    if (holder) {
      if (!flags.force) {
        io.err(
          `port ${config.port} is in use by pid ${holder.pid} (${holder.cmdline.slice(0, 80)}); use --force to stop it, or pick another --port`,
        );
        return 1;
      }
      const how = await terminate(holder.pid, 5000);
      io.out(`stopped pid ${holder.pid} that held port ${config.port} (${how === 'killed' ? 'SIGKILL after 5 s' : 'SIGTERM'})`);
    }

    const cli = fileURLToPath(new URL('./main.js', import.meta.url));
    const args = [cli, 'serve', entry, '--port', String(config.port), '--host', config.host, '--workers', String(config.workers)];
    if (config.reload) args.push('--reload');
    // No descriptor of backend.log in the daemon: one would outlive a rotation and its
    // output would grow backend.log.1 unseen. The primary writes its own and its workers'
    // output into the log through the rotating file (--log-output).
    args.push('--log-output');
    const child = spawn(process.execPath, args, {
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, LOG_FILE: resolve(LOG_FILE), LOG_LEVEL: config.log_level },
    });
    child.unref();
    // Our own child: its exit event tells an early death even where /proc is missing and a
    // zombie still answers kill(pid, 0) until this process exits.
    let exited = false;
    child.once('exit', () => (exited = true));
    const pid = child.pid as number;
    // Until exec completes, /proc shows the parent's command line: wait for ours.
    let facts = processFacts(pid);
    for (let i = 0; i < 100 && facts && !facts.cmdline.includes(cli); i++) {
      await sleep(10);
      facts = processFacts(pid);
    }
    const url = urlOf(config);
    const record: PidRecord = {
      pid,
      startTicks: facts?.startTicks ?? 0,
      cmdline: facts?.cmdline ?? '',
      logFile: resolve(LOG_FILE),
      url,
      port: config.port,
      host: config.host,
      workers: config.workers,
      entry,
      startedAt: new Date().toISOString(),
    };
    writeAtomic(PID_FILE, formatPidFile(record));

    const timeout = flags.startupTimeout ?? 30_000;
    const deadline = Date.now() + timeout;
    while (Date.now() < deadline) {
      // Without /proc (macOS) there are no start ticks to compare: the exit event and kill(pid, 0) tell.
      const now = processFacts(pid);
      if (exited || !isRunning(pid) || (facts !== undefined && now?.startTicks !== record.startTicks)) {
        removePidFile();
        io.err(`failed to start: the process exited; last lines of ${LOG_FILE}:`);
        for (const line of lastLines(LOG_FILE, 10)) io.err(`  ${line}`);
        return 1;
      }
      try {
        const response = await fetch(`${url}/api/health/ready`, { signal: AbortSignal.timeout(1000) });
        await response.arrayBuffer();
        if (response.ok) {
          io.out(`started: pid ${pid}, ${url}, log ${LOG_FILE}`);
          return 0;
        }
      } catch {
        // not listening yet
      }
      await sleep(200);
    }
    io.err(`not ready after ${timeout} ms: pid ${pid} is still running, see ${LOG_FILE} (lifeline stop to end it)`);
    return 1;
  } finally {
    release();
  }
}

/** `lifeline stop`: SIGTERM, wait for the drain, SIGKILL past the timeout. */
export async function stop(timeout: number, io: Output): Promise<number> {
  const state = readPidFile();
  if (state.kind === 'none') {
    io.out('not running (no .backend.pid)');
    return 0;
  }
  if (state.kind === 'stale') {
    removePidFile();
    io.out(`not running: removed a stale ${PID_FILE} (${state.why}); nothing was signalled`);
    return 0;
  }
  const started = Date.now();
  const how = await terminate(state.record.pid, timeout);
  removePidFile();
  if (how === 'killed')
    io.out(`stopped pid ${state.record.pid}: it did not exit within ${timeout} ms after SIGTERM, so it was killed (SIGKILL)`);
  else io.out(`stopped pid ${state.record.pid} (drained and exited in ${Date.now() - started} ms)`);
  return 0;
}

/** `lifeline reload`: SIGHUP to the cluster primary, then reads the outcome from backend.log. */
export async function reload(timeout: number, io: Output): Promise<number> {
  const state = readPidFile();
  if (state.kind !== 'running') {
    io.err('not running: nothing to reload (lifeline start)');
    return 1;
  }
  const from = existsSync(LOG_FILE) ? statSync(LOG_FILE).size : 0;
  process.kill(state.record.pid, 'SIGHUP');
  io.out(`reload requested: SIGHUP to pid ${state.record.pid}`);
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    await sleep(200);
    let text = '';
    try {
      text = readFileSync(LOG_FILE, 'utf8').slice(from);
    } catch {
      // rotated meanwhile; keep waiting
    }
    const done = /reload complete in \d+ ms/.exec(text);
    if (done) {
      io.out(done[0]);
      return 0;
    }
    const failed = /reload failed: .*/.exec(text);
    if (failed) {
      io.err(failed[0]);
      return 1;
    }
  }
  io.err(`no reload result in ${LOG_FILE} after ${timeout} ms`);
  return 1;
}

/** `lifeline kill-port`: stops whatever listens on the port and checks that it is free. */
export async function killPort(port: number, io: Output): Promise<number> {
  const holder = findListener(port);
  if (!holder) {
    io.out(`nothing listens on port ${port}`);
    return 0;
  }
  if (isHidden(holder)) {
    io.err(`port ${port} is held by a process this user cannot see (another user's); run kill-port as its owner or root`);
    return 1;
  }
  const how = await terminate(holder.pid, 5000);
  const still = findListener(port);
  if (still) {
    io.err(
      `port ${port} is still in use, now ${isHidden(still) ? 'by a process this user cannot see' : `by pid ${still.pid} (${still.cmdline.slice(0, 80)})`}`,
    );
    return 1;
  }
  io.out(
    `stopped pid ${holder.pid} (${holder.cmdline.slice(0, 80)}) ${how === 'killed' ? 'with SIGKILL after 5 s' : 'with SIGTERM'}; port ${port} is free`,
  );
  return 0;
}
