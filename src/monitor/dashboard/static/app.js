// The monitor's dashboard: log in, watch every server, and (admins) edit servers and
// notifications. Plain ES modules; every piece of data goes into the page through
// textContent or properties, never as HTML.
import { ApiError, Session } from './api.js';
import { clearErrors, fillForm, readForm, showErrors } from './forms.js';
import { ago, milliseconds, percent, target } from './format.js';
import { Detail } from './detail.js';
import { LiveStream } from './live.js';
import { showPages } from './pages.js';
import { Sparkline } from './sparkline.js';

// Checks, and servers added, edited or removed (by anyone), arrive live from the SSE
// stream; a slow refresh picks up what the stream does not carry (deliveries of
// notifications) and anything missed.
const FALLBACK_MS = 60_000;
const RETRY_MS = 5000;
// "12 s ago" and the sparklines' one-hour window move on between events.
const TICK_MS = 10_000;
// Events arriving together are drawn once.
const RENDER_DELAY_MS = 50;
// A state change sends notifications: their delivery shows in the list after these delays.
const DELIVERY_DELAYS_MS = [2000, 10_000];
const HOUR_MS = 3_600_000;
// Results are stored in batches and carry their check's start time: re-read this much
// before the newest one seen so a slow check's result is not missed (ids dedupe).
const OVERLAP_MS = 120_000;
const USER_KEY = 'monitor.user';
// A check that changes no state sends no status event, yet moves the uptime: the statuses
// of the servers checked are re-read this long after their pings (one request for all).
const STATUS_DELAY_MS = 1000;
// Beyond this many servers to re-read, one request for every status is shorter than the id list.
const STATUS_IDS_MAX = 200;

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
  /** A refresh is due soon: an event named a server the page does not know. */
  refreshSoon: false,
  tick: 0,
  renderTimer: 0,
  deliveryTimers: [],
  live: null,
  liveState: 'closed',
  updatedAt: null,
  generation: 0,
  /** Servers checked since their statuses were last read, and the timer that reads them. */
  checked: new Set(),
  statusTimer: 0,
  editing: null,
  users: [],
  detail: null,
};

function notice(text) {
  const p = $('#notice');
  p.textContent = text ?? '';
  p.hidden = !text;
}

// ---- session ----------------------------------------------------------------

function stopLive() {
  state.live?.close();
  state.live = null;
  state.liveState = 'closed';
  document.body.dataset.live = 'closed';
  clearTimeout(state.renderTimer);
  clearTimeout(state.statusTimer);
  state.statusTimer = 0;
  state.checked.clear();
  clearInterval(state.tick);
  for (const timer of state.deliveryTimers) clearTimeout(timer);
  state.deliveryTimers = [];
}

function showLogin(reason) {
  state.generation++;
  clearTimeout(state.timer);
  stopLive();
  for (const row of state.rows.values()) row.spark.destroy();
  state.rows.clear();
  state.servers.clear();
  state.pings.clear();
  state.newestPing = 0;
  state.notifications = [];
  $('#servers tbody').replaceChildren();
  $('#notification-list tbody').replaceChildren();
  $('#user-list tbody').replaceChildren();
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
      state.timer = setTimeout(() => generation === state.generation && showDashboard(), RETRY_MS);
      return;
    }
    state.admin = false;
  }
  if (generation !== state.generation) return;
  document.body.dataset.role = state.admin ? 'admin' : 'reader';
  $('#add-server').hidden = !state.admin;
  $('#server-actions-head').hidden = !state.admin;
  $('#notifications').hidden = !state.admin;
  if (state.admin) showPages(state.session, () => [...state.servers.values()]);
  $('#users').hidden = !state.admin;
  if (state.admin) reloadUsers().catch(() => {});
  await refresh(generation);
  if (generation !== state.generation || !state.session.active) return;
  startLive(generation);
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
  for (const ping of results) addPing(ping);
  for (const [id, ping] of state.pings) if (ping.t < now - HOUR_MS) state.pings.delete(id);
}

