import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { DetailsMode } from '../../options.js';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * Who sees details: everyone (`always`), no one (`never`), or (`authorized`) callers
 * sending `Authorization: Bearer <token>`. The token is compared as SHA-256 digests with
 * timingSafeEqual, so neither its content nor its length leaks through timing.
 */
export function detailsGate(details: DetailsMode, token: string | undefined): (req: IncomingMessage) => boolean {
  if (details === 'always') return () => true;
  if (details === 'never' || token === undefined) return () => false;
  const tokenDigest = digest(token);
  return function showDetails(req) {
    const header = req.headers.authorization;
    // The scheme is case-insensitive (RFC 9110 §11.1): `bearer` and `BEARER` are Bearer too.
    if (header === undefined || !/^bearer /i.test(header)) return false;
    return timingSafeEqual(digest(header.slice(7).trim()), tokenDigest);
  };
}
