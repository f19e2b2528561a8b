import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from './helpers.js';

// Runs the built CLI (npm run build first), as an operator would.
const cli = resolve('dist/cli/main.js');

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function run(args: string[], env: Record<string, string | undefined> = {}, files: Record<string, string> = {}) {
  const cwd = mkdtempSync(join(tmpdir(), 'lifeline-monitor-serve-'));
  dirs.push(cwd);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(cwd, name), text);
  const clean: Record<string, string | undefined> = { ...process.env, LOG_FILE: join(cwd, 'backend.log'), ...env };
  for (const key of ['DATABASE_URL', 'MONITOR_SECRET', 'ENVIRONMENT', 'PORT']) if (!(key in env)) delete clean[key];
  const child = spawn(process.execPath, [cli, 'monitor', 'serve', ...args], { cwd, env: clean, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, cwd, output: () => output, exited };
}

describe('lifeline monitor serve', () => {
  it('starts with MONITOR_ADMIN_* set, answers /api/auth/token/, and exits 0 on SIGTERM', async () => {
    const proc = run(['--port', '0', '--database', 'watch.db'], {
      MONITOR_ADMIN_USER: 'root',
      MONITOR_ADMIN_PASSWORD: 'root-password-1',
    });
    try {
      let url = '';
      await waitFor(
        () => {
          url = /listening on (http:\/\/\S+)/.exec(proc.output())?.[1] ?? '';
          return url !== '';
        },
        20_000,
        `the listening line in:\n${proc.output()}`,
      );
      const login = await request(url).post('/api/auth/token/').send({ username: 'root', password: 'root-password-1' });
      expect(login.status).toBe(200);
      const access = (login.body as { access: string }).access;
      expect((await request(url).get('/api/servers/').set('Authorization', `Bearer ${access}`)).body).toMatchObject({ count: 0 });
      expect((await request(url).get('/api/health/ready')).status).toBe(200);
      expect((await request(url).get('/monitor/')).status).toBe(200);
      // Never log tokens or passwords.
      expect(proc.output()).not.toContain('root-password-1');
      expect(proc.output()).not.toContain(access);
    } finally {
      proc.child.kill('SIGTERM');
    }
    expect(await proc.exited).toBe(0);
    expect(proc.output()).toContain('created the admin user "root"');
  }, 40_000);

  it('prints where its dashboard is and logs each state change in one line', async () => {
    const target = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((done) => target.listen(0, '127.0.0.1', done));
    const targetPort = (target.address() as AddressInfo).port;
    const cwd = mkdtempSync(join(tmpdir(), 'lifeline-monitor-serve-'));
    dirs.push(cwd);
    const add = spawnSync(
      process.execPath,
      [
        cli,
        'monitor',
        'add',
        '--name',
        'myapp',
        '--url',
        `http://127.0.0.1:${targetPort}/`,
        '--interval',
        '1',
        '--database',
        join(cwd, 'watch.db'),
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(add.status, add.stderr).toBe(0);
    const proc = run(['--port', '0', '--database', join(cwd, 'watch.db')]);
    try {
      await waitFor(
        () =>
          /lifeline monitor: dashboard at http:\/\/127\.0\.0\.1:\d+\/monitor\/ \(REST API under http:\/\/127\.0\.0\.1:\d+\/api\/\)\n/.test(
            proc.output(),
          ),
        20_000,
        proc.output(),
      );
      await waitFor(() => /info \[monitor\] myapp: pending -> up\n/.test(proc.output()), 20_000, proc.output());
      target.close();
      target.closeAllConnections();
      // The first failure makes it pending, the second (failure_threshold 2) down.
      await waitFor(() => /warn \[monitor\] myapp: pending -> down \(connection refused\)\n/.test(proc.output()), 20_000, proc.output());
      expect(proc.output()).toMatch(/info \[monitor\] myapp: up -> pending \(connection refused\)\n/);
      // One line per change, not one per check.
      expect(proc.output().match(/myapp: /g)).toHaveLength(3);
    } finally {
      proc.child.kill('SIGTERM');
      target.close();
    }
    expect(await proc.exited).toBe(0);
  }, 60_000);

  it('stops with one line and exit 1 when MONITOR_SECRET is missing in production', async () => {
    const proc = run(['--port', '0'], { NODE_ENV: 'production' });
    expect(await proc.exited).toBe(1);
    const lines = proc.output().trim().split('\n');
    expect(lines).toEqual(['lifeline: MONITOR_SECRET is required in production: set it to a random string of at least 32 characters']);
    // Refused before anything was created.
    expect(existsSync(join(proc.cwd, 'monitor.db'))).toBe(false);
  }, 30_000);

  it('stops with one line and exit 1 on a bad --port or a half-set admin', async () => {
    const port = run(['--port', 'abc']);
    expect(await port.exited).toBe(1);
    expect(port.output().trim()).toBe("lifeline: option '-p, --port <n>' argument 'abc' is invalid. --port expects a whole number 0-65535");
    const admin = run(['--port', '0'], { MONITOR_ADMIN_USER: 'root' });
    expect(await admin.exited).toBe(1);
    expect(admin.output().trim()).toBe('lifeline: MONITOR_ADMIN_USER is set but MONITOR_ADMIN_PASSWORD is not');
    expect(existsSync(join(admin.cwd, 'monitor.db'))).toBe(false);
    const env = run([], { PORT: '99999' });
    expect(await env.exited).toBe(1);
    expect(env.output().trim()).toBe("lifeline: Invalid PORT: expected a port number 0-65535, got '99999'");
    expect(existsSync(join(env.cwd, 'monitor.db'))).toBe(false);
  }, 30_000);

  it('loads .env.prod for ENVIRONMENT=production (its MONITOR_SECRET and admin), and refuses an unknown ENVIRONMENT in one line', async () => {
    const proc = run(
      ['--port', '0'],
      { ENVIRONMENT: 'production' },
      {
        '.env.prod': `MONITOR_SECRET=${'p'.repeat(40)}\nMONITOR_ADMIN_USER=prod\nMONITOR_ADMIN_PASSWORD=prod-password-1\n`,
      },
    );
    try {
      let url = '';
      await waitFor(
        () => {
          url = /listening on (http:\/\/\S+)/.exec(proc.output())?.[1] ?? '';
          return url !== '';
        },
        20_000,
        'the listening line',
      );
      expect((await request(url).post('/api/auth/token/').send({ username: 'prod', password: 'prod-password-1' })).status).toBe(200);
      // Production for details too: anonymous health answers carry no server facts.
      const health = await request(url).get('/api/health');
      expect(health.body).toHaveProperty('status');
      expect(health.body).not.toHaveProperty('server_info');
    } finally {
      proc.child.kill('SIGTERM');
    }
    expect(await proc.exited).toBe(0);
    const bad = run(['--port', '0'], { ENVIRONMENT: 'qa' });
    expect(await bad.exited).toBe(1);
    expect(bad.output().trim()).toBe("lifeline: Invalid ENVIRONMENT: expected development, staging or production, got 'qa'");
  }, 40_000);
});
