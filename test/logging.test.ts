import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger, errorHandler, health, keepAlive, redactText, type LogFormat } from '../src/index.js';
import { express } from './helpers/express.js';
import { listen } from './helpers/server.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeline-logging-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function readLines(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

describe('backend.log', () => {
  it('writes text lines: ISO time, level, [component], message', async () => {
    const file = join(dir, 'text.log');
    const logger = createLogger({ file, console: false });
    logger.info('server started', { component: 'server' });
    logger.warn('no component');
    await logger.closeAndFlush();
    const lines = readLines(file);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info \[server\] server started$/);
    expect(lines[1]).toMatch(/Z warn no component$/);
  });

  it('writes JSON lines with LOG_FORMAT=json and honours the level', async () => {
    const file = join(dir, 'json.log');
    const logger = createLogger({ file, console: false, format: 'json', level: 'warn' });
    logger.info('hidden');
    logger.error('visible', { component: 'health', check: 'database' });
    await logger.closeAndFlush();
    const lines = readLines(file).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'error',
      message: 'visible',
      component: 'health',
      check: 'database',
      timestamp: expect.any(String),
    });
  });

  it('never writes a database password, bearer token or cookie', async () => {
    const file = join(dir, 'secrets.log');
    const logger = createLogger({ file, console: false });
    logger.error('connect failed for postgres://app:hunter2@db.internal:5432/prod');
    logger.info('request', {
      headers: { authorization: 'Bearer abc.def.ghi', cookie: 'sid=s3ss10n' },
      url: 'mysql://root:toor@localhost/x',
    });
    logger.warn('login with password=letmein&user=bob, token: xyz789');
    await logger.closeAndFlush();
    const text = readFileSync(file, 'utf8');
    for (const secret of ['hunter2', 'abc.def.ghi', 's3ss10n', 'toor', 'letmein', 'xyz789']) expect(text).not.toContain(secret);
    expect(text).toContain('postgres://app:***@db.internal:5432/prod');
  });

  it('redactText keeps what is not a secret', () => {
    expect(redactText('GET /api/users 200')).toBe('GET /api/users 200');
    expect(redactText('sqlite file ./data/app.db')).toBe('sqlite file ./data/app.db');
  });

  it('a DATABASE_URL password never reaches the log nor a health answer', async () => {
    const file = join(dir, 'health.log');
    const logger = createLogger({ file, console: false });
    const h = health({
      logger,
      interval: 0,
      checks: { database: () => Promise.reject(new Error('password authentication failed: postgres://app:hunter2@127.0.0.1:1/db')) },
    });
    const app = express();
    app.use(h);
    const res = await request(app).get('/api/health');
    await h.close();
    await logger.closeAndFlush();
    expect(res.status).toBe(503);
    expect(res.text).not.toContain('hunter2');
    expect(readFileSync(file, 'utf8')).toContain('database: password authentication failed: postgres://app:***@');
    expect(readFileSync(file, 'utf8')).not.toContain('hunter2');
  });

  it('survives losing its folder: one stderr line per kind of failure, then it writes again', async () => {
    const folder = join(dir, 'gone');
    const file = join(folder, 'backend.log');
    const logger = createLogger({ file, console: false });
    const errors: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => errors.push(String(chunk)) > 0) as typeof process.stderr.write;
    try {
      logger.info('before');
      rmSync(folder, { recursive: true });
      writeFileSync(folder, 'a file where the folder was');
      for (let i = 0; i < 5; i++) logger.info(`lost ${i}`);
      rmSync(folder);
      logger.info('after');
      await logger.closeAndFlush();
    } finally {
      process.stderr.write = write;
    }
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(
      /^lifeline: .*backend\.log: writing the log failed: .*(EEXIST|ENOTDIR).*\(logged once until it recovers\)\n$/,
    );
    expect(errors[1]).toMatch(/writing the log recovered after 5 failed tries/);
    expect(readLines(file).map((l) => l.replace(/^.* info /, ''))).toEqual(['after']);
  });

  it('rotates by size, keeping every line whole and none lost', async () => {
    const rotDir = mkdtempSync(join(dir, 'rot-'));
    const file = join(rotDir, 'backend.log');
    const logger = createLogger({ file, console: false, maxSize: 8 * 1024, maxFiles: 10 });
    const total = 600;
    for (let i = 0; i < total; i++) logger.info(`line ${String(i).padStart(4, '0')} ${'x'.repeat(80)}`);
    await logger.closeAndFlush();
    const files = readdirSync(rotDir);
    expect(files.length).toBeGreaterThan(3);
    const seen = new Set<number>();
    for (const name of files) {
      const content = readFileSync(join(rotDir, name), 'utf8');
      expect(content.endsWith('\n')).toBe(true);
      expect(content.length).toBeLessThanOrEqual(8 * 1024 + 200);
      for (const line of content.split('\n').filter(Boolean)) {
        const m = /^\S+Z info line (\d{4}) x{80}$/.exec(line);
        expect(m, `split or foreign line in ${name}: ${line}`).not.toBeNull();
        seen.add(Number(m![1]));
      }
    }
    expect(seen.size).toBe(total);
  });

  it.each([
    ['with no lock to begin with', 'none'],
    ['after a writer died holding the rotation lock', 'dead owner'],
    ['after a lock was held for longer than 10 s (a stopped process, a reused PID)', 'old'],
  ] as const)(
    "several processes rotating one file lose no line and keep each writer's order, %s",
    async (_, lock) => {
      const rotDir = mkdtempSync(join(dir, 'shared-'));
      const lockFile = join(rotDir, '.backend.log.rotating');
      if (lock === 'dead owner') {
        const dead = spawn(process.execPath, ['-e', '']);
        await new Promise((resolve) => dead.on('exit', resolve));
        writeFileSync(lockFile, `${hostname()} ${dead.pid} 0123456789ab`);
      } else if (lock === 'old') {
        writeFileSync(lockFile, `${hostname()} ${process.pid} 0123456789ab`);
        const old = (Date.now() - 11_000) / 1000;
        utimesSync(lockFile, old, old);
      }
      const maxSize = 4096;
      const { files, text } = await runLogWriters(rotDir, maxSize);
      expect(files.length).toBeGreaterThan(20);
      // The rotation lock (and its helpers) are gone once every writer has finished.
      expect(
        files.every((name) => /^backend\.log(\.\d+)?$/.test(name)),
        files.join(' '),
      ).toBe(true);
      // A file is rotated only once full: a small rotated file is a second rotation on top of another's.
      const longestLine = Math.max(...text.split('\n').map((line) => line.length + 1));
      for (const name of files.filter((n) => n !== 'backend.log')) {
        expect(statSync(join(rotDir, name)).size, name).toBeGreaterThan(maxSize - longestLine);
      }
    },
    60_000,
  );

  it('a rotation lock held by a live process costs each writer one short wait, not one per line, and is left to its owner', async () => {
    const rotDir = mkdtempSync(join(dir, 'held-'));
    const lockFile = join(rotDir, '.backend.log.rotating');
    const held = `${hostname()} ${process.pid} 0123456789ab`; // this test process: alive, for the whole run
    writeFileSync(lockFile, held);
    // Waiting 250 ms for each of the 1,500 × 4 lines past the size limit would outlast the test's timeout.
    const { files } = await runLogWriters(rotDir, 4096);
    expect(files.sort()).toEqual(['.backend.log.rotating', 'backend.log']); // written past the limit, never rotated
    expect(readFileSync(lockFile, 'utf8')).toBe(held);
  }, 60_000);

  it('removes rotated files older than the retention period at the next rotation', async () => {
    const rotDir = mkdtempSync(join(dir, 'retention-'));
    const file = join(rotDir, 'backend.log');
    const eleven = (Date.now() - 11 * 86_400_000) / 1000;
    for (const n of [1, 2, 3]) {
      writeFileSync(`${file}.${n}`, `old ${n}\n`);
      if (n > 1) utimesSync(`${file}.${n}`, eleven, eleven);
    }
    const logger = createLogger({ file, console: false, maxSize: 1024, maxFiles: 5, retentionDays: 10 });
    for (let i = 0; i < 15; i++) logger.info(`line ${i} ${'y'.repeat(60)}`); // one rotation
    await logger.closeAndFlush();
    const files = readdirSync(rotDir).sort();
    // .1 (new) and .2 (the recent old .1) stay; the two old generations went.
    expect(files).toEqual(['backend.log', 'backend.log.1', 'backend.log.2']);
    expect(readFileSync(`${file}.2`, 'utf8')).toBe('old 1\n');
  });
});

