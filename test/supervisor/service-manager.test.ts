import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError, ServiceManager, type ServiceManagerOptions } from '../../src/index.js';
import { freePort } from '../helpers/load.js';
import { isRunning, runNode, sleep } from '../helpers/process.js';

const backend = resolve('test/fixtures/backend.mjs');
const managers: ServiceManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.stop()));
});

async function manager(behaviour: string, options: Partial<ServiceManagerOptions> = {}, env: Record<string, string> = {}) {
  const m = new ServiceManager({
    command: process.execPath,
    args: [backend],
    env: { BEHAVIOUR: behaviour, ...env },
    port: await freePort(),
    restartDelay: 100,
    healthCheckInterval: 100,
    readyTimeout: 5000,
    shutdownTimeout: 1000,
    ...options,
  });
  managers.push(m);
  const events: Array<{ name: string; at: number; data: unknown }> = [];
  const t0 = Date.now();
  for (const name of [
    'info',
    'starting',
    'started',
    'stopping',
    'stopped',
    'restarting',
    'healthy',
    'unhealthy',
    'error',
    'warning',
    'process-exit',
    'process-error',
    'api-error',
  ]) {
    m.on(name, (data: unknown) => events.push({ name, at: Date.now() - t0, data }));
  }
  const names = () => events.map((e) => e.name);
  return { m, events, names };
}

async function waitFor(check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await sleep(20);
  }
}

