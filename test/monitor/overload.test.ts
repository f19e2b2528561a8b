import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo, type Socket } from 'node:net';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultMaxConnections } from '../../src/lifecycle/server-limits.js';
import { BYTES_PER_CHECK, defaultConcurrency } from '../../src/monitor/concurrency.js';
import { createMonitor } from '../../src/monitor/monitor.js';
import type { PingEvent } from '../../src/monitor/events.js';
import { checkServer } from '../../src/monitor/checks/index.js';
import type { Server } from '../../src/monitor/types.js';
import { memoryLogger } from '../helpers/logger.js';
import { makeCert } from './certs.js';
import { startApi } from './api-helpers.js';
import { serverInput, sqliteDatabase, waitFor } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Accepts connections and never answers: a blackholed target. */
async function blackhole(): Promise<{ port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const srv = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        srv.close(() => resolve());
      }),
  );
  return { port: (srv.address() as AddressInfo).port, sockets };
}

const GB = 1024 ** 3;

describe('the default concurrency', () => {
  it('follows the descriptor limit (half the sockets the server limit leaves) and the memory', () => {
    expect(defaultConcurrency(1024, 16 * GB)).toBe(384);
    expect(defaultConcurrency(undefined, 16 * GB)).toBe(384); // unknown: 1024 assumed
    expect(defaultConcurrency(20_000, 16 * GB)).toBe(Math.floor(defaultMaxConnections(20_000) / 2));
    expect(defaultConcurrency(65_536, 16 * GB)).toBe(24_576);
    // 256 MB of memory: a quarter of it at 64 KB a check.
    expect(defaultConcurrency(65_536, 256 * 1024 ** 2)).toBe((256 * 1024 ** 2) / 4 / BYTES_PER_CHECK);
    expect(defaultConcurrency(1_048_576, 1024 * GB)).toBe(100_000);
    expect(defaultConcurrency(64, 16 * GB)).toBe(1);
  });

  it('is what a monitor started under `ulimit -n 512` uses; MONITOR_CONCURRENCY overrides it and is validated', async () => {
    const db = sqliteDatabase();
    cleanups.push(() => db.drop());
    const script = `
      import { createMonitor } from './src/monitor/monitor.ts';
      try {
        const m = await createMonitor({ database: ${JSON.stringify(db.url)}, logger: false, schedule: false });
        console.log(JSON.stringify({ concurrency: m.stats().concurrency }));
        await m.close();
      } catch (error) { console.log(JSON.stringify({ error: String(error) })); }`;
    const run = (env: Record<string, string>) => {
      // The hard limit too: Node raises the soft limit to the hard one at start.
      const child = spawnSync('bash', ['-c', `ulimit -n 512 && exec node --import tsx --input-type=module -e "$SCRIPT"`], {
        env: { ...process.env, SCRIPT: script, ...env },
        encoding: 'utf8',
      });
      const line = child.stdout.trim().split('\n').pop() ?? '';
      if (!line.startsWith('{')) throw new Error(`child failed: ${child.stdout}${child.stderr}`);
      return JSON.parse(line) as { concurrency?: number; error?: string };
    };
    expect(run({ MONITOR_CONCURRENCY: '' })).toEqual({ concurrency: Math.floor(defaultMaxConnections(512) / 2) });
    expect(run({ MONITOR_CONCURRENCY: '2000' })).toEqual({ concurrency: 2000 });
    expect(run({ MONITOR_CONCURRENCY: '0' }).error).toMatch(/MONITOR_CONCURRENCY must be an integer 1-100000, got "0"/);
    expect(run({ MONITOR_CONCURRENCY: 'lots' }).error).toMatch(/MONITOR_CONCURRENCY must be an integer/);
    await expect(createMonitor({ database: db.url, logger: false, concurrency: 100_001 })).rejects.toThrow(/concurrency.*1-100000/);
  }, 30_000);
});

describe('checks that only wait', () => {
  it('300 blackholed targets do not delay a healthy one checked every second at the default concurrency', async () => {
    const hole = await blackhole();
    const healthy = http.createServer((_req, res) => res.end('ok'));
    healthy.listen(0, '127.0.0.1');
    await once(healthy, 'listening');
    cleanups.push(() => new Promise<void>((resolve) => healthy.close(() => resolve())));
    const db = sqliteDatabase();
    cleanups.push(() => db.drop());

    const monitor = await createMonitor({ database: db.url, logger: false, schedule: false });
    cleanups.push(() => monitor.close());
    for (let i = 0; i < 300; i++) {
      await monitor.store.servers.create(serverInput({ name: `hole${i}`, port: hole.port, check_interval: 1, timeout: 4 }));
    }
    const ok = await monitor.store.servers.create(
      serverInput({ name: 'healthy', port: (healthy.address() as AddressInfo).port, check_interval: 1, timeout: 1 }),
    );
    await monitor.close();

    const running = await createMonitor({ database: db.url, logger: false });
    cleanups.push(() => running.close());
    const checks: number[] = [];
    running.events.on('ping', ({ ping }: PingEvent) => {
      if (ping.server === ok.id) checks.push(Date.parse(ping.check_timestamp));
    });
    // Every blackholed target holds a connection (up to 4 s each, one per second due).
    await waitFor(() => hole.sockets.size >= 280, 10_000, 'the blackholed checks to be waiting');
    const from = checks.length;
    await waitFor(() => checks.length >= from + 5, 10_000, 'five more checks of the healthy server');
    const gaps = checks.slice(from).map((t, i, all) => (i === 0 ? 0 : t - all[i - 1]!));
    expect(Math.max(...gaps)).toBeLessThan(1250);
    expect(running.stats().lateness.filter((l) => l > 250)).toEqual([]);
    expect(running.stats().overloaded).toBe(0);
  }, 30_000);
});

