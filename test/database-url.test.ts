// A database URL whose password holds an unencoded '@' or '/' parses with part of the
// password as host or path, and the driver's error then shows it. Refused up front, in
// one line showing none of it, everywhere a DATABASE_URL is read: loadConfig (the
// example app), the monitor's openDatabase, and every `lifeline monitor` command.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkDatabaseUrl, unencodedCredentials } from '../src/database-url.js';
import { ConfigError } from '../src/errors.js';
import { redactText, redactUrl } from '../src/logging/redact.js';
import { openStore } from '../src/monitor/store/index.js';
import { loadConfig } from '../src/options.js';

// The password is `hunter@2/x9`: neither `hunter` nor `2/x9` may show anywhere.
const BAD = 'postgres://app:hunter@2/x9@127.0.0.1:1/monitor';
const PASSWORD_LINE = 'the password contains "@", "/", "?" or "#"; percent-encode it (%40, %2F, %3F, %23)';
const leaks = (text: string) => /hunter|x9/.test(text);

const root = mkdtempSync(join(tmpdir(), 'lifeline-db-url-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('checkDatabaseUrl', () => {
  it.each([
    ['postgres://app:hunter@2/x9@db:5432/app', 'password'],
    ['postgres://app:p@ss@db/app', 'password'],
    ['postgresql://app:pa/ss@db/app', 'password'],
    ['postgres://us@er:pw@db/app', 'user name'],
    ['mysql://root:a/b@db/app', 'password'],
    // A `#` or `?` with a `/`: cut at the first one, the rest of the password would show as the host.
    ['postgres://app:se/cr#et@db/app', 'password'],
    ['postgres://app:se/cr?et@db/app', 'password'],
  ])('refuses %s (the %s)', (url, part) => {
    expect(unencodedCredentials(url)).toBe(part);
    expect(() => checkDatabaseUrl(url)).toThrow(
      new ConfigError('DATABASE_URL', `DATABASE_URL: the ${part} contains "@", "/", "?" or "#"; percent-encode it (%40, %2F, %3F, %23)`),
    );
  });

  it.each([
    'postgres://app:hunter%402%2Fx9@db:5432/app',
    'postgres://app@db/app',
    'postgres://db/app?options=-c%20search_path%3Dx&application_name=a@b',
    'postgres://app:pw@db/app?sslmode=require',
    'monitor.db',
    './data/notes.db',
    ':memory:',
  ])('accepts %s', (url) => {
    expect(unencodedCredentials(url)).toBeUndefined();
    expect(checkDatabaseUrl(url)).toBe(url);
  });

  it('loadConfig refuses it naming DATABASE_URL, and passes a good one', () => {
    expect(() => loadConfig({ DATABASE_URL: BAD, LOG_FILE: join(root, 'x.log') })).toThrow(`DATABASE_URL: ${PASSWORD_LINE}`);
    const good = 'postgres://app:hunter%402%2Fx9@127.0.0.1:1/monitor';
    expect(loadConfig({ DATABASE_URL: good, LOG_FILE: join(root, 'x.log') }).databaseUrl).toBe(good);
  });

  it("the monitor's store refuses it before connecting, naming the option", async () => {
    await expect(openStore({ database: BAD })).rejects.toThrow(`monitor: \`database\`: ${PASSWORD_LINE}`);
  });
});

describe('redaction of such a URL hides the whole password', () => {
  it.each([BAD, 'postgres://app:hunter/x9@db:5432/app', 'postgres://app:hunter@x9@db/app'])('%s', (url) => {
    for (const shown of [redactText(`connecting to ${url} failed`), redactUrl(url)]) {
      expect(shown).not.toMatch(/hunter|x9/);
      expect(shown).toContain('app:***@');
    }
  });
});

interface Run {
  code: number | null;
  out: string;
  err: string;
}

async function run(args: string[], env: Record<string, string>, input = ''): Promise<Run> {
  const cwd = mkdtempSync(join(root, 'run-'));
  const child = spawn(process.execPath, args, {
    cwd,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_FILE: join(cwd, 'backend.log'), ENVIRONMENT: '', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  child.stdin.end(input);
  const stop = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(stop);
  return { code, out, err };
}

describe('refused in one line, no part of the password shown', () => {
  it('by the example app', async () => {
    const started = await run([resolve('example-app/server.js')], { DATABASE_URL: BAD });
    expect(started).toEqual({ code: 1, out: '', err: `error: DATABASE_URL: ${PASSWORD_LINE}\n` });
  }, 30_000);

  const cli = resolve('dist/cli/main.js');
  it.each([
    [['migrate']],
    [['user', 'add', 'bob']],
    [['add', '--name', 'web', '--tcp', '127.0.0.1:9']],
    [['list']],
    [['remove', '1']],
    [['check']],
    [['serve']],
  ])(
    'by lifeline monitor %j, from DATABASE_URL and from --database',
    async (args) => {
      const fromEnv = await run([cli, 'monitor', ...args], { DATABASE_URL: BAD }, 'a-long-password\n');
      expect(fromEnv, fromEnv.err).toEqual({ code: 1, out: '', err: `lifeline: DATABASE_URL: ${PASSWORD_LINE}\n` });
      const fromOption = await run([cli, 'monitor', ...args, '--database', BAD], { DATABASE_URL: '' }, 'a-long-password\n');
      expect(fromOption, fromOption.err).toEqual({ code: 1, out: '', err: `lifeline: --database: ${PASSWORD_LINE}\n` });
      expect(leaks(fromEnv.err + fromOption.err)).toBe(false);
    },
    60_000,
  );
});
