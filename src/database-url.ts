import { ConfigError } from './errors.js';

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * Which part of a URL's credentials holds an unencoded `@` or `/`, if any. Such a URL
 * parses with the rest of the password as the host or the path: the connection fails,
 * and the error (and any log of the URL) shows that part of the password.
 * The credentials run up to the last `@` before the query; an `@` in the path is taken
 * for one in the credentials (refused, never a leak).
 */
export function unencodedCredentials(url: string): 'user name' | 'password' | undefined {
  const scheme = SCHEME.exec(url);
  if (!scheme) return undefined;
  const rest = url.slice(scheme[0].length).split(/[?#]/, 1)[0]!;
  const at = rest.lastIndexOf('@');
  if (at < 0) return undefined;
  const userinfo = rest.slice(0, at);
  if (!/[@/]/.test(userinfo)) return undefined;
  const colon = userinfo.indexOf(':');
  return /[@/]/.test(colon < 0 ? userinfo : userinfo.slice(0, colon)) ? 'user name' : 'password';
}

/**
 * Refuses a database URL whose user name or password holds an unencoded `@` or `/`, in
 * one line that shows no part of it. `name` is what set it: `DATABASE_URL`, `--database`…
 *
 * @example
 * checkDatabaseUrl('postgres://app:p@ss/w@db:5432/app');
 * // ConfigError: DATABASE_URL: the password contains "@" or "/"; percent-encode it (%40, %2F)
 */
export function checkDatabaseUrl(url: string, name = 'DATABASE_URL'): string {
  const part = unencodedCredentials(url);
  if (part) throw new ConfigError(name, `${name}: the ${part} contains "@" or "/"; percent-encode it (%40, %2F)`);
  return url;
}
