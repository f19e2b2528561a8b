/** The public shapes of the monitor, as the REST API returns them (snake_case, ISO 8601 UTC times). */

export const PROTOCOLS = ['http', 'https', 'tcp'] as const;
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

/** The writable fields of a server, as validated by `validateServer` (`depends_on`: none when left out). */
export type ServerInput = Omit<Server, 'id' | 'created_at' | 'updated_at' | 'depends_on'> & { depends_on?: number[] };

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
