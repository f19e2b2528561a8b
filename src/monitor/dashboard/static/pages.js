// Status pages and incidents (admins): lists, and forms that show the API's field errors
// under their fields, as the server and notification forms do.
import { ApiError } from './api.js';
import { clearErrors, fillForm, readForm, showErrors } from './forms.js';

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
const when = (iso) => (iso ? new Date(iso).toLocaleString() : '');

const state = { session: null, servers: () => [], pages: [], incidents: [], editing: null, started: false };

/** `1=API; 2=Website` ↔ `{"1": "API", "2": "Website"}`; what does not parse goes as typed, for the API to name. */
function namesToText(names) {
  return Object.entries(names ?? {})
    .map(([id, name]) => `${id}=${name}`)
    .join('; ');
}
function textToNames(text) {
  if (typeof text !== 'string') return text;
  const out = {};
  for (const part of text
    .split(';')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const at = part.indexOf('=');
    if (at < 1) return text;
    out[part.slice(0, at).trim()] = part.slice(at + 1).trim();
  }
  return out;
}

function button(action, id, text, className = 'secondary') {
  return el('button', { type: 'button', className, textContent: text, dataset: { action, id: String(id) } });
}

function renderPages() {
  const rows = state.pages.map((page) =>
    el(
      'tr',
      { dataset: { slug: page.slug } },
      el(
        'td',
        {},
        el('a', {
          href: `../status/${encodeURIComponent(page.slug)}`,
          textContent: `/status/${page.slug}`,
          target: '_blank',
          rel: 'noopener',
        }),
      ),
      el('td', { textContent: page.title }),
      el('td', { className: 'num', textContent: String(page.servers.length) }),
      el('td', { className: 'actions' }, button('edit', page.slug, 'Edit'), button('delete', page.slug, 'Delete', 'danger')),
    ),
  );
  $('#page-list tbody').replaceChildren(...rows);
  $('#no-pages').hidden = rows.length > 0;
}

function renderIncidents() {
  const rows = state.incidents.map((incident) =>
    el(
      'tr',
      { dataset: { incidentId: String(incident.id), state: incident.state } },
      el('td', { textContent: incident.title }),
      el('td', { textContent: incident.state }),
      el('td', { textContent: incident.impact }),
      el('td', { textContent: when(incident.started_at) }),
      el('td', { textContent: when(incident.resolved_at) }),
      el('td', { className: 'actions' }, button('update', incident.id, 'Post update'), button('edit', incident.id, 'Edit')),
    ),
  );
  $('#incident-list tbody').replaceChildren(...rows);
  $('#no-incidents').hidden = rows.length > 0;
}

async function reload() {
  const [pages, incidents] = await Promise.all([
    state.session.all('status-pages/'),
    state.session.request('GET', 'incidents/?page_size=50'),
  ]);
  state.pages = pages;
  state.incidents = incidents.results;
  renderPages();
  renderIncidents();
}

function open(dialog, title, values) {
  const form = dialog.querySelector('form');
  form.reset();
  clearErrors(form);
  fillForm(form, values);
  dialog.querySelector('h2').textContent = title;
  dialog.showModal();
}

async function send(form, method, path, body) {
  const submit = form.querySelector('button[type="submit"]');
  submit.disabled = true;
  clearErrors(form);
  try {
    await state.session.request(method, path, body);
    form.closest('dialog').close();
    await reload();
  } catch (error) {
    if (error instanceof ApiError) {
      if (error.status !== 401) showErrors(form, error);
    } else showErrors(form, { status: 0, body: {}, message: 'Cannot reach the monitor. Try again.' });
  } finally {
    submit.disabled = false;
  }
}

function bind() {
  for (const id of ['#page-dialog', '#incident-dialog', '#update-dialog']) {
    $(id)
      .querySelector('[data-close]')
      .addEventListener('click', () => $(id).close());
  }
  $('#add-page').addEventListener('click', () => {
    state.editing = null;
    $('#page-server-ids').textContent = `Servers: ${state
      .servers()
      .map((s) => `${s.id} ${s.name}`)
      .join(', ')}`;
    open($('#page-dialog'), 'Add status page', {});
  });
  $('#page-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const body = readForm(form, state.editing !== null);
    if (body.display_names !== undefined) body.display_names = textToNames(body.display_names);
    const slug = state.editing;
    send(form, slug === null ? 'POST' : 'PUT', slug === null ? 'status-pages/' : `status-pages/${encodeURIComponent(slug)}/`, body);
  });
  $('#page-list tbody').addEventListener('click', async (event) => {
    const target = event.target.closest('button[data-action]');
    const page = target && state.pages.find((p) => p.slug === target.dataset.id);
    if (!page) return;
    if (target.dataset.action === 'edit') {
      state.editing = page.slug;
      $('#page-server-ids').textContent = `Servers: ${state
        .servers()
        .map((s) => `${s.id} ${s.name}`)
        .join(', ')}`;
      open($('#page-dialog'), `Edit ${page.title}`, { ...page, display_names: namesToText(page.display_names) });
    } else if (target.dataset.action === 'delete' && window.confirm(`Remove the status page ${page.slug}?`)) {
      await state.session.request('DELETE', `status-pages/${encodeURIComponent(page.slug)}/`).catch(() => {});
      await reload();
    }
  });

  $('#add-incident').addEventListener('click', () => {
    state.editing = null;
    $('#incident-message-field').hidden = false;
    open($('#incident-dialog'), 'Open incident', { state: 'investigating', impact: 'minor' });
  });
  $('#incident-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const id = state.editing;
    const body = readForm(form, id !== null);
    if (id !== null) delete body.message;
    send(form, id === null ? 'POST' : 'PATCH', id === null ? 'incidents/' : `incidents/${id}/`, body);
  });
  $('#update-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    send(form, 'POST', `incidents/${state.editing}/updates/`, readForm(form, false));
  });
  $('#incident-list tbody').addEventListener('click', (event) => {
    const target = event.target.closest('button[data-action]');
    const incident = target && state.incidents.find((i) => i.id === Number(target.dataset.id));
    if (!incident) return;
    state.editing = incident.id;
    if (target.dataset.action === 'edit') {
      $('#incident-message-field').hidden = true;
      open($('#incident-dialog'), `Edit incident #${incident.id}`, incident);
    } else open($('#update-dialog'), `Update on ${incident.title}`, { state: incident.state });
  });
}

/** Shows the admins' status page and incident lists (once bound, later calls reload them). */
export function showPages(session, servers) {
  state.session = session;
  state.servers = servers;
  if (!state.started) bind();
  state.started = true;
  $('#status-pages').hidden = false;
  $('#incidents').hidden = false;
  reload().catch(() => {});
}
