import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/load.js';
import { runNode, sleep, type Child } from '../helpers/process.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeline-systemd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = resolve('dist/cli/main.js');
const appModule = resolve('test/fixtures/cluster-app.mjs');
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const undo of cleanup.splice(0).reverse()) await undo();
});
let n = 0;

interface Datagram {
  pid: number | null;
  msg: string;
  at: number;
}

/** A python unix-datagram listener standing in for systemd's notify socket. */
async function notifyListener(): Promise<{
  path: string;
  received: Datagram[];
  waitFor(re: RegExp, after?: number, ms?: number): Promise<Datagram>;
}> {
  const path = join(dir, `notify-${++n}.sock`);
  const child = spawn('python3', [resolve('test/fixtures/notify-listener.py'), path], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanup.push(() => void child.kill('SIGKILL'));
  const received: Datagram[] = [];
  let pending = '';
  let listening: () => void = () => undefined;
  const up = new Promise<void>((r) => (listening = r));
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const parsed = JSON.parse(line) as { listening?: string; pid?: number | null; msg?: string };
      if (parsed.listening) listening();
      else received.push({ pid: parsed.pid ?? null, msg: parsed.msg ?? '', at: Date.now() });
    }
  });
  await up;
  const waitFor = async (re: RegExp, after = 0, ms = 20_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = received.slice(after).find((d) => re.test(d.msg));
      if (found) return found;
      if (Date.now() > deadline)
        throw new Error(`no ${re} after datagram ${after} within ${ms} ms: ${JSON.stringify(received.slice(after))}`);
      await sleep(25);
    }
  };
  return { path, received, waitFor };
}

function track(child: Child): Child {
  cleanup.push(async () => {
    if (child.child.exitCode === null && child.child.signalCode === null) {
      child.child.kill('SIGKILL');
      await child.exited();
    }
  });
  return child;
}

