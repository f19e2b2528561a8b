import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { registerBackendIpc } from '../../example-electron/backend-ipc.mjs';
import { ServiceManager } from 'express-lifeline';
import { freePort } from '../helpers/load.js';

// Electron cannot run here: ipcMain is replaced by a table of handlers, the backend is real.
type Handler = (event: unknown, ...args: unknown[]) => unknown;
const managers: ServiceManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.stop()));
});

describe('the Electron example wiring', () => {
  it('answers status, health, api and restart over IPC and forwards events to the window', async () => {
    const handlers = new Map<string, Handler>();
    const sent: Array<[string, unknown]> = [];
    const backend = new ServiceManager({
      command: process.execPath,
      args: [resolve('test/fixtures/backend.mjs')],
      port: await freePort(),
      healthCheckInterval: 1000,
      shutdownTimeout: 2000,
    });
    managers.push(backend);
    registerBackendIpc(
      { handle: (channel: string, fn: Handler) => handlers.set(channel, fn) },
      backend,
      (channel: string, payload: unknown) => sent.push([channel, payload]),
    );
    expect([...handlers.keys()].sort()).toEqual(['backend:api', 'backend:health', 'backend:restart', 'backend:status']);
    await backend.start();
    const invoke = (channel: string, ...args: unknown[]) => handlers.get(channel)!({}, ...args);
    expect(await invoke('backend:status')).toMatchObject({ state: 'running', healthy: true });
    expect(await invoke('backend:health')).toMatchObject({ healthy: true, status: 200 });
    expect(await invoke('backend:api', '/echo', 'POST', { note: 'hi' })).toEqual({ ok: true, data: { got: { note: 'hi' } } });
    expect(await invoke('backend:api', '/bad')).toEqual({ ok: false, error: 'GET /api/bad failed: 400 title: expected a string' });
    expect(await invoke('backend:api', '/../outage', 'POST', { down: true })).toEqual({
      ok: false,
      error: "apiCall: expected `path` to be a path inside `apiBase` '/api', got '/../outage'",
    });
    const before = backend.getStatus().pid;
    const after = (await invoke('backend:restart')) as { pid: number; state: string };
    expect(after.state).toBe('running');
    expect(after.pid).not.toBe(before);
    expect(sent.map(([channel]) => channel)).toEqual([
      'backend:starting',
      'backend:started',
      'backend:healthy',
      'backend:restarting',
      'backend:stopped',
      'backend:starting',
      'backend:started',
      'backend:healthy',
    ]);
  });
});
