// `npm run demo`: the example app and the monitor watching it, in one command.
// - the example app (example-app/server.js) on PORT (8000);
// - the monitor (`lifeline monitor serve`) on MONITOR_PORT (8001), its database and log in
//   DEMO_DIR (example-app/data/, git-ignored), with an admin from MONITOR_ADMIN_USER and
//   MONITOR_ADMIN_PASSWORD, else demo credentials, printed;
// - the example app registered in the monitor (once: a second run finds it) and checked at once.
// Ctrl-C (SIGINT), SIGTERM or SIGHUP stops both and waits for them. A port in use is one line
// naming the variable to set, exit 1.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DEMO_USER = 'demo';
const DEMO_PASSWORD = 'demo-password';
const SERVER_NAME = 'example-app';
const STARTUP_MS = 60_000;
const STOP_MS = 20_000;

/** One line on stderr, exit 1: every misuse reads the same. */
function fail(message) {
  console.error(`demo: ${message}`);
  process.exit(1);
}

function portOf(name, fallback) {
  const raw = process.env[name]?.trim() || String(fallback);
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 65535) fail(`${name}: expected a port 1-65535, got '${raw.slice(0, 40)}'`);
  return Number(raw);
}

/** Resolves when host:port can be listened on; a port in use names the variable that moves it. */
function ensureFree(host, port, variable) {
  return new Promise((done) => {
    const probe = createServer();
    probe.once('error', (error) => {
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES') fail(`port ${port} is in use; set ${variable} to another port`);
      fail(`cannot listen on ${host}:${port}: ${error.message}`);
    });
    probe.listen(port, host, () => probe.close(() => done()));
  });
}

const host = process.env.HOST?.trim() || '127.0.0.1';
const appPort = portOf('PORT', 8000);
const monitorPort = portOf('MONITOR_PORT', 8001);
if (appPort === monitorPort) fail(`PORT and MONITOR_PORT are both ${appPort}; set MONITOR_PORT to another port`);
const user = process.env.MONITOR_ADMIN_USER?.trim() || DEMO_USER;
const ownPassword = Boolean(process.env.MONITOR_ADMIN_PASSWORD);
const password = process.env.MONITOR_ADMIN_PASSWORD || DEMO_PASSWORD;
const dataDir = resolve(process.env.DEMO_DIR?.trim() || join(root, 'example-app/data'));

await ensureFree(host, appPort, 'PORT');
await ensureFree(host, monitorPort, 'MONITOR_PORT');

// As `npm start` does, but only when there is nothing built yet.
if (!existsSync(join(root, 'dist/cli/main.js'))) {
  console.log('demo: building the package first (npm run build)');
  const built = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (built.status !== 0) fail('npm run build failed');
}
mkdirSync(dataDir, { recursive: true });

/** @type {Map<string, import('node:child_process').ChildProcess>} */
const children = new Map();
let stopping = false;

/**
 * Each child gets its own process group (detached), so a Ctrl-C in the terminal reaches only
 * this script, which then sends each child exactly one SIGTERM: a second signal would cut
 * their drain short. Their output is shown, each line tagged.
 */
function start(label, args, env) {
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.set(label, child);
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream.on('data', (chunk) => {
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) console.log(`${label.padEnd(7)} | ${line}`);
    });
  }
  child.once('exit', (code, signal) => {
    if (!stopping) {
      console.error(`demo: the ${label} stopped (${signal ?? `exit code ${code}`}); stopping the demo`);
      void stop(1);
    }
  });
  return child;
}

const exited = (child) =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', r));

async function stop(code) {
  if (stopping) return;
  stopping = true;
  const all = [...children.values()];
  for (const child of all) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const child of all) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }, STOP_MS);
  await Promise.all(all.map(exited));
  clearTimeout(timer);
  process.exit(code);
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => void stop(0));
// Whatever ends this script (an uncaught error included), no child outlives it.
process.on('exit', () => {
  for (const child of children.values()) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

const app = start('app', [join(root, 'example-app/server.js')], { PORT: String(appPort), HOST: host });
const monitor = start(
  'monitor',
  [
    join(root, 'dist/cli/main.js'),
    'monitor',
    'serve',
    '--port',
    String(monitorPort),
    '--host',
    host,
    '--database',
    join(dataDir, 'monitor.db'),
  ],
  {
    MONITOR_ADMIN_USER: user,
    MONITOR_ADMIN_PASSWORD: password,
    LOG_FILE: join(dataDir, 'monitor.log'),
  },
);

const appUrl = `http://${host.includes(':') ? `[${host}]` : host}:${appPort}`;
const monitorUrl = `http://${host.includes(':') ? `[${host}]` : host}:${monitorPort}`;

/** Polls until `url` answers 200; a child that exits meanwhile stops the demo (its exit handler). */
async function answers(url) {
  const deadline = Date.now() + STARTUP_MS;
  while (Date.now() < deadline && !stopping) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  if (!stopping) {
    console.error(`demo: ${url} did not answer within ${STARTUP_MS / 1000} s`);
    await stop(1);
  }
  await new Promise(() => {}); // stop() exits
}

async function api(method, path, token, body) {
  const res = await fetch(`${monitorUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Registers the example app (or points the one registered by an earlier run at today's port) and checks it now. */
async function register() {
  const login = await api('POST', '/api/auth/token/', undefined, { username: user, password });
  if (login.status !== 200) {
    console.error(
      `demo: cannot log in to the monitor as "${user}": its database (${join(dataDir, 'monitor.db')}) already has other users; ` +
        'use the credentials of the first run, or remove that file to start afresh',
    );
    return false;
  }
  const token = login.body.access;
  const wanted = { name: SERVER_NAME, protocol: 'http', host, port: appPort, path: '/api/health', check_interval: 10 };
  const found = await api('GET', `/api/servers/?search=${SERVER_NAME}&page_size=500`, token);
  const existing = (found.body?.results ?? []).find((server) => server.name === SERVER_NAME);
  const saved = existing
    ? await api('PATCH', `/api/servers/${existing.id}/`, token, wanted)
    : await api('POST', '/api/servers/', token, wanted);
  if (saved.status !== 200 && saved.status !== 201) {
    console.error(`demo: cannot register the example app in the monitor: ${saved.status} ${JSON.stringify(saved.body)}`);
    return false;
  }
  await api('POST', '/api/checks/run/', token, { server_ids: [saved.body.id] });
  return true;
}

await Promise.all([answers(`${appUrl}/api/ping`), answers(`${monitorUrl}/api/ping`)]);
const registered = await register();
// A password of the user's own is theirs: never printed.
const passwordShown = ownPassword ? '(your MONITOR_ADMIN_PASSWORD)' : password;
console.log(
  [
    '',
    `example app  ${appUrl}/               (pid ${app.pid})`,
    `monitor      ${monitorUrl}/monitor/   (pid ${monitor.pid})`,
    `login        ${user} / ${passwordShown}`,
    registered ? `the monitor checks ${appUrl}/api/health every 10 s` : 'the example app is not registered in the monitor (see above)',
    'Ctrl-C stops both.',
    '',
  ].join('\n'),
);
