// @ts-check
// The Electron main-process side of a supervised backend, kept free of Electron itself so
// it can be tested with Node alone: pass it Electron's ipcMain and a way to reach the window.

/** Every event a ServiceManager emits; each reaches the renderer as `backend:<name>`. */
export const BACKEND_EVENTS = [
  'starting',
  'started',
  'stopping',
  'stopped',
  'restarting',
  'healthy',
  'unhealthy',
  'error',
  'warning',
  'info',
  'stdout',
  'stderr',
  'process-exit',
  'process-error',
  'api-error',
];

/**
 * Errors do not survive structured cloning with their message; send what the renderer can show.
 * @param {unknown} payload
 */
function plain(payload) {
  return payload instanceof Error ? { message: payload.message } : payload;
}

/**
 * Registers the IPC handlers the renderer calls (start, stop, restart, status, health,
 * api), forwards every ServiceManager event to the window, and sends `backend:status`
 * updates (getStatus()) after each event that changes the state, for `onStatusUpdate`.
 * @param {{ handle(channel: string, listener: (event: unknown, ...args: any[]) => unknown): void }} ipcMain
 * @param {import('express-lifeline/supervisor').ServiceManager} backend
 * @param {(channel: string, payload: unknown) => void} send  e.g. (c, p) => win.webContents.send(c, p)
 */
export function registerBackendIpc(ipcMain, backend, send) {
  // start() rejects when the backend cannot get healthy; the renderer gets that as a value, not a thrown IPC error.
  const settle = async (/** @type {() => Promise<unknown>} */ action) => {
    try {
      await action();
      return { ok: true, status: backend.getStatus() };
    } catch (error) {
      return { ok: false, error: error instanceof Error ? error.message : String(error), status: backend.getStatus() };
    }
  };
  ipcMain.handle('backend:start', () => settle(() => backend.start()));
  ipcMain.handle('backend:stop', () => settle(() => backend.stop()));
  ipcMain.handle('backend:restart', () => settle(() => backend.restart()));
  ipcMain.handle('backend:get-status', () => backend.getStatus());
  ipcMain.handle('backend:health', () => backend.healthCheck());
  // The renderer never gets a raw URL to call: every API call goes through the main process,
  // and apiCall() keeps its path under apiBase (`/../admin` is refused).
  ipcMain.handle('backend:api', async (_event, path, method = 'GET', body = undefined) => {
    try {
      return { ok: true, data: await backend.apiCall(path, method, body) };
    } catch (error) {
      return { ok: false, error: error instanceof Error ? error.message : String(error) };
    }
  });
  const stateful = new Set(['starting', 'started', 'stopping', 'stopped', 'restarting', 'healthy', 'unhealthy', 'error', 'process-exit']);
  for (const name of BACKEND_EVENTS) {
    backend.on(name, (payload) => {
      send(`backend:${name}`, plain(payload));
      if (stateful.has(name)) send('backend:status', backend.getStatus());
    });
  }
}
