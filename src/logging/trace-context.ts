/** The ids of a W3C Trace Context `traceparent` header. */
export interface TraceIds extends Record<string, unknown> {
  trace_id: string;
  span_id: string;
}

// version-traceid-parentid-flags in lowercase hex; a later version may append fields after a '-'.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(-.*)?$/;
const ZEROS = /^0+$/;

/**
 * The trace and parent span ids of a valid `traceparent`, else undefined: the header is
 * the client's, so anything that is not exactly the format (uppercase, version ff, all-zero
 * ids, extra fields on version 00, two headers joined) is ignored, never logged.
 */
export function parseTraceparent(header: string | string[] | undefined): TraceIds | undefined {
  if (typeof header !== 'string' || header.length > 512) return undefined;
  const match = TRACEPARENT.exec(header);
  if (!match) return undefined;
  const [, version, traceId, spanId, rest] = match as unknown as [string, string, string, string, string | undefined];
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (ZEROS.test(traceId) || ZEROS.test(spanId)) return undefined;
  return { trace_id: traceId, span_id: spanId };
}
