/**
 * sd_notify(3) without a native addon. Node's dgram has no unix sockets, so a datagram
 * socket connected to NOTIFY_SOCKET is made by perl (perl-base is on every Debian), which
 * leaves it open across exec, non-blocking, with its number in LIFELINE_NOTIFY_FD, and
 * execs node again with the same arguments. One fs.writeSync on that descriptor is one
 * datagram.
 */
import { spawn } from 'node:child_process';
import { fstatSync, writeSync } from 'node:fs';

export const NOTIFY_FD_ENV = 'LIFELINE_NOTIFY_FD';

/**
 * Argument 0 on: the program to exec and its arguments. A leading '@' in NOTIFY_SOCKET
 * is the abstract namespace. A failure to connect still execs node, with the reason in
 * LIFELINE_NOTIFY_FD, so the service starts (and says why it cannot notify).
 */
export const NOTIFY_EXEC_PERL = [
  'my $p = $ENV{NOTIFY_SOCKET}; $p =~ s/^@/\\0/; my $s;',
  'if (socket($s, AF_UNIX, SOCK_DGRAM, 0) and connect($s, pack_sockaddr_un($p))) {',
  'fcntl($s, F_SETFD, 0); fcntl($s, F_SETFL, fcntl($s, F_GETFL, 0) | O_NONBLOCK);',
  '$ENV{LIFELINE_NOTIFY_FD} = fileno($s);',
  '} else { $ENV{LIFELINE_NOTIFY_FD} = "none: $!"; }',
  'exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!\\n";',
].join(' ');

export const PERL_ARGS = ['-MSocket', '-MFcntl', '-e', NOTIFY_EXEC_PERL];

type Execve = (file: string, args: string[], env: NodeJS.ProcessEnv) => never;

/**
 * When systemd gave a NOTIFY_SOCKET and the descriptor is not open yet: runs this same
 * command again through perl. With process.execve (Node ≥ 22.15) the PID stays, so
 * NotifyAccess=main holds; on older Node the new process is a child that this one
 * waits for and passes signals to (the unit `lifeline systemd unit` prints starts node
 * through perl itself, so under systemd the PID is kept either way). Resolves with the
 * child's exit code, or undefined when nothing was relaunched.
 */
export function relaunchForNotify(): Promise<number> | undefined {
  if (!process.env.NOTIFY_SOCKET || process.env[NOTIFY_FD_ENV] !== undefined) return undefined;
  const argv = [process.execPath, ...process.execArgv, ...process.argv.slice(1)];
  const execve = (process as unknown as { execve?: Execve }).execve;
  if (typeof execve === 'function') {
    try {
      execve('/usr/bin/perl', ['perl', ...PERL_ARGS, ...argv], process.env);
    } catch {
      // no /usr/bin/perl: the search below tries PATH, and says so when there is none
    }
  }
  return new Promise((resolve) => {
    const child = spawn('perl', [...PERL_ARGS, ...argv], { stdio: 'inherit' });
    const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
    // SIGINT is not passed on: Ctrl-C reaches the whole process group, the child too.
    const handlers = (['SIGTERM', 'SIGHUP'] as const).map((s) => [s, forward(s)] as const);
    for (const [signal, handler] of handlers) process.on(signal, handler);
    child.once('error', () => {
      for (const [signal, handler] of handlers) process.off(signal, handler);
      // The primary warns once, from this reason, and runs without notifying.
      process.env[NOTIFY_FD_ENV] = 'none: perl was not found (install perl-base, or run the unit as Type=simple)';
      resolve(-1);
    });
    process.on('SIGINT', () => undefined);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

/** One datagram per message to the service manager; a full or gone socket drops it rather than block. */
export class SystemdNotifier {
  constructor(private readonly fd: number) {}

  send(...fields: string[]): boolean {
    try {
      writeSync(this.fd, fields.join('\n'));
      return true;
    } catch {
      // EAGAIN (systemd not reading) or ECONNREFUSED (it went away): never worth blocking the primary for.
      return false;
    }
  }
}

/** The notifier for the descriptor perl left open, or why there is none (undefined when not under Type=notify). */
export function openNotifier(env: NodeJS.ProcessEnv = process.env): SystemdNotifier | { unavailable: string } | undefined {
  const raw = env[NOTIFY_FD_ENV];
  if (raw === undefined)
    return env.NOTIFY_SOCKET ? { unavailable: 'the notify socket was not opened (run through lifeline serve)' } : undefined;
  if (!/^\d+$/.test(raw)) return { unavailable: raw.replace(/^none: /, '') };
  const fd = Number(raw);
  try {
    if (!fstatSync(fd).isSocket()) return { unavailable: `descriptor ${fd} is not a socket` };
  } catch {
    return { unavailable: `descriptor ${fd} is not open` };
  }
  return new SystemdNotifier(fd);
}

/** CLOCK_MONOTONIC in µs, what RELOADING=1 carries (libuv's hrtime reads that clock). */
export function monotonicUsec(): string {
  return String(process.hrtime.bigint() / 1000n);
}

/**
 * How often to send WATCHDOG=1: half of WATCHDOG_USEC, when it is meant for this process
 * (WATCHDOG_PID unset or ours); undefined when there is no watchdog.
 */
export function watchdogInterval(env: NodeJS.ProcessEnv = process.env, pid = process.pid): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isFinite(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 2000));
}