/** Sends the head as raw bytes (latin1: one byte per char), so it carries exactly what the test wrote; the body as UTF-8. */
function rawRequest(url: string, head: string, body = ''): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    let answer = '';
    const socket = connect(Number(port), '127.0.0.1', () => {
      const bytes = Buffer.from(`${head}\r\nHost: x\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`, 'latin1');
      socket.end(Buffer.concat([bytes, Buffer.from(body)]));
    });
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

type Req = { params: Record<string, string>; headers: Record<string, string | string[] | undefined>; body: Record<string, unknown> };
type Res = { json(b: unknown): void };

const FORGED = '2026-01-01T00:00:00.000Z error [server] forged';
const RECORD = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (error|warn|info|debug) /;

/** An app whose routes log request input every way it can reach a line; returns the log file's text. */
async function logHostileRequests(format: LogFormat): Promise<string> {
  const file = join(dir, `injection-${format}.log`);
  const logger = createLogger({ file, console: false, format });
  const app = express();
  const ka = keepAlive({ logger, interval: 0, accessLog: true });
  app.use(ka);
  app.use(express.json());
  app.get('/users/:id', (req: Req) => {
    throw new Error(`no user ${req.params.id}`);
  });
  app.get('/client', (req: Req, res: Res) => {
    logger.warn(`client ${String(req.headers['x-client'])}`, { agent: req.headers['x-client'] });
    res.json({});
  });
  app.post('/items', (req: Req) => {
    logger.info('body received', { body: req.body });
    throw new Error(`unknown field ${Object.keys(req.body)[0]}`);
  });
  app.use(errorHandler({ logger, exposeStack: false }));
  const running = await listen(app);
  try {
    // %0d%0a in the path: decoded into the route parameter, thrown in an error message.
    await rawRequest(running.url, `GET /users/x%0d%0a${encodeURIComponent(FORGED)}%1b[2J HTTP/1.1`);
    // A header value: HTAB and obs-text bytes (0x9b is CSI to some terminals) pass Node's parser.
    await rawRequest(running.url, `GET /client HTTP/1.1\r\nX-Client: a\tb\x9b31mred`);
    // A JSON body key with CR LF and ESC, logged in metadata and in an error message.
    const key = `k\r\n${FORGED}\u001b[31m\u2028`;
    await rawRequest(running.url, 'POST /items HTTP/1.1\r\nContent-Type: application/json', JSON.stringify({ [key]: 1 }));
    // Raw control characters in the path: Node refuses the request before the app sees it.
    expect(await rawRequest(running.url, `GET /raw\x1b[2J\x7f HTTP/1.1`)).toMatch(/^HTTP\/1.1 400 /);
  } finally {
    await running.close();
    await ka.close();
    await logger.closeAndFlush();
  }
  return readFileSync(file, 'utf8');
}

