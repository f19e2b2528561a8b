/** The public shapes of the monitor, as the REST API returns them (snake_case, ISO 8601 UTC times). */

export const PROTOCOLS = ['http', 'https', 'tcp', 'push', 'dns'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** `unknown`: the monitor could not check (it lost the network itself); never counted as a failure. */
export const PING_STATUSES = ['success', 'failure', 'timeout', 'unknown'] as const;
export type PingStatus = (typeof PING_STATUSES)[number];

/**
 * `maintenance` is shown while a maintenance window covers the server; it is never
 * stored: the up/down state machine goes on underneath, and shows when the window ends.
 */
export const SERVER_STATES = ['up', 'down', 'degraded', 'pending', 'maintenance'] as const;
export type ServerState = (typeof SERVER_STATES)[number];

export const KEYWORD_MODES = ['present', 'absent'] as const;
export type KeywordMode = (typeof KEYWORD_MODES)[number];

export const DNS_RECORD_TYPES = ['A', 'AAAA', 'CNAME', 'MX', 'TXT'] as const;
export type DnsRecordType = (typeof DNS_RECORD_TYPES)[number];

export const NOTIFICATION_TYPES = [
  'email',
  'webhook',
  'sms',
  'slack',
  'discord',
  'teams',
  'telegram',
  'ntfy',
  'pagerduty',
  'gotify',
] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/** A watched target. */
export interface Server {
  id: number;
  name: string;
  protocol: Protocol;
  host: string;
  port: number;
  /** For http/https; `/` by default. */
  path: string;
  /** Seconds between two check starts, 1–86400. */
  check_interval: number;
  /** Seconds a check may take; default min(10, 0.8 × interval). */
  timeout: number;
  /** Accepted status codes, e.g. `200-399` or `200,204,301-302`. */
  expected_status: string;
  keyword: string | null;
  /** `present` (default): the body must contain `keyword`; `absent`: it must not. */
  keyword_mode: KeywordMode;
  /** A path into a JSON answer (`$.status`, `$.checks[0].state`); with `json_expected`, the value it must equal. */
  json_path: string | null;
  json_expected: string | null;
  /** dns: the record type asked for `host`, the value that must be among the answers, and the resolver (ip[:port]; default the system's). */
  dns_record_type: DnsRecordType | null;
  dns_expected: string | null;
  dns_server: string | null;
  /**
   * push: the secret of `/api/push/:token/`; only admins read it (null for others and
   * for other protocols). Rotated by `POST /api/servers/:id/rotate-push-token/`.
   */
  push_token: string | null;
  /** push: seconds a heartbeat may be late beyond `check_interval` or its `schedule`. Default 60. */
  grace: number;
  /** push: a cron expression for the expected runs, replacing `check_interval`; in `timezone` (IANA, default UTC). */
  schedule: string | null;
  timezone: string | null;
  tags: string[];
  enabled: boolean;
  failure_threshold: number;
  success_threshold: number;
  degraded_threshold_ms: number | null;
  /**
   * The servers this one needs (ids): while one of them is down, this server's
   * notifications are held back (its checks and records go on).
   */
  depends_on: number[];
  created_at: string;
  updated_at: string;
}

/** The writable fields of a server, as validated by `validateServer` (`depends_on`: none when left out; the push token is made by the store). */
export type ServerInput = Omit<Server, 'id' | 'created_at' | 'updated_at' | 'depends_on' | 'push_token'> & { depends_on?: number[] };

/** The outcome of one check. */
export interface PingResult {
  id: number;
  server: number;
  status: PingStatus;
  /** Milliseconds, null when nothing was measured. */
  response_time: number | null;
  /** Null for tcp and when no answer came. */
  status_code: number | null;
  error_message: string | null;
  /** When the check started, ISO 8601 UTC. */
  check_timestamp: string;
}

export interface UptimeFigures {
  '24h': number;
  '7d': number;
  '30d': number;
}

/** The current state of a server. */
export interface ServerStatus {
  id: number;
  server: number;
  status: ServerState;
  /** Time-weighted uptime over the last 24 h, percent. */
  uptime_percentage: number;
  uptime: UptimeFigures;
  last_check: string | null;
  consecutive_failures: number;
  consecutive_successes: number;
  message: string;
  last_change: string;
  /** https: when the certificate seen by the last check expires (ISO 8601), null before one was seen. */
  cert_expires_at: string | null;
}

/**
 * Where and when to tell people about a server. `secret` is write-only and never read back:
 * the webhook's signing key, the Telegram bot token, the ntfy access token, the PagerDuty
 * routing key or the Gotify application token.
 */
export interface NotificationConfig {
  id: number;
  server: number;
  notification_type: NotificationType;
  /**
   * An email address (email), an E.164 number (sms), the URL posted to (webhook, slack,
   * discord, teams), the Gotify server's URL (gotify), the chat id (telegram), the topic
   * (ntfy); empty for pagerduty (the routing key is the secret).
   */
  recipient: string;
  /** The API's base URL for telegram, ntfy and pagerduty; null: the service's public one. */
  base_url: string | null;
  /** A secret is stored (it is never returned). */
  has_secret: boolean;
  enabled: boolean;
  notify_on_failure: boolean;
  notify_on_recovery: boolean;
}

export type NotificationConfigInput = Omit<NotificationConfig, 'id' | 'has_secret' | 'base_url'> & {
  base_url?: string | null;
  secret?: string | null;
};

export interface User {
  id: number;
  username: string;
  is_admin: boolean;
  is_active: boolean;
  created_at: string;
}

/** One hour of a server's results. */
export interface Rollup {
  server: number;
  hour: string;
  count: number;
  failures: number;
  avg_response_ms: number | null;
  p95_response_ms: number | null;
}

/** Django REST framework's error shape: each bad field with its messages. */
export type FieldErrors = Record<string, string[]>;

export type Validated<T> = { ok: true; value: T } | { ok: false; errors: FieldErrors };

/** A page of a list, before the REST layer adds `next`/`previous` links. */
export interface Page<T> {
  count: number;
  results: T[];
}
