import type { NotificationConfig, PingResult, Rollup, Server, ServerState, ServerStatus, UptimeFigures, User } from '../types.js';

/** A row as a driver returns it: SQLite gives 0/1 for booleans, pg gives strings for bigint. */
export type Row = Record<string, unknown>;

export const iso = (ms: number): string => new Date(ms).toISOString();
const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : num(v));
const str = (v: unknown): string => (v === null || v === undefined ? '' : String(v));
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

export function parseJson<T>(text: unknown, fallback: T): T {
  try {
    return typeof text === 'string' ? (JSON.parse(text) as T) : fallback;
  } catch {
    return fallback;
  }
}

export function toServer(r: Row): Server {
  return {
    id: num(r.id),
    name: str(r.name),
    protocol: r.protocol as Server['protocol'],
    host: str(r.host),
    port: num(r.port),
    path: str(r.path),
    check_interval: num(r.check_interval),
    timeout: num(r.timeout),
    expected_status: str(r.expected_status),
    keyword: strOrNull(r.keyword),
    keyword_mode: r.keyword_mode === 'absent' ? 'absent' : 'present',
    json_path: strOrNull(r.json_path),
    json_expected: strOrNull(r.json_expected),
    dns_record_type: strOrNull(r.dns_record_type) as Server['dns_record_type'],
    dns_expected: strOrNull(r.dns_expected),
    dns_server: strOrNull(r.dns_server),
    push_token: strOrNull(r.push_token),
    grace: r.grace === null || r.grace === undefined ? 60 : num(r.grace),
    schedule: strOrNull(r.schedule),
    timezone: strOrNull(r.timezone),
    tags: parseJson<string[]>(r.tags, []),
    enabled: Boolean(r.enabled),
    failure_threshold: num(r.failure_threshold),
    success_threshold: num(r.success_threshold),
    degraded_threshold_ms: numOrNull(r.degraded_threshold_ms),
    depends_on: parseJson<number[]>(r.depends_on, []),
    created_at: iso(num(r.created_at)),
    updated_at: iso(num(r.updated_at)),
  };
}

export function toPing(r: Row): PingResult {
  return {
    id: num(r.id),
    server: num(r.server_id),
    status: r.status as PingResult['status'],
    response_time: numOrNull(r.response_time),
    status_code: numOrNull(r.status_code),
    error_message: r.error_message === null || r.error_message === undefined ? null : String(r.error_message),
    check_timestamp: iso(num(r.check_timestamp)),
  };
}

const NO_UPTIME: UptimeFigures = { '24h': 100, '7d': 100, '30d': 100 };

export function toStatus(r: Row): ServerStatus {
  return {
    id: num(r.id),
    server: num(r.server_id),
    status: r.status as ServerState,
    uptime_percentage: num(r.uptime_percentage),
    uptime: parseJson<UptimeFigures>(r.uptime, NO_UPTIME),
    last_check: r.last_check === null || r.last_check === undefined ? null : iso(num(r.last_check)),
    consecutive_failures: num(r.consecutive_failures),
    consecutive_successes: num(r.consecutive_successes),
    message: str(r.message),
    last_change: iso(num(r.last_change)),
    cert_expires_at: r.cert_expires_at === null || r.cert_expires_at === undefined ? null : iso(num(r.cert_expires_at)),
  };
}

/** The columns of a status, for an upsert. */
export function statusRow(s: ServerStatus): Row {
  return {
    server_id: s.server,
    status: s.status,
    uptime_percentage: s.uptime_percentage,
    uptime: JSON.stringify(s.uptime),
    last_check: s.last_check === null ? null : Date.parse(s.last_check),
    consecutive_failures: s.consecutive_failures,
    consecutive_successes: s.consecutive_successes,
    message: s.message,
    last_change: Date.parse(s.last_change),
    cert_expires_at: s.cert_expires_at === null || s.cert_expires_at === undefined ? null : Date.parse(s.cert_expires_at),
  };
}

export function toNotificationConfig(r: Row): NotificationConfig {
  return {
    id: num(r.id),
    server: num(r.server_id),
    notification_type: r.notification_type as NotificationConfig['notification_type'],
    recipient: str(r.recipient),
    base_url: typeof r.base_url === 'string' ? r.base_url : null,
    has_secret: typeof r.secret === 'string' && r.secret !== '',
    enabled: Boolean(r.enabled),
    notify_on_failure: Boolean(r.notify_on_failure),
    notify_on_recovery: Boolean(r.notify_on_recovery),
  };
}

export function toUser(r: Row): User {
  return {
    id: num(r.id),
    username: str(r.username),
    is_admin: Boolean(r.is_admin),
    is_active: Boolean(r.is_active),
    created_at: iso(num(r.created_at)),
  };
}

export function toRollup(r: Row): Rollup {
  return {
    server: num(r.server_id),
    hour: iso(num(r.hour)),
    count: num(r.count),
    failures: num(r.failures),
    avg_response_ms: numOrNull(r.avg_response_ms),
    p95_response_ms: numOrNull(r.p95_response_ms),
  };
}

export { num };
