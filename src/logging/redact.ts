const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]+@/gi;
const BEARER = /\b(bearer|basic)\s+[a-z0-9._~+/=-]+/gi;
const SECRET_PAIR = /\b(password|passwd|pwd|token|secret|api[_-]?key|cookie|authorization)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;&]+)/gi;
const SECRET_KEY = /pass|secret|token|cookie|authorization|api[_-]?key/i;

/** Removes credentials from free text: URL passwords, bearer tokens, `password=…` pairs. */
export function redactText(text: string): string {
  return text.replace(URL_CREDENTIALS, '$1***@').replace(BEARER, '$1 ***').replace(SECRET_PAIR, '$1$2***');
}

/** Redacts strings inside a log record's metadata, and hides values under secret-looking keys. */
export function redactValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object' || depth > 4) return value;
  if (value instanceof Error) return value;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) && v !== undefined && v !== null ? '[redacted]' : redactValue(v, depth + 1);
  }
  return out;
}
