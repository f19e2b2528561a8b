import { readFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What the health report calls the app: its package.json's name and version, unless told. */
export interface AppIdentity {
  service: string | null;
  version: string | null;
}

const OWN_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function nearestPackage(from: string): { dir: string; name?: unknown; version?: unknown } | undefined {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      return { dir, ...pkg };
    } catch {
      // no (readable) package.json here: look further up
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * The app's package.json: the one nearest its main script, or, when that script is
 * express-lifeline's own (`lifeline serve app.mjs` runs the app from the CLI) or a tool's
 * under node_modules, the one nearest the working directory.
 */
export function appIdentity(): AppIdentity {
  const candidates = [process.argv[1] ? dirname(resolve(process.argv[1])) : undefined, process.cwd()];
  for (const from of candidates) {
    if (!from) continue;
    const pkg = nearestPackage(from);
    // A tool's own package (vitest, tsx, nodemon: a bin under node_modules) is not the app's.
    if (!pkg || pkg.dir === OWN_ROOT || pkg.dir.split(sep).includes('node_modules')) continue;
    return {
      service: typeof pkg.name === 'string' && pkg.name !== '' ? pkg.name : null,
      version: typeof pkg.version === 'string' && pkg.version !== '' ? pkg.version : null,
    };
  }
  return { service: null, version: null };
}
