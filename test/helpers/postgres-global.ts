/**
 * vitest globalSetup: the PostgreSQL the database tests use, and the guarantee that no server
 * started by a test outlives the run.
 *
 * - `TEST_DATABASE_URL` set: the tests use that database (the user's own server); nothing is started.
 * - unset: a throwaway server is started here (see ./postgres.ts) and its URL handed to every test
 *   file as `process.env.TEST_DATABASE_URL` (and `inject('postgres')`).
 *
 * Tests that stop or pause a server start their own (startPostgres()); they are recorded in a
 * registry folder, and the teardown below stops every recorded server, also those of a worker that
 * crashed. The same cleanup runs on exit and on SIGINT/SIGTERM/SIGHUP, so an interrupted run leaves
 * no postgres process behind. Redis servers started by tests (./redis.ts) share the registry.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startPostgres, stopRegistered, type PostgresInfo } from './postgres.js';
import { stopRegisteredRedis } from './redis.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The server started for this run, or null when TEST_DATABASE_URL was given. */
    postgres: PostgresInfo | null;
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  const registry = mkdtempSync(join(tmpdir(), 'lifeline-test-pg-registry-'));
  process.env.LIFELINE_TEST_PG_REGISTRY = registry;
  let done = false;
  const cleanup = () => {
    if (done) return;
    done = true;
    stopRegisteredRedis(registry);
    stopRegistered(registry);
    rmSync(registry, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    cleanup();
    // Only handler left: die of the signal as we would have without it.
    if (process.listenerCount(signal) === 1) {
      process.off(signal, onSignal);
      process.kill(process.pid, signal);
    }
  };
  process.on('exit', cleanup);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);

  let info: PostgresInfo | null = null;
  if (!process.env.TEST_DATABASE_URL) {
    const { url, port, dataDir, binDir, uid, gid } = await startPostgres();
    info = { url, port, dataDir, binDir, uid, gid };
    process.env.TEST_DATABASE_URL = url;
  }
  project.provide('postgres', info);
  return () => {
    cleanup();
    process.off('exit', cleanup);
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(signal, onSignal);
  };
}
