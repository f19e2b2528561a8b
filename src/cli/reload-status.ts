import { readFileSync, rmSync } from 'node:fs';
import type { ReloadReport } from '../cluster/primary.js';
import { writeAtomic } from './pid-file.js';

/** Next to .backend.pid: the primary's last reload, which `lifeline reload` waits on. */
export const RELOAD_STATUS_FILE = '.backend.reload.json';

/** The file's content: the report, and the primary it came from (ids restart with each primary). */
export interface ReloadStatus extends ReloadReport {
  pid: number;
}

/** Written through a rename with mode 0600, so `lifeline reload` never reads half a file. */
export function writeReloadStatus(path: string, report: ReloadReport): void {
  writeAtomic(path, `${JSON.stringify({ pid: process.pid, ...report })}\n`);
}

export function readReloadStatus(path = RELOAD_STATUS_FILE): ReloadStatus | undefined {
  try {
    const status = JSON.parse(readFileSync(path, 'utf8')) as ReloadStatus;
    return Number.isInteger(status.pid) && Number.isInteger(status.id) ? status : undefined;
  } catch {
    return undefined;
  }
}

export function removeReloadStatus(path = RELOAD_STATUS_FILE): void {
  rmSync(path, { force: true });
}
