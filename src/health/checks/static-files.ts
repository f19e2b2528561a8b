import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { checkBoolean, checkOptionsObject, checkString } from '../../options.js';
import type { HealthCheck } from '../types.js';

export interface StaticFilesCheckOptions {
  /** A file that must be readable inside the directory. Default `index.html`; `false` checks the directory only. */
  index?: string | false;
  /** Default false: missing static files make the app degraded, not unhealthy. */
  critical?: boolean;
}

/**
 * Checks that a static directory exists and its index file is readable.
 *
 * @example
 * health({ checks: { static_files: checks.staticFiles('public') } })
 */
export function staticFilesCheck(dir: string, options: Readonly<StaticFilesCheckOptions> = {}): HealthCheck {
  checkString('checks.staticFiles', 'dir', dir);
  checkOptionsObject('checks.staticFiles', options, ['index', 'critical']);
  const index =
    options.index === undefined
      ? 'index.html'
      : options.index === false
        ? false
        : checkString('checks.staticFiles', 'index', options.index);
  const critical = options.critical === undefined ? false : checkBoolean('checks.staticFiles', 'critical', options.critical);
  const root = resolve(dir);
  const name = dir;
  return {
    critical,
    componentType: 'component',
    async check() {
      let info;
      try {
        info = await stat(root);
      } catch {
        throw new Error(`static directory ${name} is missing`);
      }
      if (!info.isDirectory()) throw new Error(`static path ${name} is not a directory`);
      if (index === false) return;
      try {
        await access(join(root, index), constants.R_OK);
      } catch {
        throw new Error(`${index} is missing or unreadable in ${name}`);
      }
    },
  };
}
