/**
 * Content negotiation for the health endpoints. Media-type parameters other than
 * `q` (`charset=utf-8`, `version=1`) do not stop a range from matching: load
 * balancers send `Accept: application/json; charset=utf-8`, and refusing them with
 * 406 fails their probes. Only `q=0`, or ranges that match none of the offered
 * types, make a type unacceptable.
 */

interface MediaRange {
  type: string;
  subtype: string;
  q: number;
  index: number;
}

function parseAccept(header: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  const parts = header.split(',');
  for (let index = 0; index < parts.length; index++) {
    const [media = '', ...params] = parts[index]!.split(';');
    const slash = media.indexOf('/');
    const type = media.slice(0, slash).trim().toLowerCase();
    const subtype = media
      .slice(slash + 1)
      .trim()
      .toLowerCase();
    if (slash === -1 || type === '' || subtype === '') continue;
    let q = 1;
    for (const param of params) {
      const eq = param.indexOf('=');
      if (eq === -1 || param.slice(0, eq).trim().toLowerCase() !== 'q') continue;
      const value = param.slice(eq + 1).trim();
      // RFC 9110 qvalue: 0 to 1, at most three decimals; anything else drops the range.
      q = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(value) ? Number(value) : -1;
    }
    if (q >= 0) ranges.push({ type, subtype, q, index });
  }
  return ranges;
}

/**
 * The offered type the client prefers, or undefined when it accepts none of them.
 * The most specific range naming a type sets its quality (`application/json` over
 * `application/*` over `*\/*`); ties go to the more specific match, then to the
 * range the client listed first, then to the first offered type. An Accept with no
 * parsable range is treated as absent.
 */
export function preferredMediaType(accept: string | undefined, offered: readonly string[]): string | undefined {
  if (accept === undefined) return offered[0];
  const ranges = parseAccept(accept);
  if (ranges.length === 0) return offered[0];
  let best: { type: string; q: number; specificity: number; index: number } | undefined;
  for (const candidate of offered) {
    const slash = candidate.indexOf('/');
    const type = candidate.slice(0, slash);
    const subtype = candidate.slice(slash + 1);
    let match: { q: number; specificity: number; index: number } | undefined;
    for (const range of ranges) {
      let specificity: number;
      if (range.type === type && range.subtype === subtype) specificity = 2;
      else if (range.type === type && range.subtype === '*') specificity = 1;
      else if (range.type === '*' && range.subtype === '*') specificity = 0;
      else continue;
      if (match === undefined || specificity > match.specificity || (specificity === match.specificity && range.q > match.q)) {
        match = { q: range.q, specificity, index: range.index };
      }
    }
    if (match === undefined || match.q === 0) continue;
    if (
      best === undefined ||
      match.q > best.q ||
      (match.q === best.q && (match.specificity > best.specificity || (match.specificity === best.specificity && match.index < best.index)))
    ) {
      best = { type: candidate, ...match };
    }
  }
  return best?.type;
}
