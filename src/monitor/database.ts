import { closeSync, openSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Knex } from 'knex';
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

/** A missing package, reported in one line that says what to install. */
export class MissingDependencyError extends Error {
  override readonly name = 'MissingDependencyError';
  constructor(
    readonly packageName: string,
    purpose: string,
  ) {
    super(`monitor: ${purpose} needs the \`${packageName}\` package: npm install ${packageName}`);
  }
}

function isMissing(error: unknown, name: string): boolean {
  const e = error as { code?: string; message?: string };
  return (e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND') && (e.message ?? '').includes(name);
}

/** Imports a package only when the monitor is used, so `express-lifeline` alone never loads it. */
async function load<T>(name: string, purpose: string, importer: () => Promise<T>): Promise<T> {
  try {
    return await importer();
  } catch (error) {
    if (isMissing(error, name)) throw new MissingDependencyError(name, purpose);
    throw error;
  }
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
  const { default: knex } = await load('knex', 'express-lifeline/monitor', () => import('knex'));
  if (isPostgresUrl(database)) {
    await load('pg', 'a PostgreSQL database', () => importByName('pg'));
    const db = knex({
      client: 'pg',
      // A host that never answers: without a connect timeout the attempt outlives knex's acquire
      // timeout and keeps the process alive (and destroy() waits for it).
      connection: { connectionString: database, connectionTimeoutMillis: CONNECT_TIMEOUT },
      pool: { min: 0, max: 10 },
      // Past the connect timeout, so the driver's reason is the one reported, not knex's "pool is probably full".
      acquireConnectionTimeout: CONNECT_TIMEOUT + 1000,
      ...(log ? { log } : {}),
    });
    return { db, dialect: 'postgres', owned: true };
  }
  await load('better-sqlite3', 'a SQLite database', () => importByName('better-sqlite3'));
  const filename = database === ':memory:' ? database : resolve(database.replace(/^sqlite:(\/\/)?/i, ''));
  if (filename !== ':memory:') ownerOnly(filename);
  const db = knex({
    client: 'better-sqlite3',
    connection: { filename },
    useNullAsDefault: true,
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
