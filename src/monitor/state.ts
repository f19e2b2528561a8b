import type { CheckOutcome } from './checks/types.js';
import type { Server, ServerState } from './types.js';

export interface Counters {
  status: ServerState;
  consecutive_failures: number;
  consecutive_successes: number;
}

export interface NextState extends Counters {
  message: string;
}

/**
 * The state machine of a server after one check:
 * - a failure counts toward `failure_threshold`; reaching it → `down`, before it →
 *   `pending` (so one lost packet never pages anyone), and a down server stays down;
 * - a success counts toward `success_threshold`; reaching it (from `pending` or
 *   `down`) → `up`, or `degraded` when the success was degraded (slow, or the health
 *   endpoint said so); an up server moves between `up` and `degraded` at once.
 */
export function nextState(
  current: Counters,
  outcome: Pick<CheckOutcome, 'status' | 'error_message' | 'degraded'>,
  server: Pick<Server, 'failure_threshold' | 'success_threshold'>,
): NextState {
  // The monitor could not check (it lost the network): nothing is known, nothing moves.
  if (outcome.status === 'unknown') {
    const { status, consecutive_failures, consecutive_successes } = current;
    return { status, consecutive_failures, consecutive_successes, message: outcome.error_message ?? 'unknown' };
  }
  if (outcome.status !== 'success') {
    const failures = current.consecutive_failures + 1;
    const status: ServerState = current.status === 'down' || failures >= server.failure_threshold ? 'down' : 'pending';
    return { status, consecutive_failures: failures, consecutive_successes: 0, message: outcome.error_message ?? outcome.status };
  }
  const successes = current.consecutive_successes + 1;
  const healthy: ServerState = outcome.degraded !== undefined ? 'degraded' : 'up';
  const serving = current.status === 'up' || current.status === 'degraded';
  const status = serving || successes >= server.success_threshold ? healthy : current.status;
  return { status, consecutive_failures: 0, consecutive_successes: successes, message: outcome.degraded ?? 'OK' };
}
