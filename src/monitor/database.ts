import { closeSync, openSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Knex, knex as createKnex } from 'knex';
import { checkDatabaseUrl } from '../database-url.js';

export type Dialect = 'sqlite' | 'postgres';

/**
 * The database holds password hashes and webhook secrets: a new file is created 0600
 * (SQLite gives its -wal and -shm files the same mode). An existing one is left as its
 * owner made it; a folder that does not exist is SQLite's to report.
 */
function ownerOnly(filename: string): void {
  try {
    closeSync(openSync(filename, 'a', 0o600));
  } catch {
    // reported by SQLite when it opens the file
  }
}

/** A database the monitor may use: a URL, a SQLite file name, or a knex instance owned by the caller. */
export type DatabaseOption = string | Knex;

/**
 * Missing packages, reported in one line that says what to install: every missing one at
 * once (`monitor: missing packages; run: npm install knex better-sqlite3`), so one install is enough.
 */
export class MissingDependencyError extends Error {
  override readonly name = 'MissingDependencyError';
  /** Every missing package, in install order. */
  readonly packages: readonly string[];
  constructor(
    readonly packageName: string,
    purpose?: string,
    more: readonly string[] = [],
  ) {
    const packages = [packageName, ...more];
    super(
      purpose === undefined
        ? `monitor: missing package${packages.length > 1 ? 's' : ''}; run: npm install ${packages.join(' ')}`
        : `monitor: ${purpose} needs the \`${packageName}\` package: npm install ${packageName}`,
    );
    this.packages = packages;
  }
}

function isMissing(error: unknown, name: string): boolean {
  const e = error as { code?: string; message?: string };
  return (e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND') && (e.message ?? '').includes(name);
}

/**
 * Imports knex and the driver together, before either is used; when any is missing, one
 * error names all that are missing. `express-lifeline` alone never loads them.
 */
async function loadAll(names: readonly string[]): Promise<unknown[]> {
  const outcomes = await Promise.allSettled(names.map((name) => importByName(name)));
  const missing = names.filter((name, i) => {
    const outcome = outcomes[i]!;
    if (outcome.status === 'fulfilled') return false;
    if (isMissing(outcome.reason, name)) return true;
    throw outcome.reason;
  });
  if (missing.length > 0) throw new MissingDependencyError(missing[0]!, undefined, missing.slice(1));
  return outcomes.map((outcome) => (outcome as PromiseFulfilledResult<unknown>).value);
}

/** Checks that a driver is installed (knex itself loads it later); a name in a variable keeps its types out. */
function importByName(name: string): Promise<unknown> {
  return import(name) as Promise<unknown>;
}

/** How long opening a PostgreSQL connection may take, ms. */
const CONNECT_TIMEOUT = 10_000;

export function isPostgresUrl(url: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(url);
}

export function dialectOf(db: Knex): Dialect {
  const client = String((db.client as { config?: { client?: unknown } }).config?.client ?? '');
  return /^(pg|postgres|postgresql)$/i.test(client) ? 'postgres' : 'sqlite';
}

export interface OpenedDatabase {
  db: Knex;
  dialect: Dialect;
  /** True when the monitor created the knex instance and must destroy it. */
  owned: boolean;
}

/** SQLite settings for a file several parts of the monitor write to: WAL, a busy wait, enforced foreign keys. */
const SQLITE_PRAGMAS = ['journal_mode = WAL', 'busy_timeout = 5000', 'foreign_keys = ON', 'synchronous = NORMAL'];

/** ms a query waits for a PostgreSQL connection before it fails as "database unavailable". */
export const PG_ACQUIRE_TIMEOUT = 1500;
/** SQLite's one connection is only ever busy with other queries: wait as long as SQLite waits on a lock. */
const SQLITE_ACQUIRE_TIMEOUT = 5000;

/** Where knex's own messages go; knex writes them to stdout otherwise (e.g. `Acquire connection error` with a stack). */
export type KnexLog = NonNullable<Knex.Config['log']>;

/**
 * Opens the monitor's database: `postgres://…` through pg, anything else as a SQLite
 * file (default `monitor.db` in the working directory) through better-sqlite3.
 */
export async function openDatabase(database: DatabaseOption = 'monitor.db', { log }: { log?: KnexLog } = {}): Promise<OpenedDatabase> {
  if (typeof database !== 'string') {
    if (typeof database !== 'function' || typeof (database as { raw?: unknown }).raw !== 'function') {
      throw new TypeError(`monitor: expected \`database\` to be a URL, a SQLite file name or a knex instance, got ${typeof database}`);
    }
    return { db: database, dialect: dialectOf(database), owned: false };
  }
  if (database.trim() === '')
    throw new TypeError('monitor: expected `database` to be a URL, a SQLite file name or a knex instance, got an empty string');
  // Named after where it came from when that is the environment (createMonitor's default).
  checkDatabaseUrl(database, database === process.env.DATABASE_URL ? 'DATABASE_URL' : 'monitor: `database`');
  const postgres = isPostgresUrl(database);
  const [knexModule] = await loadAll(['knex', postgres ? 'pg' : 'better-sqlite3']);
  const { default: knex } = knexModule as { default: typeof createKnex };
  if (postgres) {
    const db = knex({
      client: 'pg',
      // A host that never answers: without a connect timeout the attempt outlives knex's acquire
      // timeout and keeps the process alive (and destroy() waits for it).
      connection: { connectionString: database, connectionTimeoutMillis: CONNECT_TIMEOUT },
      pool: { min: 0, max: 10 },
      // A stopped or unreachable server must be a 503 within ~2 s, not a request hanging for knex's 60 s;
      // a refused connection fails at once with the driver's own reason.
      acquireConnectionTimeout: PG_ACQUIRE_TIMEOUT,
      ...(log ? { log } : {}),
    });
    return { db, dialect: 'postgres', owned: true };
  }
  const filename = database === ':memory:' ? database : resolve(database.replace(/^sqlite:(\/\/)?/i, ''));
  if (filename !== ':memory:') ownerOnly(filename);
  const db = knex({
    client: 'better-sqlite3',
    connection: { filename },
    useNullAsDefault: true,
    acquireConnectionTimeout: SQLITE_ACQUIRE_TIMEOUT,
    ...(log ? { log } : {}),
    pool: {
      min: 1,
      max: 1,
      afterCreate(conn: { pragma(sql: string): unknown }, done: (error: Error | null, conn: unknown) => void) {
        try {
          for (const pragma of SQLITE_PRAGMAS) conn.pragma(pragma);
          done(null, conn);
        } catch (error) {
          done(error as Error, conn);
        }
      },
    },
  });
  return { db, dialect: 'sqlite', owned: true };
}
