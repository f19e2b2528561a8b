// Every `lifeline monitor` command ends on a failure: exit 1, one line on stderr, and
// nothing left open (a knex pool or a connection attempt) that would keep the process
// alive after the line is printed. The built CLI in child processes, as `nobody` where
// the failure is a file this user cannot write.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliFor } from '../helpers/readable-cli.js';

const cli = resolve('dist/cli/main.js');
// The clone may be in a folder nobody cannot enter: then nobody runs a readable copy of the package.
let nobodyCli = { cli, remove: () => {} };
beforeAll(() => {
  nobodyCli = cliFor('nobody', ['knex', 'better-sqlite3', 'express']);
});
afterAll(() => nobodyCli.remove());
const root = mkdtempSync(join(tmpdir(), 'lifeline-monitor-faults-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Run {
  code: number | null;
  out: string;
  err: string;
  ms: number;
}

/** Runs the CLI (as `user` when given); a run past `limit` ms is stopped and reported with code null. */
async function lifeline(
  args: string[],
  {
    cwd,
    user,
    input = '',
    env = {},
    limit = 20_000,
  }: { cwd: string; user?: string; input?: string; env?: Record<string, string>; limit?: number },
): Promise<Run> {
  const [command, argv] = user
    ? ['runuser', ['-u', user, '--', process.execPath, nobodyCli.cli, ...args]]
    : [process.execPath, [cli, ...args]];
  const started = Date.now();
  const child = spawn(command, argv, {
    cwd,
    env: { ...process.env, DATABASE_URL: '', PORT: '', HOST: '', LOG_FILE: '', ENVIRONMENT: '', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  child.stdin.end(input);
  // runuser passes SIGTERM on to the CLI.
  const stop = setTimeout(() => child.kill('SIGTERM'), limit);
  const [code, signal] = (await once(child, 'close')) as [number | null, string | null];
  clearTimeout(stop);
  return { code: signal ? null : code, out, err, ms: Date.now() - started };
}

/** Ended by itself, quickly, with exit 1 and one line on stderr. */
function expectOneLineExit(run: Run, pattern: RegExp, ms: number, what: string): void {
  expect({ code: run.code, out: run.out }, `${what}: ${run.err}`).toEqual({ code: 1, out: '' });
  expect(run.ms, what).toBeLessThan(ms);
  expect(run.err.trimEnd().split('\n'), `${what}: ${run.err}`).toHaveLength(1);
  expect(run.err, what).toMatch(/^lifeline: /);
  expect(run.err, what).toMatch(pattern);
}

/** Each command, in a form that reaches the database. */
const COMMANDS: Array<{ args: string[]; input?: string }> = [
  { args: ['migrate'] },
  { args: ['user', 'add', 'bob'], input: 'a-long-password\n' },
  { args: ['add', '--name', 'web', '--tcp', '127.0.0.1:9'] },
  { args: ['list'] },
  { args: ['remove', '1'] },
  { args: ['check'] },
  { args: ['serve', '--port', '0'] },
];

describe('lifeline monitor as a user who cannot write the SQLite file (nobody)', () => {
  let cwd = '';
  beforeAll(async () => {
    chmodSync(root, 0o755);
    cwd = mkdtempSync(join(root, 'project-'));
    // Root's database, readable by all; nobody may create files beside it (-wal, -shm, backend.log), not write it.
    const made = await lifeline(['monitor', 'add', '--name', 'web', '--tcp', '127.0.0.1:9'], { cwd });
    expect(made.code, made.err).toBe(0);
    chmodSync(join(cwd, 'monitor.db'), 0o644);
    chmodSync(cwd, 0o777);
  });

  it.each(COMMANDS.map((c) => [c.args.join(' '), c] as const))('%s exits 1 with one line, within seconds', async (name, command) => {
    const run = await lifeline(['monitor', ...command.args], { cwd, user: 'nobody', input: command.input ?? '' });
    expectOneLineExit(run, /readonly database \(this user must be able to write the file and its folder\)$/m, 10_000, name);
  });
});

describe('lifeline monitor with a PostgreSQL that accepts and never answers', () => {
  let blackhole: Server;
  let port = 0;
  const held = new Set<Socket>();
  beforeAll(async () => {
    blackhole = createServer((socket) => held.add(socket)).listen(0, '127.0.0.1');
    await once(blackhole, 'listening');
    port = (blackhole.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const socket of held) socket.destroy();
    await new Promise((done) => blackhole.close(done));
  });

  it('check gives up after the connect timeout, in one line, instead of hanging', async () => {
    const cwd = mkdtempSync(join(root, 'project-'));
    const run = await lifeline(['monitor', 'check', '--database', `postgres://lifeline:hunter2@127.0.0.1:${port}/monitor`], {
      cwd,
      limit: 30_000,
    });
    expectOneLineExit(run, /cannot open the database postgres:\/\/lifeline:\*\*\*@127\.0\.0\.1:\d+\/monitor: .*timeout/i, 20_000, 'check');
    expect(run.err).not.toContain('hunter2');
  }, 40_000);
});
