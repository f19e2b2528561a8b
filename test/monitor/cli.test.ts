// `lifeline monitor …` driven as a user runs it: the built CLI in a child process, in a
// fresh folder, on real SQLite files (and once on the tests' PostgreSQL), checking real
// local HTTP and TCP targets.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import knex from 'knex';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { verifyPassword } from '../../src/monitor/auth/passwords.js';
import { migrationSource } from '../../src/monitor/migrations/index.js';
import { openStore } from '../../src/monitor/store/index.js';
import { validateServer } from '../../src/monitor/validate.js';
import { postgresDatabase, type TestDatabase } from './helpers.js';

const cli = resolve('dist/cli/main.js');
const root = mkdtempSync(join(tmpdir(), 'lifeline-monitor-cli-'));
// Every migration the package ships, in order (the list grows; the tests follow it).
const MIGRATIONS = (await migrationSource.getMigrations([])).map((m) => m.name);
afterAll(() => rmSync(root, { recursive: true, force: true }));

let cwd = '';
beforeEach(() => {
  cwd = mkdtempSync(join(root, 'project-'));
});

interface Run {
  code: number | null;
  out: string;
  err: string;
}

/** Runs the CLI without blocking this process (the targets below answer from it). */
async function lifeline(
  args: string[],
  { input = '', env = {}, script = cli }: { input?: string; env?: Record<string, string>; script?: string } = {},
): Promise<Run> {
  const child = spawn(process.execPath, [script, ...args], {
    cwd,
    env: { ...process.env, DATABASE_URL: '', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  child.stdin.end(input);
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, out, err };
}

const monitor = (...args: string[]) => lifeline(['monitor', ...args]);

/** A misuse: exit 1, nothing on stdout, exactly one line on stderr. */
function expectOneLineError(run: Run, pattern: RegExp): void {
  expect({ code: run.code, out: run.out }, run.err).toEqual({ code: 1, out: '' });
  expect(run.err.trimEnd().split('\n'), run.err).toHaveLength(1);
  expect(run.err).toMatch(/^lifeline: /);
  expect(run.err).toMatch(pattern);
}

/** Rows straight from a SQLite file the CLI wrote. */
async function rows(file: string, sql: string): Promise<Array<Record<string, unknown>>> {
  const db = knex({ client: 'better-sqlite3', connection: { filename: file }, useNullAsDefault: true });
  try {
    return (await db.raw(sql)) as Array<Record<string, unknown>>;
  } finally {
    await db.destroy();
  }
}

interface ListedServer {
  id: number;
  name: string;
  protocol: string;
  host: string;
  port: number;
  path: string;
  check_interval: number;
  timeout: number;
  enabled: boolean;
  current_status: { status: string; uptime_percentage: number; last_check: string | null; message: string } | null;
}

interface Report {
  server: { id: number; name: string };
  ping: { server: number; status: string; status_code: number | null; response_time: number | null; error_message: string | null };
  status: { server: number; status: string; consecutive_failures: number };
}

// Real targets: an HTTP server that answers 200, and a TCP port nobody listens on.
let up: http.Server;
let upPort = 0;
let downPort = 0;
beforeAll(async () => {
  up = http.createServer((_req, res) => res.end('ok'));
  up.listen(0, '127.0.0.1');
  await once(up, 'listening');
  upPort = (up.address() as AddressInfo).port;
  const closed = createServer().listen(0, '127.0.0.1');
  await once(closed, 'listening');
  downPort = (closed.address() as AddressInfo).port;
  await new Promise((done) => closed.close(done));
});
afterAll(async () => {
  up.closeAllConnections();
  await new Promise((done) => up.close(done));
});

describe('lifeline monitor migrate', () => {
  it('creates monitor.db in the working folder, says what it applied, and nothing the second time', async () => {
    const first = await monitor('migrate');
    expect(first.code, first.err).toBe(0);
    expect(MIGRATIONS.slice(0, 2)).toEqual(['0001_initial', '0002_claims']);
    expect(first.out).toBe(`applied ${MIGRATIONS.length} migrations to monitor.db: ${MIGRATIONS.join(', ')}\n`);
    expect(existsSync(join(cwd, 'monitor.db'))).toBe(true);
    expect(await rows(join(cwd, 'monitor.db'), "select name from sqlite_master where name = 'monitor_servers'")).toHaveLength(1);

    const again = await monitor('migrate');
    expect(again.code, again.err).toBe(0);
    expect(again.out).toBe(`monitor.db is up to date (${MIGRATIONS.length} migrations applied)\n`);
  });

  it('takes the database from --database, else DATABASE_URL', async () => {
    expect((await monitor('migrate', '--database', 'given.db')).code).toBe(0);
    expect((await lifeline(['monitor', 'migrate'], { env: { DATABASE_URL: 'from-env.db' } })).code).toBe(0);
    expect(
      readdirSync(cwd)
        .filter((f) => f.endsWith('.db'))
        .sort(),
    ).toEqual(['from-env.db', 'given.db']);
  });
});

describe('lifeline monitor add and list', () => {
  it('fills protocol, host, port and path from --url, and host and port from --tcp', async () => {
    const added = await monitor('add', '--name', 'API', '--url', 'https://api.example.com:8443/api/health?full=1', '--interval', '30');
    expect(added.code, added.err).toBe(0);
    expect(added.out).toBe('added server 1: API https://api.example.com:8443/api/health?full=1 every 30 s (timeout 10 s)\n');
    expect((await monitor('add', '--name', 'site', '--url', 'http://example.com')).code).toBe(0);
    expect((await monitor('add', '--name', 'db', '--tcp', 'db.internal:5432', '--interval', '5')).code).toBe(0);
    expect((await monitor('add', '--name', 'v6', '--tcp', '[::1]:6379')).code).toBe(0);

    const list = await monitor('list', '--json');
    expect(list.code, list.err).toBe(0);
    const servers = JSON.parse(list.out) as ListedServer[];
    expect(
      servers.map(({ name, protocol, host, port, path, check_interval, timeout }) => ({
        name,
        protocol,
        host,
        port,
        path,
        check_interval,
        timeout,
      })),
    ).toEqual([
      { name: 'API', protocol: 'https', host: 'api.example.com', port: 8443, path: '/api/health?full=1', check_interval: 30, timeout: 10 },
      { name: 'site', protocol: 'http', host: 'example.com', port: 80, path: '/', check_interval: 60, timeout: 10 },
      { name: 'db', protocol: 'tcp', host: 'db.internal', port: 5432, path: '/', check_interval: 5, timeout: 4 },
      { name: 'v6', protocol: 'tcp', host: '::1', port: 6379, path: '/', check_interval: 60, timeout: 10 },
    ]);
    expect(servers[0]).toMatchObject({
      id: 1,
      enabled: true,
      // The API's shape: PulseGuard's state string and config ids beside the whole status.
      status: 'pending',
      notifications: [],
      current_status: { status: 'pending', uptime_percentage: 100, last_check: null },
    });
    expect(Object.keys(servers[0]!).sort()).toEqual(
      [
        'check_interval',
        'created_at',
        'current_status',
        'degraded_threshold_ms',
        'depends_on',
        'enabled',
        'expected_status',
        'failure_threshold',
        'host',
        'id',
        'keyword',
        'keyword_mode',
        'json_path',
        'json_expected',
        'dns_record_type',
        'dns_expected',
        'dns_server',
        'push_token',
        'grace',
        'schedule',
        'timezone',
        'name',
        'notifications',
        'path',
        'port',
        'protocol',
        'status',
        'success_threshold',
        'tags',
        'timeout',
        'updated_at',
      ].sort(),
    );

    const text = await monitor('list');
    expect(text.code, text.err).toBe(0);
    const lines = text.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+TARGET\s+STATUS\s+UPTIME 24H\s+LAST CHECK\s+MESSAGE$/);
    expect(lines[1]).toMatch(/^1\s+API\s+https:\/\/api\.example\.com:8443\/api\/health\?full=1\s+pending\s+100\.00%\s+never\s*$/);
    expect(lines[4]).toMatch(/^4\s+v6\s+tcp:\/\/\[::1\]:6379\s+pending/);
    expect(lines).toHaveLength(5);
  });

  it('an empty list is an empty JSON array, and a hint in text', async () => {
    const json = await monitor('list', '--json');
    expect(json.code, json.err).toBe(0);
    expect(JSON.parse(json.out)).toEqual([]);
    const text = await monitor('list');
    expect(text.out).toMatch(/^no servers yet: lifeline monitor add/);
  });

  it('add --json prints the stored server', async () => {
    const added = await monitor('add', '--name', 'db', '--tcp', '127.0.0.1:5432', '--json');
    expect(added.code, added.err).toBe(0);
    expect(JSON.parse(added.out)).toMatchObject({ id: 1, name: 'db', protocol: 'tcp', host: '127.0.0.1', port: 5432 });
  });
});

describe('lifeline monitor check', () => {
  it('checks every enabled server once, prints each result, and exits 1 while one is down', async () => {
    expect((await monitor('add', '--name', 'web', '--url', `http://127.0.0.1:${upPort}/`)).code).toBe(0);
    expect((await monitor('add', '--name', 'cache', '--tcp', `127.0.0.1:${downPort}`)).code).toBe(0);

    const first = await monitor('check');
    expect(first.code, first.out + first.err).toBe(1);
    const lines = first.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^STATUS\s+ID\s+NAME\s+TARGET\s+RESULT$/);
    expect(lines[1]).toMatch(new RegExp(`^up\\s+1\\s+web\\s+http://127\\.0\\.0\\.1:${upPort}/\\s+200 in \\d+ ms$`));
    // One failure of the default two: not down yet, but this pass found it failing.
    expect(lines[2]).toMatch(
      new RegExp(`^pending\\s+2\\s+cache\\s+tcp://127\\.0\\.0\\.1:${downPort}\\s+connection refused \\(1 of 2 failures\\)$`),
    );
    expect(lines[3]).toMatch(/^checked 2 servers in \d+ ms: 1 up, 1 failing$/);
    expect(first.err).toBe('');

    const second = await monitor('check', '--json');
    expect(second.code, second.err).toBe(1);
    const reports = JSON.parse(second.out) as Report[];
    expect(reports.map((r) => [r.server.name, r.ping.status, r.ping.status_code, r.status.status])).toEqual([
      ['web', 'success', 200, 'up'],
      ['cache', 'failure', null, 'down'],
    ]);
    expect(reports[1]!.ping.error_message).toBe('connection refused');
    expect(reports[1]!.status.consecutive_failures).toBe(2);
    expect(typeof reports[0]!.ping.response_time).toBe('number');

    // What the checks stored is what `list` shows.
    const listed = JSON.parse((await monitor('list', '--json')).out) as ListedServer[];
    expect(listed.map((s) => s.current_status?.status)).toEqual(['up', 'down']);
    expect(listed[0]!.current_status!.last_check).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(await rows(join(cwd, 'monitor.db'), 'select server_id, status from monitor_ping_results order by server_id, id')).toEqual([
      { server_id: 1, status: 'success' },
      { server_id: 1, status: 'success' },
      { server_id: 2, status: 'failure' },
      { server_id: 2, status: 'failure' },
    ]);

    // Without the down server, the pass is clean: exit 0.
    expect((await monitor('remove', '2')).code).toBe(0);
    const clean = await monitor('check');
    expect(clean.code, clean.out + clean.err).toBe(0);
    expect(clean.out).toMatch(/checked 1 server in \d+ ms: 1 up\n$/);
  });

  it('checks many servers at once without a listener warning on stderr', async () => {
    // Regression: every running check listened on one AbortSignal, and Node warned past 10.
    const store = await openStore({ database: join(cwd, 'monitor.db') });
    try {
      for (let i = 0; i < 40; i++) {
        const checked = validateServer({ name: `s${i}`, protocol: 'http', host: '127.0.0.1', port: upPort, path: `/s${i}` });
        if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
        await store.servers.create(checked.value);
      }
    } finally {
      await store.close();
    }
    const run = await monitor('check');
    expect(run.code, run.err).toBe(0);
    expect(run.out).toMatch(/checked 40 servers in \d+ ms: 40 up\n$/);
    expect(run.err).toBe('');
  });

  it('with no servers, says so and exits 0', async () => {
    const run = await monitor('check');
    expect(run.code, run.err).toBe(0);
    expect(run.out).toBe('no enabled servers to check\n');
    expect(JSON.parse((await monitor('check', '--json')).out)).toEqual([]);
  });
});

