import { redactText } from './redact.js';

/** One error line per kind of failure, so a task failing every tick does not flood the log. */
export interface FailureLog {
  /** Logs the error if its kind (code, else message) has not been logged since the task last succeeded. */
  failed(error: unknown): void;
  /** The task worked: after failures, logs one recovery line and forgets the kinds seen. */
  succeeded(): void;
}

type Write = (message: string) => unknown;

/** The kind is the error's code, else its cause's (fetch wraps the socket error), else the message. */
function kindOf(error: unknown): { kind: string; message: string } {
  let message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  const cause = error instanceof Error && error.cause instanceof Error ? (error.cause as Error & { code?: unknown }) : undefined;
  const detail = typeof cause?.code === 'string' ? cause.code : cause?.message;
  if (detail && !message.includes(detail)) message = `${message} (${detail})`;
  return { kind: typeof code === 'string' ? code : message, message };
}

/**
 * Background work (sampling, loops, self-ping, log rotation) must survive its own
 * errors; this logs the first occurrence of each kind of error and a recovery line,
 * not one line per tick while a resource stays exhausted.
 */
export function failureLog(what: string, error: Write, info: Write): FailureLog {
  const seen = new Set<string>();
  let failures = 0;
  return {
    failed(cause) {
      failures += 1;
      const { kind, message } = kindOf(cause);
      if (seen.has(kind)) return;
      seen.add(kind);
      // Errors quote what they failed on (fetch quotes its URL, credentials included).
      error(`${what} failed: ${redactText(message)} (logged once until it recovers)`);
    },
    succeeded() {
      if (failures === 0) return;
      info(`${what} recovered after ${failures} failed ${failures === 1 ? 'try' : 'tries'}`);
      failures = 0;
      seen.clear();
    },
  };
}
