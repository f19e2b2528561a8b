import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const bin = resolve('dist/cli/main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 10_000 });
const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

describe('lifeline CLI', () => {
  it('prints its version and help, exit 0', () => {
    expect(run('--version')).toMatchObject({ status: 0, stdout: `${version}\n` });
    const help = run('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: lifeline <command>/);
  });

  it('refuses a misuse with one line on stderr and exit 1', () => {
    for (const args of [
      ['frobnicate'],
      ['start'],
      ['serve'],
      ['serve', 'missing.js'],
      ['serve', 'package.json', '--workers', 'many'],
      ['serve', '--bogus'],
    ]) {
      const result = run(...args);
      expect(result.status).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(/^lifeline( serve)?: /);
    }
  });
});
