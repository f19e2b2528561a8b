// @ts-check
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import knex from 'knex';

const here = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_SQLITE_FILE = resolve(here, 'data', 'notes.db');

/**
 * A knex instance for DATABASE_URL: PostgreSQL for postgres:// URLs, otherwise a
 * SQLite file path (default example-app/data/notes.db).
 * @param {string | undefined} url
 */
export function openDatabase(url) {
  if (url && /^postgres(ql)?:\/\//.test(url)) {
    return knex({
      client: 'pg',
      connection: { connectionString: url, connectionTimeoutMillis: 2000 },
      pool: { min: 0, max: 10 },
      // A dead database must not hold requests for knex's default 60 s.
      acquireConnectionTimeout: 5000,
    });
  }
  const filename = url ? resolve(url) : DEFAULT_SQLITE_FILE;
  mkdirSync(dirname(filename), { recursive: true });
  return knex({ client: 'better-sqlite3', connection: { filename }, useNullAsDefault: true, acquireConnectionTimeout: 5000 });
}

/** Creates the notes table if it is missing. @param {import('knex').Knex} db */
export async function migrate(db) {
  if (await db.schema.hasTable('notes')) return;
  await db.schema.createTable('notes', (table) => {
    table.increments('id').primary();
    table.string('title', 200).notNullable();
    table.text('body').notNullable().defaultTo('');
    table.timestamp('created_at').notNullable().defaultTo(db.fn.now());
    table.timestamp('updated_at').notNullable().defaultTo(db.fn.now());
  });
}