describe('the monitor overloaded', () => {
  it('a check whose answer waited on the blocked event loop, and checks that start late, are counted, logged once, shown in /api/health, never recorded as down', async () => {
    // The target answers in 50 ms; once, it blocks this process's event loop (monitor and all) for 1.5 s
    // first, which fires the check's 0.5 s timeout late: a timeout of the monitor, not of the target.
    let block = false;
    const target = http.createServer((req, res) => {
      if (block && req.url === '/main') {
        block = false;
        const until = Date.now() + 1500;
        while (Date.now() < until); // busy: nothing else in the process runs
      }
      setTimeout(() => res.end('ok'), 50);
    });
    target.listen(0, '127.0.0.1');
    await once(target, 'listening');
    cleanups.push(() => new Promise<void>((resolve) => (target.closeAllConnections(), target.close(() => resolve()))));
    const port = (target.address() as AddressInfo).port;
    const db = sqliteDatabase();
    cleanups.push(() => db.drop());
    const logger = memoryLogger();
    const api = await startApi(db, { logger, schedule: true });
    cleanups.push(() => api.shutdown());
    const { monitor } = api;
    const main = await monitor.store.servers.create(serverInput({ name: 'main', port, path: '/main', check_interval: 1, timeout: 0.5 }));
    for (let i = 0; i < 5; i++) {
      await monitor.store.servers.create(serverInput({ name: `other${i}`, port, path: `/other${i}`, check_interval: 1, timeout: 0.5 }));
    }
    const pings: PingEvent['ping'][] = [];
    monitor.events.on('ping', ({ ping }) => pings.push(ping));
    await waitFor(() => pings.filter((p) => p.server === main.id).length >= 2, 10_000, 'two checks of the main server');

    const before = monitor.stats();
    expect(before.overloaded).toBe(0);
    block = true;
    await waitFor(() => !block, 10_000, 'the blocked check');
    const after = pings.filter((p) => p.server === main.id).length;
    await waitFor(() => pings.filter((p) => p.server === main.id).length >= after + 2, 10_000, 'two checks after the block');

    const stats = monitor.stats();
    expect(stats.overload.loopWaits).toBeGreaterThanOrEqual(1);
    // The other servers' slots in the 1.5 s passed while the loop was blocked: too late to start.
    expect(stats.overload.lateStarts).toBeGreaterThanOrEqual(1);
    expect(stats.overloaded).toBe(stats.overload.loopWaits + stats.overload.lateStarts);
    // Nothing of it reached the results or the state.
    expect(pings.filter((p) => p.status !== 'success')).toEqual([]);
    const stored = await monitor.store.results.list({ status: ['failure', 'timeout'] });
    expect(stored.count).toBe(0);
    for (const status of await monitor.store.results.statuses()) expect(status.status).toBe('up');

    const health = await (async () => {
      let body: { checks?: Record<string, { status: string; message?: string; details?: Record<string, number> }> } = {};
      await waitFor(
        async () => {
          body = (await request(api.url).get('/api/health')).body as typeof body;
          return body.checks?.monitor?.status === 'warn';
        },
        10_000,
        'the health check to warn',
      );
      return body.checks!.monitor!;
    })();
    expect(health.message).toMatch(/monitor overloaded/);
    expect(health.details?.overloaded_checks).toBeGreaterThanOrEqual(2);

    // Logged once, then one recovery line once checks keep up again.
    await waitFor(() => logger.lines.some((l) => /keeping up with the checks recovered/.test(l.message)), 10_000, 'the recovery line');
    expect(logger.lines.filter((l) => /keeping up with the checks failed: monitor overloaded/.test(l.message))).toHaveLength(1);
    expect(logger.lines.filter((l) => /keeping up with the checks recovered/.test(l.message))).toHaveLength(1);
  }, 40_000);
});

describe('https checks with an extra CA', () => {
  it('share one TLS context: 40 checks take well under the ~30 ms of CPU each that building one from ~140 roots costs', async () => {
    const cert = makeCert();
    const target = https.createServer({ key: cert.key, cert: cert.cert }, (_req, res) => res.end('ok'));
    target.listen(0, '127.0.0.1');
    await once(target, 'listening');
    cleanups.push(() => new Promise<void>((resolve) => (target.closeAllConnections(), target.close(() => resolve()))));
    const server = {
      ...serverInput({ name: 'tls', port: (target.address() as AddressInfo).port, protocol: 'https' }),
      id: 1,
    } as unknown as Server;
    const ca = [cert.cert];
    expect((await checkServer(server, { ca })).status).toBe('success'); // warm: the context is built here
    const cpu = process.cpuUsage();
    for (let i = 0; i < 40; i++) expect((await checkServer(server, { ca })).status).toBe('success');
    const used = process.cpuUsage(cpu);
    // Both ends of the handshakes run in this process: a few ms each; a context per check is 25-30 ms more.
    expect((used.user + used.system) / 1000 / 40).toBeLessThan(12);
  }, 30_000);
});
