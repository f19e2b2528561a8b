import type { Server } from '../types.js';
import { comparable, parseJsonPath, valueAt } from './json-path.js';

/** Why a body was not read to its end (see http.ts). */
export type BodyCut = 'bound' | 'timeout' | 'found' | undefined;

/** The bound of a body read for an assertion (keyword or JSON path). */
export const MAX_ASSERTED_BODY = 1024 * 1024;

const shown = (text: string, max = 100): string => JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);

function notSeen(server: Pick<Server, 'keyword' | 'timeout'>, cut: BodyCut): string {
  const quoted = `keyword "${server.keyword}" not found`;
  if (cut === 'bound') return `${quoted} in the first ${MAX_ASSERTED_BODY / 1024 / 1024} MiB of the response`;
  if (cut === 'timeout') return `${quoted} in what the response sent within ${server.timeout} s`;
  return `${quoted} in the response`;
}

/**
 * The keyword assertion: `present` fails when the keyword is not in the (bounded) body,
 * `absent` when it is. A body cut at its bound is judged on what was read.
 */
export function keywordFailure(
  server: Pick<Server, 'keyword' | 'keyword_mode' | 'timeout'>,
  found: boolean,
  cut: BodyCut,
): string | undefined {
  if (server.keyword === null) return undefined;
  if (server.keyword_mode === 'absent')
    return found ? `keyword "${server.keyword}" found in the response (keyword_mode absent)` : undefined;
  return found ? undefined : notSeen(server, cut);
}

/**
 * The JSON assertion: the body parses, `json_path` names a value, and it equals
 * `json_expected` (strings as they are, other values as JSON: `200`, `true`, `null`).
 * Without `json_expected`, the value must only exist.
 */
export function jsonFailure(
  server: Pick<Server, 'json_path' | 'json_expected' | 'timeout'>,
  body: Buffer,
  cut: BodyCut,
): string | undefined {
  const path = server.json_path;
  if (path === null) return undefined;
  const segments = parseJsonPath(path);
  const label = `json_path ${path}`;
  if (segments === null) return `${label}: not a supported path`;
  if (cut === 'bound') return `${label}: the response is larger than ${MAX_ASSERTED_BODY / 1024 / 1024} MiB`;
  if (cut === 'timeout') return `${label}: the response did not end within ${server.timeout} s`;
  let document: unknown;
  try {
    document = JSON.parse(body.toString('utf8'));
  } catch {
    return `${label}: the response is not JSON`;
  }
  const at = valueAt(document, segments);
  if (!at.found) return `${label}: not found in the response`;
  if (server.json_expected === null) return undefined;
  const actual = comparable(at.value);
  return actual === server.json_expected ? undefined : `${label}: expected ${shown(server.json_expected)}, got ${shown(actual)}`;
}
