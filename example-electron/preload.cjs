// Exposes the backend IPC to the page, and nothing else.
const { contextBridge, ipcRenderer } = require('electron');

/** Subscribes to one channel; returns the function that unsubscribes. */
function subscribe(channel, listener) {
  const wrapped = (_event, payload) => listener(payload);
  ipcRenderer.on(channel, wrapped);
  return () => ipcRenderer.removeListener(channel, wrapped);
}

contextBridge.exposeInMainWorld('backend', {
  start: () => ipcRenderer.invoke('backend:start'),
  stop: () => ipcRenderer.invoke('backend:stop'),
  restart: () => ipcRenderer.invoke('backend:restart'),
  status: () => ipcRenderer.invoke('backend:get-status'),
  health: () => ipcRenderer.invoke('backend:health'),
  // path is relative to the API: window.backend.api('/notes') calls /api/notes.
  api: (path, method, body) => ipcRenderer.invoke('backend:api', path, method, body),
  // The backend's status (getStatus()) after every change: starting, running, healthy or not, stopped, failed.
  onStatusUpdate: (listener) => subscribe('backend:status', listener),
  // Any ServiceManager event by name: 'started', 'stdout', 'process-exit', … (see BACKEND_EVENTS in backend-ipc.mjs).
  on: (name, listener) => subscribe(`backend:${name}`, listener),
});
