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
    startupTimeout: 5000,
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

  it('gives up after maxRestartAttempts with an error event, with exponentially growing delays', async () => {
    const { m, events, names } = await manager('crash', { maxRestartAttempts: 3, restartDelay: 100 });
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

  it('restarts a backend that never gets healthy after startupTimeout, then gives up', async () => {
    const { m, names } = await manager('never-healthy', { startupTimeout: 300, maxRestartAttempts: 1 });
    await expect(m.start()).rejects.toThrow(/was not healthy within 300 ms/);
    await waitFor(() => m.getStatus().state === 'failed', 5000);
    expect(names().filter((n) => n === 'starting')).toHaveLength(2);
    expect(names()).not.toContain('started');
  });

  it('restarts after consecutive failed health checks', async () => {
    const { m, events } = await manager('sick-later', { unhealthyThreshold: 3, maxRestartAttempts: 1 }, { SICK_AFTER_MS: '300' });
    await m.start();
    await waitFor(() => events.some((e) => e.name === 'restarting'), 5000);
    const unhealthy = events.filter((e) => e.name === 'unhealthy').map((e) => (e.data as { failures: number }).failures);
    expect(unhealthy).toEqual([1, 2, 3]);
    expect((events.find((e) => e.name === 'restarting')?.data as { reason: string }).reason).toBe('3 failed health checks');
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
    const { m, names } = await manager('ok', { command: '/nonexistent/backend', maxRestartAttempts: 0 });
    await expect(m.start()).rejects.toThrow(/could not start \/nonexistent\/backend: spawn \/nonexistent\/backend ENOENT/);
    expect(names()).toEqual(['starting', 'process-error', 'error']);
  });

  it('apiCall sends and parses JSON, and rejects with clear ApiErrors', async () => {
    const { m, events } = await manager('ok', { requestTimeout: 500 });
    await m.start();
    expect(await m.apiCall('/api/echo', 'POST', { a: 1 })).toEqual({ got: { a: 1 } });
    await expect(m.apiCall('/api/bad')).rejects.toMatchObject({
      name: 'ApiError',
      status: 400,
      message: 'GET /api/bad failed: 400 title: expected a string',
    });
    await expect(m.apiCall('/api/bad')).rejects.toBeInstanceOf(ApiError);
    await expect(m.apiCall('/api/slow')).rejects.toThrow('GET /api/slow: no answer within 500 ms');
    await expect(m.apiCall('/api/text')).rejects.toThrow('GET /api/text: the backend answered 200 with a body that is not JSON');
    await expect(m.apiCall('no-slash')).rejects.toThrow(TypeError);
    await m.stop();
    await expect(m.apiCall('/api/echo')).rejects.toMatchObject({
      name: 'ApiError',
      status: 0,
      message: 'GET /api/echo: connection refused (is the backend running?)',
    });
    expect(events.filter((e) => e.name === 'api-error')).toHaveLength(5);
  });

  it('validates its options', () => {
    expect(() => new ServiceManager({ command: '', port: 8000 })).toThrow(/ServiceManager: expected `command` to be a non-empty string/);
    expect(() => new ServiceManager({ command: 'node', port: 70000 })).toThrow(/`port` to be an integer 1-65535/);
    expect(() => new ServiceManager({ command: 'node', port: 8000, healthPath: 'health' })).toThrow(/`healthPath`/);
    expect(() => new ServiceManager({ command: 'node', port: 8000, restartDelay: -1 })).toThrow(/`restartDelay`/);
    expect(() => new ServiceManager({ command: 'node', port: 8000, args: 'server.js' as never })).toThrow(
      /`args` to be an array of strings/,
    );
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
