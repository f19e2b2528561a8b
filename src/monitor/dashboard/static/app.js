// The monitor's dashboard: log in, watch every server, and (admins) edit servers and
// notifications. Plain ES modules; every piece of data goes into the page through
// textContent or properties, never as HTML.
import { ApiError, Session } from './api.js';
import { clearErrors, fillForm, readForm, showErrors } from './forms.js';
import { ago, milliseconds, percent, target } from './format.js';
import { Detail } from './detail.js';
import { Sparkline } from './sparkline.js';

// Polled for now; live updates (SSE) will replace the timer.
const POLL_MS = 5000;
const HOUR_MS = 3_600_000;
// Results are stored in batches and carry their check's start time: re-read this much
// before the newest one seen so a slow check's result is not missed (ids dedupe).
const OVERLAP_MS = 120_000;
const USER_KEY = 'monitor.user';

const $ = (selector) => document.querySelector(selector);
const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'dataset') Object.assign(node.dataset, value);
    else node[key] = value;
  }
  node.append(...children);
  return node;
};

const state = {
  session: null,
  admin: false,
  servers: new Map(),
  /** ping id → {server, t, ms, status, error} for the last hour. */
  pings: new Map(),
  newestPing: 0,
  rows: new Map(),
  notifications: [],
  timer: 0,
  generation: 0,
  editing: null,
  detail: null,
};

function notice(text) {
  const p = $('#notice');
  p.textContent = text ?? '';
  p.hidden = !text;
}

// ---- session ----------------------------------------------------------------

function showLogin(reason) {
  state.generation++;
  clearTimeout(state.timer);
  for (const row of state.rows.values()) row.spark.destroy();
  state.rows.clear();
  state.servers.clear();
  state.pings.clear();
  state.newestPing = 0;
  state.notifications = [];
  $('#servers tbody').replaceChildren();
  $('#notification-list tbody').replaceChildren();
  for (const dialog of document.querySelectorAll('dialog[open]')) dialog.close();
  sessionStorage.removeItem(USER_KEY);
  notice(reason);
  $('#dashboard-view').hidden = true;
  $('#session').hidden = true;
  $('#login-view').hidden = false;
  $('#login-username').focus();
}

async function showDashboard() {
  const generation = ++state.generation;
  $('#login-view').hidden = true;
  $('#dashboard-view').hidden = false;
  $('#session').hidden = false;
  $('#whoami').textContent = sessionStorage.getItem(USER_KEY) ?? '';
  // The API has no "who am I": the notification configs are for admins only, so their answer says the role.
  try {
    state.notifications = await state.session.all('notification-configs/');
    state.admin = true;
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 403) {
      if (generation !== state.generation || !state.session.active) return;
      $('#refreshed').textContent = 'Cannot reach the monitor; retrying.';
      $('#refreshed').classList.add('problem');
      state.timer = setTimeout(() => generation === state.generation && showDashboard(), POLL_MS);
      return;
    }
    state.admin = false;
  }
  if (generation !== state.generation) return;
  document.body.dataset.role = state.admin ? 'admin' : 'reader';
  $('#add-server').hidden = !state.admin;
  $('#server-actions-head').hidden = !state.admin;
  $('#notifications').hidden = !state.admin;
  await refresh(generation);
}

$('#login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const button = form.querySelector('button[type="submit"]');
  for (const p of form.querySelectorAll('.field-error, .form-error')) p.textContent = '';
  notice('');
  const username = form.elements.username.value.trim();
  button.disabled = true;
  try {
    await state.session.login(username, form.elements.password.value);
  } catch (error) {
    if (!(error instanceof ApiError)) {
      $('#login-error').textContent = 'Cannot reach the monitor. Try again.';
    } else if (error.status === 400 && typeof error.body.detail !== 'string') {
      for (const [field, value] of Object.entries(error.body)) {
        const slot = $(`#login-${CSS.escape(field)}-error`) ?? $('#login-error');
        slot.textContent = Array.isArray(value) ? value.join(' ') : String(value);
      }
    } else {
      $('#login-error').textContent = error.message;
    }
    return;
  } finally {
    button.disabled = false;
  }
  form.reset();
  sessionStorage.setItem(USER_KEY, username);
  showDashboard();
});

