import { closeSync, existsSync, fchmodSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import Transport from 'winston-transport';
import { failureLog, type FailureLog } from './failure-log.js';
import { RotationLock } from './rotation-lock.js';
import { readEnv } from '../options.js';

export interface RotatingFileOptions {
  filename: string;
  /** Rotate before a line would take the file past this many bytes. */
  maxSize: number;
  /** Rotated files kept: backend.log.1 (newest) … backend.log.N. */
  maxFiles: number;
  /** Rotated files older than this many days are removed at the next rotation. */
  retentionDays: number;
  /** Permissions of the log files: 0o600 (default, `LOG_FILE_MODE`) or 0o640 for a log reader in the group. */
  mode?: number;
}

/** `LOG_FILE_MODE` (0600 or 0640); 0600 when unset. Read by readEnv, which loadConfig() also checks at startup. */
export function logFileMode(env: NodeJS.ProcessEnv = process.env): number {
  return readEnv.logFileMode(env) ?? 0o600;
}

/**
 * Opens a log file for appending. A file this call creates gets exactly `mode` (whatever
 * the umask); an existing one is left as its owner made it: LOG_FILE may point at
 * /dev/null or at a file that is not ours to change.
 */
export function openLogFile(path: string, mode: number): number {
  let fd: number;
  try {
    fd = openSync(path, 'ax', mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return openSync(path, 'a');
  }
  fchmodSync(fd, mode);
  return fd;
}

const MESSAGE = Symbol.for('message');

/**
 * Creates the log's folder and its missing parents. Not `mkdirSync(…, { recursive: true })`:
 * where mkdir answers ENOENT although the parent exists (under /proc), Node's recursive
 * mkdir retries forever, and LOG_FILE=/proc/… hung the process at startup.
 */
function makeFolder(folder: string): void {
  const missing: string[] = [];
  for (let current = folder; !existsSync(current); current = dirname(current)) {
    missing.unshift(current);
    if (dirname(current) === current) break;
  }
  for (const path of missing) {
    try {
      mkdirSync(path);
    } catch (error) {
      // Another writer of the same log made it first.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

/**
 * Appends each line with one synchronous write and rotates by renaming
 * (backend.log → backend.log.1 → …) between lines, so no line is ever split
 * across files, none is lost at rotation, and nothing is still buffered when the
 * process exits. Several processes may share the file (a cluster): one rotates at a
 * time (RotationLock) and the others follow it to the new file. winston's own File
 * transport drops lines written in a burst across a rotation, which is why this one exists.
 */
export class RotatingFileTransport extends Transport {
  /** undefined after a failed reopen (EMFILE, folder removed): the next line tries again. */
  private fd: number | undefined;
  private size: number;
  // The file itself cannot carry news of its own failure: stderr does, once per kind.
  private readonly failures: FailureLog;
  private readonly rotationFailures: FailureLog;
  private readonly lock: RotationLock;
  private readonly mode: number;
  /** The inode of the file `fd` is open on: it never changes while open, so no fstat per line. */
  private ino: number;

  constructor(private readonly options: RotatingFileOptions & Transport.TransportStreamOptions) {
    super(options);
    this.mode = options.mode ?? logFileMode();
    makeFolder(dirname(options.filename));
    this.fd = openLogFile(options.filename, this.mode);
    const opened = fstatSync(this.fd);
    this.size = opened.size;
    this.ino = opened.ino;
    const say = (message: string) => process.stderr.write(`lifeline: ${options.filename}: ${message}\n`);
    this.failures = failureLog('writing the log', say, say);
    this.rotationFailures = failureLog('rotating the log', say, say);
    this.lock = new RotationLock(options.filename);
  }

  override log(info: Record<string | symbol, unknown>, callback: () => void): void {
    const line = Buffer.from(`${String(info[MESSAGE])}\n`);
    try {
      let fd = this.followOtherWriters();
      if (this.isFull(line.length)) fd = this.rotateOrFollow(line.length);
      writeSync(fd, line);
      this.size += line.length;
      this.failures.succeeded();
    } catch (error) {
      this.failures.failed(error);
    }
    callback();
  }

  private isFull(adding: number): boolean {
    return this.size > 0 && this.size + adding > this.options.maxSize;
  }

  /**
   * Rotates under the lock, after checking again that no other writer rotated since our
   * look at the file; or, while another writer holds the lock, waits for its rotation and
   * writes into the file it created. A failed rotation is reported but never costs the
   * line: it goes into the current file, over the size limit.
   */
  private rotateOrFollow(adding: number): number {
    try {
      if (!this.lock.tryAcquire()) {
        this.lock.waitForRelease();
        return this.followOtherWriters();
      }
      try {
        const fd = this.followOtherWriters();
        if (!this.isFull(adding)) return fd;
        this.rotate();
      } finally {
        this.lock.release();
      }
      this.rotationFailures.succeeded();
    } catch (error) {
      this.rotationFailures.failed(error);
    }
    return this.followOtherWriters();
  }

  private reopen(): number {
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch {
        // already closed
      }
    }
    // Cleared first: a failed open must not leave a closed number the OS may hand to someone else.
    this.fd = undefined;
    makeFolder(dirname(this.options.filename));
    const fd = openLogFile(this.options.filename, this.mode);
    this.fd = fd;
    const opened = fstatSync(fd);
    this.size = opened.size;
    this.ino = opened.ino;
    return fd;
  }

  /**
   * Cluster workers and their primary append to one file. When another process has
   * rotated it, reopen the new file instead of writing on into backend.log.1; and count
   * everyone's lines, not only ours, toward the size limit. (A line written between our
   * look and another process's rename still ends backend.log.1: in order, never lost.)
   */
  private followOtherWriters(): number {
    if (this.fd === undefined) return this.reopen();
    const onDisk = statSync(this.options.filename, { throwIfNoEntry: false });
    if (onDisk === undefined || onDisk.ino !== this.ino) return this.reopen();
    this.size = onDisk.size;
    return this.fd;
  }

  private rotate(): void {
    const { filename, maxFiles } = this.options;
    // Closed before the renames (Windows cannot rename an open file); reopened at the end,
    // or by the next line when a rename failed.
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    rmSync(`${filename}.${maxFiles}`, { force: true });
    for (let n = maxFiles - 1; n >= 1; n--) {
      try {
        renameSync(`${filename}.${n}`, `${filename}.${n + 1}`);
      } catch {
        // that generation does not exist yet
      }
    }
    renameSync(filename, `${filename}.1`);
    this.reopen();
    const oldest = Date.now() - this.options.retentionDays * 86_400_000;
    for (let n = 2; n <= maxFiles; n++) {
      try {
        if (statSync(`${filename}.${n}`).mtimeMs < oldest) rmSync(`${filename}.${n}`, { force: true });
      } catch {
        // that generation does not exist
      }
    }
  }

  override close(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    this.fd = undefined;
  }
}
