import { createHmac } from 'node:crypto';

const PREFIX = 'whsec_';

/**
 * The signing key of a Standard Webhooks secret: the base64 part of `whsec_…`
 * decoded (a secret without the prefix is decoded whole, as the reference
 * libraries do).
 */
export function webhookKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64');
}

/**
 * The `webhook-signature` header of one attempt: `v1,` and the base64 HMAC-SHA256
 * of `{id}.{timestamp}.{body}` (https://www.standardwebhooks.com/).
 */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', webhookKey(secret)).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}