$('#logout').addEventListener('click', () => state.session.end('You have logged out.'));

// ---- data -------------------------------------------------------------------

async function loadPings() {
  const now = Date.now();
  const since = state.newestPing > 0 ? Math.max(state.newestPing - OVERLAP_MS, now - HOUR_MS) : now - HOUR_MS;
  const results = await state.session.all('ping-results/', { since: new Date(since).toISOString() });
  for (const ping of results) {
    const t = Date.parse(ping.check_timestamp);
    if (!Number.isFinite(t)) continue;
    if (t > state.newestPing) state.newestPing = t;
    state.pings.set(ping.id, {
      server: ping.server,
      t,
      ms: ping.status === 'success' && typeof ping.response_time === 'number' ? ping.response_time : null,
      status: ping.status,
      error: ping.error_message,
    });
  }
  for (const [id, ping] of state.pings) if (ping.t < now - HOUR_MS) state.pings.delete(id);
}

function pingsByServer() {
  const by = new Map();
  for (const ping of state.pings.values()) {
    let list = by.get(ping.server);
    if (!list) by.set(ping.server, (list = []));
    list.push(ping);
  }
  for (const list of by.values()) list.sort((a, b) => a.t - b.t);
  return by;
}

function scheduleRefresh(delay = POLL_MS) {
  clearTimeout(state.timer);
  const generation = state.generation;
  state.timer = setTimeout(() => refresh(generation), delay);
}

async function refresh(generation = state.generation) {
  if (generation !== state.generation || !state.session.active) return;
  clearTimeout(state.timer);
  if (document.visibilityState === 'hidden') return scheduleRefresh();
  try {
    const [servers] = await Promise.all([state.session.all('servers/'), loadPings()]);
    if (generation !== state.generation) return;
    state.servers = new Map(servers.map((s) => [s.id, s]));
    render();
    $('#refreshed').textContent = `Updated ${new Date().toLocaleTimeString()}`;
    $('#refreshed').classList.remove('problem');
  } catch (error) {
    if (generation !== state.generation) return;
    $('#refreshed').textContent =
      error instanceof ApiError ? `The monitor answered: ${error.message}` : 'Cannot reach the monitor; retrying.';
    $('#refreshed').classList.add('problem');
  }
  if (generation === state.generation && state.session.active) scheduleRefresh();
}

// Hidden tabs wait; coming back refreshes at once.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && state.session?.active && !$('#dashboard-view').hidden) refresh();
});

// ---- rendering --------------------------------------------------------------

function createRow(server) {
  const cells = {
    name: el('button', { type: 'button', className: 'name link', dataset: { action: 'detail', id: String(server.id) } }),
    target: el('span', { className: 'target muted' }),
    status: el('span', { className: 'badge' }),
    message: el('span', { className: 'message muted' }),
    uptime24: el('td', { className: 'num uptime-24h' }),
    uptime30: el('td', { className: 'num uptime-30d' }),
    lastCheck: el('td', { className: 'last-check' }),
    response: el('td', { className: 'num response-time' }),
    spark: el('div', { className: 'sparkline' }),
  };
  const tr = el(
    'tr',
    { dataset: { serverId: String(server.id) } },
    el('td', { className: 'server' }, cells.name, cells.target),
    el('td', { className: 'status' }, cells.status, cells.message),
    cells.uptime24,
    cells.uptime30,
    cells.lastCheck,
    cells.response,
    el('td', { className: 'spark' }, cells.spark),
  );
  if (state.admin) {
    tr.append(
      el(
        'td',
        { className: 'actions' },
        el('button', { type: 'button', className: 'secondary', textContent: 'Edit', dataset: { action: 'edit', id: String(server.id) } }),
        el('button', { type: 'button', className: 'danger', textContent: 'Delete', dataset: { action: 'delete', id: String(server.id) } }),
      ),
    );
  }
  const row = { tr, cells, spark: null };
  row.spark = new Sparkline(cells.spark);
  return row;
}

