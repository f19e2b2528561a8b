// Exposes the backend IPC to the page, and nothing else.
const { contextBridge, ipcRenderer } = require('electron');

contextBridge.exposeInMainWorld('backend', {
  status: () => ipcRenderer.invoke('backend:status'),
  health: () => ipcRenderer.invoke('backend:health'),
  restart: () => ipcRenderer.invoke('backend:restart'),
  // path is relative to the API: window.backend.api('/notes') calls /api/notes.
  api: (path, method, body) => ipcRenderer.invoke('backend:api', path, method, body),
  on: (name, listener) => ipcRenderer.on(`backend:${name}`, (_event, payload) => listener(payload)),
});
