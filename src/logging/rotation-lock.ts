import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';

/** How long a writer waits for another process's rotation (renames take microseconds). */
const WAIT_MS = 250;
/** A lock older than this was left by a writer that died mid-rotation, whatever its PID says (PIDs are reused). */
const STALE_MS = 10_000;

const pause = new Int32Array(new SharedArrayBuffer(4));

interface Held {
  content: string;
  mtimeMs: number;
}

/**
 * The processes sharing one log file (a cluster's primary and workers, two apps with
 * the same LOG_FILE) must not rotate it at the same time: two interleaved chains of
 * renames overwrite each other's files (`rename` replaces its target), which lost a
 * fifth of the lines with four writers. The lock is a file created with O_EXCL next to
 * the log, hidden so `backend.log*` never matches it, holding its owner's host, PID and
 * a random token (so an owner only ever removes its own lock).
 */
export class RotationLock {
  readonly path: string;
  /** Taken while a stale lock is replaced, so two writers never both replace it and both rotate. */
  private readonly breakPath: string;
  private readonly host = hostname();
  private readonly token = `${this.host} ${process.pid} ${randomBytes(6).toString('hex')}`;
  /** A holder already waited for in vain (stopped, hung): later lines do not wait for it again. */
  private gaveUpOn: string | undefined;

  constructor(logFile: string) {
    this.path = join(dirname(logFile), `.${basename(logFile)}.rotating`);
    this.breakPath = `${this.path}.break`;
  }

  /** Takes the lock if it is free or its owner is gone; false while another process holds it. */
  tryAcquire(): boolean {
    if (this.create()) return true;
    const held = this.read();
    if (held === undefined) return this.create();
    return this.isStale(held) && this.replaceStale(held);
  }

  release(): void {
    // Only our own: had we been presumed dead (stopped for longer than STALE_MS), the lock is now our successor's.
    if (this.read()?.content === this.token) rmSync(this.path, { force: true });
  }

  /**
   * Blocks (synchronously: a log line is written in one call) until the holder's
   * rotation is over, i.e. its lock is gone or another's, at most WAIT_MS; and only once per holder.
   */
  waitForRelease(): void {
    const held = this.read();
    if (held === undefined || held.content === this.gaveUpOn) return;
    const until = Date.now() + WAIT_MS;
    while (Date.now() < until) {
      Atomics.wait(pause, 0, 0, 1);
      if (this.read()?.content !== held.content) return;
    }
    this.gaveUpOn = held.content;
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
      writeSync(fd, this.token);
    } catch (error) {
      // A full disk can create an empty file but not fill it: an empty lock would stall everyone for STALE_MS.
      rmSync(this.path, { force: true });
      throw error;
    } finally {
      closeSync(fd);
    }
    return true;
  }

  private read(): Held | undefined {
    try {
      const { mtimeMs } = statSync(this.path);
      return { content: readFileSync(this.path, 'utf8'), mtimeMs };
    } catch {
      return undefined;
    }
  }

  private isStale({ content, mtimeMs }: Held): boolean {
    if (Date.now() - mtimeMs > STALE_MS) return true;
    const [host, pid] = content.split(' ');
    // Another host (or container) has its own PIDs: there, only the lock's age tells.
    // An empty lock is one whose owner has not written its token yet.
    const owner = Number(pid);
    if (host !== this.host || !Number.isInteger(owner) || owner <= 0) return false;
    try {
      process.kill(owner, 0);
      return false;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ESRCH';
    }
  }

  private replaceStale(stale: Held): boolean {
    let guard: number;
    try {
      guard = openSync(this.breakPath, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // Another writer is replacing it; or died doing so, long ago.
      const since = statSync(this.breakPath, { throwIfNoEntry: false })?.mtimeMs;
      if (since !== undefined && Date.now() - since > STALE_MS) rmSync(this.breakPath, { force: true });
      return false;
    }
    try {
      const now = this.read();
      if (now !== undefined && now.content !== stale.content) return false; // someone else took it meanwhile
      rmSync(this.path, { force: true });
      return this.create();
    } finally {
      closeSync(guard);
      rmSync(this.breakPath, { force: true });
    }
  }
}
