import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  childrenOf,
  environValue,
  findListener,
  hasProc,
  isHidden,
  isRunning,
  listeningPorts,
  processFacts,
  startedAt,
} from '../../src/cli/proc.js';

// The parsers read LIFELINE_PROC_ROOT on every call: a folder of fixture files stands in for /proc.
let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'lifeline-proc-'));
  process.env.LIFELINE_PROC_ROOT = root;
});
afterEach(() => {
  delete process.env.LIFELINE_PROC_ROOT;
  rmSync(root, { recursive: true, force: true });
});

function put(path: string, content: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content);
}

/**
 * A /proc/<pid>/stat line: `pid (comm) state` then fields 4…; utime is field 14, stime 15,
 * starttime 22, rss (pages) 24.
 */
function statLine(pid: number, comm: string, { state = 'S', utime = 0, stime = 0, start = 0, rss = 0 } = {}): string {
  const fields = Array.from({ length: 49 }, () => '0'); // fields 4…52
  fields[14 - 4] = String(utime);
  fields[15 - 4] = String(stime);
  fields[22 - 4] = String(start);
  fields[24 - 4] = String(rss);
  return `${pid} (${comm}) ${state} ${fields.join(' ')}\n`;
}

/** A process of the fake root: stat, cmdline and socket fds pointing at the given inodes. */
function fakeProcess(pid: number, comm: string, opts: Parameters<typeof statLine>[2] & { cmdline?: string[]; sockets?: string[] } = {}) {
  put(`${pid}/stat`, statLine(pid, comm, opts));
  put(`${pid}/cmdline`, `${(opts.cmdline ?? [comm]).join('\0')}\0`);
  mkdirSync(join(root, `${pid}/fd`), { recursive: true });
  (opts.sockets ?? []).forEach((inode, i) => symlinkSync(`socket:[${inode}]`, join(root, `${pid}/fd/${i + 3}`)));
  // An fd that is not a socket is skipped.
  symlinkSync('/dev/null', join(root, `${pid}/fd/0`));
}

const TCP_HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
/** One /proc/net/tcp line: local port (hex in the file), state (0A is LISTEN) and socket inode. */
function tcpLine(sl: number, port: number, state: string, inode: string): string {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return `   ${sl}: 0100007F:${hexPort} 00000000:0000 ${state} 00000000:00000000 00:00000000 00000000  1000        0 ${inode} 1 0000000000000000 100 0 0 10 0\n`;
}

const pageSize = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim());

describe('/proc/<pid>/stat parsing', () => {
  it('reads start time, CPU ticks and RSS after a command name holding spaces and parentheses', () => {
    fakeProcess(4242, 'my (weird) ) app', { utime: 150, stime: 50, start: 987_654, rss: 300, cmdline: ['node', 'app.js', '--port', '80'] });
    expect(processFacts(4242)).toEqual({
      pid: 4242,
      startTicks: 987_654,
      cmdline: 'node app.js --port 80',
      cpuTicks: 200,
      rssBytes: 300 * pageSize,
    });
  });

  it('is undefined for a pid the root does not have', () => {
    expect(processFacts(4243)).toBeUndefined();
  });

  it('isRunning: a zombie (state Z after the last parenthesis) is not running', () => {
    // The real pid of this process, so kill(pid, 0) succeeds; the state comes from the fixture.
    put(`${process.pid}/stat`, statLine(process.pid, 'node) R (x', { state: 'Z' }));
    expect(isRunning(process.pid)).toBe(false);
    put(`${process.pid}/stat`, statLine(process.pid, 'node) Z (x', { state: 'R' }));
    expect(isRunning(process.pid)).toBe(true);
  });

  it('startedAt: boot time plus start ticks, from /proc/uptime', () => {
    put('uptime', '1000.50 3000.00\n');
    fakeProcess(4242, 'app', { start: 0 });
    const before = Date.now();
    const at = startedAt(processFacts(4242)!).getTime();
    expect(at).toBeGreaterThanOrEqual(before - 1_000_500);
    expect(at).toBeLessThanOrEqual(Date.now() - 1_000_500);
  });
});

describe('a root without /proc (macOS, or LIFELINE_PROC_ROOT at an empty folder)', () => {
  it('says so, and every reader answers "unknown", never throws', () => {
    expect(hasProc()).toBe(false);
    expect(processFacts(process.pid)).toBeUndefined();
    expect(childrenOf(process.pid)).toEqual([]);
    expect(listeningPorts(process.pid)).toEqual([]);
    expect(environValue(process.pid, 'PATH')).toBeUndefined();
    // Without /proc kill(pid, 0) is all there is: this process runs.
    expect(isRunning(process.pid)).toBe(true);
  });
});

describe('/proc/net/tcp and socket fds', () => {
  beforeEach(() => put('self/stat', statLine(1, 'self')));

  it('lists the ports a process listens on, IPv4 and IPv6, ignoring connections in other states', () => {
    put('net/tcp', TCP_HEADER + tcpLine(0, 8000, '0A', '1001') + tcpLine(1, 8001, '01', '1002') + tcpLine(2, 22, '0A', '9999'));
    put('net/tcp6', TCP_HEADER + tcpLine(0, 9229, '0A', '1003'));
    fakeProcess(4242, 'node', { sockets: ['1001', '1002', '1003'] });
    expect(listeningPorts(4242)).toEqual([8000, 9229]);
  });

  it('findListener: the oldest process holding the port (a primary rather than its workers)', () => {
    put('net/tcp', TCP_HEADER + tcpLine(0, 8000, '0A', '1001'));
    fakeProcess(4300, 'worker', { start: 500, sockets: ['1001'], cmdline: ['node', 'worker.js'] });
    fakeProcess(4200, 'primary', { start: 100, sockets: ['1001'], cmdline: ['node', 'primary.js'] });
    const listener = findListener(8000);
    expect(listener).toMatchObject({ pid: 4200, cmdline: 'node primary.js' });
    expect(findListener(8001)).toBeUndefined();
  });

  it('findListener: a port listed in net/tcp that no visible process holds is hidden, never free', () => {
    put('net/tcp', TCP_HEADER + tcpLine(0, 8000, '0A', '1001'));
    fakeProcess(4242, 'other', { sockets: ['2002'] });
    const listener = findListener(8000);
    expect(isHidden(listener)).toBe(true);
  });
});

describe('children and environment', () => {
  it("childrenOf reads every thread's children file", () => {
    put('4242/task/4242/children', '5001 5002 ');
    put('4242/task/4243/children', '5003');
    expect(childrenOf(4242).sort()).toEqual([5001, 5002, 5003]);
  });

  it('environValue finds one variable, not a prefix of another', () => {
    put('4242/environ', ['PORTS=1,2', 'PORT=8000', 'EMPTY=', 'EQ=a=b'].join('\0') + '\0');
    expect(environValue(4242, 'PORT')).toBe('8000');
    expect(environValue(4242, 'EMPTY')).toBe('');
    expect(environValue(4242, 'EQ')).toBe('a=b');
    expect(environValue(4242, 'HOME')).toBeUndefined();
  });
});
