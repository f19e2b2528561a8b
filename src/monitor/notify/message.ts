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
  type: 'server.down' | 'server.up';
  server: Server;
  status: ServerStatus;
  /** The check that caused the change (for a reminder: the latest check). */
  ping: PingResult;
  /** When the state changed (for a reminder: when it was written), ISO 8601 UTC. */
  timestamp: string;
  /** `server.up`: how long the server was down, seconds. */
  downtime_seconds?: number;
  /** Set on the reminders sent while a server stays down. */
  reminder?: true;
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

function target(server: Server): string {
  return server.protocol === 'tcp' ? `${server.host}:${server.port}` : `${server.protocol}://${server.host}:${server.port}${server.path}`;
}

/** One line: the email subject, and the whole SMS. */
export function summaryOf(p: NotificationPayload): string {
  if (isIncident(p)) {
    if (p.type === 'incident.opened') return `INCIDENT: ${p.incident.title}`;
    const after = p.duration_seconds === undefined ? '' : ` after ${formatDuration(p.duration_seconds * 1000)}`;
    return `RESOLVED: ${p.incident.title}${after}`;
  }
  if (p.type === 'server.down') {
    const reason = p.status.message ? `: ${p.status.message}` : '';
    return `${p.reminder ? 'Still DOWN' : 'DOWN'}: ${p.server.name}${reason}`;
  }
  const after = p.downtime_seconds === undefined ? '' : ` after ${formatDuration(p.downtime_seconds * 1000)} down`;
  return `UP: ${p.server.name} is ${p.status.status === 'degraded' ? 'back (degraded)' : 'back up'}${after}`;
}

/** The email body. */
export function textOf(p: NotificationPayload): string {
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
    return `${lines.join('\n')}\n`;
  }
  const lines = [
    summaryOf(p),
    '',
    `Server: ${p.server.name} (${target(p.server)})`,
    `State: ${p.status.status}`,
    `Since: ${p.status.last_change}`,
    `Last check: ${p.ping.check_timestamp} — ${p.ping.status}` +
      (p.ping.status_code === null ? '' : `, HTTP ${p.ping.status_code}`) +
      (p.ping.response_time === null ? '' : `, ${Math.round(p.ping.response_time)} ms`),
  ];
  if (p.ping.error_message) lines.push(`Error: ${p.ping.error_message}`);
  if (p.downtime_seconds !== undefined) lines.push(`Down for: ${formatDuration(p.downtime_seconds * 1000)}`);
  return `${lines.join('\n')}\n`;
}