describe('file modes', () => {
  it('creates a new log 0600 but never changes a file it did not create: an older 0644 log, a device node (LOG_FILE=/dev/null)', async () => {
    const fresh = join(dir, 'modes-new.log');
    const old = join(dir, 'modes-old.log');
    const device = join(dir, 'modes-null');
    writeFileSync(old, 'an older line\n', { mode: 0o644 });
    chmodSync(old, 0o644);
    execFileSync('mknod', ['-m', '0666', device, 'c', '1', '3']);
    for (const file of [fresh, old, device]) {
      const logger = createLogger({ file, console: false });
      logger.info('one line');
      await logger.closeAndFlush();
    }
    expect(statSync(fresh).mode & 0o777).toBe(0o600);
    expect(statSync(old).mode & 0o777).toBe(0o644);
    expect(readFileSync(old, 'utf8')).toMatch(/^an older line\n.* info one line\n$/);
    expect(statSync(device).isCharacterDevice()).toBe(true);
    expect(statSync(device).mode & 0o777).toBe(0o666);
    // 0640 with an option too, not only LOG_FILE_MODE.
    const grouped = join(dir, 'modes-group.log');
    const logger = createLogger({ file: grouped, console: false, fileMode: 0o640 });
    logger.info('one line');
    await logger.closeAndFlush();
    expect(statSync(grouped).mode & 0o777).toBe(0o640);
    expect(() => createLogger({ file: grouped, console: false, fileMode: 0o644 as never })).toThrow(
      /^createLogger: expected `fileMode` to be 0o600 or 0o640, got 420$/,
    );
  });
});

