import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { ConfigError } from '../../errors.js';

/**
 * Link-local and cloud metadata addresses: a check or webhook aimed there reads the
 * host's cloud credentials for whoever can add a server. Loopback and private ranges
 * are not here: watching internal services is the monitor's point.
 * IPv4-mapped IPv6 forms (::ffff:169.254.169.254) match the IPv4 rules too.
 */
const LINK_LOCAL = new BlockList();
LINK_LOCAL.addSubnet('169.254.0.0', 16, 'ipv4');
LINK_LOCAL.addAddress('100.100.100.200', 'ipv4'); // Alibaba Cloud's metadata service
LINK_LOCAL.addSubnet('fe80::', 10, 'ipv6');
LINK_LOCAL.addAddress('fd00:ec2::254', 'ipv6'); // AWS's metadata service over IPv6

export const ALLOW_VARIABLE = 'MONITOR_ALLOW_LINK_LOCAL';
const HINT = `(set ${ALLOW_VARIABLE}=1 to allow)`;

/** True for an IP address in the refused ranges; false for anything else, host names included. */
export function isLinkLocal(address: string): boolean {
  const bare = address.replace(/^\[(.*)\]$/, '$1').split('%')[0]!;
  const version = isIP(bare);
  return version !== 0 && LINK_LOCAL.check(bare, version === 6 ? 'ipv6' : 'ipv4');
}

/** `MONITOR_ALLOW_LINK_LOCAL`: 1/true allows link-local targets; unset, 0/false refuses them; anything else is a ConfigError. */
export function linkLocalAllowed(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  const raw = env[ALLOW_VARIABLE];
  if (raw === undefined || raw.trim() === '') return false;
  const value = raw.trim().toLowerCase();
  if (value === '1' || value === 'true') return true;
  if (value === '0' || value === 'false') return false;
  throw new ConfigError(ALLOW_VARIABLE, `${ALLOW_VARIABLE} must be 1, 0, true or false, got "${raw}"`);
}

/** A target refused by the address policy; its message is the check's error. */
export class LinkLocalRefused extends Error {
  override readonly name = 'LinkLocalRefused';
  readonly code = 'ERR_LINK_LOCAL_REFUSED';
}

/**
 * The host as a connection would use it: what the URL parser makes of it, so that
 * `2852039166`, `0xa9fea9fe` and `[::ffff:169.254.169.254]` read as the addresses they are.
 */
function canonicalHost(host: string): string {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  try {
    return new URL(`http://${bare.includes(':') ? `[${bare}]` : bare}/`).hostname.replace(/^\[(.*)\]$/, '$1');
  } catch {
    return bare;
  }
}

/** Why a literal address is refused as a target (`redirect` words it for a Location), or undefined. */
export function literalRefusal(host: string, allow: boolean, { redirect = false } = {}): string | undefined {
  if (allow) return undefined;
  const address = canonicalHost(host);
  if (!isLinkLocal(address)) return undefined;
  return redirect
    ? `refused: redirect to ${address}, a link-local or cloud metadata address ${HINT}`
    : `refused: ${address} is a link-local or cloud metadata address ${HINT}`;
}

type LookupCallback = Parameters<LookupFunction>[2];

/**
 * A `lookup` for sockets that drops link-local answers, and fails with a clear
 * message when nothing else is left, so no connection to such an address is
 * attempted. `resolve` is the resolver asked (default `dns.lookup`).
 */
export function guardedLookup(allow: boolean, resolve: LookupFunction = dnsLookup as LookupFunction): LookupFunction {
  if (allow) return resolve;
  return (hostname, options, callback: LookupCallback) => {
    resolve(hostname, { ...options, all: true }, (error, answer, family) => {
      if (error) return callback(error, '');
      const all: LookupAddress[] = typeof answer === 'string' ? [{ address: answer, family: family ?? isIP(answer) }] : answer;
      const kept = all.filter((a) => !isLinkLocal(a.address));
      if (kept.length === 0 && all.length > 0) {
        const refused = new LinkLocalRefused(`refused: ${hostname} resolves to ${all[0]!.address}, a link-local address ${HINT}`);
        return callback(refused, '');
      }
      if (options.all) return callback(null, kept);
      const first = kept[0];
      if (first) return callback(null, first.address, first.family);
      return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '');
    });
  };
}

/** The address of `ip`, `ip:port`, a bare IPv6 address or `[v6]:port`. */
export function dnsServerHost(text: string): string {
  return (/^\[([^\]]+)\](?::\d+)?$/.exec(text) ?? /^([^:]+)(?::\d+)?$/.exec(text) ?? [text, text])[1]!;
}
