import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import {
  CliError,
  CONFIG_FILE,
  effectiveConfig,
  LIMIT_KEYS,
  readConfigFile,
  validateConfigValue,
  writeConfigFile,
  type BackendConfig,
} from './config-file.js';
import { LOG_FILE, type Output } from './daemon-commands.js';
import { PID_FILE, readPidFile } from './pid-file.js';
import { escapeControl } from '../logging/escape.js';
import { sleep } from '../time.js';
import { resolve } from 'node:path';
import { childrenOf, cpuPercentNow, environValue, findListener, isHidden, listeningPorts, processFacts, startedAt } from './proc.js';

interface StatusReport {
  state: 'RUNNING' | 'STOPPED';
  /** background: started by lifeline start (PID file); foreground: a lifeline serve run by hand. */
  mode?: 'background' | 'foreground';
  restarts?: number;
  pid?: number;
  started_at?: string;
  cpu_percent?: number;
  memory_bytes?: number;
  ports?: number[];
  url?: string;
  health?: { status: number; body: unknown } | { error: string };
  workers?: unknown;
  port?: number;
  port_free?: boolean;
  port_holder?: { pid: number; cmdline: string } | 'hidden';
  log_file?: string;
  note?: string;
}

function portState(report: StatusReport): string {
  const holder = report.port_holder;
  if (holder === undefined) return 'free';
  if (holder === 'hidden') return "in use, held by a process this user cannot see (another user's)";
  return `in use by pid ${holder.pid} (${holder.cmdline.slice(0, 80)})`;
}

/** A `lifeline serve` (or `lifeline run`) started by hand, in the foreground: no PID file, but it holds the port. */
const FOREGROUND_SERVE = /(?:^|\s)\S*(?:lifeline|cli\/main\.js)\s+(?:serve|run)(?:\s|$)/;

export function isForegroundServe(cmdline: string): boolean {
  return FOREGROUND_SERVE.test(cmdline);
}

interface Target {
  pid: number;
  url: string;
  startedAt: string | undefined;
  logFile: string | undefined;
  mode: 'background' | 'foreground';
}