describe('no log injection', () => {
  it('text lines: CR, LF and control characters from paths, headers, error messages and JSON keys are escaped', async () => {
    const text = await logHostileRequests('text');
    // eslint-disable-next-line no-control-regex -- no raw control character may be left
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/);
    const lines = text.split('\n');
    expect(lines.pop()).toBe('');
    // Every line is a record, or a line of a stack under its record (head, then frames): none starts like a forged record.
    const records = lines.filter((l) => RECORD.test(l));
    const others = lines.filter((l) => !RECORD.test(l));
    expect(others.filter((l) => !/^\s+at /.test(l))).toEqual([
      `Error: no user x\\r\\n${FORGED}\\x1b[2J`,
      `Error: unknown field k\\r\\n${FORGED}\\x1b[31m\\u2028`,
    ]);
    expect(lines.some((l) => l.startsWith(FORGED))).toBe(false);
    // error + access, warn + access, info + error + access; the refused request logs nothing.
    expect(records).toHaveLength(7);
    expect(records.filter((l) => l.includes('[access]'))).toHaveLength(3);
    // The path is logged as it came, still percent-encoded; the decoded parameter, escaped.
    expect(text).toContain(`error [error] GET /users/x%0d%0a2026-01-01T00%3A00%3A00.000Z%20error`);
    expect(text).toContain(`failed: no user x\\r\\n${FORGED}\\x1b[2J\n`);
    expect(text).toContain('warn client a\\tb\\x9b31mred {"agent":"a\\tb\\x9b31mred"}');
    expect(text).toContain(`info body received {"body":{"k\\r\\n${FORGED}\\u001b[31m\\u2028":1}}`);
    expect(text).toContain(`failed: unknown field k\\r\\n${FORGED}\\x1b[31m\\u2028`);
  });

  it('a message with a fake stack frame cannot put a forged record at column 0 of the stack lines', async () => {
    const file = join(dir, 'fake-frame.log');
    const logger = createLogger({ file, console: false });
    const app = express();
    app.get('/users/:id', (req: Req) => {
      throw new Error(`no user ${req.params.id}`);
    });
    app.use(errorHandler({ logger, exposeStack: false }));
    const running = await listen(app);
    try {
      await rawRequest(running.url, `GET /users/x%0a%20%20%20%20at%20y%0a${encodeURIComponent(FORGED)} HTTP/1.1`);
    } finally {
      await running.close();
      await logger.closeAndFlush();
    }
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines.some((l) => l.startsWith(FORGED))).toBe(false);
    expect(lines.filter((l) => RECORD.test(l))).toHaveLength(1);
    expect(lines.some((l) => l === `    ${FORGED}`)).toBe(true);
  });

  it('redacts secret-named fields at the top of the metadata too, in text and JSON', async () => {
    for (const format of ['text', 'json'] as const) {
      const file = join(dir, `top-meta-${format}.log`);
      const logger = createLogger({ file, console: false, format });
      logger.warn('meta', { password: 'hunter2', token: 'tok123', apiKey: 'k-9', user: 'ada', nested: { password: 'n-1' } });
      await logger.closeAndFlush();
      const text = readFileSync(file, 'utf8');
      for (const secret of ['hunter2', 'tok123', 'k-9', 'n-1']) expect(text, `${format} ${secret}`).not.toContain(secret);
      expect(text).toContain('ada');
    }
  });

  it('JSON lines: one object per line, control characters escaped in values and keys', async () => {
    const text = await logHostileRequests('json');
    // eslint-disable-next-line no-control-regex -- no raw control character may be left
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/);
    const lines = text.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(7);
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.find((r) => r.level === 'warn')).toMatchObject({ message: 'client a\tb\u009b31mred', agent: 'a\tb\u009b31mred' });
    expect(records.find((r) => r.message === 'body received')?.body).toEqual({ [`k\r\n${FORGED}\u001b[31m\u2028`]: 1 });
  });
});

