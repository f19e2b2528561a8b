import knex from 'knex';
import { describe, expect, it } from 'vitest';
import { DatabaseUnavailableError, isDatabaseUnavailable } from '../../src/monitor/store/unavailable.js';
import { freePort } from '../helpers/load.js';
import { sqliteDatabase } from './helpers.js';

/** The error a real driver gives for `query` on `db`. */
async function errorOf(db: knex.Knex, query: string): Promise<unknown> {
  try {
    await db.raw(query);
  } catch (error) {
    return error;
  } finally {
    await db.destroy();
  }
  throw new Error('the query worked');
}

describe('isDatabaseUnavailable', () => {
  it('knows a refused PostgreSQL connection, and knex giving up on the pool, as an outage', async () => {
    const port = await freePort();
    const quiet = { warn() {}, error() {}, debug() {}, deprecate() {} }; // knex prints each failed connect otherwise
    const refused = await errorOf(knex({ client: 'pg', connection: `postgres://u@127.0.0.1:${port}/x`, log: quiet }), 'select 1');
    expect((refused as { code?: string }).code).toBe('ECONNREFUSED');
    expect(isDatabaseUnavailable(refused)).toBe(true);
    const pool = knex({
      client: 'pg',
      connection: `postgres://u@127.0.0.1:${port}/x`,
      pool: { propagateCreateError: false },
      acquireConnectionTimeout: 200,
      log: quiet,
    });
    const timedOut = await errorOf(pool, 'select 1');
    expect((timedOut as Error).name).toBe('KnexTimeoutError');
    expect(isDatabaseUnavailable(timedOut)).toBe(true);
  });

  it('knows SQLite opened read-only as an outage, and a wrong query as a bug', async () => {
    const file = sqliteDatabase();
    const setup = knex({ client: 'better-sqlite3', connection: { filename: file.url }, useNullAsDefault: true });
    await setup.raw('create table t (x integer)');
    await setup.destroy();
    const readonly = knex({
      client: 'better-sqlite3',
      connection: { filename: file.url, options: { readonly: true } },
      useNullAsDefault: true,
    });
    const error = await errorOf(readonly, 'insert into t values (1)');
    expect((error as { code?: string }).code).toMatch(/^SQLITE_READONLY/);
    expect(isDatabaseUnavailable(error)).toBe(true);
    const wrong = await errorOf(
      knex({ client: 'better-sqlite3', connection: { filename: file.url }, useNullAsDefault: true }),
      'select nope from t',
    );
    expect(isDatabaseUnavailable(wrong)).toBe(false);
    await file.drop();
  });

  it('reports any driver code as one kind, with the driver part of the message', () => {
    const wrapped = new DatabaseUnavailableError(
      Object.assign(new Error('insert into x values (1) - database or disk is full'), { code: 'SQLITE_FULL' }),
    );
    expect(wrapped.code).toBe('DATABASE_UNAVAILABLE');
    expect(wrapped.message).toBe('the database is unavailable (SQLITE_FULL: database or disk is full)');
    expect(isDatabaseUnavailable(new Error('outer', { cause: Object.assign(new Error('x'), { code: '57P01' }) }))).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
  });
});
