/** What a check may return: nothing (pass), or a status with a message and figures. */
export interface CheckReturn {
  status?: 'pass' | 'warn';
  message?: string;
  details?: Record<string, string | number | boolean>;
}

/** A health check: resolve to pass (or warn), throw or reject to fail. Honour `signal` to stop early. */
export type HealthCheckFn = (signal: AbortSignal) => Promise<CheckReturn | void> | CheckReturn | void;

export interface HealthCheck {
  check: HealthCheckFn;
  /** A failing critical check makes the app unhealthy (503); others make it degraded. Default true. */
  critical?: boolean;
  /** Milliseconds before the check counts as failed. Default: the health() `timeout`. */
  timeout?: number;
  /** Kind for the health+json format (`datastore`, `component`, `system`). */
  componentType?: string;
}

export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface CheckOutcome {
  status: CheckStatus;
  critical: boolean;
  duration_ms: number;
  checked_at: number;
  error?: string;
  message?: string;
  details?: Record<string, string | number | boolean>;
}