describe('ServiceManager', () => {
  it('starts a backend, waits for its health, streams its output, and stops it with SIGTERM', async () => {
    const { m, names } = await manager('ok');
    let stdout = '';
    m.on('stdout', (chunk: string) => (stdout += chunk));
    await m.start();
    const status = m.getStatus();
    expect(status).toMatchObject({ state: 'running', healthy: true, restartAttempts: 0 });
    expect(isRunning(status.pid!)).toBe(true);
    expect(await m.healthCheck()).toMatchObject({ healthy: true, status: 200, body: { status: 'healthy', pid: status.pid } });
    await m.stop();
    expect(isRunning(status.pid!)).toBe(false);
    expect(stdout).toMatch(/backend \d+ starting \(ok\)[\s\S]*backend: SIGTERM, closing/);
    expect(names()).toEqual(['starting', 'started', 'info', 'healthy', 'stopping', 'process-exit', 'stopped']);
    expect(m.getStatus()).toMatchObject({ state: 'stopped', lastExit: { code: 0, signal: null } });
  });

  it('restarts after an unexpected exit, with a new pid', async () => {
    const { m, names } = await manager('ok');
    await m.start();
    const first = m.getStatus().pid!;
    process.kill(first, 'SIGKILL');
    await waitFor(() => m.getStatus().state === 'running' && m.getStatus().pid !== first, 5000);
    expect(names()).toEqual([
      'starting',
      'started',
      'info',
      'healthy',
      'process-exit',
      'restarting',
      'starting',
      'started',
      'info',
      'healthy',
    ]);
    expect(m.getStatus().restartAttempts).toBe(1);
  });

  it('gives up after maxRestarts with an error event, with exponentially growing delays', async () => {
    const { m, events, names } = await manager('crash', { maxRestarts: 3, restartDelay: 100 });
    let stderr = '';
    m.on('stderr', (chunk: string) => (stderr += chunk));
    await expect(m.start()).rejects.toThrow(/exited \(code 1\) before it was healthy/);
    await waitFor(() => m.getStatus().state === 'failed', 5000);
    const restarting = events.filter((e) => e.name === 'restarting').map((e) => e.data as { attempt: number; delay: number });
    expect(restarting.map((r) => [r.attempt, r.delay])).toEqual([
      [1, 100],
      [2, 200],
      [3, 400],
    ]);
    // The time between a restart being scheduled and the next start honours the delay.
    const starts = events.filter((e) => e.name === 'starting').map((e) => e.at);
    const scheduled = events.filter((e) => e.name === 'restarting').map((e) => e.at);
    scheduled.forEach((at, i) => {
      const gap = (starts[i + 1] ?? 0) - at;
      expect(gap).toBeGreaterThanOrEqual(restarting[i]!.delay - 5);
      expect(gap).toBeLessThan(restarting[i]!.delay + 400);
    });
    const error = events.find((e) => e.name === 'error')?.data as Error;
    expect(error.message).toMatch(/restarted 3 times: giving up/);
    expect(names().at(-1)).toBe('error');
    expect(stderr).toContain('fatal error at startup');
  });

  it('restarts a backend that never gets healthy after readyTimeout, then gives up', async () => {
    const { m, names } = await manager('never-healthy', { readyTimeout: 300, maxRestarts: 1 });
    await expect(m.start()).rejects.toThrow(/was not healthy within 300 ms/);
    await waitFor(() => m.getStatus().state === 'failed', 5000);
    expect(names().filter((n) => n === 'starting')).toHaveLength(2);
    expect(names()).not.toContain('started');
  });

  it('restarts after consecutive failed health checks that carry no health report', async () => {
    const { m, events } = await manager('sick-later', { unhealthyThreshold: 3, maxRestarts: 1 }, { SICK_AFTER_MS: '300' });
    await m.start();
    await waitFor(() => events.some((e) => e.name === 'restarting'), 5000);
    const unhealthy = events.filter((e) => e.name === 'unhealthy').map((e) => e.data as { failures: number; running: boolean });
    expect(unhealthy.map((u) => [u.failures, u.running])).toEqual([
      [1, false],
      [2, false],
      [3, false],
    ]);
    expect((events.find((e) => e.name === 'restarting')?.data as { reason: string }).reason).toBe(
      '3 failed health checks in a row (last: 500 without a health report)',
    );
  });

  it('does not restart a backend whose health reports a dependency outage (503 with a report), and says when it recovers', async () => {
    const { m, events, names } = await manager('ok', { unhealthyThreshold: 3, maxRestarts: 1 });
    await m.start();
    const pid = m.getStatus().pid!;
    await m.apiCall('/outage', 'POST', { down: true });
    // Twice the threshold: the old manager restarted after 3.
    await waitFor(() => events.filter((e) => e.name === 'unhealthy').length >= 6, 5000);
    expect(names()).not.toContain('restarting');
    expect(m.getStatus()).toMatchObject({ state: 'running', healthy: false, pid });
    expect(events.find((e) => e.name === 'unhealthy')?.data).toEqual({
      pid,
      running: true,
      status: 503,
      failures: 0,
      reason: '503 unhealthy: database',
    });
    await m.apiCall('/outage', 'POST', { down: false });
    await waitFor(() => m.getStatus().healthy === true, 5000);
    expect(names().filter((n) => n === 'healthy')).toHaveLength(2);
    expect(names()).not.toContain('restarting');
    expect(m.getStatus().pid).toBe(pid);
    expect(isRunning(pid)).toBe(true);
  });

  it('restarts a hung backend (SIGSTOP: no answer) after unhealthyThreshold checks', async () => {
    const { m, events } = await manager('ok', { unhealthyThreshold: 3, requestTimeout: 300 });
    await m.start();
    const pid = m.getStatus().pid!;
    process.kill(pid, 'SIGSTOP');
    await waitFor(() => m.getStatus().state === 'running' && m.getStatus().pid !== pid, 10_000);
    await waitFor(() => !isRunning(pid), 2000);
    // The stopped backend's checks only: the new one may be slow to answer on a loaded machine.
    const unhealthy = events
      .filter((e) => e.name === 'unhealthy' && (e.data as { pid: number }).pid === pid)
      .map((e) => e.data as Record<string, unknown>);
    expect(unhealthy.map((u) => u.failures)).toEqual([1, 2, 3]);
    expect(unhealthy[0]).toEqual({ pid, running: false, status: undefined, failures: 1, reason: 'no answer within 300 ms' });
    expect((events.find((e) => e.name === 'restarting')?.data as { reason: string }).reason).toBe(
      '3 failed health checks in a row (last: no answer within 300 ms)',
    );
  });

  it('start() resolves for a backend that answers with a health report during a dependency outage', async () => {
    const { m, names } = await manager('outage', { readyTimeout: 3000, maxRestarts: 1 });
    await m.start();
    expect(m.getStatus()).toMatchObject({ state: 'running', healthy: false });
    expect(names().slice(0, 4)).toEqual(['starting', 'started', 'info', 'unhealthy']);
    await m.apiCall('/outage', 'POST', { down: false });
    await waitFor(() => m.getStatus().healthy === true, 5000);
    expect(names()).not.toContain('restarting');
    expect(names()).toContain('healthy');
  });

  it('emits restarting on a manual restart() too', async () => {
    const { m, events, names } = await manager('ok');
    await m.start();
    const before = m.getStatus().pid;
    await m.restart();
    expect(m.getStatus().pid).not.toBe(before);
    expect(names()).toEqual([
      'starting',
      'started',
      'info',
      'healthy',
      'restarting',
      'stopping',
      'process-exit',
      'stopped',
      'starting',
      'started',
      'info',
      'healthy',
    ]);
    expect(events.find((e) => e.name === 'restarting')?.data).toEqual({ attempt: 0, delay: 0, reason: 'restart() called', manual: true });
  });

  it('isDev: start() and stop() neither spawn nor kill; the backend the developer runs answers API calls', async () => {
    const port = await freePort();
    const dev = runNode(backend, { PORT: String(port) });
    await waitFor(() => dev.output().includes('listening'), 5000);
    const { m, names } = await manager('ok', { command: '/nonexistent/backend', port, isDev: true, unhealthyThreshold: 3 });
    await m.start();
    expect(m.getStatus()).toMatchObject({ state: 'running', pid: undefined });
    expect(await m.apiCall('/echo', 'POST', { a: 1 })).toEqual({ got: { a: 1 } });
    await waitFor(() => names().includes('healthy'), 5000);
    await m.stop();
    expect(isRunning(dev.child.pid!)).toBe(true);
    // The developer's backend goes down: unhealthy, but nothing to restart and no error.
    await m.start();
    dev.child.kill('SIGTERM');
    await dev.exited();
    await waitFor(() => names().filter((n) => n === 'unhealthy').length >= 5, 5000);
    expect(names()).not.toContain('restarting');
    expect(names()).not.toContain('error');
    expect(names()).not.toContain('process-error');
    expect(m.getStatus().state).toBe('running');
  });

  it('sends SIGKILL to a backend that ignores SIGTERM, after shutdownTimeout', async () => {
    const { m, events } = await manager('ignore-sigterm', { shutdownTimeout: 400 });
    await m.start();
    const pid = m.getStatus().pid!;
    const started = Date.now();
    await m.stop();
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    expect(isRunning(pid)).toBe(false);
    expect(events.find((e) => e.name === 'warning')?.data).toMatch(/ignored SIGTERM for 400 ms: sending SIGKILL/);
    expect(m.getStatus().lastExit).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('reports a command that cannot be spawned as process-error, then error', async () => {
    const { m, names } = await manager('ok', { command: '/nonexistent/backend', maxRestarts: 0 });
    await expect(m.start()).rejects.toThrow(/could not start \/nonexistent\/backend: spawn \/nonexistent\/backend ENOENT/);
    expect(names()).toEqual(['starting', 'process-error', 'error']);
  });

  it('apiCall sends and parses JSON, and rejects with clear ApiErrors', async () => {
    const { m, events } = await manager('ok', { requestTimeout: 500 });
    await m.start();
    expect(await m.apiCall('/echo', 'POST', { a: 1 })).toEqual({ got: { a: 1 } });
    await expect(m.apiCall('/bad')).rejects.toMatchObject({
      name: 'ApiError',
      status: 400,
      message: 'GET /api/bad failed: 400 title: expected a string',
    });
    await expect(m.apiCall('/bad')).rejects.toBeInstanceOf(ApiError);
    await expect(m.apiCall('/slow')).rejects.toThrow('GET /api/slow: no answer within 500 ms');
    await expect(m.apiCall('/text')).rejects.toThrow('GET /api/text: the backend answered 200 with a body that is not JSON');
    await expect(m.apiCall('no-slash')).rejects.toThrow(TypeError);
    await m.stop();
    await expect(m.apiCall('/echo')).rejects.toMatchObject({
      name: 'ApiError',
      status: 0,
      message: 'GET /api/echo: connection refused (is the backend running?)',
    });
    expect(events.filter((e) => e.name === 'api-error')).toHaveLength(5);
  });

  it('apiCall paths are relative to apiBase (default /api), and cannot leave it', async () => {
    const { m } = await manager('ok');
    await m.start();
    // As in the Electron original: apiCall('/health/') is GET /api/health/.
    expect(await m.apiCall('/health/')).toMatchObject({ status: 'healthy' });
    // A path that already holds the base is not special: it is the user's mistake, and the error shows the full path.
    await expect(m.apiCall('/api/echo')).rejects.toMatchObject({
      status: 404,
      message: 'GET /api/api/echo failed: 404 Not Found: /api/api/echo',
    });
    await expect(m.apiCall('/../outage', 'POST', { down: true })).rejects.toThrow(
      "apiCall: expected `path` to be a path inside `apiBase` '/api', got '/../outage'",
    );
    await expect(m.apiCall('/%2e%2e/x')).rejects.toThrow(TypeError);
    await expect(m.apiCall('http://example.com/')).rejects.toThrow(TypeError);
    // apiBase '' calls any path of the backend.
    const raw = new ServiceManager({ command: process.execPath, port: Number(new URL(m.url).port), apiBase: '', isDev: true });
    expect(await raw.apiCall('/api/echo', 'POST', { b: 2 })).toEqual({ got: { b: 2 } });
    const other = new ServiceManager({ command: process.execPath, port: Number(new URL(m.url).port), apiBase: '/api/' });
    expect(await other.apiCall('/health')).toMatchObject({ status: 'healthy' });
  });

  it('validates its options', () => {
    expect(() => new ServiceManager({ command: '', port: 8000 })).toThrow(/ServiceManager: expected `command` to be a non-empty string/);
    expect(() => new ServiceManager({ command: 'node', port: 70000 })).toThrow(/`port` to be an integer 1-65535/);
    expect(() => new ServiceManager({ command: 'node', port: 8000, healthPath: 'health' })).toThrow(/`healthPath`/);
    expect(() => new ServiceManager({ command: 'node', port: 8000, restartDelay: -1 })).toThrow(/`restartDelay`/);
    expect(() => new ServiceManager({ command: 'node', port: 8000, args: 'server.js' as never })).toThrow(
      /`args` to be an array of strings/,
    );
    expect(() => new ServiceManager({ command: 'node', apiBase: 'api' })).toThrow(
      "ServiceManager: expected `apiBase` to be '' or a path starting with '/', got 'api'",
    );
    expect(() => new ServiceManager({ command: 'node', apiBase: 5 as never })).toThrow(/`apiBase`/);
    expect(() => new ServiceManager({ command: 'node', apiBase: '/api?x=1' })).toThrow(/`apiBase`/);
    expect(() => new ServiceManager({ command: 'node', isDev: 'yes' as never })).toThrow(
      "ServiceManager: expected `isDev` to be a boolean, got 'yes'",
    );
    expect(() => new ServiceManager({ command: 'node', port: undefined })).not.toThrow();
  });

  it("takes the original ServiceManager's maxRestartAttempts and startupTimeout as aliases, not both names at once", async () => {
    // The seed's first line, as it was written for the original.
    const m = new ServiceManager({
      command: process.execPath,
      args: [backend],
      env: { BEHAVIOUR: 'never-healthy' },
      port: await freePort(),
      maxRestartAttempts: 1,
      restartDelay: 100,
      healthCheckInterval: 100,
      startupTimeout: 300,
      shutdownTimeout: 1000,
    });
    managers.push(m);
    const seen: string[] = [];
    for (const name of ['starting', 'started', 'error']) m.on(name, () => seen.push(name));
    const names = () => seen;
    await expect(m.start()).rejects.toThrow(/was not healthy within 300 ms/);
    await waitFor(() => m.getStatus().state === 'failed', 5000);
    // One restart (maxRestartAttempts: 1), then the give-up: the aliases reached the options they name.
    expect(names().filter((n) => n === 'starting')).toHaveLength(2);
    expect(() => new ServiceManager({ command: 'node', maxRestarts: 2, maxRestartAttempts: 3 })).toThrow(
      'ServiceManager: `maxRestartAttempts` is another name for `maxRestarts`; give one of them, not both',
    );
    expect(() => new ServiceManager({ command: 'node', readyTimeout: 1, startupTimeout: 2 })).toThrow(
      /`startupTimeout` is another name for `readyTimeout`/,
    );
    expect(() => new ServiceManager({ command: 'node', startupTimeout: -1 })).toThrow(/`readyTimeout`/);
  });

  it('defaults to port 8000', () => {
    expect(new ServiceManager({ command: 'node' }).url).toBe('http://127.0.0.1:8000');
    expect(new ServiceManager({ command: 'node' }).getStatus().url).toBe('http://127.0.0.1:8000');
  });

  it('never leaves its child behind when the parent exits', async () => {
    const parent = runNode(resolve('test/fixtures/supervisor-parent.mjs'), { BACKEND: backend, PORT: String(await freePort()) });
    const { child } = await parent.firstJson<{ child: number }>();
    expect(await parent.exited()).toEqual({ code: 0, signal: null });
    await waitFor(() => !isRunning(child), 2000);
  });

  it('passes a SIGTERM that ends the parent on to its child', async () => {
    const parent = runNode(resolve('test/fixtures/supervisor-parent.mjs'), {
      BACKEND: backend,
      PORT: String(await freePort()),
      EXIT: 'signal',
    });
    const { child } = await parent.firstJson<{ child: number }>();
    parent.child.kill('SIGTERM');
    expect(await parent.exited()).toEqual({ code: null, signal: 'SIGTERM' });
    await waitFor(() => !isRunning(child), 3000);
  });
});
