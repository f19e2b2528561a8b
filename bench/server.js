// @ts-check
// One benchmark server: `node bench/server.js <mode>[,<mode>…]`, one app and port per mode;
// sends {"port": first, "ports": [...]} and answers IPC 'stats'.
import childProcess from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cors from 'cors';
import express from 'express';
import helmet from 'helmet';
import { createLogger, errorHandler, lifeline, serve } from 'express-lifeline';
import { itemsRoute } from './items-route.js';

const modes = (process.argv[2] ?? 'bare').split(',');
let spawned = 0;
// Counts every child process this server starts, to prove none is started per request.
// Every spawn, exec and fork goes through ChildProcess.prototype.spawn (untyped in @types/node).
const proto = /** @type {{ spawn: (...args: unknown[]) => unknown }} */ (/** @type {unknown} */ (childProcess.ChildProcess.prototype));
const originalSpawn = proto.spawn;
proto.spawn = function countedSpawn(/** @type {unknown[]} */ ...args) {
  spawned += 1;
  return originalSpawn.apply(this, args);
};

/**
 * One app of the benchmark. Several can share a process (`lifeline,lifeline-metrics`): the
 * bench compares two stacks inside one process when the difference is smaller than what
 * separates two processes of the same stack.
 * @param {string} mode
 */
async function startApp(mode) {
  const app = express();
  if (mode === 'cors-helmet') {
    app.use(cors({ origin: 'http://localhost:3000', credentials: true }));
    app.use(helmet());
  }
  /** @type {ReturnType<typeof lifeline> | undefined} */
  let life;
  // 'lifeline-access': the same stack writing an access line per request to a real file.
  const accessFile = join(tmpdir(), `lifeline-bench-access-${process.pid}.log`);
  const accessLogger = mode === 'lifeline-access' ? createLogger({ file: accessFile, console: false }) : undefined;
  if (mode === 'lifeline' || mode === 'serve') {
    life = lifeline({ logger: false });
    app.use(life);
  } else if (mode === 'lifeline-metrics') {
    // The same stack with /metrics on: every request timed into the route-template histogram.
    life = lifeline({ logger: false, metrics: true });
    app.use(life);
  } else if (mode === 'lifeline-hung') {
    // A dependency that answers once, then hangs like a partitioned database (connections
    // open, nothing answers); non-critical, so the answers stay 200 (degraded) for autocannon.
    let runs = 0;
    const dependency = () => (runs++ === 0 ? Promise.resolve() : new Promise(() => undefined));
    life = lifeline({ logger: false, health: { maxAge: 1000, checks: { dependency: { check: dependency, critical: false } } } });
    app.use(life);
  } else if (accessLogger) {
    life = lifeline({ logger: accessLogger, keepAlive: { accessLog: true } });
    app.use(life);
  } else if (mode !== 'bare' && mode !== 'cors-helmet') {
    throw new Error(`bench/server.js: unknown mode ${mode}`);
  }
  app.get('/api/items', itemsRoute);
  if (life) app.use(errorHandler({ logger: false }));

  // 'serve' owns the http.Server: it answers /api/ping and the probes before Express.
  const server =
    mode === 'serve'
      ? (await serve(app, { port: 0, signals: false, exit: false, handleCrashes: false, logger: false })).server
      : app.listen(0, '127.0.0.1');
  if (!server.listening) await once(server, 'listening');
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    async stop() {
      server.close();
      server.closeAllConnections();
      await life?.close();
      await accessLogger?.closeAndFlush();
      rmSync(accessFile, { force: true });
    },
  };
}

/** @type {Array<Awaited<ReturnType<typeof startApp>>>} */
const apps = [];
for (const mode of modes) apps.push(await startApp(mode));
process.send?.({ port: apps[0]?.port, ports: apps.map((a) => a.port) });
process.on('message', (message) => {
  if (message === 'gc') {
    globalThis.gc?.();
    process.send?.('gc done');
  } else if (message === 'stats') {
    const cpu = process.cpuUsage();
    process.send?.({ rss: process.memoryUsage().rss, spawned, cpuMicros: cpu.user + cpu.system });
  } else if (message === 'stop') {
    void Promise.all(apps.map((a) => a.stop()));
    process.disconnect?.();
  }
});
