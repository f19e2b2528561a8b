import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** How long a writer waits for another process's rotation (renames take microseconds). */
const WAIT_MS = 250;
/** A lock older than this was left by a writer that died mid-rotation, whatever its PID says (PIDs are reused). */
const STALE_MS = 10_000;

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * The processes sharing one log file (a cluster's primary and workers, two apps with
 * the same LOG_FILE) must not rotate it at the same time: two interleaved chains of
 * renames overwrite each other's files (`rename` replaces its target), which lost a
 * fifth of the lines with four writers. The lock is a file created with O_EXCL next to
 * the log, hidden so `backend.log*` never matches it, holding its owner's PID.
 */
export class RotationLock {
  readonly path: string;

  constructor(logFile: string) {
    this.path = join(dirname(logFile), `.${basename(logFile)}.rotating`);
  }

  /** Takes the lock if it is free or its owner is gone; false while another process holds it. */
  tryAcquire(): boolean {
    if (this.create()) return true;
    if (!this.isStale()) return false;
    rmSync(this.path, { force: true });
    return this.create();
  }

  release(): void {
    rmSync(this.path, { force: true });
  }

  /**
   * Blocks (synchronously: a log line is written in one call) until the holder's
   * rotation is over, at most WAIT_MS. True when the lock is free again.
   */
  waitForRelease(): boolean {
    const until = Date.now() + WAIT_MS;
    while (Date.now() < until) {
      if (statSync(this.path, { throwIfNoEntry: false }) === undefined) return true;
      Atomics.wait(pause, 0, 0, 1);
    }
    return false;
  }

  private create(): boolean {
    let fd: number;
    try {
      fd = openSync(this.path, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
    try {
      writeSync(fd, String(process.pid));
    } finally {
      closeSync(fd);
    }
    return true;
  }

  private isStale(): boolean {
    let owner: number;
    try {
      if (Date.now() - statSync(this.path).mtimeMs > STALE_MS) return true;
      owner = Number(readFileSync(this.path, 'utf8'));
    } catch {
      return false; // released between our attempts: the next line tries again
    }
    // An empty file is a lock whose owner has not written its PID yet.
    if (!Number.isInteger(owner) || owner <= 0) return false;
    try {
      process.kill(owner, 0);
      return false;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ESRCH';
    }
  }
}
