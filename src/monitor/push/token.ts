import { randomBytes } from 'node:crypto';

/** A push token: 144 random bits, URL-safe (24 characters). */
export function newPushToken(): string {
  return randomBytes(18).toString('base64url');
}

/** What a push token looks like, so that anything else is refused before a lookup. */
export const PUSH_TOKEN = /^[A-Za-z0-9_-]{16,64}$/;
