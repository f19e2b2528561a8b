// The public status page, live: the server renders it whole (it reads without JavaScript);
// this follows the page's event stream and redraws statuses and incidents. Text only
// through textContent: names and messages are the operator's, never markup.

const OVERALL = {
  operational: 'All systems operational',
  degraded: 'Degraded performance',
  outage: 'Service outage',
  maintenance: 'Under maintenance',
};
const STATUS = { operational: 'Operational', degraded: 'Degraded', outage: 'Outage', maintenance: 'Maintenance', pending: 'No data yet' };

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function time(iso) {
  const node = el('time', '', `${iso.slice(0, 16).replace('T', ' ')} UTC`);
  node.dateTime = iso;
  return node;
}

function incidentNode(incident, names) {
  const article = el('article', `incident impact-${incident.impact}`);
  article.id = `incident-${incident.id}`;
  article.dataset.incidentId = String(incident.id);
  article.dataset.state = incident.state;
  article.append(el('h3', '', incident.title));
  const meta = el('p', 'meta');
  meta.append(el('span', 'state', incident.state), ' · started ', time(incident.started_at));
  if (incident.resolved_at) meta.append(' · resolved ', time(incident.resolved_at));
  const affected = incident.servers.map((id) => names.get(id)).filter(Boolean);
  if (affected.length) meta.append(` · affects ${affected.join(', ')}`);
  article.append(meta);
  const list = el('ol', 'updates');
  for (const update of [...incident.updates].reverse()) {
    const item = el('li', 'update');
    item.append(el('strong', 'state', update.state), ' ', time(update.created_at), el('p', '', update.message));
    list.append(item);
  }
  article.append(list);
  return article;
}

function render(state) {
  const rows = [...document.querySelectorAll('#servers [data-server-id]')];
  const shown = rows.map((row) => Number(row.dataset.serverId)).join(',');
  // Servers added, removed or reordered: the bars and figures come with the page, so load it anew.
  if (shown !== state.servers.map((s) => s.id).join(',')) {
    location.reload();
    return;
  }
  const overall = document.getElementById('overall');
  overall.className = `overall overall-${state.status}`;
  overall.dataset.status = state.status;
  document.getElementById('overall-text').textContent = OVERALL[state.status] ?? state.status;
  const names = new Map();
  state.servers.forEach((server, i) => {
    names.set(server.id, server.name);
    const row = rows[i];
    row.dataset.status = server.status;
    row.querySelector('.name').textContent = server.name;
    const badge = row.querySelector('.status');
    badge.className = `status status-${server.status}`;
    badge.textContent = STATUS[server.status] ?? server.status;
  });
  const open = state.incidents.filter((i) => i.resolved_at === null);
  const past = state.incidents.filter((i) => i.resolved_at !== null);
  document.getElementById('open-incidents').replaceChildren(...open.map((i) => incidentNode(i, names)));
  const history = document.getElementById('past-incidents');
  if (past.length) history.replaceChildren(...past.map((i) => incidentNode(i, names)));
  else history.replaceChildren(el('p', 'muted', 'No incidents in the last 90 days.'));
  const maintenance = document.getElementById('maintenance');
  maintenance.hidden = state.maintenance.length === 0;
  document.getElementById('maintenance-list').replaceChildren(
    ...state.maintenance.map((m) => {
      const item = el('li', '', `${m.title}: `);
      item.append(time(m.starts_at), ' – ', time(m.ends_at));
      return item;
    }),
  );
}

const url = document.body.dataset.events;
if (url && 'EventSource' in window) {
  const live = document.getElementById('live');
  const source = new EventSource(url);
  source.addEventListener('open', () => (live.hidden = false));
  source.addEventListener('error', () => (live.hidden = true));
  source.addEventListener('state', (event) => {
    render(JSON.parse(event.data));
    document.body.dataset.live = 'true';
  });
  source.addEventListener('gone', () => source.close());
}
