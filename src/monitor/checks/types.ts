import type { LookupFunction } from 'node:net';
import type { PingStatus } from '../types.js';

/** What one check found. */
export interface CheckOutcome {
  status: PingStatus;
  /** Milliseconds from the start of the check to its answer, null when nothing answered. */
  response_time: number | null;
  status_code: number | null;
  error_message: string | null;
  /** Set on a success that counts as degraded: the reason. */
  degraded?: string;
  /** https: when the certificate this check's own handshake saw expires (ISO 8601). */
  cert_expires_at?: string;
}

export interface CheckContext {
  /** Stops the check early (the monitor is closing). */
  signal?: AbortSignal;
  /** Extra trusted certificate authorities (PEM), added to the system's roots. */
  ca?: ReadonlyArray<string>;
  /** Allow link-local and cloud metadata targets. Default `MONITOR_ALLOW_LINK_LOCAL` (unset: refused). */
  allowLinkLocal?: boolean;
  /** Resolves host names (default `dns.lookup`); link-local answers are refused whatever resolves them. */
  lookup?: LookupFunction;
}
