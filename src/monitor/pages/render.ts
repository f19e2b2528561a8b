import type { PageStatus, PageSummary, PublicIncident, PublicServerStatus } from './summary.js';

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => escapes[c]!);

export const OVERALL_TEXT: Record<PageStatus, string> = {
  operational: 'All systems operational',
  degraded: 'Degraded performance',
  outage: 'Service outage',
  maintenance: 'Under maintenance',
};
export const STATUS_TEXT: Record<PublicServerStatus, string> = {
  operational: 'Operational',
  degraded: 'Degraded',
  outage: 'Outage',
  maintenance: 'Maintenance',
  pending: 'No data yet',
};

const pct = (n: number | null) => (n === null ? '–' : `${n.toFixed(2)}%`);
const when = (isoTime: string) =>
  `<time datetime="${escapeHtml(isoTime)}">${escapeHtml(isoTime.slice(0, 16).replace('T', ' '))} UTC</time>`;

function incidentHtml(incident: PublicIncident, names: Map<number, string>): string {
  const affected = incident.servers.map((id) => names.get(id)).filter((n): n is string => n !== undefined);
  const updates = [...incident.updates]
    .reverse()
    .map(
      (u) =>
        `<li class="update"><strong class="state">${escapeHtml(u.state)}</strong> ${when(u.created_at)}<p>${escapeHtml(u.message)}</p></li>`,
    )
    .join('');
  return (
    `<article class="incident impact-${incident.impact}" id="incident-${incident.id}" data-incident-id="${incident.id}" data-state="${incident.state}">` +
    `<h3>${escapeHtml(incident.title)}</h3>` +
    `<p class="meta"><span class="state">${escapeHtml(incident.state)}</span> · started ${when(incident.started_at)}` +
    (incident.resolved_at ? ` · resolved ${when(incident.resolved_at)}` : '') +
    (affected.length ? ` · affects ${escapeHtml(affected.join(', '))}` : '') +
    `</p><ol class="updates">${updates}</ol></article>`
  );
}

/**
 * The public page, whole, from a summary: readable without JavaScript. Everything
 * operator-written is escaped; no inline script or style (the CSP forbids both), the
 * bars' colours come from classes.
 */
export function renderPage(summary: PageSummary, { assets, events }: { assets: string; events: string }): string {
  const names = new Map(summary.servers.map((s) => [s.id, s.name]));
  const open = summary.incidents.filter((i) => i.resolved_at === null);
  const past = summary.incidents.filter((i) => i.resolved_at !== null);
  const servers = summary.servers
    .map((s) => {
      const days = s.days
        .map((d) => `<li class="day day-${d.status}" title="${d.date}: ${d.uptime === null ? 'no data' : pct(d.uptime)}"></li>`)
        .join('');
      return (
        `<li class="server" data-server-id="${s.id}" data-status="${s.status}">` +
        `<div class="row"><span class="name">${escapeHtml(s.name)}</span>` +
        `<span class="status status-${s.status}">${STATUS_TEXT[s.status]}</span></div>` +
        `<ol class="days" aria-label="Last 90 days">${days}</ol>` +
        `<p class="uptime">${pct(s.uptime['24h'])} last 24 h · ${pct(s.uptime['30d'])} 30 days · <strong>${pct(s.uptime['90d'])}</strong> 90 days</p>` +
        `</li>`
      );
    })
    .join('');
  const maintenance = summary.maintenance
    .map(
      (m) =>
        `<li>${escapeHtml(m.title)}: ${when(m.starts_at)} – ${when(m.ends_at)}` +
        (m.servers.length
          ? ` (${escapeHtml(
              m.servers
                .map((id) => names.get(id) ?? '')
                .filter(Boolean)
                .join(', '),
            )})`
          : '') +
        `</li>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(summary.title)} – status</title>
<link rel="stylesheet" href="${assets}/status-page.css">
<script type="module" src="${assets}/status-page.js"></script>
</head>
<body data-events="${escapeHtml(events)}">
<main>
<header><h1>${escapeHtml(summary.title)}</h1>${summary.description ? `<p class="description">${escapeHtml(summary.description)}</p>` : ''}</header>
<section id="overall" class="overall overall-${summary.status}" data-status="${summary.status}" role="status"><span id="overall-text">${OVERALL_TEXT[summary.status]}</span></section>
<section id="open-incidents" aria-label="Open incidents">${open.map((i) => incidentHtml(i, names)).join('')}</section>
<section id="maintenance"${maintenance ? '' : ' hidden'}><h2>Maintenance</h2><ul id="maintenance-list">${maintenance}</ul></section>
<section><h2>Services</h2><ul id="servers" class="servers">${servers}</ul>
<p class="legend"><span class="day day-operational"></span> no failed checks <span class="day day-degraded"></span> some <span class="day day-outage"></span> many (over 5%) <span class="day day-no_data"></span> no data · days in UTC</p></section>
<section id="history"><h2>Past incidents (90 days)</h2><div id="past-incidents">${past.length ? past.map((i) => incidentHtml(i, names)).join('') : '<p class="muted">No incidents in the last 90 days.</p>'}</div></section>
<footer><p class="muted">Updated ${when(summary.generated_at)} · <span id="live" hidden>live</span></p></footer>
</main>
</body>
</html>
`;
}