function render() {
  const now = Date.now();
  const tbody = $('#servers tbody');
  const by = pingsByServer();
  const counts = {};
  let previous = null;
  for (const server of state.servers.values()) {
    let row = state.rows.get(server.id);
    if (!row) {
      row = createRow(server);
      state.rows.set(server.id, row);
    }
    // Keep the list's order without re-inserting rows that are already in place.
    const expected = previous ? previous.nextSibling : tbody.firstChild;
    if (expected !== row.tr) tbody.insertBefore(row.tr, expected);
    previous = row.tr;

    const status = server.current_status;
    const name = server.enabled ? (status?.status ?? 'pending') : 'paused';
    counts[name] = (counts[name] ?? 0) + 1;
    const { cells } = row;
    row.tr.dataset.status = name;
    cells.name.textContent = server.name;
    cells.target.textContent = target(server);
    cells.status.textContent = name;
    cells.status.className = `badge status-${name}`;
    cells.message.textContent = status?.message ?? '';
    cells.uptime24.textContent = percent(status?.uptime?.['24h'] ?? status?.uptime_percentage);
    cells.uptime30.textContent = percent(status?.uptime?.['30d']);
    cells.lastCheck.textContent = ago(status?.last_check, now);
    cells.lastCheck.title = status?.last_check ?? '';
    const points = by.get(server.id) ?? [];
    const last = points.at(-1);
    cells.response.textContent = last ? (last.ms === null ? last.status : milliseconds(last.ms)) : '—';
    cells.response.title = last?.error ?? '';
    row.spark.update(points, now);
    cells.spark.title = sparkSummary(points);
    if (state.detail.serverId === server.id && state.detail.open) {
      state.detail.dialog.querySelector('.detail-target').textContent = target(server);
      state.detail.update(points, now);
    }
  }
  if (state.detail.open && !state.servers.has(state.detail.serverId)) state.detail.close();
  for (const [id, row] of state.rows) {
    if (state.servers.has(id)) continue;
    row.spark.destroy();
    row.tr.remove();
    state.rows.delete(id);
  }
  $('#no-servers').hidden = state.servers.size > 0;
  const parts = ['up', 'degraded', 'down', 'pending', 'paused'].filter((s) => counts[s]).map((s) => `${counts[s]} ${s}`);
  const total = state.servers.size;
  $('#summary').textContent = `${total} server${total === 1 ? '' : 's'}${parts.length ? `: ${parts.join(', ')}` : ''}`;
  if (state.admin) renderNotifications();
}

/** The sparkline in words (its tooltip). */
function sparkSummary(points) {
  const times = points.filter((p) => p.ms !== null).map((p) => p.ms);
  const failed = points.length - times.length;
  if (points.length === 0) return 'No checks in the last hour';
  const avg = times.length ? times.reduce((a, b) => a + b, 0) / times.length : null;
  return `Last hour: ${points.length} checks, ${failed} failed${avg === null ? '' : `, average ${milliseconds(avg)}, slowest ${milliseconds(Math.max(...times))}`}`;
}

function yesNo(value) {
  return value ? 'yes' : 'no';
}

function renderNotifications() {
  const rows = state.notifications.map((config) =>
    el(
      'tr',
      { dataset: { notificationId: String(config.id) } },
      el('td', { textContent: state.servers.get(config.server)?.name ?? `#${config.server}` }),
      el('td', { textContent: config.notification_type }),
      el('td', { className: 'recipient', textContent: config.recipient }),
      el('td', { textContent: yesNo(config.enabled) }),
      el('td', { textContent: yesNo(config.notify_on_failure) }),
      el('td', { textContent: yesNo(config.notify_on_recovery) }),
      el(
        'td',
        { className: 'actions' },
        el('button', { type: 'button', className: 'secondary', textContent: 'Edit', dataset: { action: 'edit', id: String(config.id) } }),
        el('button', { type: 'button', className: 'danger', textContent: 'Delete', dataset: { action: 'delete', id: String(config.id) } }),
      ),
    ),
  );
  $('#notification-list tbody').replaceChildren(...rows);
  $('#no-notifications').hidden = rows.length > 0;
}

async function reloadNotifications() {
  state.notifications = await state.session.all('notification-configs/');
  renderNotifications();
}

// ---- editing (admins) -------------------------------------------------------

