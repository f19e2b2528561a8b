import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** Whether `user` can read `file` (every folder above it must let them in). */
function readableBy(user: string, file: string): boolean {
  return spawnSync('runuser', ['-u', user, '--', 'test', '-r', file]).status === 0;
}

/** The package folders of `name` and of everything it depends on at run time, from node_modules. */
function runtimeClosure(names: Iterable<string>, modules: string, seen = new Set<string>()): Set<string> {
  for (const name of names) {
    if (seen.has(name)) continue;
    const dir = join(modules, name);
    if (!existsSync(join(dir, 'package.json'))) continue; // an optional peer that is not installed
    seen.add(name);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    runtimeClosure(Object.keys(pkg.dependencies ?? {}), modules, seen);
  }
  return seen;
}

/**
 * The built CLI as `user` can run it. A clone may sit in a folder only its owner can enter
 * (a root user's home, mode 0700): then the package (dist, package.json, its run-time
 * dependencies and the `extra` packages with theirs) is copied to a folder under the OS temp dir that everyone can read.
 * Returns the CLI's path and a function that removes the copy.
 */
export function cliFor(user: string, extra: readonly string[] = []): { cli: string; remove(): void } {
  const cli = resolve('dist/cli/main.js');
  if (readableBy(user, cli)) return { cli, remove: () => {} };
  const root = mkdtempSync(join(tmpdir(), 'lifeline-readable-cli-'));
  const copy = join(root, 'express-lifeline');
  cpSync('dist', join(copy, 'dist'), { recursive: true });
  cpSync('package.json', join(copy, 'package.json'));
  const own = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> };
  // `extra`: peers the commands load (express, knex, better-sqlite3 for the monitor's).
  for (const name of runtimeClosure([...Object.keys(own.dependencies), ...extra], resolve('node_modules'))) {
    cpSync(join('node_modules', name), join(copy, 'node_modules', name), { recursive: true, dereference: true });
  }
  spawnSync('chmod', ['-R', 'a+rX', root]);
  const copied = join(copy, 'dist/cli/main.js');
  if (!readableBy(user, copied)) throw new Error(`${user} cannot read ${copied} either: is ${tmpdir()} open to every user?`);
  return { cli: copied, remove: () => rmSync(root, { recursive: true, force: true }) };
}