/** Keeps a PingResult (from the API or the stream; the same id twice is one point). */
function addPing(ping) {
  const t = Date.parse(ping.check_timestamp);
  if (!Number.isFinite(t) || t < Date.now() - HOUR_MS) return false;
  if (t > state.newestPing) state.newestPing = t;
  state.pings.set(ping.id, {
    id: ping.id,
    server: ping.server,
    t,
    ms: ping.status === 'success' && typeof ping.response_time === 'number' ? ping.response_time : null,
    status: ping.status,
    error: ping.error_message,
  });
  return true;
}

/** The later of two ISO times, either of which may be missing. */
function latest(a, b) {
  if (!a || !b) return a ?? b ?? null;
  return Date.parse(b) > Date.parse(a) ? b : a;
}

/** The newer of two ServerStatus (by last check, then last change): a late REST answer does not undo an event. */
function newer(a, b) {
  if (!a) return b;
  if (!b) return a;
  const at = (s) => [Date.parse(s.last_check ?? '') || 0, Date.parse(s.last_change ?? '') || 0];
  const [ca, xa] = at(a);
  const [cb, xb] = at(b);
  return cb > ca || (cb === ca && xb >= xa) ? b : a;
}

/** Each config with its `last_delivery` (from the config's own answer; the list leaves it out). */
async function withDeliveries(configs) {
  const details = await Promise.all(
    configs.map((config) => state.session.request('GET', `notification-configs/${config.id}/`).catch(() => null)),
  );
  return configs.map((config, i) => ({ ...config, last_delivery: details[i]?.last_delivery ?? config.last_delivery ?? null }));
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

function scheduleRefresh(delay = FALLBACK_MS) {
  clearTimeout(state.timer);
  const generation = state.generation;
  state.timer = setTimeout(() => refresh(generation), delay);
}

async function refresh(generation = state.generation) {
  if (generation !== state.generation || !state.session.active) return;
  clearTimeout(state.timer);
  state.refreshSoon = false;
  if (document.visibilityState === 'hidden') return scheduleRefresh();
  let delay = FALLBACK_MS;
  try {
    const [servers, , configs] = await Promise.all([
      state.session.all('servers/'),
      loadPings(),
      state.admin ? state.session.all('notification-configs/').then(withDeliveries) : null,
    ]);
    if (generation !== state.generation) return;
    for (const server of servers) {
      const known = state.servers.get(server.id);
      server.current_status = newer(known?.current_status, server.current_status);
      if (known?.last_ping_at) server.last_ping_at = known.last_ping_at;
    }
    state.servers = new Map(servers.map((s) => [s.id, s]));
    if (configs) state.notifications = configs;
    render();
    if (state.admin) renderNotifications();
    updated();
  } catch (error) {
    if (generation !== state.generation) return;
    $('#refreshed').textContent =
      error instanceof ApiError ? `The monitor answered: ${error.message}` : 'Cannot reach the monitor; retrying.';
    $('#refreshed').classList.add('problem');
    delay = RETRY_MS;
  }
  if (generation === state.generation && state.session.active) scheduleRefresh(delay);
}

/** The line under the summary: live or not, and when the page last got news. */
function updated(now = true) {
  if (now) state.updatedAt = new Date();
  const line = $('#refreshed');
  const at = state.updatedAt ? ` · updated ${state.updatedAt.toLocaleTimeString()}` : '';
  if (state.liveState === 'open') line.textContent = `Live${at}`;
  else if (state.liveState === 'reconnecting') line.textContent = `Live updates interrupted; reconnecting${at}`;
  else line.textContent = `Connecting to live updates${at}`;
  line.classList.toggle('problem', state.liveState === 'reconnecting');
}

// ---- live updates -----------------------------------------------------------

function startLive(generation) {
  stopLive();
  const ours = () => generation === state.generation;
  let snapshots = 0;
  state.live = new LiveStream(state.session, {
    state(value) {
      if (!ours()) return;
      // "connecting" after the stream was open is a reconnect: say so.
      state.liveState = value === 'open' ? 'open' : state.liveState === 'closed' ? 'closed' : 'reconnecting';
      document.body.dataset.live = value;
      updated(false);
    },
    status(data) {
      if (!ours()) return;
      if (Array.isArray(data)) {
        for (const status of data) applyStatus(status, false);
        // A snapshot after a reconnect (the server could not replay): the pings in between come from the API.
        if (++snapshots > 1) refresh();
      } else applyStatus(data, true);
      requestRender();
    },
    ping(data) {
      if (!ours()) return;
      for (const ping of Array.isArray(data) ? data : [data]) applyPing(ping);
      requestRender();
    },
    server(data) {
      if (!ours()) return;
      applyServer(data);
      requestRender();
    },
  });
  state.live.start();
  state.tick = setInterval(() => ours() && document.visibilityState === 'visible' && render(), TICK_MS);
}

/** A server the page does not know yet (added by someone else): the API has it. */
function unknownServer() {
  if (state.refreshSoon) return;
  state.refreshSoon = true;
  scheduleRefresh(500);
}

/** A server created, changed or removed: its row follows at once. */
function applyServer({ action, server }) {
  if (!server || typeof server.id !== 'number') return;
  if (action === 'deleted') {
    state.servers.delete(server.id);
    // Its notification configs went with it.
    state.notifications = state.notifications.filter((c) => c.server !== server.id);
  } else {
    server.current_status = newer(state.servers.get(server.id)?.current_status, server.current_status);
    state.servers.set(server.id, server);
    // Ordered by id, as the API lists them.
    if (action === 'created') state.servers = new Map([...state.servers].sort(([a], [b]) => a - b));
  }
  // The notifications list names the servers.
  if (state.admin) renderNotifications();
}

function applyStatus(status, changed) {
  const server = state.servers.get(status.server);
  if (!server) return unknownServer();
  server.current_status = newer(server.current_status, status);
  if (changed && state.admin && state.notifications.some((c) => c.server === status.server)) watchDeliveries();
}

function applyPing(ping) {
  const server = state.servers.get(ping.server);
  if (!server) return unknownServer();
  if (!addPing(ping)) return;
  // The status stays as the monitor sent it (its own last check), so a fresher one from the
  // API always wins in newer(); the row shows the later of the two times.
  if ((Date.parse(server.last_ping_at ?? '') || 0) < Date.parse(ping.check_timestamp)) server.last_ping_at = ping.check_timestamp;
  state.checked.add(ping.server);
  readStatusesSoon();
}

/** Re-reads the statuses of the servers just checked: their uptime moved though their state did not. */
function readStatusesSoon() {
  if (state.statusTimer) return;
  const generation = state.generation;
  state.statusTimer = setTimeout(async () => {
    const ids = [...state.checked];
    state.checked.clear();
    try {
      const params = ids.length > STATUS_IDS_MAX ? {} : { server_id: ids.join(',') };
      const statuses = await state.session.all('server-status/', params);
      if (generation !== state.generation) return;
      for (const status of statuses) if (state.servers.has(status.server)) applyStatus(status, false);
      requestRender();
    } catch {
      // The next check asks again; the slow refresh says when the API is unreachable.
    } finally {
      if (generation === state.generation) {
        state.statusTimer = 0;
        if (state.checked.size > 0) readStatusesSoon();
      }
    }
  }, STATUS_DELAY_MS);
}

function requestRender() {
  if (state.renderTimer) return;
  state.renderTimer = setTimeout(() => {
    state.renderTimer = 0;
    render();
    updated();
  }, RENDER_DELAY_MS);
}

/** A state change sent notifications: show how their delivery went. */
function watchDeliveries() {
  const generation = state.generation;
  for (const timer of state.deliveryTimers) clearTimeout(timer);
  state.deliveryTimers = DELIVERY_DELAYS_MS.map((delay) =>
    setTimeout(() => generation === state.generation && reloadNotifications().catch(() => {}), delay),
  );
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
    const lastCheck = latest(status?.last_check, server.last_ping_at);
    cells.lastCheck.textContent = ago(lastCheck, now);
    cells.lastCheck.title = lastCheck ?? '';
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
  const parts = ['up', 'degraded', 'down', 'maintenance', 'pending', 'paused'].filter((s) => counts[s]).map((s) => `${counts[s]} ${s}`);
  const total = state.servers.size;
  $('#summary').textContent = `${total} server${total === 1 ? '' : 's'}${parts.length ? `: ${parts.join(', ')}` : ''}`;
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
      deliveryCell(config.last_delivery),
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

/** The last delivery attempt: delivered or failed, its error, attempt and time (the whole error in the tooltip). */
function deliveryCell(delivery) {
  const cell = el('td', { className: 'last-delivery' });
  if (!delivery) {
    cell.append(el('span', { className: 'muted', textContent: 'none yet' }));
    return cell;
  }
  const at = new Date(delivery.at);
  const when = Number.isFinite(at.getTime()) ? at.toLocaleString() : '';
  const code = delivery.status_code === null ? '' : `HTTP ${delivery.status_code}`;
  const detail = delivery.ok ? code : (delivery.error ?? code);
  cell.append(
    el('span', { className: `badge status-${delivery.ok ? 'up' : 'down'}`, textContent: delivery.ok ? 'delivered' : 'failed' }),
    el('span', { className: 'delivery-error', textContent: detail ? ` ${detail}` : '' }),
    el('span', { className: 'muted delivery-when', textContent: ` ${delivery.event}, attempt ${delivery.attempt}, ${when}` }),
  );
  cell.title = `${delivery.ok ? 'Delivered' : 'Failed'} ${delivery.at}${delivery.error ? `: ${delivery.error}` : ''}`;
  return cell;
}

async function reloadNotifications() {
  state.notifications = await withDeliveries(await state.session.all('notification-configs/'));
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
state.detail = new Detail($('#detail-dialog'), (path) => state.session.request('GET', path));
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
      // The server's notification configs went with it: refresh() reloads them too.
      () => refresh(),
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

// ---- users (admins) and one's own password ------------------------------------

async function reloadUsers() {
  const users = await state.session.all('users/');
  const rows = users.map((user) =>
    el(
      'tr',
      { dataset: { userId: String(user.id) } },
      el('td', { textContent: user.username }),
      el('td', { textContent: user.is_staff ? 'admin' : 'read-only' }),
      el('td', { textContent: yesNo(user.is_active) }),
      el('td', { textContent: new Date(user.date_joined).toLocaleDateString() }),
      el(
        'td',
        { className: 'actions' },
        el('button', { type: 'button', className: 'secondary', textContent: 'Edit', dataset: { action: 'edit', id: String(user.id) } }),
        el('button', { type: 'button', className: 'danger', textContent: 'Delete', dataset: { action: 'delete', id: String(user.id) } }),
      ),
    ),
  );
  state.users = users;
  $('#user-list tbody').replaceChildren(...rows);
}

$('#add-user').addEventListener('click', () => {
  state.editing = null;
  openDialog($('#user-dialog'), 'Add user', { is_staff: false, is_active: true });
});

$('#user-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const id = state.editing;
  submit(event.currentTarget, id === null ? 'POST' : 'PATCH', id === null ? 'users/' : `users/${id}/`, reloadUsers);
});

$('#user-list tbody').addEventListener('click', async (event) => {
  const button = event.target.closest('button[data-action]');
  if (!button) return;
  const user = (state.users ?? []).find((u) => u.id === Number(button.dataset.id));
  if (!user) return;
  if (button.dataset.action === 'edit') {
    state.editing = user.id;
    openDialog($('#user-dialog'), `Edit ${user.username}`, user);
  } else if (button.dataset.action === 'delete') {
    if (!window.confirm(`Remove the user ${user.username}? Their sessions end.`)) return;
    await act(() => state.session.request('DELETE', `users/${user.id}/`), reloadUsers);
  }
});

$('#change-password').addEventListener('click', () => openDialog($('#password-dialog'), 'Change your password', {}));

$('#password-form').addEventListener('submit', (event) => {
  event.preventDefault();
  submit(event.currentTarget, 'POST', 'auth/password/', async () => notice('Password changed.'));
});

// ---- start ------------------------------------------------------------------

state.session = new Session((reason) => showLogin(reason));
if (state.session.active) showDashboard();
else showLogin();
