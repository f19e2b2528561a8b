import type { PingResult, Server, ServerStatus } from '../types.js';

/** The webhook body, frozen in the outbox when the state changes: every attempt sends the same bytes. */
export type NotificationPayload = ServerNotification | IncidentNotification;

/** An incident as notifications carry it (for operators: server ids, no updates). */
export interface IncidentSummary {
  id: number;
  title: string;
  state: string;
  impact: string;
  servers: number[];
  started_at: string;
  resolved_at: string | null;
  /** The page the monitor opened it for, else null. */
  status_page: string | null;
}

/** `incident.opened` / `incident.resolved`, sent to the notification configs of the incident's servers. */
export interface IncidentNotification {
  type: 'incident.opened' | 'incident.resolved';
  incident: IncidentSummary;
  /** The server whose notification config this message goes to. */
  server: Server;
  /** When the incident opened (or resolved), ISO 8601 UTC. */
  timestamp: string;
  /** `incident.resolved`: how long it lasted, seconds. */
  duration_seconds?: number;
}

export interface ServerNotification {
  type: 'server.down' | 'server.up' | 'server.cert_expiring';
  server: Server;
  status: ServerStatus;
  /** The check that caused the change (for a reminder: the latest check). */
  ping: PingResult;
  /** When the state changed (for a reminder: when it was written), ISO 8601 UTC. */
  timestamp: string;
  /** When the outage began, ISO 8601 UTC (on `server.down`, its reminders and `server.up`): a stable name for it. */
  down_since?: string;
  /** `server.up`: how long the server was down, seconds. */
  downtime_seconds?: number;
  /** Set on the reminders sent while a server stays down. */
  reminder?: true;
  /** `server.cert_expiring`: when the certificate expires (ISO 8601) and the whole days left (0: expired or today). */
  cert_expires_at?: string;
  days_left?: number;
}

export const isIncident = (p: NotificationPayload): p is IncidentNotification =>
  p.type === 'incident.opened' || p.type === 'incident.resolved';

/** `45 s`, `3 min 12 s`, `2 h 5 min`, `1 d 3 h`: an outage's length in words. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const parts: Array<[number, string]> = [
    [Math.floor(s / 86_400), 'd'],
    [Math.floor((s % 86_400) / 3600), 'h'],
    [Math.floor((s % 3600) / 60), 'min'],
    [s % 60, 's'],
  ];
  const first = parts.findIndex(([n]) => n > 0);
  if (first === -1) return '0 s';
  return parts
    .slice(first, first + 2)
    .filter(([n]) => n > 0)
    .map(([n, unit]) => `${n} ${unit}`)
    .join(' ');
}

export function target(server: Server): string {
  return server.protocol === 'tcp' ? `${server.host}:${server.port}` : `${server.protocol}://${server.host}:${server.port}${server.path}`;
}

/** One line: the email subject, and the whole SMS. */
export function summaryOf(p: NotificationPayload): string {
  if (isIncident(p)) {
    if (p.type === 'incident.opened') return `INCIDENT: ${p.incident.title}`;
    const after = p.duration_seconds === undefined ? '' : ` after ${formatDuration(p.duration_seconds * 1000)}`;
    return `RESOLVED: ${p.incident.title}${after}`;
  }
  if (p.type === 'server.cert_expiring') {
    const expired = p.cert_expires_at !== undefined && Date.parse(p.cert_expires_at) <= Date.parse(p.timestamp);
    return expired
      ? `CERTIFICATE EXPIRED: ${p.server.name} (${p.cert_expires_at})`
      : `CERTIFICATE EXPIRES in ${p.days_left} days: ${p.server.name} (${p.cert_expires_at})`;
  }
  if (p.type === 'server.down') {
    const reason = p.status.message ? `: ${p.status.message}` : '';
    return `${p.reminder ? 'Still DOWN' : 'DOWN'}: ${p.server.name}${reason}`;
  }
  const after = p.downtime_seconds === undefined ? '' : ` after ${formatDuration(p.downtime_seconds * 1000)} down`;
  return `UP: ${p.server.name} is ${p.status.status === 'degraded' ? 'back (degraded)' : 'back up'}${after}`;
}

