import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import type { ServerFacts } from '../health/report.js';
import { readEnv } from '../options.js';

/** The version of the express the app resolves: from its main script's folder, then the working directory. */
function expressVersion(): string | null {
  const bases = [process.argv[1] ? dirname(process.argv[1]) : undefined, process.cwd()];
  for (const base of bases) {
    if (!base) continue;
    try {
      const version = (createRequire(join(base, 'noop.js'))('express/package.json') as { version?: unknown }).version;
      if (typeof version === 'string') return version;
    } catch {
      // not resolvable from here; try the next base
    }
  }
  return null;
}

let version: string | null | undefined;

/** Facts that do not change while a health() runs, read at its setup. */
export function serverFacts(): ServerFacts {
  version = version === undefined ? expressVersion() : version;
  return {
    node_version: process.versions.node,
    express_version: version,
    pid: process.pid,
    hostname: os.hostname(),
    environment: readEnv.nodeEnv(),
    debug_mode: !readEnv.production(),
  };
}
