import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { get as httpGet } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/load.js';
import { isRunning, sleep } from '../helpers/process.js';
import { cliFor } from '../helpers/readable-cli.js';

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
  return lifelineWith({}, ...args);
}

function lifelineWith(env: Record<string, string>, ...args: string[]) {
  const result = spawnSync(process.execPath, [cli, ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, PORT: '', LOG_FILE: '', ...env },
  });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

/** GET on a fresh connection (no keep-alive pool): a stopped backend leaves no socket behind for the next request. */
function get(path: string): Promise<number> {
  return new Promise((done, fail) => {
    httpGet(`http://127.0.0.1:${port}${path}`, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 0));
    }).on('error', fail);
  });
}

const POLL = { timeout: 15_000, interval: 50 };

/** backend.log of the project, or '' before it exists. */
function backendLog(): string {
  const file = join(cwd, 'backend.log');
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

/** A plain node server holding `port`, resolved once it listens (it prints so). */
async function holdPort(): Promise<ChildProcess> {
  const holder = spawn(
    process.execPath,
    ['-e', `require('http').createServer((q,s)=>s.end()).listen(${port},'127.0.0.1',()=>console.log('listening'))`],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  await new Promise<void>((done, fail) => {
    holder.stdout!.once('data', () => done());
    holder.once('exit', (code) => fail(new Error(`the port holder exited (${code}) before listening`)));
  });
  return holder;
}

/** Spawns `lifeline logs --follow --lines 1` in the project; `out()` is what it printed so far. */
function followLogs(): { child: ChildProcess; out(): string } {
  const child = spawn(process.execPath, [cli, 'logs', '--follow', '--lines', '1'], { cwd });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  return { child, out: () => out };
}

/** The one line every CLI path gives for a worker count above 4 per CPU (or not a count). */
function workersError(got: string): string {
  const cpus = availableParallelism();
  return `expects a number of workers 1-${Math.min(1024, 4 * cpus)} (4 per CPU, ${cpus} CPU${cpus === 1 ? '' : 's'}; WORKERS_FORCE=1 or --force-workers allows up to 1024) or 'auto', got ${got}`;
}

function pidRecord(): { pid: number } {
  return JSON.parse(readFileSync(join(cwd, '.backend.pid'), 'utf8').split('\n')[1]!) as { pid: number };
}

/** The log files oldest first: backend.log.N … backend.log.1, backend.log. */
function logFiles(): string[] {
  const rotated = readdirSync(cwd)
    .filter((f) => /^backend\.log\.\d+$/.test(f))
    .sort((a, b) => Number(b.split('.').pop()) - Number(a.split('.').pop()));
  return [...rotated, 'backend.log'];
}

// An app that prints numbered lines on demand: even ones on stdout, odd ones on stderr.
const CHATTY_APP = `import express from 'express';
import { createLogger, lifeline } from 'express-lifeline';
const life = lifeline({ keepAlive: { interval: 0 }, health: { interval: 0 } });
// Its own logger lines between the printed ones rotate the file while the app prints.
const logger = createLogger({ console: false });
const app = express();
app.use(life);
app.get('/print', (req, res) => {
  const from = Number(req.query.from);
  for (let i = from; i < from + Number(req.query.n); i++) {
    (i % 2 ? process.stderr : process.stdout).write('app line ' + i + ' ' + 'x'.repeat(60) + '\\n');
    if (i % 10 === 9) logger.info('marker ' + i);
  }
  res.json({ ok: true });
});
app.get('/spin', (req, res) => {
  console.log('spin started');
  const until = Date.now() + Number(req.query.ms);
  while (Date.now() < until);
  res.json({ ok: true });
});
export default app;
export const onShutdown = () => life.close();
`;

describe('lifeline CLI', () => {
  it('prints its version and help, exit 0', () => {
    expect(lifeline('--version')).toMatchObject({ code: 0, out: `${version}\n` });
    const help = lifeline('--help');
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^Usage: lifeline \[options\] \[command\]/);
    for (const command of ['start', 'stop', 'restart', 'reload', 'status', 'logs', 'kill-port', 'config', 'run', 'serve'])
      expect(help.out).toContain(`  ${command}`);
    expect(lifeline('start', '--help').out).toMatch(/--force/);
    // Examples a newcomer can copy, after the commands.
    expect(help.out).toMatch(/\nExamples:\n {2}lifeline start app\.js --port 8000 /);
    expect(lifeline('run', '--help').out).toMatch(/Examples:\n {2}lifeline run app\.js /);
  });

  it('suggests the command or option meant, on the same one line', () => {
    expect(lifeline('strat')).toMatchObject({ code: 1, out: '', err: "lifeline: unknown command 'strat' (did you mean start?)\n" });
    expect(lifeline('start', '--prot', '3')).toMatchObject({ code: 1, err: "lifeline: unknown option '--prot' (did you mean --port?)\n" });
    expect(lifeline('monitor', 'lst')).toMatchObject({ code: 1, err: "lifeline: unknown command 'lst' (did you mean list?)\n" });
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
      ['serve', 'app.mjs', '--max-connections', '0'],
      ['serve', 'app.mjs', '--headers-timeout', '5000', '--request-timeout', '1000'],
      ['serve', 'app.mjs', '--workers', '-1'],
      ['serve', 'app.mjs', '-w', '-1'],
    ]) {
      const result = lifeline(...args);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.out).toBe('');
      expect(result.err.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(result.err).toMatch(/^lifeline( serve)?: /);
    }
  });

  it('serve checks the load-shedding flags, variables and file keys: one line each', () => {
    for (const [args, env, err] of [
      [['--shed-max-concurrency', 'x'], {}, "lifeline serve: --shed-max-concurrency expects a whole number, got 'x'\n"],
      [['--shed-latency-tolerance', 'high'], {}, "lifeline serve: --shed-latency-tolerance expects a number like 2 or 1.5, got 'high'\n"],
      [['--shed-latency-tolerance', '0.5'], {}, 'lifeline serve: expected --shed-latency-tolerance to be a number 1-100, got 0.5\n'],
      [['--shed-retry-after', '0'], {}, "lifeline serve: --shed-retry-after expects a whole number 1-3600, got '0'\n"],
      [[], { SHED: 'maybe' }, "lifeline serve: Invalid SHED: expected '1' or '0' (also true/false, on/off), got 'maybe'\n"],
      [
        [],
        { SHED_MAX_EVENT_LOOP_DELAY: 'soon' },
        "lifeline serve: Invalid SHED_MAX_EVENT_LOOP_DELAY: expected a whole number, got 'soon'\n",
      ],
    ] as const) {
      expect(lifelineWith(env, 'serve', 'app.mjs', ...args), args.join(' ')).toMatchObject({ code: 1, out: '', err });
    }
  });

  it('serve --workers -1 gets the same one-line error as any bad number', () => {
    for (const value of ['-1', 'abc', '0', String(4 * availableParallelism() + 1)])
      expect(lifeline('serve', 'app.mjs', '--workers', value)).toMatchObject({
        code: 1,
        err: `lifeline serve: --workers ${workersError(`'${value}'`)}\n`,
      });
  });

  it('start caps --workers at 4 per CPU like serve, and the saved workers too, unless forced', () => {
    const over = 4 * availableParallelism() + 1;
    expect(lifeline('start', 'app.mjs', '--port', String(port), '--workers', String(over))).toMatchObject({
      code: 1,
      out: '',
      err: `lifeline: --workers ${workersError(`'${over}'`)}\n`,
    });
    writeFileSync(join(cwd, '.backend_config.json'), JSON.stringify({ workers: over }));
    expect(lifeline('start', 'app.mjs', '--port', String(port))).toMatchObject({
      code: 1,
      out: '',
      err: `lifeline: .backend_config.json: \`workers\` ${workersError(String(over))}\n`,
    });
    // Forced, the count passes the CLI's check; the cluster then refuses what it cannot run (above 1024).
    writeFileSync(join(cwd, '.backend_config.json'), JSON.stringify({ workers: 1025 }));
    expect(lifeline('start', 'app.mjs', '--port', String(port), '--force-workers').err).toMatch(
      /^lifeline: .backend_config.json: `workers` must be a number of workers 1-1024 or 'auto', got 1025\n$/,
    );
    expect(existsSync(join(cwd, '.backend.pid'))).toBe(false);
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

  it('status recognises a foreground lifeline serve on the port: pid, workers, restarts', async () => {
    const serving = spawn(process.execPath, [cli, 'serve', 'app.mjs', '--port', String(port), '--workers', '2'], {
      cwd,
      stdio: 'ignore',
      env: { ...process.env, PORT: '', LOG_FILE: '' },
    });
    try {
      await expect.poll(() => get('/api/health/ready').catch(() => 0), POLL).toBe(200);
      const status = lifeline('status', '--port', String(port));
      expect(status.code).toBe(0);
      expect(status.out).toMatch(new RegExp(`^RUNNING \\(in the foreground: lifeline serve, no PID file\\)\\n  pid {9}${serving.pid}\\n`));
      expect(status.out).toMatch(/restarts {4}0 \(workers respawned\)/);
      expect(status.out.match(/ {2}worker \d {4}pid \d+, active/g)).toHaveLength(2);
      const json = JSON.parse(lifeline('status', '--json', '--port', String(port)).out) as Record<string, unknown>;
      expect(json).toMatchObject({ state: 'RUNNING', mode: 'foreground', pid: serving.pid, restarts: 0, ports: [port] });
      // Any other process on the port is still "STOPPED, port in use by …".
    } finally {
      serving.kill('SIGTERM');
      await once(serving, 'exit');
    }
    const holder = await holdPort();
    try {
      const status = lifeline('status', '--port', String(port));
      expect(status.code).toBe(1);
      expect(status.out).toMatch(new RegExp(`^STOPPED\\n  port ${port}: in use by pid ${holder.pid} `));
    } finally {
      holder.kill();
    }
  });

  it('serve takes the server limits from .backend_config.json and passes them to the workers', async () => {
    writeFileSync(join(cwd, '.backend_config.json'), JSON.stringify({ request_timeout: 1000, max_connections: 50 }));
    expect(lifeline('start', 'app.mjs', '--port', String(port))).toMatchObject({ code: 0 });
    // Headers trickling in: headersTimeout defaults to requestTimeout when that is shorter.
    const started = Date.now();
    const socket = connect(port, '127.0.0.1', () => socket.write('GET /pid HTTP/1.1\r\nHost: x\r\n'));
    const drip = setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 200);
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.on('error', () => undefined);
    await new Promise((done) => socket.on('close', done));
    clearInterval(drip);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(answer).toMatch(/^HTTP\/1.1 408 Request Timeout/);

    lifeline('stop');
    writeFileSync(join(cwd, '.backend_config.json'), JSON.stringify({ max_connections: 0 }));
    const bad = lifeline('serve', 'app.mjs', '--port', String(port));
    expect(bad).toMatchObject({ code: 1, out: '' });
    expect(bad.err).toBe('lifeline serve: .backend_config.json: `max_connections` must be an integer >= 1, got 0\n');
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

  it('reload reports the primary\'s result, not log text: a bad deploy that logs "reload complete" fails, exit 1', async () => {
    expect(lifeline('start', 'app.mjs', '--port', String(port), '--workers', '2').code).toBe(0);
    const ok = lifeline('reload');
    expect(ok).toMatchObject({ code: 0, err: '' });
    expect(ok.out).toMatch(/^reload requested: SIGHUP to pid \d+\nreload complete in \d+ ms\n$/);
    expect(statSync(join(cwd, '.backend.reload.json')).mode & 0o777).toBe(0o600);
    // The new code prints what a log-matching reload took for success, then fails to load.
    writeFileSync(join(cwd, 'app.mjs'), "console.log('reload complete in 1 ms');\nthrow new Error('bad deploy');\n");
    const bad = lifeline('reload');
    expect(bad).toMatchObject({
      code: 1,
      out: expect.stringMatching(/^reload requested: SIGHUP to pid \d+\n$/),
      err: 'reload failed: the new worker 0 exited before it was ready; the old workers keep serving\n',
    });
    expect(readFileSync(join(cwd, 'backend.log'), 'utf8')).toMatch(/\[worker 0 stdout\] reload complete in 1 ms/);
    // The old workers still serve.
    expect((await fetch(`http://127.0.0.1:${port}/pid`)).status).toBe(200);
    expect(lifeline('stop').code).toBe(0);
    expect(existsSync(join(cwd, '.backend.reload.json'))).toBe(false);
    expect(lifeline('reload')).toMatchObject({ code: 1, err: 'not running: nothing to reload (lifeline start)\n' });
  });

  it('--reload reloads the workers when a source file changes (dev mode)', async () => {
    expect(lifeline('start', 'app.mjs', '--port', String(port), '--reload').code).toBe(0);
    const log = join(cwd, 'backend.log');
    appendFileSync(join(cwd, 'app.mjs'), '\n// edited\n');
    await expect.poll(() => readFileSync(log, 'utf8'), POLL).toMatch(/reload complete/);
    expect(readFileSync(log, 'utf8')).toMatch(/info \[cluster\] app\.mjs changed: reloading[\s\S]*reload complete in \d+ ms/);
    expect((await fetch(`http://127.0.0.1:${port}/api/ping`)).status).toBe(200);
  });

  it('refuses a taken port and names its holder; --force stops the holder first', async () => {
    const holder = await holdPort();
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
    const holder = await holdPort();
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
    // 'spawn' comes once the exec succeeded: /proc shows `sleep 30`, not the forked node.
    await once(unrelated, 'spawn');
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
    // A host `start` would refuse is refused here, before it is saved.
    expect(lifeline('config', '--host', 'bad_host')).toMatchObject({
      code: 1,
      err: expect.stringMatching(/^lifeline: --host: `host` must be an IP address/),
    });
    expect(JSON.parse(readFileSync(join(cwd, '.backend_config.json'), 'utf8'))).not.toHaveProperty('host');
    writeFileSync(join(cwd, '.backend_config.json'), '{"port": 80,');
    const corrupt = lifeline('status');
    expect(corrupt.code).toBe(1);
    expect(corrupt.err).toMatch(/^lifeline: cannot read .backend_config.json: .+ \(fix it or delete it; it was left unchanged\)\n$/);
    expect(readFileSync(join(cwd, '.backend_config.json'), 'utf8')).toBe('{"port": 80,');
    expect(lifeline('config', '--port', '9000').code).toBe(1);
    expect(readFileSync(join(cwd, '.backend_config.json'), 'utf8')).toBe('{"port": 80,');
  });

  it('config sets the server limits that serve reads; a bad value or pair is one line and saves nothing', async () => {
    expect(
      lifeline(
        'config',
        '--max-connections',
        '50',
        '--request-timeout',
        '1000',
        '--headers-timeout',
        '800',
        '--keep-alive-timeout',
        '3000',
      ),
    ).toMatchObject({
      code: 0,
      out: 'saved .backend_config.json: max_connections=50, headers_timeout=800, request_timeout=1000, keep_alive_timeout=3000; restart to apply (lifeline restart)\n',
    });
    const file = join(cwd, '.backend_config.json');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({
      max_connections: 50,
      headers_timeout: 800,
      request_timeout: 1000,
      keep_alive_timeout: 3000,
    });
    expect(lifeline('config').out).toMatch(/\n {2}keep_alive_timeout 3000 {2}\(file\)\n/);
    for (const [args, err] of [
      [['--max-connections', '0'], 'lifeline: --max-connections: `max_connections` must be an integer >= 1, got 0\n'],
      [['--keep-alive-timeout', 'soon'], 'lifeline: --keep-alive-timeout: `keep_alive_timeout` must be an integer >= 1 (ms), got "soon"\n'],
      [
        ['--headers-timeout', '5000'],
        'lifeline: --headers-timeout: `headers_timeout` must be at most request_timeout (1000 ms), got 5000\n',
      ],
    ] as const)
      expect(lifeline('config', ...args)).toMatchObject({ code: 1, out: '', err });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ headers_timeout: 800, max_connections: 50 });
    // serve takes them: the headers of a slow client are cut after 800 ms.
    expect(lifeline('start', 'app.mjs', '--port', String(port))).toMatchObject({ code: 0 });
    const started = Date.now();
    const socket = connect(port, '127.0.0.1', () => socket.write('GET /pid HTTP/1.1\r\nHost: x\r\n'));
    const drip = setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 100);
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.on('error', () => undefined);
    await new Promise((done) => socket.on('close', done));
    clearInterval(drip);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(answer).toMatch(/^HTTP\/1.1 408 Request Timeout/);
  });

  it('logs --follow keeps printing across a rotation', async () => {
    const log = join(cwd, 'backend.log');
    writeFileSync(log, 'line 1\nline 2\n');
    const { child, out } = followLogs();
    // Each step waits for the line before it to be printed, so the rotation comes after line 3 was read.
    await expect.poll(out, POLL).toBe('line 2\n');
    appendFileSync(log, 'line 3\n');
    await expect.poll(out, POLL).toBe('line 2\nline 3\n');
    renameSync(log, `${log}.1`);
    writeFileSync(log, 'line 4 after rotation\n');
    await expect.poll(out, POLL).toBe('line 2\nline 3\nline 4 after rotation\n');
    appendFileSync(log, 'line 5\n');
    await expect.poll(out, POLL).toBe('line 2\nline 3\nline 4 after rotation\nline 5\n');
    child.kill('SIGINT');
    expect(out()).toBe('line 2\nline 3\nline 4 after rotation\nline 5\n');
  });

  it('app output under start goes through the rotating log: every line, in order, never into a rotated file', async () => {
    writeFileSync(join(cwd, 'chatty.mjs'), CHATTY_APP);
    const env = { LOG_MAX_SIZE: '8192' };
    expect(lifelineWith(env, 'start', 'chatty.mjs', '--port', String(port), '--workers', '2')).toMatchObject({ code: 0 });
    const primary = pidRecord().pid;
    const sizes = new Map<number, number>();
    const batch = 60;
    for (let from = 0; from < 4 * batch; from += batch) {
      // Rotated files seen so far must never grow again.
      for (const file of logFiles().slice(0, -1)) sizes.set(statSync(join(cwd, file)).ino, statSync(join(cwd, file)).size);
      expect(await get(`/print?from=${from}&n=${batch}`)).toBe(200);
      const last = `app line ${from + batch - 1} `;
      const all = () =>
        logFiles()
          .map((file) => readFileSync(join(cwd, file), 'utf8'))
          .join('');
      await expect.poll(all, POLL).toContain(last);
    }
    expect(existsSync(join(cwd, 'backend.log.2'))).toBe(true);
    for (const file of logFiles().slice(0, -1)) {
      const info = statSync(join(cwd, file));
      if (sizes.has(info.ino)) expect(info.size, `${file} grew after it was rotated`).toBe(sizes.get(info.ino));
    }
    const text = logFiles()
      .map((file) => readFileSync(join(cwd, file), 'utf8'))
      .join('');
    const seen = (stream: string) =>
      [...text.matchAll(new RegExp(`\\[worker \\d ${stream}\\] app line (\\d+) x{60}$`, 'gm'))].map((m) => Number(m[1]));
    const evens = Array.from({ length: 2 * batch }, (_, i) => 2 * i);
    expect(seen('stdout')).toEqual(evens);
    expect(seen('stderr')).toEqual(evens.map((i) => i + 1));
    // No process of the backend writes the log through its stdout or stderr.
    const workers = readFileSync(`/proc/${primary}/task/${primary}/children`, 'utf8').split(' ').filter(Boolean);
    expect(workers).toHaveLength(2);
    for (const pid of [primary, ...workers])
      for (const fd of [1, 2]) expect(readlinkSync(`/proc/${pid}/fd/${fd}`), `pid ${pid} fd ${fd}`).not.toMatch(/backend\.log/);
    expect(lifeline('stop').code).toBe(0);
  }, 60_000);

  it("serve --log-output writes the primary's own stderr into the log, none to its file descriptors", () => {
    const result = spawnSync(process.execPath, [cli, 'serve', 'app.mjs', '--log-output', '--workers', '2000', '--port', String(port)], {
      cwd,
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, PORT: '', LOG_FILE: '' },
    });
    expect(result).toMatchObject({ status: 1, stdout: '', stderr: '' });
    expect(readFileSync(join(cwd, 'backend.log'), 'utf8')).toMatch(
      /^\S+Z warn \[primary stderr\] lifeline serve: --workers expects a number of workers .*got '2000'$/m,
    );
  });

  it('a crash of the primary under --log-output is written into the log', () => {
    const boom = `data:text/javascript,setTimeout(() => { throw new Error('primary boom'); }, 1500)`;
    const result = spawnSync(process.execPath, ['--import', boom, cli, 'serve', 'app.mjs', '--log-output', '--port', String(port)], {
      cwd,
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, PORT: '', LOG_FILE: '' },
    });
    expect(result).toMatchObject({ status: 1, stdout: '', stderr: '' });
    expect(readFileSync(join(cwd, 'backend.log'), 'utf8')).toMatch(
      /^\S+Z error \[primary\] uncaught exception, exiting: Error: primary boom$/m,
    );
  });

  it('creates backend.log, its rotations, .backend.pid and .backend_config.json 0600; LOG_FILE_MODE=0640 opens the logs to the group', async () => {
    const mode = (file: string) => statSync(join(cwd, file)).mode & 0o777;
    writeFileSync(join(cwd, 'chatty.mjs'), CHATTY_APP);
    expect(lifeline('config', '--port', String(port)).code).toBe(0);
    expect(mode('.backend_config.json')).toBe(0o600);
    expect(lifelineWith({ LOG_MAX_SIZE: '2048' }, 'start', 'chatty.mjs').code).toBe(0);
    await get('/print?from=0&n=40');
    // A rotation renames backend.log, then opens a new one: wait until both are there.
    await expect.poll(() => existsSync(join(cwd, 'backend.log.1')) && existsSync(join(cwd, 'backend.log')), POLL).toBe(true);
    expect({ log: mode('backend.log'), rotated: mode('backend.log.1'), pid: mode('.backend.pid') }).toEqual({
      log: 0o600,
      rotated: 0o600,
      pid: 0o600,
    });
    expect(lifeline('stop').code).toBe(0);
    rmSync(join(cwd, 'backend.log'));
    rmSync(join(cwd, 'backend.log.1'));
    expect(lifelineWith({ LOG_MAX_SIZE: '2048', LOG_FILE_MODE: '0640' }, 'start', 'chatty.mjs').code).toBe(0);
    await get('/print?from=0&n=40');
    // A rotation renames backend.log, then opens a new one: wait until both are there.
    await expect.poll(() => existsSync(join(cwd, 'backend.log.1')) && existsSync(join(cwd, 'backend.log')), POLL).toBe(true);
    expect({ log: mode('backend.log'), rotated: mode('backend.log.1') }).toEqual({ log: 0o640, rotated: 0o640 });
    expect(lifeline('stop').code).toBe(0);
    expect(lifelineWith({ LOG_FILE_MODE: '0644' }, 'start', 'chatty.mjs')).toMatchObject({
      code: 1,
      err: 'lifeline: LOG_FILE_MODE: expected 0600 or 0640, got `0644`\n',
    });
  }, 60_000);

  it('.backend_config.json refuses keys inherited from Object.prototype', () => {
    for (const key of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      writeFileSync(join(cwd, '.backend_config.json'), `{"${key}": {"port": 1}}`);
      const result = lifeline('config');
      expect(result, key).toMatchObject({ code: 1, out: '' });
      expect(result.err, key).toMatch(new RegExp(`^lifeline: .backend_config.json: unknown key \`${key}\` \\(known: host, port`));
    }
  });

  it('start, status and stop work where /proc is missing (macOS): the PID file stays while the server runs', async () => {
    const noProc = mkdtempSync(join(root, 'no-proc-'));
    const env = { LIFELINE_PROC_ROOT: noProc };
    const started = lifelineWith(env, 'start', 'app.mjs', '--port', String(port));
    expect(started.err).toBe('');
    expect(started.code).toBe(0);
    const { pid } = pidRecord();
    expect(isRunning(pid)).toBe(true);
    const status = lifelineWith(env, 'status');
    expect(status.code).toBe(0);
    expect(status.out).toMatch(new RegExp(`^RUNNING\\n  pid         ${pid}\\n[\\s\\S]*cpu         unknown \\(no /proc\\)`));
    expect(lifelineWith(env, 'stop')).toMatchObject({ code: 0, out: expect.stringMatching(new RegExp(`^stopped pid ${pid} `)) });
    expect(isRunning(pid)).toBe(false);
  }, 60_000);

  it('status shows the log file and the CPU use of the last moment, not the lifetime average', async () => {
    writeFileSync(join(cwd, 'chatty.mjs'), CHATTY_APP);
    expect(lifeline('start', 'chatty.mjs', '--port', String(port)).code).toBe(0);
    // The scenario, not a wait for an event: 3 s idle, so a lifetime average would stay low
    // under the spin below while the CPU of the last moment is high.
    await sleep(3000);
    const spinning = get('/spin?ms=4000');
    await expect.poll(backendLog, POLL).toMatch(/spin started/);
    const json = JSON.parse(lifeline('status', '--json').out) as { cpu_percent: number; log_file: string };
    await spinning;
    expect(json.log_file).toBe(join(cwd, 'backend.log'));
    expect(json.cpu_percent).toBeGreaterThan(25);
    const text = lifeline('status').out;
    expect(text).toMatch(/\n {2}cpu {9}\d+(\.\d)?% of one core \(last 0\.5 s, primary and workers\)\n/);
    expect(text).toContain(`\n  log         ${join(cwd, 'backend.log')}\n`);
  }, 60_000);

  it('status in production shows the workers, with the HEALTH_TOKEN the app runs with; the token scheme is case-insensitive', async () => {
    const env = { NODE_ENV: 'production', HEALTH_TOKEN: 'status-secret', FRONTEND_URL: 'http://localhost:3000' };
    expect(lifelineWith(env, 'start', 'app.mjs', '--port', String(port), '--workers', '2').code).toBe(0);
    // This shell has no token: status reads the one of the running app.
    const status = lifelineWith({ NODE_ENV: 'production', HEALTH_TOKEN: '' }, 'status');
    expect(status.code).toBe(0);
    expect(status.out.match(/ {2}worker \d {4}pid \d+, active/g)).toHaveLength(2);
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      const body = (await (
        await fetch(`http://127.0.0.1:${port}/api/health`, { headers: { authorization: `${scheme} status-secret` } })
      ).json()) as Record<string, unknown>;
      expect(body, scheme).toHaveProperty('cluster');
    }
  }, 60_000);

  describe('as a user who is not root (nobody)', () => {
    // The clone may be in a folder nobody cannot enter: then nobody runs a readable copy of the package.
    let nobodyCli = { cli, remove: () => {} };
    beforeAll(() => {
      nobodyCli = cliFor('nobody');
    });
    afterAll(() => nobodyCli.remove());
    /** Runs the CLI as `nobody` in the test's folder. */
    function asNobody(...args: string[]) {
      const result = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, nobodyCli.cli, ...args], {
        cwd,
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, PORT: '', LOG_FILE: '' },
      });
      return { code: result.status, out: result.stdout, err: result.stderr };
    }
    beforeEach(() => {
      // nobody may enter and read the folders, as in a shared checkout; not write them.
      chmodSync(root, 0o755);
      chmodSync(cwd, 0o755);
    });

    it('status and kill-port say a root-owned listener is held by a process they cannot see, never "free"', async () => {
      const holder = await holdPort();
      try {
        expect(asNobody('status', '--port', String(port))).toMatchObject({
          code: 1,
          out: `STOPPED\n  port ${port}: in use, held by a process this user cannot see (another user's)\n`,
        });
        expect(asNobody('kill-port', '--port', String(port))).toMatchObject({
          code: 1,
          err: `port ${port} is held by a process this user cannot see (another user's); run kill-port as its owner or root\n`,
        });
        expect(isRunning(holder.pid!)).toBe(true);
      } finally {
        holder.kill();
      }
    });

    it('start in a folder it cannot write names EACCES and the folder in one line', () => {
      chmodSync(cwd, 0o555);
      expect(asNobody('start', 'app.mjs', '--port', String(port))).toMatchObject({
        code: 1,
        out: '',
        err: `lifeline: cannot write in ${cwd}: EACCES (permission denied: start from a folder this user can write, or as its owner)\n`,
      });
    });

    it("stop on root's backend explains it in one line and signals nothing", () => {
      expect(lifeline('start', 'app.mjs', '--port', String(port)).code).toBe(0);
      const { pid } = pidRecord();
      expect(asNobody('stop')).toMatchObject({
        code: 1,
        err: 'lifeline: cannot read .backend.pid: EACCES; the backend belongs to another user (run this as that user or as root)\n',
      });
      chmodSync(join(cwd, '.backend.pid'), 0o644); // as an older version wrote it
      expect(asNobody('stop')).toMatchObject({
        code: 1,
        err: `lifeline: cannot signal pid ${pid}: EPERM, it belongs to another user (run this as that user or as root)\n`,
      });
      expect(isRunning(pid)).toBe(true);
      expect(existsSync(join(cwd, '.backend.pid'))).toBe(true);
    });
  });

  it('logs prints escape sequences and control characters escaped, never raw', async () => {
    const log = join(cwd, 'backend.log');
    // As an app's own console.log would write them into backend.log.
    writeFileSync(log, 'plain line\n\x1b[2J\x1b[31mred\x1b[0m\rover\x07bell\x9b31m\n');
    const printed = lifeline('logs');
    expect(printed.code).toBe(0);
    expect(printed.out).toBe('plain line\n\\x1b[2J\\x1b[31mred\\x1b[0m\\rover\\x07bell\\x9b31m\n');

    const { child, out } = followLogs();
    const first = '\\x1b[2J\\x1b[31mred\\x1b[0m\\rover\\x07bell\\x9b31m\n';
    await expect.poll(out, POLL).toBe(first);
    appendFileSync(log, 'next \x1b]0;title\x07 line\n');
    await expect.poll(out, POLL).toBe(`${first}next \\x1b]0;title\\x07 line\n`);
    child.kill('SIGINT');
    // eslint-disable-next-line no-control-regex -- no raw control character may be left
    expect(out()).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
  });

  it('run --health-failures restarts an app that stops answering its health endpoint (a blocked event loop)', async () => {
    // The first run blocks its event loop for good once it has answered a few checks; the next one stays well.
    writeFileSync(
      join(cwd, 'hangs.mjs'),
      `import { existsSync, writeFileSync } from 'node:fs';
import express from 'express';
import { lifeline } from 'express-lifeline';
const app = express();
app.use(lifeline({ keepAlive: { interval: 0 }, health: { interval: 0 } }));
let answered = 0;
app.use((req, res, next) => { answered++; next(); });
if (!existsSync('hung-once')) {
  setTimeout(() => { writeFileSync('hung-once', String(process.pid)); for (;;); }, 1500);
}
export default app;
`,
    );
    const runner = spawn(
      process.execPath,
      [cli, 'run', 'hangs.mjs', '--port', String(port), '--health-failures', '2', '--health-interval', '200'],
      {
        cwd,
        stdio: 'ignore',
      },
    );
    try {
      await expect.poll(() => existsSync(join(cwd, 'hung-once')), POLL).toBe(true);
      const hungPid = Number(readFileSync(join(cwd, 'hung-once'), 'utf8'));
      const restartLog = () => (existsSync(join(cwd, 'auto_restart.log')) ? readFileSync(join(cwd, 'auto_restart.log'), 'utf8') : '');
      await expect.poll(restartLog, POLL).toMatch(/restart 1\/10 in \d+ ms/);
      expect(restartLog()).toMatch(
        new RegExp(
          `app stopped answering: http://127\\.0\\.0\\.1:${port}/api/health/live failed 2 checks in a row \\(last: no answer in time\\); stopping it to restart`,
        ),
      );
      // The hung one ignored SIGTERM (its loop is blocked): it was killed, and the new one answers.
      await expect.poll(() => isRunning(hungPid), POLL).toBe(false);
      await expect.poll(() => get('/api/health/live').catch(() => 0), POLL).toBe(200);
    } finally {
      runner.kill('SIGTERM');
      await once(runner, 'exit');
    }
  });

  it('run documents --health-failures (off by default) and refuses a bad --health-path in one line', () => {
    expect(lifeline('run', '--help').out.replace(/\s+/g, ' ')).toMatch(
      /--health-failures <n> also restart the app after this many failed health checks in a row \(default 0: only when it exits\)/,
    );
    expect(lifeline('run', 'app.mjs', '--health-path', 'health').err).toBe("lifeline: --health-path must start with '/', got 'health'\n");
  });

  it('run restarts a crashing app up to --max-restarts and records it in auto_restart.log', () => {
    writeFileSync(join(cwd, 'crash.mjs'), "throw new Error('does not start');\n");
    const result = spawnSync(process.execPath, [cli, 'run', 'crash.mjs', '--port', '1', '--max-restarts', '2', '--restart-delay', '50'], {
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
