// The example page: polls /api/health and manages notes through the JSON API.
const POLL_MS = 3000;
const $ = (id) => document.getElementById(id);

function formatBytes(n) {
  return n >= 1e9 ? `${(n / 1e9).toFixed(1)} GB` : `${(n / 1e6).toFixed(0)} MB`;
}

function formatUptime(s) {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${Math.floor(s % 60)}s` : `${s.toFixed(0)}s`;
}

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function showStatus(status, detail) {
  const el = $('status');
  el.textContent = status;
  el.className = `status ${status}`;
  el.dataset.status = status;
  $('updated').textContent = detail;
}

async function pollHealth() {
  const started = performance.now();
  try {
    const response = await fetch('/api/health', { headers: { Accept: 'application/json' }, cache: 'no-store' });
    const report = await response.json();
    $('latency').textContent = `${(performance.now() - started).toFixed(0)} ms`;
    showStatus(report.status, `updated ${new Date().toLocaleTimeString()}`);
    $('request-count').textContent = response.headers.get('X-Backend-Request-Count') ?? report.application_info?.request_count ?? '–';
    if (report.server_info) $('uptime').textContent = formatUptime(report.server_info.uptime);
    if (report.system_info)
      $('memory').textContent = `${report.system_info.memory_usage.percentage}% of ${formatBytes(report.system_info.memory_usage.total)}`;
    const rows = Object.entries(report.checks ?? {}).map(([name, check]) => {
      const tr = document.createElement('tr');
      tr.dataset.check = name;
      tr.append(
        cell(name),
        cell(check.status, check.status),
        cell(check.critical === undefined ? '–' : check.critical ? 'yes' : 'no'),
        cell(check.duration_ms === undefined ? '–' : `${check.duration_ms} ms`),
        cell(check.error ?? ''),
      );
      return tr;
    });
    $('checks').replaceChildren(...rows);
  } catch {
    showStatus('unreachable', `backend not answering (${new Date().toLocaleTimeString()})`);
  }
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { 'Content-Type': 'application/json', ...options.headers } });
  if (response.status === 204) return null;
  const body = await response.json();
  if (!response.ok) throw new Error(body.error?.message ?? `HTTP ${response.status}`);
  return body;
}

async function loadNotes() {
  const notes = await api('/api/notes');
  const items = notes.map((note) => {
    const li = document.createElement('li');
    const title = document.createElement('strong');
    title.textContent = note.title;
    const body = document.createElement('span');
    body.textContent = note.body ? ` — ${note.body}` : '';
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.textContent = 'Delete';
    remove.addEventListener('click', async () => {
      await api(`/api/notes/${note.id}`, { method: 'DELETE' });
      await loadNotes();
    });
    li.append(title, body, remove);
    return li;
  });
  $('notes').replaceChildren(...items);
}

$('note-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const data = new FormData(form);
  try {
    await api('/api/notes', { method: 'POST', body: JSON.stringify({ title: data.get('title'), body: data.get('body') }) });
    $('form-error').textContent = '';
    form.reset();
    await loadNotes();
  } catch (error) {
    $('form-error').textContent = error.message;
  }
});

pollHealth();
setInterval(pollHealth, POLL_MS);
loadNotes().catch((error) => {
  $('form-error').textContent = error.message;
});