// Each form a secret takes in a log line: the secret must go, the rest must stay readable.
const SECRET_FORMS: Array<{ form: string; line: string; secrets: string[]; kept: string[] }> = [
  {
    form: 'URL password with @',
    line: 'connect postgres://u:SEC@RET@db.host/app failed',
    secrets: ['SEC', 'RET'],
    kept: ['postgres://u:***@db.host/app failed'],
  },
  {
    form: 'URL password with /',
    line: 'connect postgres://u:SEC/RET@db.host/app failed',
    secrets: ['SEC', 'RET'],
    kept: ['postgres://u:***@db.host/app failed'],
  },
  {
    form: 'URL password, no user',
    line: 'redis://:S3CR3T@cache:6379/0 down',
    secrets: ['S3CR3T'],
    kept: ['redis://:***@cache:6379/0 down'],
  },
  { form: 'access_token=', line: 'GET /cb?access_token=T0K3N&state=ok', secrets: ['T0K3N'], kept: ['/cb?access_token=***&state=ok'] },
  {
    form: 'client_secret=',
    line: 'oauth client_id=app client_secret=CL13NT done',
    secrets: ['CL13NT'],
    kept: ['client_id=app client_secret=*** done'],
  },
  { form: 'PGPASSWORD=', line: 'env PGPASSWORD=PGS3CR3T psql -h db', secrets: ['PGS3CR3T'], kept: ['PGPASSWORD=*** psql -h db'] },
  { form: 'DB_PASS=', line: 'DB_PASS=DBS3CR3T DB_HOST=db', secrets: ['DBS3CR3T'], kept: ['DB_PASS=*** DB_HOST=db'] },
  {
    form: 'sslpassword=',
    line: 'host=db sslpassword=SSLS3CR3T port=5432',
    secrets: ['SSLS3CR3T'],
    kept: ['host=db sslpassword=*** port=5432'],
  },
  {
    form: 'JSON password',
    line: 'body {"user":"bob","password":"PW S3CR3T"}',
    secrets: ['PW S3CR3T', 'S3CR3T'],
    kept: ['"user":"bob"', '"password":"***"'],
  },
  {
    form: 'JSON secret, token, api_key',
    line: '{"secret": "SEC1", "token":"TOK2", "api_key":"KEY3", "n":1}',
    secrets: ['SEC1', 'TOK2', 'KEY3'],
    kept: ['"n":1', '"api_key":"***"'],
  },
  {
    form: 'Authorization: Token',
    line: 'headers Authorization: Token AUTHT0K3N accept: */*',
    secrets: ['AUTHT0K3N'],
    kept: ['Authorization: Token *** accept: */*'],
  },
  {
    form: 'Authorization: Bearer',
    line: 'authorization: Bearer abc.def.ghi',
    secrets: ['abc.def.ghi'],
    kept: ['authorization: Bearer ***'],
  },
  {
    form: 'Authorization: Basic',
    line: 'Authorization: Basic dXNlcjpwYXNz',
    secrets: ['dXNlcjpwYXNz'],
    kept: ['Authorization: Basic ***'],
  },
  { form: 'Cookie header', line: 'Cookie: theme=dark; sid=S3SS10N', secrets: ['S3SS10N'], kept: ['Cookie: ***'] },
  {
    form: 'no secret',
    line: 'GET /api/users 200: tests passed: 3, token expired',
    secrets: [],
    kept: ['GET /api/users 200: tests passed: 3, token expired'],
  },
];

