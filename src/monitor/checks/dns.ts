import { Resolver } from 'node:dns/promises';
import { performance } from 'node:perf_hooks';
import type { Server } from '../types.js';
import { dnsServerHost, linkLocalAllowed, literalRefusal } from './address.js';
import type { CheckContext, CheckOutcome } from './types.js';

/** Names compare without case and without a trailing dot. */
const name = (text: string): string => text.toLowerCase().replace(/\.$/, '');

/** The answers as text: addresses, names, `priority exchange` for MX, TXT's strings joined. */
async function answersOf(resolver: Resolver, host: string, type: NonNullable<Server['dns_record_type']>): Promise<string[]> {
  switch (type) {
    case 'A':
      return resolver.resolve4(host);
    case 'AAAA':
      return resolver.resolve6(host);
    case 'CNAME':
      return resolver.resolveCname(host);
    case 'MX':
      return (await resolver.resolveMx(host)).map((mx) => `${mx.priority} ${mx.exchange}`);
    case 'TXT':
      return (await resolver.resolveTxt(host)).map((chunks) => chunks.join(''));
  }
}

/** Whether an expected value is among the answers (an MX may be given by its exchange alone). */
function matches(expected: string, answers: readonly string[], type: string): boolean {
  if (type === 'TXT') return answers.includes(expected);
  const wanted = name(expected);
  return answers.some((a) => name(a) === wanted || (type === 'MX' && name(a.split(' ')[1] ?? '') === wanted));
}

/**
 * Asks for `host`'s records of `dns_record_type` (default A), from `dns_server` (ip[:port])
 * or the system's resolvers, within the timeout: no answer is a failure, and with
 * `dns_expected` that value must be among the answers.
 */
export async function dnsCheck(server: Server, context: CheckContext = {}): Promise<CheckOutcome> {
  const type = server.dns_record_type ?? 'A';
  const label = `dns ${type} ${server.host}`;
  // A resolver on a link-local or metadata address is refused here too (a server stored before the rule).
  const refused = server.dns_server
    ? literalRefusal(dnsServerHost(server.dns_server), context.allowLinkLocal ?? linkLocalAllowed())
    : undefined;
  if (refused) return { status: 'failure', response_time: null, status_code: null, error_message: `${label}: ${refused}` };
  const resolver = new Resolver({ timeout: Math.max(1, Math.round(server.timeout * 1000)), tries: 1 });
  if (server.dns_server) resolver.setServers([server.dns_server]);
  const cancel = () => resolver.cancel();
  context.signal?.addEventListener('abort', cancel, { once: true });
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 1000) / 1000;
  try {
    const answers = await answersOf(resolver, server.host, type);
    const response_time = elapsed();
    if (answers.length === 0) return { status: 'failure', response_time, status_code: null, error_message: `${label}: no records` };
    if (server.dns_expected !== null && !matches(server.dns_expected, answers, type)) {
      const got = answers
        .slice(0, 10)
        .map((a) => JSON.stringify(a))
        .join(', ');
      return {
        status: 'failure',
        response_time,
        status_code: null,
        error_message: `dns_expected: expected "${server.dns_expected}" among the ${type} answers, got ${got}`,
      };
    }
    return { status: 'success', response_time, status_code: null, error_message: null };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (context.signal?.aborted) return { status: 'failure', response_time: null, status_code: null, error_message: 'check cancelled' };
    if (code === 'ETIMEOUT')
      return { status: 'timeout', response_time: null, status_code: null, error_message: `${label}: no answer within ${server.timeout} s` };
    const why = code === 'ENOTFOUND' ? 'no such name (NXDOMAIN)' : code === 'ENODATA' ? 'no records' : (code ?? String(error));
    return { status: 'failure', response_time: elapsed(), status_code: null, error_message: `${label}: ${why}` };
  } finally {
    context.signal?.removeEventListener('abort', cancel);
  }
}
