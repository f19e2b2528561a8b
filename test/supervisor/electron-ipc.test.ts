import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BACKEND_EVENTS, registerBackendIpc } from '../../example-electron/backend-ipc.mjs';
import { ServiceManager } from 'express-lifeline';
import { freePort } from '../helpers/load.js';

// Electron cannot run here: ipcMain is replaced by a table of handlers, the backend is real.
type Handler = (event: unknown, ...args: unknown[]) => unknown;
const managers: ServiceManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.stop()));
});

describe('the Electron example wiring', () => {
  it('starts, stops and restarts over IPC, answers status, health and api, and forwards every event and each status change', async () => {
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
    expect([...handlers.keys()].sort()).toEqual([
      'backend:api',
      'backend:get-status',
      'backend:health',
      'backend:restart',
      'backend:start',
      'backend:stop',
    ]);
    // Every one of the manager's events has a listener that forwards it.
    expect(BACKEND_EVENTS).toHaveLength(15);
    for (const name of BACKEND_EVENTS) expect(backend.listenerCount(name), name).toBe(1);
    const invoke = (channel: string, ...args: unknown[]) => handlers.get(channel)!({}, ...args);
    expect(await invoke('backend:start')).toMatchObject({ ok: true, status: { state: 'running', healthy: true } });
    expect(await invoke('backend:get-status')).toMatchObject({ state: 'running', healthy: true });
    expect(await invoke('backend:health')).toMatchObject({ healthy: true, status: 200 });
    expect(await invoke('backend:api', '/echo', 'POST', { note: 'hi' })).toEqual({ ok: true, data: { got: { note: 'hi' } } });
    expect(await invoke('backend:api', '/bad')).toEqual({ ok: false, error: 'GET /api/bad failed: 400 title: expected a string' });
    expect(await invoke('backend:api', '/../outage', 'POST', { down: true })).toEqual({
      ok: false,
      error: "apiCall: expected `path` to be a path inside `apiBase` '/api', got '/../outage'",
    });
    const before = backend.getStatus().pid;
    const after = (await invoke('backend:restart')) as { ok: boolean; status: { pid: number; state: string } };
    expect(after.status.state).toBe('running');
    expect(after.status.pid).not.toBe(before);
    expect(await invoke('backend:stop')).toMatchObject({ ok: true, status: { state: 'stopped' } });
    const events = sent
      .map(([channel]) => channel)
      .filter((c) => c !== 'backend:status' && c !== 'backend:stdout' && c !== 'backend:stderr');
    expect(events).toEqual([
      'backend:starting',
      'backend:started',
      'backend:info',
      'backend:healthy',
      'backend:api-error', // the /api/bad call above
      'backend:restarting',
      'backend:stopping',
      'backend:process-exit',
      'backend:stopped',
      'backend:starting',
      'backend:started',
      'backend:info',
      'backend:healthy',
      'backend:stopping',
      'backend:process-exit',
      'backend:stopped',
    ]);
    // onStatusUpdate: a status after each state change, ending stopped.
    const statuses = sent.filter(([c]) => c === 'backend:status').map(([, s]) => (s as { state: string }).state);
    expect(statuses[0]).toBe('starting');
    expect(statuses).toContain('running');
    expect(statuses.at(-1)).toBe('stopped');
  });

  it('gives a start that fails back to the renderer as a value', async () => {
    const handlers = new Map<string, Handler>();
    const backend = new ServiceManager({ command: '/nonexistent/backend', port: await freePort(), maxRestarts: 0 });
    backend.on('error', () => {});
    managers.push(backend);
    registerBackendIpc({ handle: (channel: string, fn: Handler) => handlers.set(channel, fn) }, backend, () => {});
    expect(await handlers.get('backend:start')!({})).toMatchObject({ ok: false, error: expect.stringMatching(/ENOENT/) });
  });
});
