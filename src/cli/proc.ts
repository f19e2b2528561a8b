import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

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

const CLOCK_TICKS = 100;
const PAGE_SIZE = 4096;

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
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return process.platform !== 'linux';
  }
}

/** Reads /proc/<pid>; undefined when the process does not exist (or this is not Linux). */
export function processFacts(pid: number): ProcessFacts | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return {
      pid,
      startTicks: Number(fields[19]),
      cmdline,
      cpuTicks: Number(fields[11]) + Number(fields[12]),
      rssBytes: Number(fields[21]) * PAGE_SIZE,
    };
  } catch {
    return undefined;
  }
}

/** Seconds since boot, to turn start ticks into a date. */
function uptimeSeconds(): number {
  return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
}

export function startedAt(facts: ProcessFacts): Date {
  return new Date(Date.now() - (uptimeSeconds() - facts.startTicks / CLOCK_TICKS) * 1000);
}

/** CPU use of the process over its whole life, percent of one core. */
export function cpuPercent(facts: ProcessFacts): number {
  const lifetime = uptimeSeconds() - facts.startTicks / CLOCK_TICKS;
  return lifetime > 0 ? Math.round((facts.cpuTicks / CLOCK_TICKS / lifetime) * 1000) / 10 : 0;
}

/** Child pids of a process (its cluster workers). */
export function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

/** Every TCP listener (IPv4 and IPv6) as port and socket inode, from /proc/net/tcp*. */
function tcpListeners(): Array<{ port: number; inode: string }> {
  const listeners: Array<{ port: number; inode: string }> = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
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
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
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

/**
 * The process listening on a TCP port: on Linux from /proc (no tool needed), elsewhere
 * with `lsof` if it is installed. Undefined when nothing listens (or it cannot be told).
 */
export function findListener(port: number): ProcessFacts | { pid: number; cmdline: string } | undefined {
  if (process.platform === 'linux') {
    const inodes = new Set(tcpListeners().flatMap((l) => (l.port === port ? [l.inode] : [])));
    if (inodes.size === 0) return undefined;
    const pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
    // Prefer the oldest holder: a cluster's primary rather than one of its workers.
    const holders = pids.map(Number).filter((pid) => [...socketInodes(pid)].some((i) => inodes.has(i)));
    const facts = holders.map((pid) => processFacts(pid)).filter((f): f is ProcessFacts => f !== undefined);
    facts.sort((a, b) => a.startTicks - b.startTicks);
    return facts[0];
  }
  try {
    const out = execFileSync('lsof', ['-nP', `-iTCP:${port}`, '-sTCP:LISTEN', '-Fpc'], { encoding: 'utf8' });
    const pid = Number(/^p(\d+)/m.exec(out)?.[1]);
    return Number.isInteger(pid) ? { pid, cmdline: /^c(.*)$/m.exec(out)?.[1] ?? '' } : undefined;
  } catch {
    return undefined;
  }
}