const field = (d: Datagram, name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(d.msg)?.[1];

describe('lifeline serve under systemd Type=notify', () => {
  it('sends READY=1 when every worker is ready, STATUS and WATCHDOG=1, RELOADING=1 … READY=1 around SIGHUP, STOPPING=1; the watchdog stops while the workers do not answer', async () => {
    const notify = await notifyListener();
    const port = await freePort();
    const logFile = join(dir, `serve-${n}.log`);
    const c = track(
      runNode(cli, { LOG_FILE: logFile, NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: '1000000' }, [
        'serve',
        appModule,
        '--workers',
        '2',
        '--port',
        String(port),
      ]),
    );
    const ready = await notify.waitFor(/^READY=1$/m);
    // Every worker was ready before READY=1: both answer at once, none is still starting.
    const health = (await (await fetch(`http://127.0.0.1:${port}/api/health`)).json()) as {
      cluster: { primary_pid: number; workers: Array<{ pid: number; status: string }> };
    };
    expect(health.cluster.workers).toHaveLength(2);
    expect(health.cluster.workers.every((w) => w.status === 'active')).toBe(true);
    // The datagrams come from the primary itself (what NotifyAccess=main checks), which names itself.
    const mainPid = health.cluster.primary_pid;
    expect(ready.pid).toBe(mainPid);
    expect(field(ready, 'MAINPID')).toBe(String(mainPid));
    expect(field(ready, 'STATUS')).toMatch(/^2\/2 workers, [\d.]+ req\/s, 0 restarts$/);
    const readyIndex = notify.received.indexOf(ready);
    await notify.waitFor(/^STATUS=2\/2 workers/, readyIndex + 1);
    // WATCHDOG_USEC=1 s: every 500 ms.
    const firstDog = await notify.waitFor(/^WATCHDOG=1$/);
    const thirdDog = await notify
      .waitFor(/^WATCHDOG=1$/, notify.received.indexOf(firstDog) + 1)
      .then((d) => notify.waitFor(/^WATCHDOG=1$/, notify.received.indexOf(d) + 1));
    expect(thirdDog.at - firstDog.at).toBeLessThan(3000);
    expect(notify.received.every((d) => d.pid === mainPid)).toBe(true);

    const beforeReload = notify.received.length;
    process.kill(mainPid, 'SIGHUP');
    const reloading = await notify.waitFor(/^RELOADING=1$/m, beforeReload);
    const usec = BigInt(field(reloading, 'MONOTONIC_USEC') ?? '0');
    // CLOCK_MONOTONIC, the clock process.hrtime reads.
    expect(Number(process.hrtime.bigint() / 1000n - usec)).toBeGreaterThanOrEqual(0);
    expect(Number(process.hrtime.bigint() / 1000n - usec)).toBeLessThan(30_000_000);
    await notify.waitFor(/^READY=1$/m, notify.received.indexOf(reloading) + 1);

    // Both workers stop answering: no WATCHDOG=1 once their last reports are older than the window.
    const workers = ((await (await fetch(`http://127.0.0.1:${port}/api/health`)).json()) as typeof health).cluster.workers.map(
      (w) => w.pid,
    );
    expect(workers).toHaveLength(2);
    for (const pid of workers) process.kill(pid, 'SIGSTOP');
    cleanup.push(() => {
      for (const pid of workers) {
        try {
          process.kill(pid, 'SIGCONT');
        } catch {
          // gone
        }
      }
    });
    await sleep(2600); // the window: two worker reports (2 s) and the report period's slack
    const silentFrom = notify.received.length;
    await sleep(2000);
    const dogsWhileStopped = notify.received.slice(silentFrom).filter((d) => d.msg === 'WATCHDOG=1');
    expect(dogsWhileStopped).toEqual([]);
    // The STATUS lines go on: the primary itself is alive.
    expect(notify.received.slice(silentFrom).some((d) => d.msg.startsWith('STATUS='))).toBe(true);
    for (const pid of workers) process.kill(pid, 'SIGCONT');
    await notify.waitFor(/^WATCHDOG=1$/, silentFrom);

    const beforeStop = notify.received.length;
    process.kill(mainPid, 'SIGTERM');
    await notify.waitFor(/^STOPPING=1$/m, beforeStop);
    expect(await c.exited()).toEqual({ code: 0, signal: null });
  }, 60_000);
});

describe('lifeline systemd unit', () => {
  /** systemd's reading of one ExecStart line: words, quotes, `$$` and `\\` unescaped. */
  function execWords(line: string): string[] {
    const words: string[] = [];
    const re = /'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|(\S+)/g;
    for (const m of line.matchAll(re)) {
      const quoted = m[1] ?? m[2];
      words.push(quoted === undefined ? (m[3] ?? '') : quoted.replace(/\\(.)/g, '$1').replaceAll('$$', '$').replaceAll('%%', '%'));
    }
    return words;
  }

  it('prints a Type=notify unit that systemd-analyze accepts, whose ExecStart opens the notify socket in the same process', async () => {
    const appDir = mkdtempSync(join(dir, 'app-'));
    writeFileSync(join(appDir, 'app.mjs'), 'export default () => {};\n');
    const printed = spawnSync(
      process.execPath,
      [cli, 'systemd', 'unit', 'app.mjs', '--workers', '2', '--type', 'notify', '--shutdown-timeout', '20000'],
      {
        cwd: appDir,
        encoding: 'utf8',
      },
    );
    expect(printed.stderr).toBe('');
    expect(printed.status).toBe(0);
    const unit = printed.stdout;
    const keys = new Map<string, string>();
    for (const line of unit.split('\n')) {
      const m = /^(\w+)=(.*)$/.exec(line);
      if (m?.[1] && m[2] !== undefined) keys.set(m[1], m[2]);
    }
    expect(Object.fromEntries(keys)).toMatchObject({
      Type: 'notify',
      NotifyAccess: 'main',
      ExecReload: '/bin/kill -HUP $MAINPID',
      WatchdogSec: '30',
      Restart: 'on-failure',
      WorkingDirectory: appDir,
      Environment: 'NODE_ENV=production',
      KillSignal: 'SIGTERM',
      TimeoutStopSec: '25',
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ReadWritePaths: appDir,
      PrivateTmp: 'yes',
      ProtectHome: 'read-only',
      ProtectKernelTunables: 'yes',
      ProtectKernelModules: 'yes',
      ProtectControlGroups: 'yes',
      RestrictSUIDSGID: 'yes',
      LockPersonality: 'yes',
    });
    const words = execWords(keys.get('ExecStart') ?? '');
    const nodeAt = words.indexOf(process.execPath);
    expect(words.slice(nodeAt)).toEqual([
      process.execPath,
      cli,
      'serve',
      join(appDir, 'app.mjs'),
      '--port',
      '8000',
      '--workers',
      '2',
      '--shutdown-timeout',
      '20000',
    ]);
    const unitFile = join(appDir, 'lifeline-app.service');
    writeFileSync(unitFile, unit);
    const verify = spawnSync('systemd-analyze', ['verify', unitFile], { encoding: 'utf8' });
    if (verify.error === undefined) expect(verify.stderr.split('\n').filter((l) => l.includes(unitFile))).toEqual([]);

    // The ExecStart's perl part, as systemd would run it, with a stand-in for node's command:
    // the datagram comes from the very process systemd started.
    const notify = await notifyListener();
    const script = "require('fs').writeSync(Number(process.env.LIFELINE_NOTIFY_FD), 'READY=1')";
    const child: ChildProcess = spawn(words[0] ?? '', [...words.slice(1, nodeAt), process.execPath, '-e', script], {
      env: { ...process.env, NOTIFY_SOCKET: notify.path },
      stdio: 'inherit',
    });
    const got = await notify.waitFor(/^READY=1$/);
    expect(got.pid).toBe(child.pid);
  }, 30_000);
});
