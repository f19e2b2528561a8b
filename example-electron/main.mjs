// Electron main process: starts the backend before the window, stops it on quit.
// Run with Electron (`npx electron example-electron/main.mjs`); the tests exercise
// backend-ipc.mjs with Node alone.
import { join } from 'node:path';
import { app, BrowserWindow, dialog, ipcMain } from 'electron';
import { ServiceManager } from 'express-lifeline/supervisor';
import { registerBackendIpc } from './backend-ipc.mjs';

// Port 8000, API under /api, health at /api/health: the defaults, which are lifeline's.
// BACKEND_DEV=1: you run the backend yourself (with a debugger, a watcher): nothing is spawned.
const backend = new ServiceManager({
  command: process.execPath.includes('electron') ? 'node' : process.execPath,
  args: [join(import.meta.dirname, '..', 'example-app', 'server.js')],
  isDev: process.env.BACKEND_DEV === '1',
  maxRestarts: 3,
});
backend.on('error', (error) => dialog.showErrorBox('Backend stopped', error.message));

app.whenReady().then(async () => {
  const win = new BrowserWindow({ width: 1000, height: 700, webPreferences: { preload: join(import.meta.dirname, 'preload.cjs') } });
  registerBackendIpc(ipcMain, backend, (channel, payload) => win.webContents.send(channel, payload));
  await backend.start();
  await win.loadURL(backend.url);
});

// Stop the backend (SIGTERM, drain, SIGKILL after the timeout) before Electron exits.
let quitting = false;
app.on('before-quit', (event) => {
  if (quitting) return;
  event.preventDefault();
  quitting = true;
  backend.stop().finally(() => app.quit());
});