/** The running app's figures, its health and, for a cluster, its workers and restarts. */
async function runningReport(target: Target): Promise<{ report: StatusReport; healthy: boolean }> {
  const facts = processFacts(target.pid);
  const pids = [target.pid, ...childrenOf(target.pid)];
  const family = pids.map((pid) => processFacts(pid)).filter((f) => f !== undefined);
  const report: StatusReport = {
    state: 'RUNNING',
    mode: target.mode,
    pid: target.pid,
    started_at: facts ? startedAt(facts).toISOString() : target.startedAt,
    cpu_percent: await cpuPercentNow(pids),
    memory_bytes: family.reduce((sum, f) => sum + f.rssBytes, 0),
    ports: [...new Set(family.flatMap((f) => listeningPorts(f.pid)))],
    url: target.url,
    log_file: target.logFile ?? resolve(LOG_FILE),
  };
  // In production the details (the workers) are behind HEALTH_TOKEN: use this shell's, else the one the app runs with.
  const token = process.env.HEALTH_TOKEN || environValue(target.pid, 'HEALTH_TOKEN');
  let healthy = false;
  try {
    const response = await fetch(`${target.url}/api/health`, {
      signal: AbortSignal.timeout(3000),
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    const body = (await response.json()) as { status?: string; cluster?: { workers?: unknown; restarts?: unknown } };
    report.health = { status: response.status, body: body.status };
    report.workers = body.cluster?.workers;
    if (typeof body.cluster?.restarts === 'number') report.restarts = body.cluster.restarts;
    healthy = response.status === 200;
  } catch (error) {
    report.health = { error: error instanceof Error ? error.message : String(error) };
  }
  return { report, healthy };
}

function hostForUrl(host: string): string {
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return reachable.includes(':') ? `[${reachable}]` : reachable;
}

/** What `lifeline status` and `lifeline top` show, and whether the app is running and healthy. */
export async function statusReport(port?: number): Promise<{ report: StatusReport; healthy: boolean }> {
  const state = readPidFile();
  const config = effectiveConfig({ port });
  let report: StatusReport;
  let healthy = false;
  if (state.kind === 'running') {
    const { record } = state;
    ({ report, healthy } = await runningReport({
      pid: record.pid,
      url: record.url,
      startedAt: record.startedAt,
      logFile: record.logFile,
      mode: 'background',
    }));
  } else {
    const holder = findListener(config.port);
    if (holder && !isHidden(holder) && isForegroundServe(holder.cmdline)) {
      ({ report, healthy } = await runningReport({
        pid: holder.pid,
        url: `http://${hostForUrl(config.host)}:${config.port}`,
        startedAt: undefined,
        logFile: environValue(holder.pid, 'LOG_FILE'),
        mode: 'foreground',
      }));
      if (state.kind === 'stale') report.note = `stale ${PID_FILE}: ${state.why}`;
    } else {
      report = { state: 'STOPPED', port: config.port, port_free: holder === undefined };
      if (holder) report.port_holder = isHidden(holder) ? 'hidden' : { pid: holder.pid, cmdline: holder.cmdline };
      if (state.kind === 'stale') report.note = `stale ${PID_FILE}: ${state.why}`;
    }
  }
  return { report, healthy };
}

interface WorkerLine {
  slot: number;
  pid: number;
  status: string;
  requests: number;
  uptime: number;
  restarts?: number;
  rps?: number;
  p99_ms?: number | null;
}

/** One line per worker: restarts, requests per second and p99 over its latest answers. */
export function workerLines(workers: unknown): string[] {
  if (!Array.isArray(workers)) return [];
  return (workers as WorkerLine[]).map((w) => {
    const p99 = w.p99_ms === null || w.p99_ms === undefined ? '-' : `${w.p99_ms} ms`;
    return `  worker ${w.slot}    pid ${w.pid}, ${w.status}, ${w.restarts ?? 0} restarts, ${w.rps ?? 0} req/s, p99 ${p99}, ${w.requests} requests, up ${w.uptime} s`;
  });
}

/** `lifeline status`: exit 0 only when running and healthy. */
export async function status(json: boolean, io: Output, port?: number): Promise<number> {
  const { report, healthy } = await statusReport(port);
  printStatus(report, json, io);
  return report.state === 'RUNNING' && healthy ? 0 : 1;
}

export function printStatus(report: StatusReport, json: boolean, io: Output): void {
  if (json) {
    io.out(JSON.stringify(report, null, 2));
  } else if (report.state === 'STOPPED') {
    io.out('STOPPED');
    io.out(`  port ${report.port}: ${portState(report)}`);
    if (report.note) io.out(`  ${report.note}`);
  } else {
    const mb = ((report.memory_bytes ?? 0) / 1024 / 1024).toFixed(1);
    io.out(report.mode === 'foreground' ? 'RUNNING (in the foreground: lifeline serve, no PID file)' : 'RUNNING');
    io.out(`  pid         ${report.pid}`);
    io.out(`  started at  ${report.started_at}`);
    io.out(
      `  cpu         ${report.cpu_percent === undefined ? 'unknown (no /proc)' : `${report.cpu_percent}% of one core (last 0.5 s, primary and workers)`}`,
    );
    io.out(`  memory      ${mb} MB (primary and workers)`);
    io.out(`  ports       ${report.ports?.join(', ') || '-'}`);
    io.out(`  url         ${report.url}`);
    io.out(`  log         ${report.log_file}`);
    const h = report.health;
    io.out(`  health      ${h && 'status' in h ? `${h.status} ${String(h.body)}` : `no answer (${h?.error})`}`);
    if (report.restarts !== undefined) io.out(`  restarts    ${report.restarts} (workers respawned)`);
    for (const line of workerLines(report.workers)) io.out(line);
    if (report.note) io.out(`  ${report.note}`);
  }
}

function tail(file: string, lines: number): { lines: string[]; size: number } {
  const size = statSync(file).size;
  const fd = openSync(file, 'r');
  try {
    let read = Math.min(size, 64 * 1024);
    for (;;) {
      const buffer = Buffer.alloc(read);
      readSync(fd, buffer, 0, read, size - read);
      const all = buffer.toString('utf8').split('\n');
      if (all.at(-1) === '') all.pop();
      if (all.length > lines || read === size) return { lines: all.slice(-lines), size };
      read = Math.min(size, read * 4);
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * `lifeline logs`: the last lines of backend.log; with follow, keeps printing across
 * rotations. Control characters are printed escaped: the file also holds what the app
 * wrote to its own stdout, and an escape sequence there must not reach the terminal.
 */
export async function logs(lines: number, follow: boolean, io: Output, stop?: Promise<void>): Promise<number> {
  if (!existsSync(LOG_FILE)) {
    io.err(`no ${LOG_FILE} here yet (lifeline start writes it)`);
    return 1;
  }
  const first = tail(LOG_FILE, lines);
  if (first.lines.length > 0) io.out(first.lines.map(escapeControl).join('\n'));
  if (!follow) return 0;
  let position = first.size;
  let inode = statSync(LOG_FILE).ino;
  let pending = '';
  let stopped = false;
  void stop?.then(() => (stopped = true));
  while (!stopped) {
    await sleep(200);
    let info;
    try {
      info = statSync(LOG_FILE);
    } catch {
      continue; // between the rename and the new file
    }
    if (info.ino !== inode || info.size < position) {
      // Rotated: what was left of the old file was already read; start the new one.
      inode = info.ino;
      position = 0;
    }
    if (info.size === position) continue;
    const fd = openSync(LOG_FILE, 'r');
    const buffer = Buffer.alloc(info.size - position);
    readSync(fd, buffer, 0, buffer.length, position);
    closeSync(fd);
    position = info.size;
    const text = pending + buffer.toString('utf8');
    const parts = text.split('\n');
    pending = parts.pop() ?? '';
    for (const line of parts) io.out(escapeControl(line));
  }
  return 0;
}

/** `lifeline config`: shows or updates .backend_config.json. */
export function config(changes: Partial<Record<keyof BackendConfig, string>>, io: Output): number {
  const saved = readConfigFile();
  const keys = Object.keys(changes).filter((k) => changes[k as keyof BackendConfig] !== undefined) as Array<keyof BackendConfig>;
  if (keys.length === 0) {
    const effective = effectiveConfig({});
    io.out(`${CONFIG_FILE}${existsSync(CONFIG_FILE) ? '' : ' (not written yet)'}:`);
    const width = Math.max(10, ...Object.keys(effective).map((key) => key.length));
    for (const [key, value] of Object.entries(effective)) {
      const from = Object.hasOwn(saved, key) ? 'file' : 'default or environment';
      io.out(`  ${key.padEnd(width)} ${JSON.stringify(value)}  (${from})`);
    }
    return 0;
  }
  const next: Partial<BackendConfig> = { ...saved };
  for (const key of keys) {
    const raw = changes[key] as string;
    // Digits become a number for the numeric keys; anything else goes to the check as given.
    const numeric = key === 'port' || key === 'workers' || (LIMIT_KEYS as readonly string[]).includes(key);
    const value: unknown =
      numeric && /^\d+$/.test(raw) ? Number(raw) : key === 'reload' && (raw === 'true' || raw === 'false') ? raw === 'true' : raw;
    (next as Record<string, unknown>)[key] = validateConfigValue(key, value, `--${key.replaceAll('_', '-')}`);
  }
  // serve() requires it too: refused here rather than at the next start.
  const { headers_timeout: headers, request_timeout: request } = next;
  if (headers !== undefined && request !== undefined && request > 0 && headers > request)
    throw new CliError(`--headers-timeout: \`headers_timeout\` must be at most request_timeout (${request} ms), got ${headers}`);
  writeConfigFile(next);
  io.out(`saved ${CONFIG_FILE}: ${keys.map((k) => `${k}=${JSON.stringify(next[k])}`).join(', ')}; restart to apply (lifeline restart)`);
  return 0;
}
