import { closeSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import Transport from 'winston-transport';

export interface RotatingFileOptions {
  filename: string;
  /** Rotate before a line would take the file past this many bytes. */
  maxSize: number;
  /** Rotated files kept: backend.log.1 (newest) … backend.log.N. */
  maxFiles: number;
  /** Rotated files older than this many days are removed at the next rotation. */
  retentionDays: number;
}

const MESSAGE = Symbol.for('message');

/**
 * Appends each line with one synchronous write and rotates by renaming
 * (backend.log → backend.log.1 → …) between lines, so no line is ever split
 * across files, none is lost at rotation, and nothing is still buffered when the
 * process exits. Several processes may share the file (a cluster): each follows the
 * others' rotations. winston's own File transport drops lines written in a burst
 * across a rotation, which is why this one exists.
 */
export class RotatingFileTransport extends Transport {
  private fd: number;
  private size: number;
  /** The inode of the file `fd` is open on: it never changes while open, so no fstat per line. */
  private ino: number;

  constructor(private readonly options: RotatingFileOptions & Transport.TransportStreamOptions) {
    super(options);
    mkdirSync(dirname(options.filename), { recursive: true });
    this.fd = openSync(options.filename, 'a');
    const opened = fstatSync(this.fd);
    this.size = opened.size;
    this.ino = opened.ino;
  }

  override log(info: Record<string | symbol, unknown>, callback: () => void): void {
    const line = Buffer.from(`${String(info[MESSAGE])}\n`);
    try {
      this.followOtherWriters();
      if (this.size > 0 && this.size + line.length > this.options.maxSize) this.rotate();
      writeSync(this.fd, line);
      this.size += line.length;
    } catch (error) {
      this.emit('warn', error);
    }
    callback();
  }

  /**
   * Cluster workers and their primary append to one file. When another process has
   * rotated it, reopen the new file instead of writing on into backend.log.1; and count
   * everyone's lines, not only ours, toward the size limit.
   */
  private followOtherWriters(): void {
    const onDisk = statSync(this.options.filename, { throwIfNoEntry: false });
    if (onDisk === undefined || onDisk.ino !== this.ino) {
      closeSync(this.fd);
      this.fd = openSync(this.options.filename, 'a');
      const opened = fstatSync(this.fd);
      this.size = opened.size;
      this.ino = opened.ino;
    } else {
      this.size = onDisk.size;
    }
  }

  private rotate(): void {
    const { filename, maxFiles } = this.options;
    closeSync(this.fd);
    rmSync(`${filename}.${maxFiles}`, { force: true });
    for (let n = maxFiles - 1; n >= 1; n--) {
      try {
        renameSync(`${filename}.${n}`, `${filename}.${n + 1}`);
      } catch {
        // that generation does not exist yet
      }
    }
    renameSync(filename, `${filename}.1`);
    this.fd = openSync(filename, 'a');
    this.size = 0;
    this.ino = fstatSync(this.fd).ino;
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
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
  }
}
