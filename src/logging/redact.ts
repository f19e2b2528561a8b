// user:password@ in a URL. The password may itself hold '@' or '/' (badly escaped
// DATABASE_URLs do), so it runs up to the last '@' before the query that is followed by
// a host and then the end of the authority (a password holding '?' or '#': up to the
// first such '@'). A path holding '@' may be over-redacted: never a leak.
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/]*:)(?:[^\s?#]*|\S*?)@(?=[^\s@/?#]*(?:[/?#\s"'<>]|$))/gi;
// The credential after an Authorization header's scheme (Bearer, Basic, Token, Digest…),
// or the whole value when there is no scheme.
const AUTHORIZATION = /\b((?:proxy-)?authorization["']?\s*[=:]\s*["']?)(?:([a-z][a-z0-9-]*)\s+)?("(?:[^"\\]|\\.)*"|[^\s"',;&]+)/gi;
const BEARER = /\b(bearer|basic)\s+(?!\*\*\*)[a-z0-9._~+/=-]+/gi;
// A cookie header holds several pairs: everything up to the end of the value goes.
const COOKIE = /\b((?:set-)?cookie["']?\s*[=:]\s*)("(?:[^"\\]|\\.)*"|[^\r\n"]+)/gi;
// key=value, key: value, "key":"value" where the key ends in a secret word:
// password, PGPASSWORD, DB_PASS, sslpassword, access_token, client_secret, api_key…
const SECRET_PAIR =
  /(?<![a-z0-9])([a-z0-9_.-]*(?:pass(?:word|wd|phrase)?|pwd|token|secret|api[_-]?key|(?:access|private|secret)[_-]?key|credentials?|signature))(["']?\s*[=:]\s*)("(?:[^"\\]|\\.)*"|'[^']*'|[^\s,;&"'}\]]+)/gi;
const SECRET_KEY = /pass|pwd|secret|token|cookie|authorization|api[_-]?key|(?:access|private)[_-]?key|credential|signature/i;

function hideQuoted(value: string): string {
  return value.startsWith('"') ? '"***"' : value.startsWith("'") ? "'***'" : '***';
}

/**
 * Removes credentials from free text: URL passwords, Authorization credentials, bearer
 * tokens, cookies, and the values of `password=…`, `"token":"…"`-like pairs. What is
 * not a secret stays as it was.
 */
export function redactText(text: string): string {
  return text
    .replace(URL_CREDENTIALS, '$1***@')
    .replace(AUTHORIZATION, (_all, key: string, scheme: string | undefined, value: string) =>
      scheme === undefined ? `${key}${hideQuoted(value)}` : `${key}${scheme} ${value === '***' ? value : '***'}`,
    )
    .replace(BEARER, '$1 ***')
    .replace(COOKIE, (_all, key: string, value: string) => `${key}${hideQuoted(value)}`)
    .replace(SECRET_PAIR, (_all, key: string, sep: string, value: string) => `${key}${sep}${hideQuoted(value)}`);
}

/**
 * A URL as the package logs it: the password and every query value replaced, so a
 * self-ping URL carrying a token in its userinfo or query never reaches a log line.
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    // Credentials first, as text: a password holding '@' or '/' would parse in part as the host.
    parsed = new URL(url.replace(URL_CREDENTIALS, '$1***@'));
  } catch {
    return redactText(url);
  }
  if (parsed.password) parsed.password = '***';
  const query = [...parsed.searchParams.keys()];
  if (query.length === 0) return parsed.href;
  parsed.search = '';
  // Not through searchParams: it would percent-encode the asterisks.
  return `${parsed.href.replace(/#.*$/, '')}?${query.map((key) => `${encodeURIComponent(key)}=***`).join('&')}${parsed.hash}`;
}

/** Redacts strings inside a log record's metadata, and hides values under secret-looking keys. */
export function redactValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  // Deeper than anything the package logs: dropped rather than passed on unchecked.
  if (depth > 4) return '[too deep]';
  // JSON would write an Error as {}: keep what it says, redacted.
  if (value instanceof Error) return redactText(`${value.name}: ${value.message}`);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) out[key] = redactField(key, v, depth + 1);
  return out;
}

/** One named field: the whole value when the name says secret (`password`, `token`, `apiKey`…), else what it holds. */
export function redactField(key: string, value: unknown, depth = 0): unknown {
  return SECRET_KEY.test(key) && value !== undefined && value !== null ? '[redacted]' : redactValue(value, depth);
}
