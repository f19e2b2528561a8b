import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

export interface Assets {
  /** index.html, with its asset links pointing at `assets/<version>/`. */
  page: Asset;
  /** By path below `assets/<version>/`: the static folder's files and `vendor/uPlot.*`. */
  files: Map<string, Asset>;
  /** A hash of every file: a new version of any of them gives new URLs. */
  version: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Next to this file in src/ and in dist/ alike (the build copies it). */
export const STATIC_DIR = fileURLToPath(new URL('./static/', import.meta.url));

const UPLOT_FILES = ['uPlot.iife.min.js', 'uPlot.min.css'];

function asset(body: Buffer, file: string): Asset {
  const type = TYPES[extname(file)] ?? 'application/octet-stream';
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : entry.isFile() ? [join(dir, entry.name)] : [],
  );
}

/** Reads the dashboard's files once; throws one line naming what is missing when the package is incomplete. */
export function loadAssets(dir: string = STATIC_DIR): Assets {
  if (!existsSync(join(dir, 'index.html'))) {
    throw new Error(`monitor dashboard: ${join(dir, 'index.html')} is missing (the build copies src/monitor/dashboard/static)`);
  }
  const files = new Map<string, Asset>();
  for (const file of walk(dir)) {
    const name = relative(dir, file).split(sep).join('/');
    if (name !== 'index.html') files.set(name, asset(readFileSync(file), name));
  }
  const require = createRequire(import.meta.url);
  for (const name of UPLOT_FILES) {
    files.set(`vendor/${name}`, asset(readFileSync(require.resolve(`uplot/dist/${name}`)), name));
  }
  const hash = createHash('sha256');
  for (const [name, file] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) hash.update(name).update(file.etag);
  const template = readFileSync(join(dir, 'index.html'));
  hash.update(template);
  const version = hash.digest('hex').slice(0, 12);
  const page = asset(Buffer.from(template.toString('utf8').replaceAll('%ASSETS%', `assets/${version}`)), 'index.html');
  return { page, files, version };
}
