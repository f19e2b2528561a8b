import type { CheckOutcome } from '../checks/types.js';

/** A heartbeat as `/api/push/:token/…` received it. */
export interface Heartbeat {
  /** `start`: a run began (its duration becomes the response time of the heartbeat that ends it). */
  kind: 'start' | 'end';
  status: 'up' | 'down';
  /** The sender's message (`?msg=` or the body), bounded. */
  message?: string | null;
  /** Response time the sender measured (`?ping=`), ms. */
  responseTime?: number | null;
  /** The exit code of the run, when the sender gave one (`/api/push/:token/:exit_code`). */
  exitCode?: number;
}

/** Stored messages are cut here: a heartbeat is not a log shipper. */
export const MAX_MESSAGE = 2000;

/**
 * The result a heartbeat records: up or down, the sender's message (on a success too: it
 * is what a job said), and its response time: the one sent, else the time since its run's
 * start, else none.
 */
export function heartbeatOutcome(beat: Heartbeat, startedAt: number | undefined, now: number): CheckOutcome {
  const response_time = beat.responseTime ?? (startedAt !== undefined ? now - startedAt : null);
  const message = beat.message ? beat.message.slice(0, MAX_MESSAGE) : null;
  if (beat.status === 'up') return { status: 'success', response_time, status_code: null, error_message: message };
  const reason = beat.exitCode !== undefined ? `exit code ${beat.exitCode}` : 'reported down';
  return { status: 'failure', response_time, status_code: null, error_message: message ? `${reason}: ${message}` : reason };
}
