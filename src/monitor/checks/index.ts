import type { Server } from '../types.js';
import { dnsCheck } from './dns.js';
import { httpCheck } from './http.js';
import { tcpCheck } from './tcp.js';
import type { CheckContext, CheckOutcome } from './types.js';

export type { CheckContext, CheckOutcome } from './types.js';
export { describeError } from './errors.js';
export { targetUrl } from './http.js';

/**
 * Checks one server once. Never throws: every problem is a `failure` or `timeout`
 * outcome with a message. A success slower than `degraded_threshold_ms` is degraded.
 */
export async function checkServer(server: Server, context: CheckContext = {}): Promise<CheckOutcome> {
  let outcome: CheckOutcome;
  try {
    if (server.protocol === 'push') {
      // A push server is never reached: its heartbeats and deadlines decide (push/book.ts).
      return {
        status: 'failure',
        response_time: null,
        status_code: null,
        error_message: 'push servers are not checked; they send heartbeats',
      };
    }
    outcome =
      server.protocol === 'tcp'
        ? await tcpCheck(server, context)
        : server.protocol === 'dns'
          ? await dnsCheck(server, context)
          : await httpCheck(server, context);
  } catch (error) {
    outcome = { status: 'failure', response_time: null, status_code: null, error_message: `check failed: ${String(error)}` };
  }
  const limit = server.degraded_threshold_ms;
  if (outcome.status === 'success' && outcome.degraded === undefined && limit !== null && (outcome.response_time ?? 0) > limit) {
    outcome.degraded = `response time ${Math.round(outcome.response_time!)} ms over ${limit} ms`;
  }
  return outcome;
}
