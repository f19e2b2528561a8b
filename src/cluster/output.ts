import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { LifelineLogger } from '../logging/logger.js';

/**
 * Set (to the log file's absolute path) in a process whose stdout and stderr end up in
 * that log file: its logger then writes the file only, not the console too.
 */
export const STDOUT_LOGGED_ENV = 'LIFELINE_STDOUT_LOGGED';

/**
 * Writes every line of a child's stream into the log, tagged with its source. A line is
 * written once it is complete (or when the stream ends), so it is never split, and it
 * goes through the rotating file, so it never lands in a rotated one.
 */
export function logLines(stream: Readable | null | undefined, log: LifelineLogger, level: 'info' | 'warn', source: string): void {
  if (!stream) return;
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  lines.on('line', (line) => log[level](line, { component: source }));
}

/**
 * Sends this process's own console output (console.log, console.error, a warning) into the
 * log instead of the file descriptors 1 and 2, which under `lifeline start` are /dev/null:
 * a detached daemon keeps no descriptor of the log file, so none can outlive a rotation.
 */
export function captureOwnOutput(log: LifelineLogger, source: string): void {
  let inside = false;
  const capture = (stream: NodeJS.WriteStream, level: 'info' | 'warn', name: string) => {
    let pending = '';
    stream.write = ((chunk: string | Uint8Array, encoding?: BufferEncoding | (() => void), callback?: () => void) => {
      const done = typeof encoding === 'function' ? encoding : callback;
      pending += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      // A logger that itself writes to the console would loop: its lines are dropped.
      if (!inside) {
        inside = true;
        try {
          for (const line of parts) log[level](line, { component: `${source} ${name}` });
        } finally {
          inside = false;
        }
      }
      done?.();
      return true;
    }) as typeof stream.write;
  };
  capture(process.stdout, 'info', 'stdout');
  capture(process.stderr, 'warn', 'stderr');
  // Without a stderr, a crash would leave no trace: write it into the log, then exit as Node would.
  process.on('uncaughtException', (error) => {
    // The stack as its own field: the text format writes its frames as continuation lines.
    log.error(`uncaught exception, exiting: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`, {
      component: source,
      ...(error instanceof Error && error.stack !== undefined && { stack: error.stack }),
    });
    process.exit(1);
  });
}
