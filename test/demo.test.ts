import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers/load.js';
import { isRunning, runNode, type Child } from './helpers/process.js';

// `npm run demo` is `node scripts/demo.mjs`: run as a real child with its two children, on free ports,
// its data in a temp folder.
const script = resolve('scripts/demo.mjs');
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lifeline-demo-'));
});
// A failed assertion must not leave a demo or its children behind.
const started: number[] = [];
afterAll(() => {
  for (const pid of started) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

interface Demo {
  run: Child;
  appPid: number;
  monitorPid: number;
}

/** Polls `probe` every 100 ms until it returns a value (not undefined), or fails after `ms`. */
async function until<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function startDemo(env: Record<string, string>): Promise<Demo> {
  const run = runNode(script, { LOG_FILE: join(dir, 'app.log'), DATABASE_URL: join(dir, 'notes.db'), HOST: '127.0.0.1', ...env });
  started.push(run.child.pid!);
  let exited = false;
  void run.exited().then(() => (exited = true));
  await until(
    () => (run.output().includes('Ctrl-C stops both.') ? true : exited ? Promise.reject(new Error(run.output())) : undefined),
    'the demo',
  );
  const pid = (label: string) => Number(new RegExp(`^${label} .*\\(pid (\\d+)\\)$`, 'm').exec(run.output())?.[1]);
  const demo = { run, appPid: pid('example app'), monitorPid: pid('monitor') };
  started.push(demo.appPid, demo.monitorPid);
  return demo;
}

async function login(port: number, username: string, password: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/api/auth/token/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access: string }).access;
}

interface ServerRow {
  id: number;
  name: string;
  port: number;
  current_status: { status: string } | null;
}

async function servers(port: number, token: string): Promise<ServerRow[]> {
  const res = await fetch(`http://127.0.0.1:${port}/api/servers/`, { headers: { authorization: `Bearer ${token}` } });
  return ((await res.json()) as { results: ServerRow[] }).results;
}

describe('npm run demo', () => {
  it('starts the example app and the monitor watching it; SIGINT stops both and leaves no process', async () => {
    const [appPort, monitorPort] = [await freePort(), await freePort()];
    const demo = await startDemo({ PORT: String(appPort), MONITOR_PORT: String(monitorPort), DEMO_DIR: join(dir, 'a') });
    const out = demo.run.output();
    expect(out).toContain(`example app  http://127.0.0.1:${appPort}/`);
    expect(out).toContain(`monitor      http://127.0.0.1:${monitorPort}/monitor/`);
    expect(out).toContain('login        demo / demo-password');
    expect(isRunning(demo.appPid) && isRunning(demo.monitorPid)).toBe(true);

    expect((await fetch(`http://127.0.0.1:${appPort}/api/ping`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${monitorPort}/monitor/`)).status).toBe(200);
    const token = await login(monitorPort, 'demo', 'demo-password');
    // Registered and checked: the monitor's API shows the example app up.
    const row = await until(async () => {
      const found = (await servers(monitorPort, token)).find((s) => s.name === 'example-app');
      return found?.current_status?.status === 'up' ? found : undefined;
    }, 'the example app to be up in the monitor');
    expect(row.port).toBe(appPort);

    demo.run.child.kill('SIGINT');
    expect(await demo.run.exited()).toEqual({ code: 0, signal: null });
    // Both drained (their own shutdown lines) and gone, not orphaned.
    expect(demo.run.output()).toMatch(/^app +\| .*stopped \(exit code 0\)$/m);
    expect(demo.run.output()).toMatch(/^monitor +\| .*stopped \(exit code 0\)$/m);
    expect([isRunning(demo.appPid), isRunning(demo.monitorPid)]).toEqual([false, false]);
  }, 60_000);

  it('honours MONITOR_ADMIN_USER/PASSWORD without printing the password, and registers the app once across runs', async () => {
    const env = { DEMO_DIR: join(dir, 'b'), MONITOR_ADMIN_USER: 'alice', MONITOR_ADMIN_PASSWORD: 'alice-secret-pw' };
    const monitorPort = await freePort();
    for (const appPort of [await freePort(), await freePort()]) {
      const demo = await startDemo({ ...env, PORT: String(appPort), MONITOR_PORT: String(monitorPort) });
      expect(demo.run.output()).toContain('login        alice / (your MONITOR_ADMIN_PASSWORD)');
      expect(demo.run.output()).not.toContain('alice-secret-pw');
      const token = await login(monitorPort, 'alice', 'alice-secret-pw');
      // The second run finds the first run's registration and points it at today's port.
      expect((await servers(monitorPort, token)).map((s) => [s.name, s.port])).toEqual([['example-app', appPort]]);
      demo.run.child.kill('SIGTERM');
      expect(await demo.run.exited()).toEqual({ code: 0, signal: null });
      expect([isRunning(demo.appPid), isRunning(demo.monitorPid)]).toEqual([false, false]);
    }
  }, 60_000);

  it('a port in use is one line naming the variable to set, exit 1, nothing started', async () => {
    const holder: Server = createServer();
    await new Promise<void>((done) => holder.listen(0, '127.0.0.1', done));
    const taken = (holder.address() as { port: number }).port;
    try {
      for (const [variable, env] of [
        ['MONITOR_PORT', { PORT: String(await freePort()), MONITOR_PORT: String(taken) }],
        ['PORT', { PORT: String(taken), MONITOR_PORT: String(await freePort()) }],
      ] as const) {
        const run = runNode(script, { ...env, HOST: '127.0.0.1', DEMO_DIR: join(dir, 'c') });
        expect(await run.exited()).toEqual({ code: 1, signal: null });
        expect(run.output()).toBe(`demo: port ${taken} is in use; set ${variable} to another port\n`);
      }
    } finally {
      holder.close();
    }
  });
});
