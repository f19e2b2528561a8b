import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The built package is what users import: these tests run node on dist (run `npm run build` first).
const root = resolve(import.meta.dirname, '../..');

/**
 * A module-resolution hook for child processes: logs every resolved URL to
 * LIFELINE_RESOLVE_LOG and makes the packages in LIFELINE_BLOCK unresolvable, as if
 * they were not installed. ESM hooks do not see require() inside CommonJS packages,
 * so the children also report require.cache.
 */
const HOOKS = `
import { appendFileSync } from 'node:fs';
const blocked = (process.env.LIFELINE_BLOCK ?? '').split(',').filter(Boolean);
export async function resolve(specifier, context, next) {
  if (blocked.includes(specifier)) {
    const error = new Error("Cannot find package '" + specifier + "' imported from " + context.parentURL);
    error.code = 'ERR_MODULE_NOT_FOUND';
    throw error;
  }
  const result = await next(specifier, context);
  if (process.env.LIFELINE_RESOLVE_LOG) appendFileSync(process.env.LIFELINE_RESOLVE_LOG, result.url + '\\n');
  return result;
}
`;

let dir: string;
beforeAll(() => {
  if (!existsSync(join(root, 'dist/monitor/index.js'))) throw new Error('dist/monitor is missing: run `npm run build` first');
  dir = mkdtempSync(join(tmpdir(), 'lifeline-pkg-'));
  writeFileSync(join(dir, 'hooks.mjs'), HOOKS);
  writeFileSync(
    join(dir, 'register.mjs'),
    `import { register } from 'node:module';\nregister(${JSON.stringify(`file://${join(dir, 'hooks.mjs')}`)});\n`,
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs an ES module snippet in a child node from the package root; returns its stdout and the URLs it resolved. */
function node(code: string, env: Record<string, string> = {}): { stdout: string; resolved: string[] } {
  const log = join(dir, `resolved-${Math.random().toString(36).slice(2)}.log`);
  writeFileSync(log, '');
  const stdout = execFileSync(process.execPath, ['--import', join(dir, 'register.mjs'), '--input-type=module', '-e', code], {
    cwd: root,
    env: { ...process.env, LIFELINE_RESOLVE_LOG: log, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { stdout, resolved: readFileSync(log, 'utf8').split('\n').filter(Boolean) };
}

const REPORT_CJS = `
import { createRequire } from 'node:module';
const cache = Object.keys(createRequire(process.cwd() + '/').cache);
console.log(JSON.stringify(cache));
`;

const heavy = /\/node_modules\/(knex|better-sqlite3|pg)\//;

describe('package entry points', () => {
  it("import 'express-lifeline' loads neither the monitor nor knex or a database driver", () => {
    const { stdout, resolved } = node(
      `const lib = await import('express-lifeline'); if (typeof lib.lifeline !== 'function') throw new Error('no lifeline');\n${REPORT_CJS}`,
    );
    expect(resolved.some((url) => url.endsWith('/dist/index.js'))).toBe(true);
    expect(resolved.filter((url) => url.includes('/dist/monitor/'))).toEqual([]);
    expect(resolved.filter((url) => heavy.test(url))).toEqual([]);
    expect((JSON.parse(stdout) as string[]).filter((file) => heavy.test(file))).toEqual([]);
  });

  it("'express-lifeline/monitor' exports createMonitor, and loads knex only when a database is opened", () => {
    const db = join(dir, 'pkg.db');
    const code = `
      const monitor = await import('express-lifeline/monitor');
      if (typeof monitor.createMonitor !== 'function' || typeof monitor.validateServer !== 'function') throw new Error('exports');
      const { createRequire } = await import('node:module');
      const cache = () => Object.keys(createRequire(process.cwd() + '/').cache).filter((f) => /node_modules\\/knex\\//.test(f)).length;
      const before = cache();
      const m = await monitor.createMonitor({ database: ${JSON.stringify(db)}, logger: false });
      const servers = await m.store.servers.list();
      await m.close();
      console.log(JSON.stringify({ before, after: cache(), count: servers.count }));
    `;
    const { stdout, resolved } = node(code);
    expect(resolved.some((url) => url.endsWith('/dist/monitor/index.js'))).toBe(true);
    // The positive control of the test above: this detection does see knex once it is loaded.
    expect(JSON.parse(stdout)).toMatchObject({ before: 0, count: 0 });
    expect(JSON.parse(stdout).after).toBeGreaterThan(0);
  });

  it('a missing knex or database driver is one line saying what to install', () => {
    const attempt = (database: string) => `
      const { openStore } = await import('express-lifeline/monitor');
      try { await openStore({ database: ${JSON.stringify(database)} }); console.log('opened'); }
      catch (error) { console.log(error.message); }
    `;
    const sqlite = join(dir, 'missing.db');
    expect(node(attempt(sqlite), { LIFELINE_BLOCK: 'knex' }).stdout).toBe('monitor: missing package; run: npm install knex\n');
    expect(node(attempt(sqlite), { LIFELINE_BLOCK: 'better-sqlite3' }).stdout).toBe(
      'monitor: missing package; run: npm install better-sqlite3\n',
    );
    expect(node(attempt('postgres://127.0.0.1:1/none'), { LIFELINE_BLOCK: 'pg' }).stdout).toBe(
      'monitor: missing package; run: npm install pg\n',
    );
    // All at once, so one install is enough.
    expect(node(attempt(sqlite), { LIFELINE_BLOCK: 'knex,better-sqlite3' }).stdout).toBe(
      'monitor: missing packages; run: npm install knex better-sqlite3\n',
    );
  });

  it('declares the subpath with its types', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    expect(pkg.exports['./monitor']).toEqual({ types: './dist/monitor/index.d.ts', default: './dist/monitor/index.js' });
  });
});