/** The email body. */
export function textOf(p: NotificationPayload, publicUrl?: string): string {
  if (isIncident(p)) {
    const lines = [
      summaryOf(p),
      '',
      `Incident: #${p.incident.id} ${p.incident.title}`,
      `State: ${p.incident.state}, impact: ${p.incident.impact}`,
      `Started: ${p.incident.started_at}`,
      `Server: ${p.server.name} (${target(p.server)})`,
    ];
    if (p.incident.resolved_at) lines.push(`Resolved: ${p.incident.resolved_at}`);
    if (p.incident.status_page) lines.push(`Status page: /status/${p.incident.status_page}`);
    if (publicUrl) lines.push(`Dashboard: ${publicUrl}`);
    return `${lines.join('\n')}\n`;
  }
  const lines = [
    summaryOf(p),
    '',
    `Server: ${p.server.name} (${target(p.server)})`,
    `State: ${p.status.status}`,
    sinceOf(p),
    `Last check: ${p.ping.check_timestamp} — ${p.ping.status}` +
      (p.ping.status_code === null ? '' : `, HTTP ${p.ping.status_code}`) +
      (p.ping.response_time === null ? '' : `, ${Math.round(p.ping.response_time)} ms`),
  ];
  if (p.ping.error_message) lines.push(`Error: ${p.ping.error_message}`);
  if (p.downtime_seconds !== undefined) lines.push(`Down for: ${formatDuration(p.downtime_seconds * 1000)}`);
  if (publicUrl) lines.push(`Dashboard: ${publicUrl}`);
  return `${lines.join('\n')}\n`;
}

