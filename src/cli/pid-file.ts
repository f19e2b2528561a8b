import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { CliError } from './config-file.js';
import { isAlive, processFacts } from './proc.js';

export const PID_FILE = '.backend.pid';

/** What `lifeline start` records about the process it started. */
export interface PidRecord {
  pid: number;
  startTicks: number;
  cmdline: string;
  url: string;
  port: number;
  host: string;
  workers: number | 'auto';
  entry: string;
  startedAt: string;
  /** The log file the backend writes (absolute); absent in files of older versions. */
  logFile?: string;
}

/** The file's text: the bare pid on the first line for systemd, the record as JSON on the second. */
export function formatPidFile(record: PidRecord): string {
  return `${record.pid}\n${JSON.stringify(record)}\n`;
}

/** lifeline's own files (PID, lock, config) are the owner's only: they steer which process gets signalled. */
export const PRIVATE_MODE = 0o600;

/** Writes through a temporary file and a rename, so a reader never sees half a file. */
export function writeAtomic(path: string, content: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: PRIVATE_MODE });
  renameSync(tmp, path);
}

export type PidState =
  { kind: 'none' } | { kind: 'running'; record: PidRecord } | { kind: 'stale'; record: PidRecord | undefined; why: string };

/**
 * Reads the PID file and checks that its pid is alive and is still the process lifeline
 * started (same start time and command line), so a reused pid is never signalled.
 */
export function readPidFile(path = PID_FILE): PidState {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'none' };
    // Another user's file (0600): not "not running", which would be a lie.
    throw new CliError(
      `cannot read ${path}: ${code ?? (error as Error).message}; the backend belongs to another user (run this as that user or as root)`,
    );
  }
  let record: PidRecord;
  try {
    // Line 1 is the bare pid (what systemd's PIDFile= reads), line 2 the JSON record.
    const [first, second] = text.split('\n');
    record = JSON.parse(second ?? '') as PidRecord;
    if (!Number.isInteger(record.pid) || record.pid <= 0 || String(record.pid) !== first?.trim()) throw new Error('no pid');
  } catch {
    return { kind: 'stale', record: undefined, why: `${path} is not a lifeline PID file` };
  }
  if (!isAlive(record.pid)) return { kind: 'stale', record, why: `pid ${record.pid} is not running` };
  const facts = processFacts(record.pid);
  if (facts && (facts.startTicks !== record.startTicks || facts.cmdline !== record.cmdline)) {
    return { kind: 'stale', record, why: `pid ${record.pid} now belongs to another process (${facts.cmdline.slice(0, 60)})` };
  }
  return { kind: 'running', record };
}

export function removePidFile(path = PID_FILE): void {
  rmSync(path, { force: true });
}
