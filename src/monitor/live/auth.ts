import type { IncomingMessage } from 'node:http';
import { headerToken, queryToken } from '../auth/credentials.js';
import { isDatabaseUnavailable } from '../store/unavailable.js';
import type { Authenticate, LiveUser } from './types.js';

/** The token of `Authorization` (the API's own parser: `Bearer` or `JWT`), else `?token=`. */
export function requestToken(req: IncomingMessage, url: URL): string | undefined {
  return headerToken(req.headers.authorization) ?? queryToken(url);
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