describe('redaction', () => {
  it.each(SECRET_FORMS)('redactText: $form', ({ line, secrets, kept }) => {
    const out = redactText(line);
    for (const secret of secrets) expect(out).not.toContain(secret);
    for (const part of kept) expect(out).toContain(part);
  });

  it.each(['text', 'json'] as const)('every form is redacted in %s lines, in the message and in metadata', async (format) => {
    const file = join(dir, `redact-${format}.log`);
    const logger = createLogger({ file, console: false, format });
    for (const { line } of SECRET_FORMS) logger.warn(line, { detail: line, nested: { list: [line] } });
    await logger.closeAndFlush();
    const text = readFileSync(file, 'utf8');
    expect(text.split('\n').filter(Boolean)).toHaveLength(SECRET_FORMS.length);
    for (const { secrets } of SECRET_FORMS) for (const secret of secrets) expect(text).not.toContain(secret);
    if (format === 'text') for (const { kept } of SECRET_FORMS) for (const part of kept) expect(text).toContain(part);
    else {
      const records = text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { message: string; detail: string });
      records.forEach((r, i) => {
        for (const part of SECRET_FORMS[i]!.kept) {
          expect(r.message).toContain(part);
          expect(r.detail).toContain(part);
        }
      });
    }
  });
});

describe("the app's own logger", () => {
  it('gets the package lines redacted too: an error quoting a database URL reaches it without the password', async () => {
    const lines: Array<{ message: string; meta: unknown }> = [];
    const record = (message: string, meta?: Record<string, unknown>) => void lines.push({ message, meta });
    const logger = { error: record, warn: record, info: record, debug: record };
    const app = express();
    app.get('/boom', () => {
      throw new Error('connect failed: postgres://app:Sup3rS3cret@db.internal/notes');
    });
    app.use(errorHandler({ logger }));
    expect((await request(app).get('/boom')).status).toBe(500);
    const text = JSON.stringify(lines);
    expect(text).toContain('postgres://app:');
    expect(text).not.toContain('Sup3rS3cret');
  });
});

/**
 * Four processes append 1,500 lines each to backend.log in `folder`; checks they all exit 0 with
 * nothing on stderr (no failed write or rotation) and that, reading the generations oldest first,
 * each writer's lines come out complete and in order.
 */
async function runLogWriters(folder: string, maxSize: number): Promise<{ files: string[]; text: string }> {
  const writers = 4;
  const count = 1500;
  const stderr: string[] = [];
  const codes = await Promise.all(
    Array.from({ length: writers }, (_, id) => {
      const args = [resolve('test/fixtures/log-writer.mjs'), join(folder, 'backend.log'), String(id), String(count), String(maxSize)];
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'pipe'] });
      child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
      return new Promise<number | null>((resolve) => child.on('exit', resolve));
    }),
  );
  expect(codes).toEqual(Array(writers).fill(0));
  expect(stderr.join('')).toBe('');
  const files = readdirSync(folder);
  const generations = files
    .filter((name) => name.startsWith('backend.log'))
    .sort((a, b) => Number(b.split('.')[2] ?? 0) - Number(a.split('.')[2] ?? 0));
  const text = generations.map((name) => readFileSync(join(folder, name), 'utf8')).join('');
  for (let id = 0; id < writers; id++) {
    const seen = [...text.matchAll(new RegExp(`writer ${id} line (\\d+) x{60}$`, 'gm'))].map((m) => Number(m[1]));
    expect(seen, `writer ${id}`).toEqual(Array.from({ length: count }, (_, i) => i));
  }
  return { files, text };
}
