import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runNode } from '../helpers/process.js';

const cli = resolve('dist/cli/main.js');
const app = resolve('test/fixtures/startup-app.mjs');
const root = mkdtempSync(join(tmpdir(), 'lifeline-startup-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const logDir = join(root, 'logs-are-here');
mkdirSync(logDir);
const aFile = join(root, 'a-file');
writeFileSync(aFile, '');

/** Runs `node script args` with `env`; a process still running after `ms` is killed (the check did not stop it). */
async function run(args: string[], env: Record<string, string>, ms = 15_000) {
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, PORT: '', WORKERS: '', LOG_FILE: join(root, 'backend.log'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  // Killed with its process group's workers: a cluster that started forking must not outlive the test.
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, out, err };
}

const cases: Array<[string, Record<string, string>, RegExp]> = [
  [
    "FRONTEND_URL with '*' among origins",
    { FRONTEND_URL: '*,http://a.example' },
    /^lifeline serve: Invalid FRONTEND_URL: expected either '\*' alone or a list of origins, got '\*,http:\/\/a\.example'$/,
  ],
  [
    'LOG_FILE that is a directory',
    { LOG_FILE: logDir },
    new RegExp(`^lifeline serve: Invalid LOG_FILE: cannot write the log file ${logDir} \\(EISDIR, it is a directory\\)$`),
  ],
  [
    'LOG_FILE under a file',
    { LOG_FILE: join(aFile, 'backend.log') },
    /^lifeline serve: Invalid LOG_FILE: cannot write the log file .*a-file\/backend\.log \((ENOTDIR|EEXIST), a parent of it is not a directory\)$/,
  ],
  [
    // Node's own recursive mkdir retries forever where mkdir answers ENOENT under an existing folder.
    'LOG_FILE in a folder that cannot be made (/proc)',
    { LOG_FILE: '/proc/lifeline-test/logs/backend.log' },
    /^lifeline serve: Invalid LOG_FILE: cannot write the log file \/proc\/lifeline-test\/logs\/backend\.log \(ENOENT, its folder cannot be created there\)$/,
  ],
  [
    'WORKERS above 4 per CPU',
    { WORKERS: '1000' },
    /^lifeline serve: Invalid WORKERS: expected a number of workers 1-\d+ \(4 per CPU.*WORKERS_FORCE=1.*, got '1000'$/,
  ],
  [
    'HOST that is not an IP or a hostname',
    { HOST: 'bad_host!' },
    /^lifeline serve: Invalid HOST: expected an IP address .* or a hostname like 'localhost', got 'bad_host!'$/,
  ],
  ['HOST that is a mistyped IPv4 address', { HOST: '256.1.2.3' }, /^lifeline serve: Invalid HOST: .*got '256\.1\.2\.3'$/],
];

describe('lifeline serve stops at startup with one line for an invalid variable', () => {
  it.each(cases)('%s: one stderr line, exit 1, before any worker', async (_name, env, message) => {
    // A fixed port: the cluster checks it before anything else, and a regression would listen on it.
    const result = await run([cli, 'serve', app, '--port', '1'], env);
    expect(result.err.trimEnd().split('\n')).toHaveLength(1);
    expect(result.err.trimEnd()).toMatch(message);
    expect(result.code).toBe(1);
  });

  it.each(cases.filter(([name]) => !name.startsWith('WORKERS')))('%s: the same line with --single', async (_name, env, message) => {
    const result = await run([cli, 'serve', app, '--single', '--port', '0'], env);
    expect(result.err.trimEnd().split('\n')).toHaveLength(1);
    expect(result.err.trimEnd()).toMatch(message);
    expect(result.code).toBe(1);
  });

  it('--workers above 4 per CPU is one line naming the bound and --force-workers', async () => {
    const result = await run([cli, 'serve', app, '--port', '1', '--workers', String(4 * availableParallelism() + 1)], {});
    expect(result.err.trimEnd().split('\n')).toHaveLength(1);
    expect(result.err).toMatch(
      /^lifeline serve: --workers expects a number of workers 1-\d+ \(4 per CPU.*--force-workers.* or 'auto', got '\d+'$/m,
    );
    expect(result.code).toBe(1);
  });

  it('serve() exits 1 with one line for an invalid HOST', async () => {
    const result = await run([resolve('test/fixtures/serve-app.mjs')], { HOST: 'bad_host!' });
    expect(result.err.trimEnd().split('\n')).toHaveLength(1);
    expect(result.err.trimEnd()).toMatch(/^serve: Invalid HOST: expected an IP address/);
    expect(result.code).toBe(1);
  });
});

describe('NODE_ENV other than development and test is production', () => {
  it.each(['PRODUCTION', 'prod', 'staging'])('NODE_ENV=%s: warned once, health details hidden, HSTS on', async (nodeEnv) => {
    const logFile = join(root, `${nodeEnv}.log`);
    const child = runNode(resolve('test/fixtures/serve-app.mjs'), { NODE_ENV: nodeEnv, LOG_FILE: logFile, HOST: '', PORT: '' });
    try {
      const { url } = await child.firstJson<{ url: string }>();
      const health = await fetch(`${url}/api/health`);
      const body = (await health.json()) as Record<string, unknown>;
      expect(body.server_info).toBeUndefined();
      expect(health.headers.get('strict-transport-security')).toMatch(/max-age=/);
    } finally {
      child.child.kill('SIGTERM');
      await child.exited();
    }
    const { readFileSync } = await import('node:fs');
    const warnings = readFileSync(logFile, 'utf8').match(/NODE_ENV='[^']+' is not development, test or production: treated as production/g);
    expect(warnings).toEqual([`NODE_ENV='${nodeEnv}' is not development, test or production: treated as production`]);
  });
});