describe('lifeline monitor remove', () => {
  it('removes a server and its history', async () => {
    await monitor('add', '--name', 'web', '--url', `http://127.0.0.1:${upPort}/`);
    await monitor('add', '--name', 'other', '--url', `http://127.0.0.1:${upPort}/other`);
    expect((await monitor('check')).code).toBe(0);
    const file = join(cwd, 'monitor.db');
    expect(await rows(file, 'select count(*) as n from monitor_ping_results where server_id = 1')).toEqual([{ n: 1 }]);

    const removed = await monitor('remove', '1');
    expect(removed.code, removed.err).toBe(0);
    expect(removed.out).toBe('removed server 1 (web) and its history\n');
    for (const table of [
      'monitor_servers where id = 1',
      'monitor_ping_results where server_id = 1',
      'monitor_server_status where server_id = 1',
      'monitor_status_changes where server_id = 1',
    ]) {
      expect(await rows(file, `select count(*) as n from ${table}`), table).toEqual([{ n: 0 }]);
    }
    expect(await rows(file, 'select count(*) as n from monitor_ping_results where server_id = 2')).toEqual([{ n: 1 }]);
  });
});

describe('lifeline monitor user add', () => {
  it('reads the password from stdin and stores a scrypt hash of it', async () => {
    const admin = await lifeline(['monitor', 'user', 'add', 'alice', '--admin'], { input: 'correct horse\n' });
    expect(admin.code, admin.err).toBe(0);
    expect(admin.out).toBe('created user alice (admin)\n');
    const reader = await lifeline(['monitor', 'user', 'add', 'bob'], { input: 'battery staple' });
    expect(reader.code, reader.err).toBe(0);
    expect(reader.out).toBe('created user bob (read-only)\n');

    const users = (await rows(
      join(cwd, 'monitor.db'),
      'select username, password_hash, is_admin from monitor_users order by id',
    )) as Array<{
      username: string;
      password_hash: string;
      is_admin: number;
    }>;
    expect(users.map((u) => [u.username, u.is_admin])).toEqual([
      ['alice', 1],
      ['bob', 0],
    ]);
    expect(users[0]!.password_hash).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{86}$/);
    expect(users[0]!.password_hash).not.toContain('correct horse');
    expect(await verifyPassword('correct horse', users[0]!.password_hash)).toBe(true);
    expect(await verifyPassword('correct horse!', users[0]!.password_hash)).toBe(false);
    expect(await verifyPassword('battery staple', users[1]!.password_hash)).toBe(true);

    const again = await lifeline(['monitor', 'user', 'add', 'alice'], { input: 'another password\n' });
    expectOneLineError(again, /user alice already exists/);
  });

  it('refuses an empty or short password and a bad user name', async () => {
    expectOneLineError(await lifeline(['monitor', 'user', 'add', 'carol'], { input: '' }), /no password on stdin/);
    expectOneLineError(await lifeline(['monitor', 'user', 'add', 'carol'], { input: 'short\n' }), /at least 8 characters/);
    expectOneLineError(await lifeline(['monitor', 'user', 'add', 'bad name'], { input: 'long enough\n' }), /user name/);
    expect(existsSync(join(cwd, 'monitor.db')) ? await rows(join(cwd, 'monitor.db'), 'select * from monitor_users') : []).toEqual([]);
  });

  /** The CLI on a real pseudo-terminal (through `script`): what it prints is what the user would see. */
  function inTerminal(...args: string[]) {
    const command = [process.execPath, cli, ...args].map((a) => JSON.stringify(a)).join(' ');
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      cwd,
      env: { ...process.env, DATABASE_URL: '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let seen = '';
    child.stdout.on('data', (chunk: Buffer) => (seen += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (seen += chunk.toString()));
    const closed = once(child, 'close').then(([code]) => code as number | null);
    return {
      seen: () => seen,
      type: (text: string) => child.stdin.write(text),
      closed,
      /** Resolves with the offset after `text`, once it appears after `from`. */
      async waitFor(text: string, from = 0): Promise<number> {
        const end = Date.now() + 15_000;
        while (seen.indexOf(text, from) < 0) {
          if (Date.now() > end) throw new Error(`no ${JSON.stringify(text)} in ${JSON.stringify(seen)}`);
          await new Promise((r) => setTimeout(r, 20));
        }
        return seen.indexOf(text, from) + text.length;
      },
    };
  }

  it('on a terminal, prompts twice without echoing the password', async () => {
    const term = inTerminal('monitor', 'user', 'add', 'dave', '--admin');
    const afterFirst = await term.waitFor('Password for dave: ');
    term.type('tty-secret-1\r');
    await term.waitFor('Again: ', afterFirst);
    term.type('tty-secret-1\r');
    expect(await term.closed, term.seen()).toBe(0);
    expect(term.seen()).toContain('created user dave (admin)');
    expect(term.seen()).not.toContain('tty-secret');
    const [user] = (await rows(join(cwd, 'monitor.db'), 'select password_hash from monitor_users')) as Array<{ password_hash: string }>;
    expect(await verifyPassword('tty-secret-1', user!.password_hash)).toBe(true);

    // An existing name is refused before anyone types a password.
    const again = inTerminal('monitor', 'user', 'add', 'dave');
    expect(await again.closed).toBe(1);
    expect(again.seen()).toContain('lifeline: user dave already exists');
    expect(again.seen()).not.toContain('Password');
  });

  it('on a terminal, two different passwords create nobody', async () => {
    const term = inTerminal('monitor', 'user', 'add', 'frank');
    const afterFirst = await term.waitFor('Password for frank: ');
    term.type('first-password\r');
    await term.waitFor('Again: ', afterFirst);
    term.type('other-password\r');
    expect(await term.closed, term.seen()).toBe(1);
    expect(term.seen()).toContain('lifeline: the passwords do not match');
    expect(await rows(join(cwd, 'monitor.db'), 'select * from monitor_users')).toEqual([]);
  });
});

describe('lifeline monitor misuse', () => {
  it('prints one line and exits 1 for each mistake', async () => {
    await monitor('add', '--name', 'web', '--url', `http://127.0.0.1:${upPort}/`);
    const cases: Array<[string[], RegExp]> = [
      [['add', '--url', 'http://example.com'], /required option '--name <name>'/],
      [['add', '--name', 'x'], /give the target: --url URL or --tcp HOST:PORT/],
      [
        ['add', '--name', 'x', '--url', 'http://a.example', '--tcp', 'a.example:1'],
        /give the target: --url URL or --tcp HOST:PORT, not both/,
      ],
      [
        ['add', '--name', 'x', '--url', 'ftp://example.com/'],
        /^lifeline: --url: expected an http:\/\/ or https:\/\/ URL, got "ftp:\/\/example\.com\/"$/m,
      ],
      [['add', '--name', 'x', '--url', 'example.com'], /--url: expected an http:\/\/ or https:\/\/ URL, got "example\.com"/],
      [['add', '--name', 'x', '--url', 'http://example.com:99999/'], /--url: expected an http:\/\/ or https:\/\/ URL/],
      [
        ['add', '--name', 'x', '--url', 'http://user:hunter2@example.com/'],
        /--url: credentials in the URL are not supported: http:\/\/user:\*\*\*@example\.com\//,
      ],
      [['add', '--name', 'x', '--tcp', 'example.com'], /--tcp: expected HOST:PORT \(\[IPv6\]:PORT\), got "example\.com"/],
      [['add', '--name', 'x', '--tcp', 'example.com:70000'], /^lifeline: --tcp: Ensure this value is less than or equal to 65535\.$/m],
      [['add', '--name', 'x', '--tcp', 'exa mple:80'], /--tcp: Enter a valid host name or IP address/],
      [['add', '--name', ' ', '--url', 'http://example.com'], /^lifeline: --name: This field may not be blank\.$/m],
      [['add', '--name', 'x'.repeat(201), '--url', 'http://example.com'], /--name: Ensure this field has no more than 200 characters\./],
      [
        ['add', '--name', 'x', '--url', 'http://example.com', '--interval', '0'],
        /^lifeline: --interval: Ensure this value is greater than or equal to 1\.$/m,
      ],
      [['add', '--name', 'x', '--url', 'http://example.com', '--interval', 'soon'], /--interval: A valid integer is required\./],
      [['remove', '42'], /^lifeline: no server with id 42$/m],
      [['remove', 'web'], /remove: expected a server id \(a positive integer\), got "web"/],
      [['remove'], /missing required argument 'id'/],
      [['user', 'add'], /missing required argument 'name'/],
      [['list', '--database', ''], /--database: expected a postgres:\/\/ URL or a SQLite file name, got an empty string/],
      [
        ['list', '--database', 'mysql://root:hunter2@db.example/app'],
        /--database: expected a postgres:\/\/ URL or a SQLite file name, got mysql:\/\/root:\*\*\*@db\.example\/app/,
      ],
      [
        ['list', '--database', join(cwd, 'missing-folder', 'm.db')],
        /cannot open the database .*missing-folder.*: .*directory does not exist/,
      ],
      [['list', '--jsn'], /unknown option '--jsn'/],
      [['frobnicate'], /unknown command 'frobnicate'/],
    ];
    for (const [args, pattern] of cases) {
      const run = await monitor(...args);
      expectOneLineError(run, pattern);
      expect(run.err, args.join(' ')).not.toContain('hunter2');
    }
    // None of that changed anything.
    expect(JSON.parse((await monitor('list', '--json')).out)).toHaveLength(1);
  }, 60_000); // some forty CLI processes, one after another

  it('add refuses a link-local or metadata target naming the option; MONITOR_ALLOW_LINK_LOCAL=1 allows it, a bad value is named', async () => {
    expectOneLineError(
      await monitor('add', '--name', 'x', '--url', 'http://169.254.169.254/latest/meta-data/'),
      /^lifeline: --url: Link-local and cloud metadata addresses are not allowed \(set MONITOR_ALLOW_LINK_LOCAL=1 to allow\)\.$/m,
    );
    expectOneLineError(
      await monitor('add', '--name', 'x', '--tcp', '[fd00:ec2::254]:80'),
      /^lifeline: --tcp: Link-local and cloud metadata/m,
    );
    const env = { MONITOR_ALLOW_LINK_LOCAL: '1' };
    const added = await lifeline(['monitor', 'add', '--name', 'meta', '--tcp', '169.254.169.254:80'], { env });
    expect(added.code, added.err).toBe(0);
    const bad = await lifeline(['monitor', 'add', '--name', 'meta', '--tcp', '169.254.169.254:80'], {
      env: { MONITOR_ALLOW_LINK_LOCAL: 'yes' },
    });
    expectOneLineError(bad, /^lifeline: MONITOR_ALLOW_LINK_LOCAL must be 1, 0, true or false, got "yes"$/m);
  });

  it('a bad MONITOR_CONCURRENCY stops check with one line naming it', async () => {
    const run = await lifeline(['monitor', 'check'], { env: { MONITOR_CONCURRENCY: 'lots' } });
    expectOneLineError(run, /^lifeline: MONITOR_CONCURRENCY must be an integer 1-100000, got "lots"$/m);
  });

  it('a bad DATABASE_URL is named, with its password hidden', async () => {
    const run = await lifeline(['monitor', 'list'], { env: { DATABASE_URL: 'mysql://root:hunter2@db.example/app' } });
    expectOneLineError(
      run,
      /^lifeline: DATABASE_URL: expected a postgres:\/\/ URL or a SQLite file name, got mysql:\/\/root:\*\*\*@db\.example\/app$/m,
    );
  });

  it('an unreachable PostgreSQL is one line without its password (and knex prints nothing on stdout)', async () => {
    for (const command of ['list', 'check', 'migrate']) {
      const run = await monitor(command, '--database', `postgres://lifeline:hunter2@127.0.0.1:${downPort}/monitor`);
      expectOneLineError(
        run,
        new RegExp(`cannot open the database postgres://lifeline:\\*\\*\\*@127\\.0\\.0\\.1:${downPort}/monitor: .*ECONNREFUSED`),
      );
      expect(run.err).not.toContain('hunter2');
    }
  });

  it('without better-sqlite3, says what to install', async () => {
    // An install of the package without the SQLite driver: its dist and every dependency but better-sqlite3.
    const install = join(cwd, 'install');
    mkdirSync(join(install, 'node_modules'), { recursive: true });
    cpSync(resolve('dist'), join(install, 'dist'), { recursive: true });
    cpSync(resolve('package.json'), join(install, 'package.json'));
    for (const name of readdirSync(resolve('node_modules'))) {
      if (name !== 'better-sqlite3' && !name.startsWith('.'))
        symlinkSync(resolve('node_modules', name), join(install, 'node_modules', name));
    }
    const run = await lifeline(['monitor', 'list'], { script: join(install, 'dist/cli/main.js') });
    expect({ code: run.code, out: run.out, err: run.err }).toEqual({
      code: 1,
      out: '',
      err: 'lifeline monitor: missing package; run: npm install better-sqlite3\n',
    });
  });

  it('other lifeline commands load neither the monitor nor knex (imported only by the monitor commands)', async () => {
    // A module hook records every module of the package's monitor folder that gets resolved, and knex shows up in require's cache.
    const hooks = join(cwd, 'hooks.mjs');
    const probe = join(cwd, 'probe.mjs');
    const loaded = join(cwd, 'loaded.txt');
    writeFileSync(
      hooks,
      "import { appendFileSync } from 'node:fs';\n" +
        'export async function resolve(specifier, context, next) {\n' +
        '  const result = await next(specifier, context);\n' +
        `  if (result.url.includes('/dist/monitor/')) appendFileSync(${JSON.stringify(loaded)}, result.url + '\\n');\n` +
        '  return result;\n}\n',
    );
    writeFileSync(
      probe,
      "import { createRequire, register } from 'node:module';\n" +
        `register(${JSON.stringify(pathToFileURL(hooks).href)});\n` +
        'const cache = createRequire(import.meta.url).cache;\n' +
        "process.on('exit', () => process.stderr.write(`knex loaded: ${Object.keys(cache).some((f) => f.includes('/node_modules/knex/'))}\\n`));\n",
    );
    const env = { NODE_OPTIONS: `--import=${pathToFileURL(probe).href}` };
    const other = await lifeline(['--version'], { env });
    expect(other.code, other.err).toBe(0);
    expect(other.err).toContain('knex loaded: false');
    expect(existsSync(loaded) ? readFileSync(loaded, 'utf8') : '').toBe('');

    const list = await lifeline(['monitor', 'list'], { env });
    expect(list.code, list.err).toBe(0);
    expect(list.err).toContain('knex loaded: true');
    expect(readFileSync(loaded, 'utf8')).toContain('/dist/monitor/index.js');
  });
});

describe('lifeline monitor on PostgreSQL', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await postgresDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('migrates, adds, lists, checks, creates a user and removes on the shared database', async () => {
    const on = (...args: string[]) => lifeline(['monitor', ...args, '--database', database.url]);
    const migrated = await on('migrate');
    expect(migrated.code, migrated.err).toBe(0);
    expect(migrated.out).toMatch(/^applied \d+ migrations to postgres:\/\/.*: 0001_initial, 0002_claims/);
    expect(migrated.out.endsWith(`: ${MIGRATIONS.join(', ')}\n`)).toBe(true);
    expect((await on('add', '--name', 'web', '--url', `http://127.0.0.1:${upPort}/`)).code).toBe(0);
    expect((await on('add', '--name', 'cache', '--tcp', `127.0.0.1:${downPort}`)).code).toBe(0);

    const checked = await on('check', '--json');
    expect(checked.code, checked.err).toBe(1);
    expect((JSON.parse(checked.out) as Report[]).map((r) => [r.server.name, r.ping.status])).toEqual([
      ['web', 'success'],
      ['cache', 'failure'],
    ]);
    const listed = JSON.parse((await on('list', '--json')).out) as ListedServer[];
    expect(listed.map((s) => [s.name, s.current_status?.status])).toEqual([
      ['web', 'up'],
      ['cache', 'pending'],
    ]);

    const user = await lifeline(['monitor', 'user', 'add', 'erin', '--admin', '--database', database.url], { input: 'postgres pass\n' });
    expect(user.code, user.err).toBe(0);
    expect((await on('remove', String(listed[1]!.id))).code).toBe(0);
    expect((await on('check')).code).toBe(0);

    // Straight from the database: what the commands wrote.
    const client = new pg.Client(database.url);
    await client.connect();
    try {
      const servers = await client.query('select name from monitor_servers order by id');
      expect(servers.rows).toEqual([{ name: 'web' }]);
      const users = await client.query('select username, password_hash, is_admin from monitor_users');
      expect(users.rows).toMatchObject([{ username: 'erin', is_admin: true }]);
      expect(await verifyPassword('postgres pass', (users.rows[0] as { password_hash: string }).password_hash)).toBe(true);
      const pings = await client.query('select count(*)::int as n from monitor_ping_results where server_id = $1', [listed[1]!.id]);
      expect(pings.rows).toEqual([{ n: 0 }]);
    } finally {
      await client.end();
    }
  });
});
