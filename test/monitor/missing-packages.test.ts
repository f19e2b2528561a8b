import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNode } from '../helpers/process.js';

// An install of the package without some of the monitor's optional packages: its dist, its
// package.json and every other package of node_modules, linked. Nothing is faked: node resolves
// knex, better-sqlite3 or pg from this folder and finds them missing, as in a user's project.
const root = resolve(import.meta.dirname, '../..');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lifeline-missing-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function installWithout(hidden: readonly string[]): string {
  const install = join(dir, `without-${hidden.join('-')}`);
  mkdirSync(join(install, 'node_modules'), { recursive: true });
  cpSync(join(root, 'dist'), join(install, 'dist'), { recursive: true });
  cpSync(join(root, 'package.json'), join(install, 'package.json'));
  for (const name of readdirSync(join(root, 'node_modules'))) {
    if (!hidden.includes(name) && !name.startsWith('.')) symlinkSync(join(root, 'node_modules', name), join(install, 'node_modules', name));
  }
  return install;
}

async function lifeline(install: string, args: string[], env: Record<string, string> = {}) {
  const child = runNode(join(install, 'dist/cli/main.js'), { PORT: '0', DATABASE_URL: '', ...env }, args);
  const { code } = await child.exited();
  return { code, output: child.output() };
}

describe('the monitor without its optional packages', () => {
  it('names every missing package in one line: knex and better-sqlite3 on SQLite', async () => {
    const install = installWithout(['knex', 'better-sqlite3']);
    for (const args of [
      ['monitor', 'serve', '--port', '0', '--database', join(dir, 'serve.db')],
      ['monitor', 'list', '--database', join(dir, 'list.db')],
    ]) {
      const run = await lifeline(install, args);
      expect(run.output).toBe('lifeline monitor: missing packages; run: npm install knex better-sqlite3\n');
      expect(run.code).toBe(1);
    }
  });

  it('knex and pg on PostgreSQL (DATABASE_URL)', async () => {
    const install = installWithout(['knex', 'pg']);
    const run = await lifeline(install, ['monitor', 'migrate'], { DATABASE_URL: 'postgres://lifeline@127.0.0.1:1/none' });
    expect(run.output).toBe('lifeline monitor: missing packages; run: npm install knex pg\n');
    expect(run.code).toBe(1);
  });

  it('one missing package alone', async () => {
    const install = installWithout(['better-sqlite3']);
    const run = await lifeline(install, ['monitor', 'serve', '--port', '0', '--database', join(dir, 'one.db')]);
    expect(run.output).toBe('lifeline monitor: missing package; run: npm install better-sqlite3\n');
    expect(run.code).toBe(1);
  });
});
