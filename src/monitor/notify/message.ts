import type { PingResult, Server, ServerStatus } from '../types.js';
import type { NotificationEvent } from '../store/outbox.js';

/** The webhook body, frozen in the outbox when the state changes: every attempt sends the same bytes. */
export interface NotificationPayload {
  type: NotificationEvent;
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
  /** `server.cert_expiring`: when the certificate expires (ISO 8601) and the whole days left (0: expired or today). */
  cert_expires_at?: string;
  days_left?: number;
}

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
export function textOf(p: NotificationPayload): string {
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
