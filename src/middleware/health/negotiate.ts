import type { IncomingMessage } from 'node:http';
import Negotiator from 'negotiator';

export const JSON_TYPE = 'application/json; charset=utf-8';
export const HEALTH_JSON_TYPE = 'application/health+json; charset=utf-8';
export type MediaType = 'application/json' | 'application/health+json';

const JSON_OR_HEALTH: readonly MediaType[] = ['application/json', 'application/health+json'];
// Offered with their charset: negotiator matches a range's parameters against the offer's,
// so `application/json; charset=utf-8` (what load balancers send) matches these and not bare types.
const OFFERED = JSON_OR_HEALTH.map((type) => `${type}; charset=utf-8`);

/** The message of the 406 answer when the client accepts none of our types. */
export const NOT_ACCEPTABLE = `Not Acceptable: this endpoint answers ${JSON_OR_HEALTH.join(' or ')}`;

/** True for the Accept headers probes send (none, any type, `application/json`): plain JSON without parsing. */
export function plainJsonAccepted(req: IncomingMessage): boolean {
  const accept = req.headers.accept;
  return accept === undefined || accept === '*/*' || accept === 'application/json';
}

/** The media type to answer with, or undefined when the client accepts none of ours. */
export function negotiate(req: IncomingMessage): MediaType | undefined {
  if (plainJsonAccepted(req)) return 'application/json';
  const offer = new Negotiator(req).mediaType(OFFERED);
  return offer === undefined ? undefined : JSON_OR_HEALTH[OFFERED.indexOf(offer)];
}
