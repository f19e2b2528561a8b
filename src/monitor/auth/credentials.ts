// Where a request carries its access token, read the same way by the REST API, the SSE
// stream and the WebSocket: one parser, so a header one accepts the others accept too.

/**
 * The `Authorization` schemes that carry an access token, compared case-insensitively:
 * `Bearer` (RFC 6750, simplejwt's default `AUTH_HEADER_TYPES`) and `JWT` (the other
 * type simplejwt configurations use, and djangorestframework-jwt's prefix).
 */
export const BEARER_SCHEMES: readonly string[] = ['Bearer', 'JWT'];

/**
 * WebSocket subprotocols that announce the token as the next offered protocol
 * (`Sec-WebSocket-Protocol: bearer, <token>`): the schemes, and `access_token`.
 */
export const TOKEN_PROTOCOLS: readonly string[] = [...BEARER_SCHEMES, 'access_token'];

const SCHEMES = new Set(BEARER_SCHEMES.map((s) => s.toLowerCase()));
const MARKERS = new Set(TOKEN_PROTOCOLS.map((s) => s.toLowerCase()));

/** What an `Authorization` header holds, in simplejwt's terms. */
export type AuthorizationToken =
  | { token: string }
  /** No header, an empty one, or another scheme (`Basic …`): not credentials of this API. */
  | { missing: true }
  /** A bearer scheme without exactly one token after it. */
  | { malformed: true };

/** Reads `Authorization: Bearer <token>` (or `JWT <token>`). */
export function authorizationToken(header: string | undefined): AuthorizationToken {
  const parts = (header ?? '').trim().split(/\s+/);
  if (parts[0] === '' || !SCHEMES.has(parts[0]!.toLowerCase())) return { missing: true };
  return parts.length === 2 ? { token: parts[1]! } : { malformed: true };
}

/** The token of `Authorization`, or undefined (missing or malformed alike). */
export function headerToken(header: string | string[] | undefined): string | undefined {
  const parsed = authorizationToken(Array.isArray(header) ? header[0] : header);
  return 'token' in parsed ? parsed.token : undefined;
}

/** `?token=`: browsers' EventSource and WebSocket cannot send headers. */
export function queryToken(url: URL): string | undefined {
  return url.searchParams.get('token') || undefined;
}

/** The subprotocols a WebSocket handshake offers, in order. */
export function offeredProtocols(header: string | string[] | undefined): string[] {
  return (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
}

/**
 * The token among offered subprotocols, and the protocol to answer with. `bearer, <token>`
 * (or `jwt`, `access_token`) answers `bearer`, as offered. A token offered alone is still
 * read, but answered with no protocol: echoing it would put the token in a response
 * header. Browsers and `ws` then fail that handshake, so they must send the pair.
 */
export function protocolCredentials(offered: readonly string[]): { token?: string; answer?: string } {
  const marker = offered.findIndex((p) => MARKERS.has(p.toLowerCase()));
  if (marker >= 0) {
    const token = offered[marker + 1];
    return token === undefined ? { answer: offered[marker]! } : { token, answer: offered[marker]! };
  }
  return offered.length === 1 ? { token: offered[0]! } : {};
}
