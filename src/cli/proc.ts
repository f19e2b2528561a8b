import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { sleep } from '../time.js';

/** Facts about a live process, read from /proc (Linux). */
export interface ProcessFacts {
  pid: number;
  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22): with the pid, it names one process. */
  startTicks: number;
  cmdline: string;
  /** user + system CPU time, clock ticks. */
  cpuTicks: number;
  rssBytes: number;
}

/**
 * Where the process facts are read: /proc, or LIFELINE_PROC_ROOT. The variable exists for
 * the tests: pointed at an empty folder it gives a Linux machine the view of one without
 * /proc (macOS), the path every command must also survive.
 */
function procRoot(): string {
  return process.env.LIFELINE_PROC_ROOT || '/proc';
}

/** True where /proc can be read (Linux); elsewhere the facts are unknown, not "not running". */
export function hasProc(): boolean {
  return existsSync(`${procRoot()}/self/stat`);
}

const cached = new Map<string, number>();

/** A figure of this system from `getconf` (once per process), or the fallback when it cannot tell. */
function sysconf(name: 'CLK_TCK' | 'PAGESIZE', fallback: number): number {
  let value = cached.get(name);
  if (value === undefined) {
    try {
      value = Number(execFileSync('getconf', [name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    } catch {
      value = Number.NaN;
    }
    if (!Number.isInteger(value) || value <= 0) value = fallback;
    cached.set(name, value);
  }
  return value;
}

const clockTicks = () => sysconf('CLK_TCK', 100);
const pageSize = () => sysconf('PAGESIZE', 4096);

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Alive and not a zombie: a process that exited but was not yet reaped by its parent
 * still answers kill(pid, 0), yet it is gone for every purpose here.
 */
export function isRunning(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    const stat = readFileSync(`${procRoot()}/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    // Without /proc (macOS) kill(pid, 0) is all there is to know.
    return !hasProc();
  }
}

/** Reads /proc/<pid>; undefined when the process does not exist (or this is not Linux). */
export function processFacts(pid: number): ProcessFacts | undefined {
  try {
    const stat = readFileSync(`${procRoot()}/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmdline = readFileSync(`${procRoot()}/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return {
      pid,
      startTicks: Number(fields[19]),
      cmdline,
      cpuTicks: Number(fields[11]) + Number(fields[12]),
      rssBytes: Number(fields[21]) * pageSize(),
    };
  } catch {
    return undefined;
  }
}

/** Seconds since boot, to turn start ticks into a date. */
function uptimeSeconds(): number {
  return Number(readFileSync(`${procRoot()}/uptime`, 'utf8').split(' ')[0]);
}

export function startedAt(facts: ProcessFacts): Date {
  return new Date(Date.now() - (uptimeSeconds() - facts.startTicks / clockTicks()) * 1000);
}

/**
 * CPU use of these processes now, in percent of one core: their CPU time is read twice,
 * `ms` apart (a lifetime average would hide a busy minute behind an idle day). A process
 * must be there both times to count. Undefined without /proc.
 */
export async function cpuPercentNow(pids: number[], ms = 500): Promise<number | undefined> {
  const first = new Map(
    pids.flatMap((pid) => {
      const facts = processFacts(pid);
      return facts ? [[pid, facts] as const] : [];
    }),
  );
  if (first.size === 0) return undefined;
  const started = process.hrtime.bigint();
  await sleep(ms);
  let ticks = 0;
  for (const [pid, before] of first) {
    const after = processFacts(pid);
    if (after && after.startTicks === before.startTicks) ticks += after.cpuTicks - before.cpuTicks;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return Math.round((ticks / clockTicks() / seconds) * 1000) / 10;
}

/** Child pids of a process (its cluster workers). */
export function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`${procRoot()}/${pid}/task`).flatMap((tid) =>
      readFileSync(`${procRoot()}/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

/** Every TCP listener (IPv4 and IPv6) as port and socket inode, from /proc/net/tcp*. */
function tcpListeners(): Array<{ port: number; inode: string }> {
  const listeners: Array<{ port: number; inode: string }> = [];
  for (const file of [`${procRoot()}/net/tcp`, `${procRoot()}/net/tcp6`]) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // local_address is HEXIP:HEXPORT; state 0A is LISTEN; the inode is column 10.
      if (cols[3] === '0A' && cols[1] && cols[9]) listeners.push({ port: parseInt(cols[1].split(':')[1] ?? '0', 16), inode: cols[9] });
    }
  }
  return listeners;
}

/** Ports a process listens on, from its socket fds. */
export function listeningPorts(pid: number): number[] {
  const mine = socketInodes(pid);
  const ports = new Set(tcpListeners().flatMap((l) => (mine.has(l.inode) ? [l.port] : [])));
  return [...ports].sort((a, b) => a - b);
}

function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`${procRoot()}/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`${procRoot()}/${pid}/fd/${fd}`));
        if (m?.[1]) inodes.add(m[1]);
      } catch {
        // fd closed meanwhile
      }
    }
  } catch {
    // process gone or not ours
  }
  return inodes;
}

/** A listener whose socket is in /proc/net/tcp but in none of the processes this user may look into. */
export interface HiddenListener {
  hidden: true;
}

export type Listener = ProcessFacts | { pid: number; cmdline: string } | HiddenListener;

export function isHidden(listener: Listener | undefined): listener is HiddenListener {
  return listener !== undefined && 'hidden' in listener;
}

/**
 * The process listening on a TCP port: on Linux from /proc (no tool needed), elsewhere
 * with `lsof` if it is installed. Undefined when nothing listens (or it cannot be told);
 * `{ hidden: true }` when the port is taken by a process this user cannot see (another
 * user's, seen from a non-root user): never reported as free.
 */
export function findListener(port: number): Listener | undefined {
  if (hasProc()) {
    const inodes = new Set(tcpListeners().flatMap((l) => (l.port === port ? [l.inode] : [])));
    if (inodes.size === 0) return undefined;
    const pids = readdirSync(procRoot()).filter((name) => /^\d+$/.test(name));
    // Prefer the oldest holder: a cluster's primary rather than one of its workers.
    const holders = pids.map(Number).filter((pid) => [...socketInodes(pid)].some((i) => inodes.has(i)));
    const facts = holders.map((pid) => processFacts(pid)).filter((f): f is ProcessFacts => f !== undefined);
    facts.sort((a, b) => a.startTicks - b.startTicks);
    return facts[0] ?? { hidden: true };
  }
  try {
    const out = execFileSync('lsof', ['-nP', `-iTCP:${port}`, '-sTCP:LISTEN', '-Fpc'], { encoding: 'utf8' });
    const pid = Number(/^p(\d+)/m.exec(out)?.[1]);
    return Number.isInteger(pid) ? { pid, cmdline: /^c(.*)$/m.exec(out)?.[1] ?? '' } : undefined;
  } catch {
    return undefined;
  }
}

/** One variable of a process's environment (/proc/<pid>/environ: its owner or root only). */
export function environValue(pid: number, name: string): string | undefined {
  try {
    const prefix = `${name}=`;
    const entry = readFileSync(`${procRoot()}/${pid}/environ`, 'utf8')
      .split('\0')
      .find((e) => e.startsWith(prefix));
    return entry?.slice(prefix.length);
  } catch {
    return undefined;
  }
}