/** `2026-12-06 07:41:02 UTC`: a time people read in a chat. */
export function readableTime(isoTime: string): string {
  const t = Date.parse(isoTime);
  if (!Number.isFinite(t)) return isoTime;
  return `${new Date(t).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** Since when, in one line: `Down since … (12 min)` or `Back up at …, down since …`. */
export function sinceOf(p: ServerNotification): string {
  if (p.type === 'server.cert_expiring')
    return `Certificate ${p.days_left === 0 ? 'expired' : 'expires'} ${readableTime(p.cert_expires_at ?? p.timestamp)}`;
  const since = p.down_since ?? (p.type === 'server.down' ? p.status.last_change : undefined);
  if (p.type === 'server.down') {
    const length = since ? Date.parse(p.timestamp) - Date.parse(since) : 0;
    const lasting = p.reminder && length > 0 ? ` (${formatDuration(length)})` : '';
    return `Down since ${readableTime(since ?? p.timestamp)}${lasting}`;
  }
  return `Back up at ${readableTime(p.timestamp)}${since ? `, down since ${readableTime(since)}` : ''}`;
}

/** What failed: the last check in words. */
export function checkOf(p: ServerNotification): string {
  return (
    `${p.ping.status}` +
    (p.ping.status_code === null ? '' : `, HTTP ${p.ping.status_code}`) +
    (p.ping.response_time === null ? '' : `, ${Math.round(p.ping.response_time)} ms`) +
    (p.ping.error_message ? ` — ${p.ping.error_message}` : '')
  );
}

/** The chat messages' plain text: what happened, since when, what the check saw, and the dashboard's link. */
export function chatTextOf(r: Rendered, publicUrl: string | undefined): string {
  const lines = [r.summary, r.since, `${r.subject}, last check: ${r.check}`];
  if (publicUrl) lines.push(`Dashboard: ${publicUrl}`);
  return lines.join('\n');
}

/** The one alert when the monitor itself cannot reach the network (and when it can again). */
export interface NetworkPayload {
  type: 'monitor.network_lost' | 'monitor.network_back';
  /** When this was noticed, ISO 8601 UTC. */
  timestamp: string;
  /** When the network was lost, ISO 8601 UTC. */
  since: string;
  /** `monitor.network_back`: how long it was lost, seconds. */
  lost_seconds?: number;
  /** The canary that did not answer, `host:port`. */
  canary: string;
}

/** Whatever the outbox holds. */
export type AnyPayload = NotificationPayload | NetworkPayload;

export const isNetworkPayload = (p: AnyPayload): p is NetworkPayload =>
  p.type === 'monitor.network_lost' || p.type === 'monitor.network_back';

/** A payload in the words every channel uses. */
export interface Rendered {
  /** Something broke (down, network lost), rather than came back. */
  alarm: boolean;
  summary: string;
  since: string;
  /** What it is about: the server and its target, or the monitor and its canary. */
  subject: string;
  /** What the last check saw. */
  check: string;
  /** One name per outage: a recovery names the same one as its alarm. */
  key: string;
  /** Where it happened (PagerDuty's `source`) and what (its `component`). */
  source: string;
  component: string;
  /** When the trouble began, ISO 8601. */
  began: string;
  timestamp: string;
  details: Record<string, unknown>;
}

export function render(p: AnyPayload): Rendered {
  if (isNetworkPayload(p)) {
    const lost = p.type === 'monitor.network_lost';
    return {
      alarm: lost,
      summary: lost
        ? 'The monitor cannot reach the network: results are unknown until it can'
        : `The monitor reaches the network again${p.lost_seconds === undefined ? '' : ` after ${formatDuration(p.lost_seconds * 1000)}`}`,
      since: lost ? `Lost since ${readableTime(p.since)}` : `Back at ${readableTime(p.timestamp)}, lost since ${readableTime(p.since)}`,
      subject: `The monitor (canary ${p.canary})`,
      check: lost ? `the canary ${p.canary} does not answer either: no downtime is counted meanwhile` : `the canary ${p.canary} answers`,
      key: `lifeline-network-${Date.parse(p.since) || 0}`,
      source: p.canary,
      component: 'monitor network',
      began: p.since,
      timestamp: p.timestamp,
      details: { since: p.since, canary: p.canary },
    };
  }
  if (isIncident(p)) {
    const opened = p.type === 'incident.opened';
    const since = `Started ${readableTime(p.incident.started_at)}`;
    return {
      alarm: opened,
      summary: summaryOf(p),
      since: p.incident.resolved_at ? `${since}, resolved ${readableTime(p.incident.resolved_at)}` : since,
      subject: `Incident #${p.incident.id} (${p.incident.impact} impact)`,
      check: `state ${p.incident.state}, servers ${p.incident.servers.join(', ')}`,
      key: `lifeline-incident-${p.incident.id}`,
      source: p.incident.status_page ? `status page ${p.incident.status_page}` : 'monitor',
      component: p.incident.title,
      began: p.incident.started_at,
      timestamp: p.timestamp,
      details: { incident: p.incident.id, state: p.incident.state, impact: p.incident.impact, servers: p.incident.servers },
    };
  }
  const since = p.down_since ?? (p.type === 'server.down' ? p.status.last_change : p.timestamp);
  // A certificate warning is an alarm of its own (never the recovery of an outage): its own key per certificate.
  const cert = p.type === 'server.cert_expiring';
  return {
    alarm: p.type === 'server.down' || cert,
    summary: summaryOf(p),
    since: sinceOf(p),
    subject: `${p.server.name} (${target(p.server)})`,
    check: checkOf(p),
    key: cert ? `lifeline-cert-${p.server.id}-${p.cert_expires_at ?? ''}` : `lifeline-server-${p.server.id}-${Date.parse(since) || 0}`,
    source: target(p.server),
    component: p.server.name,
    began: since,
    timestamp: p.timestamp,
    details: { since: sinceOf(p), last_check: checkOf(p), server_id: p.server.id, tags: p.server.tags },
  };
}

/** One line of any payload: the email subject and the whole SMS. */
export function summaryOfAny(p: AnyPayload): string {
  return render(p).summary;
}

/** The email body of any payload. */
export function textOfAny(p: AnyPayload, publicUrl?: string): string {
  if (!isNetworkPayload(p)) return textOf(p, publicUrl);
  const r = render(p);
  const lines = [r.summary, '', r.since, `Canary: ${p.canary}`, r.check];
  if (publicUrl) lines.push(`Dashboard: ${publicUrl}`);
  return `${lines.join('\n')}\n`;
}
