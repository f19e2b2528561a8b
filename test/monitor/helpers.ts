import type { Server, ServerInput } from '../../src/monitor/types.js';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** The shared test PostgreSQL (never stopped by these tests). */
export const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:55432/lifeline_test';

export interface TestDatabase {
  kind: 'sqlite' | 'postgres';
  /** What `database` is given: a SQLite file or a postgres:// URL bound to a fresh schema. */
  url: string;
  /** The PostgreSQL schema (postgres only). */
  schema?: string;
  drop(): Promise<void>;
}

/** A fresh SQLite file in a temporary folder. */
export function sqliteDatabase(): TestDatabase {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-monitor-'));
  return { kind: 'sqlite', url: join(dir, 'monitor.db'), drop: async () => rmSync(dir, { recursive: true, force: true }) };
}

/** A fresh schema in the shared PostgreSQL, selected through the URL's search_path and dropped afterwards. */
export async function postgresDatabase(): Promise<TestDatabase> {
  const schema = `monitor_test_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client(PG_URL);
  await client.connect();
  await client.query(`create schema ${schema}`);
  await client.end();
  const url = `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  return {
    kind: 'postgres',
    url,
    schema,
    async drop() {
      const c = new pg.Client(PG_URL);
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
    },
  };
}

export const DATABASES = [
  ['SQLite', async () => sqliteDatabase()],
  ['PostgreSQL', postgresDatabase],
] as const;

/** Polls until `predicate` is true or `ms` have passed. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A complete server for the store, checked every minute and down after one failure; `fields` override. */
export function serverInput(fields: Partial<ServerInput> & Pick<ServerInput, 'name' | 'port'>): ServerInput {
  return {
    protocol: 'http',
    host: '127.0.0.1',
    path: '/',
    check_interval: 60,
    timeout: 2,
    expected_status: '200-399',
    keyword: null,
    tags: [],
    enabled: true,
    failure_threshold: 1,
    success_threshold: 1,
    degraded_threshold_ms: null,
    keyword_mode: 'present',
    json_path: null,
    json_expected: null,
    dns_record_type: null,
    dns_expected: null,
    dns_server: null,
    grace: 60,
    schedule: null,
    timezone: null,
    ...fields,
  };
}

/** A server as the store gives it back (id 1), for checks run without a store; `fields` override. */
export function storedServer(fields: Partial<Server> = {}): Server {
  return {
    ...serverInput({ name: 'target', port: 80, failure_threshold: 2 }),
    ...{ id: 1, depends_on: [], push_token: null, created_at: '', updated_at: '' },
    ...fields,
  };
}
