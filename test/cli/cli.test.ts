import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/load.js';
import { isRunning, sleep } from '../helpers/process.js';

const cli = resolve('dist/cli/main.js');
const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
const root = mkdtempSync(join(tmpdir(), 'lifeline-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let cwd = '';
let port = 0;
beforeEach(async () => {
  // A fresh project folder per test, with the package and express resolvable as a user's would be.
  cwd = mkdtempSync(join(root, 'project-'));
  mkdirSync(join(cwd, 'node_modules'));
  symlinkSync(resolve('.'), join(cwd, 'node_modules', 'express-lifeline'));
  symlinkSync(resolve('node_modules/express'), join(cwd, 'node_modules', 'express'));
  writeFileSync(join(cwd, 'app.mjs'), readFileSync('test/fixtures/cluster-app.mjs'));
  port = await freePort();
});
afterEach(() => {
  // Never leave a backend behind, whatever the test did.
  lifeline('stop', '--timeout', '2000');
});

function lifeline(...args: string[]) {
  const result = spawnSync(process.execPath, [cli, ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, PORT: '', LOG_FILE: '' },
  });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

describe('lifeline CLI', () => {
  it('prints its version and help, exit 0', () => {
    expect(lifeline('--version')).toMatchObject({ code: 0, out: `${version}\n` });
    const help = lifeline('--help');
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^Usage: lifeline \[options\] \[command\]/);
    for (const command of ['start', 'stop', 'restart', 'reload', 'status', 'logs', 'kill-port', 'config', 'run', 'serve'])
      expect(help.out).toContain(`  ${command}`);
    expect(lifeline('start', '--help').out).toMatch(/--force/);
  });

  it('refuses a misuse with one line on stderr and exit 1', () => {
    for (const args of [
      ['frobnicate'],
      ['kill-port'],
      ['start', '--port', 'abc'],
      ['logs', '--lines', '-3'],
      ['run', '--restart', 'sometimes'],
      ['serve'],
      ['serve', 'missing.js'],
      ['start', 'missing.mjs'],
    ]) {
      const result = lifeline(...args);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.out).toBe('');
      expect(result.err.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(result.err).toMatch(/^lifeline( serve)?: /);
    }
  });

  it('start, status (text and --json), logs, stop: a round trip with exit codes', async () => {
    const started = lifeline('start', 'app.mjs', '--port', String(port), '--workers', '2');
    expect(started.err).toBe('');
    expect(started).toMatchObject({
      code: 0,
      out: expect.stringMatching(new RegExp(`^started: pid \\d+, http://127.0.0.1:${port}, log backend.log\\n$`)),
    });
    const record = JSON.parse(readFileSync(join(cwd, '.backend.pid'), 'utf8').split('\n')[1]!) as { pid: number };
    expect(isRunning(record.pid)).toBe(true);

    const again = lifeline('start', 'app.mjs', '--port', String(port));
    expect(again.code).toBe(1);
    expect(again.err).toMatch(new RegExp(`^already running: pid ${record.pid} on http://127.0.0.1:${port}`));

    const status = lifeline('status');
    expect(status.code).toBe(0);
    expect(status.out).toMatch(new RegExp(`^RUNNING\\n  pid         ${record.pid}\\n`));
    expect(status.out).toMatch(/health {6}200 healthy/);
    expect(status.out.match(/ {2}worker \d {4}pid \d+, active/g)).toHaveLength(2);
    const json = JSON.parse(lifeline('status', '--json').out) as {
      state: string;
      pid: number;
      ports: number[];
      memory_bytes: number;
      workers: unknown[];
    };
    expect(json).toMatchObject({ state: 'RUNNING', pid: record.pid, ports: [port] });
    expect(json.memory_bytes).toBeGreaterThan(10_000_000);
    expect(json.workers).toHaveLength(2);

    const logs = lifeline('logs', '--lines', '2');
    expect(logs.code).toBe(0);
    expect(logs.out.trim().split('\n')).toHaveLength(2);
    expect(lifeline('logs').out).toMatch(/info \[cluster\] 2 workers ready/);

    const stopped = lifeline('stop');
    expect(stopped).toMatchObject({
      code: 0,
      out: expect.stringMatching(new RegExp(`^stopped pid ${record.pid} \\(drained and exited in \\d+ ms\\)`)),
    });
    expect(isRunning(record.pid)).toBe(false);
    expect(existsSync(join(cwd, '.backend.pid'))).toBe(false);
    const after = lifeline('status', '--port', String(port));
    expect(after.code).toBe(1);
    expect(after.out).toBe(`STOPPED\n  port ${port}: free\n`);
    expect(lifeline('stop')).toMatchObject({ code: 0, out: 'not running (no .backend.pid)\n' });
  });

  it('restart and reload keep serving on the same port', async () => {
    expect(lifeline('start', 'app.mjs', '--port', String(port)).code).toBe(0);
    const first = JSON.parse(readFileSync(join(cwd, '.backend.pid'), 'utf8').split('\n')[1]!) as { pid: number };
    expect(lifeline('reload')).toMatchObject({ code: 0, out: expect.stringMatching(/reload complete in \d+ ms/) });
    expect(lifeline('restart').code).toBe(0);
    const second = JSON.parse(readFileSync(join(cwd, '.backend.pid'), 'utf8').split('\n')[1]!) as { pid: number };
    expect(second.pid).not.toBe(first.pid);
    expect(isRunning(first.pid)).toBe(false);
    expect((await fetch(`http://127.0.0.1:${port}/api/ping`)).status).toBe(200);
  });

  it('--reload reloads the workers when a source file changes (dev mode)', async () => {
    expect(lifeline('start', 'app.mjs', '--port', String(port), '--reload').code).toBe(0);
    const log = join(cwd, 'backend.log');
    appendFileSync(join(cwd, 'app.mjs'), '\n// edited\n');
    for (let i = 0; i < 100 && !/reload complete/.test(readFileSync(log, 'utf8')); i++) await sleep(100);
    expect(readFileSync(log, 'utf8')).toMatch(/info \[cluster\] app\.mjs changed: reloading[\s\S]*reload complete in \d+ ms/);
    expect((await fetch(`http://127.0.0.1:${port}/api/ping`)).status).toBe(200);
  });

  it('refuses a taken port and names its holder; --force stops the holder first', async () => {
    const holder = spawn(process.execPath, ['-e', `require('http').createServer((q,s)=>s.end()).listen(${port},'127.0.0.1')`], {
      stdio: 'ignore',
    });
    await sleep(400);
    const refused = lifeline('start', 'app.mjs', '--port', String(port));
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(new RegExp(`^port ${port} is in use by pid ${holder.pid} \\(.*node -e.*\\); use --force`));
    expect(isRunning(holder.pid!)).toBe(true);
    const forced = lifeline('start', 'app.mjs', '--port', String(port), '--force');
    expect(forced.code).toBe(0);
    expect(forced.out).toMatch(new RegExp(`stopped pid ${holder.pid} that held port ${port} \\(SIGTERM\\)`));
    expect(isRunning(holder.pid!)).toBe(false);
  });

  it('kill-port stops a real listener and confirms the port is free', async () => {
    const holder = spawn(process.execPath, ['-e', `require('http').createServer((q,s)=>s.end()).listen(${port},'127.0.0.1')`], {
      stdio: 'ignore',
    });
    await sleep(400);
    const result = lifeline('kill-port', '--port', String(port));
    expect(result).toMatchObject({
      code: 0,
      out: expect.stringMatching(new RegExp(`^stopped pid ${holder.pid} .* with SIGTERM; port ${port} is free\\n$`)),
    });
    expect(isRunning(holder.pid!)).toBe(false);
    expect(lifeline('kill-port', '--port', String(port))).toMatchObject({ code: 0, out: `nothing listens on port ${port}\n` });
  });

  it('never signals an unrelated process whose pid is in a stale or reused PID file', async () => {
    const unrelated = spawn('sleep', ['30'], { stdio: 'ignore' });
    await sleep(100);
    const reused = {
      pid: unrelated.pid,
      startTicks: 1,
      cmdline: 'node lifeline serve app.mjs',
      url: 'http://127.0.0.1:1',
      port: 1,
      entry: 'app.mjs',
      startedAt: '',
    };
    writeFileSync(join(cwd, '.backend.pid'), `${unrelated.pid}\n${JSON.stringify(reused)}\n`);
    const stopped = lifeline('stop');
    expect(stopped.code).toBe(0);
    expect(stopped.out).toMatch(
      new RegExp(
        `removed a stale .backend.pid \\(pid ${unrelated.pid} now belongs to another process \\(sleep 30\\)\\); nothing was signalled`,
      ),
    );
    expect(isRunning(unrelated.pid!)).toBe(true);
    unrelated.kill();
    writeFileSync(join(cwd, '.backend.pid'), `${2 ** 22 + 7}\n${JSON.stringify({ pid: 2 ** 22 + 7, startTicks: 1, cmdline: 'x' })}\n`);
    const started = lifeline('start', 'app.mjs', '--port', String(port));
    expect(started.code).toBe(0);
    expect(started.out).toMatch(/^removed a stale .backend.pid: pid \d+ is not running\nstarted: /);
  });

  it('two starts at the same moment start one server', async () => {
    const run = () =>
      new Promise<{ code: number | null; out: string; err: string }>((done) => {
        const child = spawn(process.execPath, [cli, 'start', 'app.mjs', '--port', String(port)], {
          cwd,
          env: { ...process.env, PORT: '', LOG_FILE: '' },
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.stderr.on('data', (c: Buffer) => (err += c.toString()));
        child.on('exit', (code) => done({ code, out, err }));
      });
    const results = await Promise.all([run(), run()]);
    expect(results.map((r) => r.code).sort()).toEqual([0, 1]);
    expect(results.find((r) => r.code === 1)?.err).toMatch(
      /^(lifeline: another lifeline start( \(pid \d+\))? is in progress|already running: pid \d+)/,
    );
    expect(readFileSync(join(cwd, 'backend.log'), 'utf8').match(/primary \d+ starting/g)).toHaveLength(1);
  });

  it('config shows, validates and saves .backend_config.json; a corrupt file is reported and left intact', () => {
    expect(lifeline('config', '--port', String(port), '--workers', 'auto', '--log-level', 'debug')).toMatchObject({
      code: 0,
      out: `saved .backend_config.json: port=${port}, workers="auto", log_level="debug"; restart to apply (lifeline restart)\n`,
    });
    expect(JSON.parse(readFileSync(join(cwd, '.backend_config.json'), 'utf8'))).toEqual({ port, workers: 'auto', log_level: 'debug' });
    expect(lifeline('config').out).toMatch(new RegExp(`port       ${port}  \\(file\\)`));
    const bad = lifeline('config', '--port', '99999');
    expect(bad).toMatchObject({ code: 1, err: 'lifeline: --port: `port` must be a port number 1-65535, got 99999\n' });
    writeFileSync(join(cwd, '.backend_config.json'), '{"port": 80,');
    const corrupt = lifeline('status');
    expect(corrupt.code).toBe(1);
    expect(corrupt.err).toMatch(/^lifeline: cannot read .backend_config.json: .+ \(fix it or delete it; it was left unchanged\)\n$/);
    expect(readFileSync(join(cwd, '.backend_config.json'), 'utf8')).toBe('{"port": 80,');
    expect(lifeline('config', '--port', '9000').code).toBe(1);
    expect(readFileSync(join(cwd, '.backend_config.json'), 'utf8')).toBe('{"port": 80,');
  });

  it('logs --follow keeps printing across a rotation', async () => {
    const log = join(cwd, 'backend.log');
    writeFileSync(log, 'line 1\nline 2\n');
    const child = spawn(process.execPath, [cli, 'logs', '--follow', '--lines', '1'], { cwd });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await sleep(500);
    appendFileSync(log, 'line 3\n');
    await sleep(500);
    renameSync(log, `${log}.1`);
    writeFileSync(log, 'line 4 after rotation\n');
    await sleep(600);
    appendFileSync(log, 'line 5\n');
    await sleep(600);
    child.kill('SIGINT');
    expect(out).toBe('line 2\nline 3\nline 4 after rotation\nline 5\n');
  });

  it('logs prints escape sequences and control characters escaped, never raw', async () => {
    const log = join(cwd, 'backend.log');
    // As an app's own console.log would write them into backend.log.
    writeFileSync(log, 'plain line\n\x1b[2J\x1b[31mred\x1b[0m\rover\x07bell\x9b31m\n');
    const printed = lifeline('logs');
    expect(printed.code).toBe(0);
    expect(printed.out).toBe('plain line\n\\x1b[2J\\x1b[31mred\\x1b[0m\\rover\\x07bell\\x9b31m\n');

    const child = spawn(process.execPath, [cli, 'logs', '--follow', '--lines', '1'], { cwd });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await sleep(500);
    appendFileSync(log, 'next \x1b]0;title\x07 line\n');
    await sleep(600);
    child.kill('SIGINT');
    expect(out).toBe('\\x1b[2J\\x1b[31mred\\x1b[0m\\rover\\x07bell\\x9b31m\nnext \\x1b]0;title\\x07 line\n');
    // eslint-disable-next-line no-control-regex -- no raw control character may be left
    expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
  });

  it('run restarts a crashing app up to --max-restarts and records it in auto_restart.log', () => {
    writeFileSync(join(cwd, 'crash.mjs'), "throw new Error('does not start');\n");
    const result = spawnSync(process.execPath, [cli, 'run', 'crash.mjs', '--port', '1', '--max-restarts', '2', '--backoff', '50'], {
      cwd,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status).toBe(1);
    const lines = readFileSync(join(cwd, 'auto_restart.log'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^\S+Z app exited \(exit code 1\) after \d+ s; restart 1\/2 in 50 ms$/);
    expect(lines[1]).toMatch(/restart 2\/2 in 100 ms$/);
    expect(lines[2]).toMatch(/app exited \(exit code 1\) after \d+ s; gave up after 2 restarts$/);
  });
});
