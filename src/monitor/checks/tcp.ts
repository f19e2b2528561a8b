import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Server } from '../types.js';
import { guardedLookup, linkLocalAllowed, literalRefusal } from './address.js';
import { describeError } from './errors.js';
import type { CheckContext, CheckOutcome } from './types.js';

/**
 * Opens a TCP connection within the server's timeout, then closes it. Link-local and
 * metadata addresses are refused, literal or looked up, unless allowed.
 */
export function tcpCheck(server: Server, context: CheckContext = {}): Promise<CheckOutcome> {
  const allow = context.allowLinkLocal ?? linkLocalAllowed();
  const refused = literalRefusal(server.host, allow);
  if (refused) return Promise.resolve({ status: 'failure', response_time: null, status_code: null, error_message: refused });
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = net.connect({ host: server.host, port: server.port, lookup: guardedLookup(allow, context.lookup) });
    const done = (outcome: CheckOutcome) => {
      clearTimeout(timer);
      context.signal?.removeEventListener('abort', onClose);
      socket.destroy();
      resolve(outcome);
    };
    const onClose = () => done({ status: 'failure', response_time: null, status_code: null, error_message: 'check cancelled' });
    const timer = setTimeout(
      () => done({ status: 'timeout', response_time: null, status_code: null, error_message: `no connection within ${server.timeout} s` }),
      Math.max(1, Math.round(server.timeout * 1000)),
    );
    context.signal?.addEventListener('abort', onClose, { once: true });
    socket.once('connect', () =>
      done({
        status: 'success',
        response_time: Math.round((performance.now() - started) * 1000) / 1000,
        status_code: null,
        error_message: null,
      }),
    );
    socket.once('error', (error) =>
      done({ status: 'failure', response_time: null, status_code: null, error_message: describeError(error) }),
    );
  });
}
