import { SERVER_STATES, type FieldErrors, type ServerState } from '../types.js';
import type { LiveEvent } from './types.js';

/** What an SSE client asked for: `status=up,down`, `server_id=1,2`, `since=ISO`, `limit`. */
export interface StreamFilter {
  status?: ServerState[];
  serverIds?: number[];
  /** Epoch ms. */
  since?: number;
  limit: number;
}

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 1000;

function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Parses the query; a bad filter gives DRF-style field errors (answered 400 before the stream starts). */
export function parseStreamFilter(params: URLSearchParams): { ok: true; value: StreamFilter } | { ok: false; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const filter: StreamFilter = { limit: DEFAULT_LIMIT };
  const status = params.get('status');
  if (status !== null) {
    const states = list(status);
    const bad = states.filter((s) => !(SERVER_STATES as readonly string[]).includes(s));
    if (states.length === 0 || bad.length > 0)
      errors.status = [`Expected a comma-separated list of ${SERVER_STATES.join(', ')}; got "${status.slice(0, 100)}".`];
    else filter.status = states as ServerState[];
  }
  const ids = params.get('server_id');
  if (ids !== null) {
    const parts = list(ids);
    const numbers = parts.map((p) => (/^\d{1,15}$/.test(p) ? Number(p) : NaN));
    if (parts.length === 0 || numbers.some((n) => !Number.isSafeInteger(n) || n < 1))
      errors.server_id = [`Expected a comma-separated list of server ids; got "${ids.slice(0, 100)}".`];
    else filter.serverIds = numbers;
  }
  const since = params.get('since');
  if (since !== null) {
    // ISO 8601 with a date; Date.parse alone would take "1" or "March 7".
    const at = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(since) ? Date.parse(since) : NaN;
    if (Number.isNaN(at)) errors.since = [`Expected an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z; got "${since.slice(0, 100)}".`];
    else filter.since = at;
  }
  const limit = params.get('limit');
  if (limit !== null) {
    const n = /^\d{1,7}$/.test(limit) ? Number(limit) : NaN;
    if (!(n >= 1 && n <= MAX_LIMIT)) errors.limit = [`Expected an integer 1-${MAX_LIMIT}; got "${limit.slice(0, 100)}".`];
    else filter.limit = n;
  }
  return Object.keys(errors).length > 0 ? { ok: false, errors } : { ok: true, value: filter };
}

/** Whether a live event passes the client's filter (`since` and `limit` only shape the first events). */
export function matches(filter: StreamFilter, event: LiveEvent): boolean {
  // A server's creation, change or removal is no state: only the server filter applies to it.
  if (event.type === 'server') return !filter.serverIds || filter.serverIds.includes(event.server_id);
  if (filter.serverIds && !filter.serverIds.includes(event.status.server)) return false;
  if (filter.status && !filter.status.includes(event.status.status)) return false;
  return true;
}
