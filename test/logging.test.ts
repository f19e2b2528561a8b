import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger, health, redactText } from '../src/index.js';
import { express } from './helpers/express.js';

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
