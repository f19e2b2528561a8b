/**
 * The tests' own Redis: a real `redis-server` (REDIS_SERVER_PATH, else the one on the PATH; see
 * scripts/install-redis.sh) on a free port of 127.0.0.1, in a throwaway folder, without
 * persistence.
 *
 *   const redis = await startRedis();   // ~20 ms
 *   redis.url                           // redis://127.0.0.1:<port>
 *   await redis.destroy();              // SIGTERM, wait until gone, remove the folder; safe twice
 *
 * Nothing outlives the run: each server is recorded in the run's registry folder
 * (LIFELINE_TEST_PG_REGISTRY, shared with ./postgres.ts) as `redis-<port>.json`, which the vitest
 * globalSetup stops in its teardown and exit handlers, and the process that started a server
 * kills it on exit.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive } from './postgres.js';
import { freePort } from './load.js';

export interface RedisInfo {
  url: string;
  port: number;
  pid: number;
  dir: string;
}

export interface RedisServer extends RedisInfo {
  destroy(): Promise<void>;
}

function redisBinary(): string {
  if (process.env.REDIS_SERVER_PATH) return process.env.REDIS_SERVER_PATH;
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
  if (!found)
    throw new Error('redis-server not found: run `bash scripts/install-redis.sh` (as root on Debian/Ubuntu) or set REDIS_SERVER_PATH');
  return found;
}

/** Kills a recorded server synchronously and removes its folder: for exit handlers and teardown. */
export function stopRedisSync(info: RedisInfo): void {
  if (isAlive(info.pid)) {
    try {
      process.kill(info.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(info.dir, { recursive: true, force: true });
}

/** Every Redis recorded in a registry folder, stopped (globalSetup teardown). */
export function stopRegisteredRedis(registry: string): void {
  if (!existsSync(registry)) return;
  for (const entry of readdirSync(registry)) {
    if (!entry.startsWith('redis-')) continue;
    try {
      stopRedisSync(JSON.parse(readFileSync(join(registry, entry), 'utf8')) as RedisInfo);
    } catch {
      // a half-written record
    }
    rmSync(join(registry, entry), { force: true });
  }
}

const own = new Map<number, RedisInfo>();
let exitHook = false;

/** Resolves once the server answers PING. */
async function ready(port: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.setTimeout(500, () => socket.destroy());
      socket.once('connect', () => socket.write('PING\r\n'));
      socket.once('data', (data) => {
        socket.destroy();
        resolve(String(data).startsWith('+PONG'));
      });
      socket.once('error', () => resolve(false));
      socket.once('close', () => resolve(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

export async function startRedis(): Promise<RedisServer> {
  const binary = redisBinary();
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'lifeline-redis-'));
    const child = spawn(
      binary,
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const info: RedisInfo = { url: `redis://127.0.0.1:${port}`, port, pid: child.pid!, dir };
    const registry = process.env.LIFELINE_TEST_PG_REGISTRY;
    const record = registry ? join(registry, `redis-${port}.json`) : undefined;
    if (record) writeFileSync(record, JSON.stringify(info));
    own.set(port, info);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const server of own.values()) stopRedisSync(server);
      });
    }
    let destroyed: Promise<void> | undefined;
    const destroy = () => {
      destroyed ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(timer);
        }
        own.delete(port);
        rmSync(dir, { recursive: true, force: true });
        if (record) rmSync(record, { force: true });
      })();
      return destroyed;
    };
    if (await ready(port, 10_000)) return { ...info, destroy };
    await destroy();
    // Another process may have taken the port between freePort() and the bind.
    if (attempt >= 3) throw new Error(`redis-server did not start on 127.0.0.1:${port}`);
  }
}
