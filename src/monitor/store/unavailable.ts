/**
 * Which database errors mean "the database cannot serve now" (stopped, unreachable,
 * read-only, full, locked past its busy wait) rather than "this query is wrong": the
 * first kind is an outage, answered 503 with `Retry-After` and retried in the
 * background; the second is a bug, answered 500. Every part of the monitor asks here.
 */

/** Seconds a client is told to wait (`Retry-After`) while the database is unavailable. */
export const RETRY_AFTER_SECONDS = 5;

/** The one answer body of every route while the database is unavailable. */
export const UNAVAILABLE_DETAIL = 'The database is unavailable right now; try again shortly.';

/** Socket errors of a driver that cannot reach its server. */
const NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

/**
 * PostgreSQL SQLSTATEs: 08xxx connection exceptions, 57P01-57P03 shutdown / cannot connect
 * now, 53xxx insufficient resources (disk full, out of memory, too many connections),
 * 25006 read-only transaction (a standby, or `default_transaction_read_only`).
 */
const POSTGRES = /^(?:08[0-9A-Z]{3}|57P0[123]|53[0-9A-Z]{3}|25006)$/;

/**
 * better-sqlite3 codes, extended ones included (SQLITE_READONLY_DBMOVED, SQLITE_IOERR_WRITE…):
 * a file the process cannot write, a full disk (or `max_page_count`), a file it cannot open,
 * an I/O error, a lock still held after the busy timeout.
 */
const SQLITE = /^SQLITE_(?:READONLY|FULL|CANTOPEN|IOERR|BUSY|LOCKED)(?:_|$)/;

/** Driver messages without a code: pg's lost connections, knex's pool wait. */
const MESSAGES = [
  /^Knex: Timeout acquiring a connection/,
  /^Connection terminated/,
  /^Client has encountered a connection error/,
  /^timeout exceeded when trying to connect/,
  /^Client was closed and is not queryable/,
];

function oneUnavailable(error: object): boolean {
  const { code, name, message } = error as { code?: unknown; name?: unknown; message?: unknown };
  if (name === 'KnexTimeoutError' || name === 'DatabaseUnavailableError') return true;
  if (typeof code === 'string' && (NETWORK.has(code) || POSTGRES.test(code) || SQLITE.test(code))) return true;
  return typeof message === 'string' && MESSAGES.some((m) => m.test(message));
}

/** True for an error (or its `cause`, or one of an AggregateError's) that means the database is unavailable. */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 4) return false;
  if (oneUnavailable(error)) return true;
  const { cause, errors } = error as { cause?: unknown; errors?: unknown };
  if (Array.isArray(errors) && errors.some((e) => isDatabaseUnavailable(e, depth + 1))) return true;
  return isDatabaseUnavailable(cause, depth + 1);
}

/** The driver's code (or the error's name) for a log line: `ECONNREFUSED`, `SQLITE_FULL`, `57P01`… */
export function unavailableReason(error: unknown): string {
  const e = (typeof error === 'object' && error !== null ? error : {}) as { code?: unknown; name?: unknown; cause?: unknown };
  if (typeof e.code === 'string') return e.code;
  if (e.cause !== undefined && e.cause !== error) {
    const inner = unavailableReason(e.cause);
    if (inner !== 'unknown') return inner;
  }
  return typeof e.name === 'string' && e.name !== 'Error' ? e.name : 'unknown';
}

/**
 * An outage, as one kind of failure whatever the driver said: the failure log keys on
 * `code`, so a stopped PostgreSQL that first answers 57P01 and then ECONNREFUSED is one
 * warning, not two.
 */
export class DatabaseUnavailableError extends Error {
  override readonly name = 'DatabaseUnavailableError';
  readonly code = 'DATABASE_UNAVAILABLE';
  constructor(cause: unknown) {
    // knex prefixes the driver's message with the whole statement: keep the driver's part.
    const first = (cause instanceof Error ? cause.message : String(cause)).split('\n', 1)[0]!;
    const text = first.slice(first.lastIndexOf(' - ') + 1).replace(/^- /, '');
    super(`the database is unavailable (${unavailableReason(cause)}: ${text})`, { cause });
  }
}
