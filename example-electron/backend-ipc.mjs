// @ts-check
// The Electron main-process side of a supervised backend, kept free of Electron itself so
// it can be tested with Node alone: pass it Electron's ipcMain and a way to reach the window.

/**
 * Registers the IPC handlers the renderer calls, and forwards the ServiceManager's events
 * to the window.
 * @param {{ handle(channel: string, listener: (event: unknown, ...args: any[]) => unknown): void }} ipcMain
 * @param {import('express-lifeline/supervisor').ServiceManager} backend
 * @param {(channel: string, payload: unknown) => void} send  e.g. (c, p) => win.webContents.send(c, p)
 */
export function registerBackendIpc(ipcMain, backend, send) {
  ipcMain.handle('backend:status', () => backend.getStatus());
  ipcMain.handle('backend:health', () => backend.healthCheck());
  ipcMain.handle('backend:restart', async () => {
    await backend.restart();
    return backend.getStatus();
  });
  // The renderer never gets a raw URL to call: every API call goes through the main process,
  // and apiCall() keeps its path under apiBase (`/../admin` is refused).
  ipcMain.handle('backend:api', async (_event, path, method = 'GET', body = undefined) => {
    try {
      return { ok: true, data: await backend.apiCall(path, method, body) };
    } catch (error) {
      return { ok: false, error: error instanceof Error ? error.message : String(error) };
    }
  });
  for (const name of ['starting', 'started', 'stopped', 'restarting', 'healthy', 'unhealthy', 'warning', 'error']) {
    backend.on(name, (payload) => send(`backend:${name}`, payload instanceof Error ? { message: payload.message } : payload));
  }
}
