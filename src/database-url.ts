import { ConfigError } from './errors.js';

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * Which part of a URL's credentials holds an unencoded `@` or `/`, if any. Such a URL
 * parses with the rest of the password as the host or the path: the connection fails,
 * and the error (and any log of the URL) shows that part of the password.
 * The credentials run up to the last `@` that a host and a path follow (a `?`, `#` or
 * `/` before it belongs to them as well); an `@` in the path is taken for one in the
 * credentials (refused, never a leak).
 */
export function unencodedCredentials(url: string): 'user name' | 'password' | undefined {
  const scheme = SCHEME.exec(url);
  if (!scheme) return undefined;
  let rest = url.slice(scheme[0].length);
  // An `@` followed by a host and a path ends the credentials, whatever came before it;
  // otherwise (`?application_name=a@b`) the query is not the credentials' business.
  if (!rest.slice(rest.lastIndexOf('@') + 1).includes('/')) rest = rest.split(/[?#]/, 1)[0]!;
  const at = rest.lastIndexOf('@');
  if (at < 0) return undefined;
  const userinfo = rest.slice(0, at);
  // `/`, `?` and `#` end the authority for a URL parser: in the credentials they leak what follows.
  if (!/[@/?#]/.test(userinfo)) return undefined;
  const colon = userinfo.indexOf(':');
  return /[@/?#]/.test(colon < 0 ? userinfo : userinfo.slice(0, colon)) ? 'user name' : 'password';
}

/**
 * Refuses a database URL whose user name or password holds an unencoded `@`, `/`, `?` or `#`, in
 * one line that shows no part of it. `name` is what set it: `DATABASE_URL`, `--database`…
 *
 * @example
 * checkDatabaseUrl('postgres://app:p@ss/w@db:5432/app');
 * // ConfigError: DATABASE_URL: the password contains "@", "/", "?" or "#"; percent-encode it (%40, %2F, %3F, %23)
 */
export function checkDatabaseUrl(url: string, name = 'DATABASE_URL'): string {
  const part = unencodedCredentials(url);
  if (part) throw new ConfigError(name, `${name}: the ${part} contains "@", "/", "?" or "#"; percent-encode it (%40, %2F, %3F, %23)`);
  return url;
}
