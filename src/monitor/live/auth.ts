import type { IncomingMessage } from 'node:http';
import { isDatabaseUnavailable } from '../store/unavailable.js';
import type { Authenticate, LiveUser } from './types.js';

/** The bearer token of `Authorization: Bearer …` (or `JWT …`/`Token …`, as DRF clients send). */
export function headerToken(req: IncomingMessage): string | undefined {
  const match = /^(?:Bearer|JWT|Token)\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return match?.[1];
}

/** `?token=` — browsers' EventSource and WebSocket cannot send headers. */
export function queryToken(url: URL): string | undefined {
  return url.searchParams.get('token') || undefined;
}

/**
 * Runs `authenticate`, turning a throw (a malformed token the verifier rejects loudly) into
 * "not authenticated" — except a database outage, which is rethrown: the caller answers 503,
 * so the client retries instead of dropping a good token.
 */
export async function tryAuthenticate(authenticate: Authenticate, token: string | undefined): Promise<LiveUser | undefined> {
  if (!token) return undefined;
  try {
    return (await authenticate(token)) ?? undefined;
  } catch (error) {
    if (isDatabaseUnavailable(error)) throw error;
    return undefined;
  }
}

export function checkAuthenticate(component: string, value: unknown): Authenticate {
  if (typeof value !== 'function') {
    throw new TypeError(
      `${component}: expected \`authenticate\` to be a function (token) => Promise<user | undefined>, got ${typeof value}`,
    );
  }
  return value as Authenticate;
}
