import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { CONFIG_FILE, effectiveConfig, readConfigFile, validateConfigValue, writeConfigFile, type BackendConfig } from './config-file.js';
import { LOG_FILE, type Output } from './lifecycle-commands.js';
import { PID_FILE, readPidFile } from './pid-file.js';
import { escapeControl } from '../logging/escape.js';
import { sleep } from '../time.js';
import { resolve } from 'node:path';
import { childrenOf, cpuPercentNow, environValue, findListener, isHidden, listeningPorts, processFacts, startedAt } from './proc.js';

interface StatusReport {
  state: 'RUNNING' | 'STOPPED';
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

/** `lifeline status`: exit 0 only when running and healthy. */
export async function status(json: boolean, io: Output, port?: number): Promise<number> {
  const state = readPidFile();
  const config = effectiveConfig({ port });
  let report: StatusReport;
  let healthy = false;
  if (state.kind !== 'running') {
    const holder = findListener(config.port);
    report = { state: 'STOPPED', port: config.port, port_free: holder === undefined };
    if (holder) report.port_holder = isHidden(holder) ? 'hidden' : { pid: holder.pid, cmdline: holder.cmdline };
    if (state.kind === 'stale') report.note = `stale ${PID_FILE}: ${state.why}`;
  } else {
    const { record } = state;
    const facts = processFacts(record.pid);
    const pids = [record.pid, ...childrenOf(record.pid)];
    const family = pids.map((pid) => processFacts(pid)).filter((f) => f !== undefined);
    report = {
      state: 'RUNNING',
      pid: record.pid,
      started_at: facts ? startedAt(facts).toISOString() : record.startedAt,
      cpu_percent: await cpuPercentNow(pids),
      memory_bytes: family.reduce((sum, f) => sum + f.rssBytes, 0),
      ports: [...new Set(family.flatMap((f) => listeningPorts(f.pid)))],
      url: record.url,
      log_file: record.logFile ?? resolve(LOG_FILE),
    };
    // In production the details (the workers) are behind HEALTH_TOKEN: use this shell's, else the one the app runs with.
    const token = process.env.HEALTH_TOKEN || environValue(record.pid, 'HEALTH_TOKEN');
    try {
      const response = await fetch(`${record.url}/api/health`, {
        signal: AbortSignal.timeout(3000),
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
      const body = (await response.json()) as { status?: string; cluster?: { workers?: unknown } };
      report.health = { status: response.status, body: body.status };
      report.workers = body.cluster?.workers;
      healthy = response.status === 200;
    } catch (error) {
      report.health = { error: error instanceof Error ? error.message : String(error) };
    }
  }
  if (json) {
    io.out(JSON.stringify(report, null, 2));
  } else if (report.state === 'STOPPED') {
    io.out('STOPPED');
    io.out(`  port ${report.port}: ${portState(report)}`);
    if (report.note) io.out(`  ${report.note}`);
  } else {
    const mb = ((report.memory_bytes ?? 0) / 1024 / 1024).toFixed(1);
    io.out('RUNNING');
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
    if (Array.isArray(report.workers)) {
      for (const w of report.workers as Array<{ slot: number; pid: number; status: string; requests: number; uptime: number }>) {
        io.out(`  worker ${w.slot}    pid ${w.pid}, ${w.status}, ${w.requests} requests, up ${w.uptime} s`);
      }
    }
  }
  return report.state === 'RUNNING' && healthy ? 0 : 1;
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
    for (const [key, value] of Object.entries(effective)) {
      const from = Object.hasOwn(saved, key) ? 'file' : 'default or environment';
      io.out(`  ${key.padEnd(10)} ${JSON.stringify(value)}  (${from})`);
    }
    return 0;
  }
  const next: Partial<BackendConfig> = { ...saved };
  for (const key of keys) {
    const raw = changes[key] as string;
    const value: unknown =
      key === 'port'
        ? /^\d+$/.test(raw)
          ? Number(raw)
          : raw
        : key === 'workers'
          ? raw === 'auto'
            ? 'auto'
            : /^\d+$/.test(raw)
              ? Number(raw)
              : raw
          : key === 'reload'
            ? raw === 'true'
              ? true
              : raw === 'false'
                ? false
                : raw
            : raw;
    (next as Record<string, unknown>)[key] = validateConfigValue(key, value, `--${key.replace('_', '-')}`);
  }
  writeConfigFile(next);
  io.out(`saved ${CONFIG_FILE}: ${keys.map((k) => `${k}=${JSON.stringify(next[k])}`).join(', ')}; restart to apply (lifeline restart)`);
  return 0;
}