function openDialog(dialog, title, values) {
  const form = dialog.querySelector('form');
  form.reset();
  clearErrors(form);
  fillForm(form, values);
  dialog.querySelector('h2').textContent = title;
  dialog.showModal();
  form.querySelector('input:not([type="checkbox"]), select')?.focus();
}

for (const dialog of document.querySelectorAll('dialog')) {
  dialog.querySelector('[data-close]').addEventListener('click', () => dialog.close());
}
state.detail = new Detail($('#detail-dialog'));
$('#detail-dialog').addEventListener('close', () => {
  state.detail.serverId = null;
});

/** Sends a form; field errors appear under their fields and the dialog stays open. */
async function submit(form, method, path, after) {
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  clearErrors(form);
  try {
    await state.session.request(method, path, readForm(form, method !== 'POST'));
    form.closest('dialog').close();
    await after();
  } catch (error) {
    if (error instanceof ApiError) {
      if (error.status !== 401) showErrors(form, error);
    } else showErrors(form, { status: 0, body: {}, message: 'Cannot reach the monitor. Try again.' });
  } finally {
    button.disabled = false;
  }
}

$('#add-server').addEventListener('click', () => {
  state.editing = null;
  openDialog($('#server-dialog'), 'Add server', { enabled: true, protocol: 'https' });
});

$('#server-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const id = state.editing;
  submit(event.currentTarget, id === null ? 'POST' : 'PATCH', id === null ? 'servers/' : `servers/${id}/`, () => refresh());
});

$('#servers tbody').addEventListener('click', async (event) => {
  const button = event.target.closest('button[data-action]');
  if (!button) return;
  const server = state.servers.get(Number(button.dataset.id));
  if (!server) return;
  if (button.dataset.action === 'detail') {
    state.detail.dialog.querySelector('.detail-target').textContent = target(server);
    state.detail.show(server, pingsByServer().get(server.id) ?? []);
  } else if (button.dataset.action === 'edit') {
    state.editing = server.id;
    openDialog($('#server-dialog'), `Edit ${server.name}`, server);
  } else if (button.dataset.action === 'delete') {
    if (!window.confirm(`Remove ${server.name} and its history?`)) return;
    await act(
      () => state.session.request('DELETE', `servers/${server.id}/`),
      async () => {
        await refresh();
        await reloadNotifications();
      },
    );
  }
});

/** A one-click action (delete): problems go to the notice line. */
async function act(call, after) {
  notice('');
  try {
    await call();
    await after();
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401)
      notice(error instanceof ApiError ? error.message : 'Cannot reach the monitor.');
  }
}

function serverOptions(selected) {
  const select = $('#notification-server');
  select.replaceChildren(
    ...[...state.servers.values()].map((s) => el('option', { value: String(s.id), textContent: s.name, selected: s.id === selected })),
  );
}

$('#add-notification').addEventListener('click', () => {
  state.editing = null;
  serverOptions();
  openDialog($('#notification-dialog'), 'Add notification', {
    server: state.servers.keys().next().value,
    notification_type: 'email',
    enabled: true,
    notify_on_failure: true,
    notify_on_recovery: true,
  });
});

$('#notification-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const id = state.editing;
  submit(
    event.currentTarget,
    id === null ? 'POST' : 'PATCH',
    id === null ? 'notification-configs/' : `notification-configs/${id}/`,
    reloadNotifications,
  );
});

$('#notification-list tbody').addEventListener('click', async (event) => {
  const button = event.target.closest('button[data-action]');
  if (!button) return;
  const config = state.notifications.find((c) => c.id === Number(button.dataset.id));
  if (!config) return;
  if (button.dataset.action === 'edit') {
    state.editing = config.id;
    serverOptions(config.server);
    openDialog($('#notification-dialog'), 'Edit notification', config);
  } else if (button.dataset.action === 'delete') {
    if (!window.confirm(`Remove the ${config.notification_type} notification to ${config.recipient}?`)) return;
    await act(() => state.session.request('DELETE', `notification-configs/${config.id}/`), reloadNotifications);
  }
});

// ---- start ------------------------------------------------------------------

state.session = new Session((reason) => showLogin(reason));
if (state.session.active) showDashboard();
else showLogin();
