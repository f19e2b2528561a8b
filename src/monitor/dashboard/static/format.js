// Display helpers: every value ends up in textContent, never in HTML.

export function percent(value) {
  return typeof value === 'number' && Number.isFinite(value) ? `${value.toFixed(value >= 99.995 || value === 0 ? 0 : 2)} %` : '—';
}

export function milliseconds(value) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '—';
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${Math.round(value)} ms`;
}

/** "12 s ago", "3 min ago", "2 h ago", or the date when older than a day. */
export function ago(iso, now = Date.now()) {
  if (!iso) return 'never';
  const at = Date.parse(iso);
  if (!Number.isFinite(at)) return '—';
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return new Date(at).toLocaleString();
}

export function target(server) {
  const port = server.port ? `:${server.port}` : '';
  if (server.protocol === 'tcp') return `tcp://${server.host}${port}`;
  const host = server.host.includes(':') ? `[${server.host}]` : server.host;
  return `${server.protocol}://${host}${port}${server.path ?? '/'}`;
}
