import { Agent, request } from 'node:http';
import { createServer } from 'node:net';

export interface LoadResult {
  ok: number;
  failed: number;
  errors: string[];
  pids: Set<number>;
  latencies: number[];
}

/** A free TCP port on 127.0.0.1 (for servers that cannot take port 0, like a cluster). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Sends GET requests from `concurrency` loops over keep-alive connections until `stop()`
 * resolves, like autocannon, counting answers other than 200 and socket errors as failures.
 * Bounded: at most `maxMs` and 127.0.0.1 only.
 */
export async function loadUntil(url: string, stop: Promise<unknown>, { concurrency = 10, maxMs = 60_000 } = {}): Promise<LoadResult> {
  const target = new URL(url);
  if (target.hostname !== '127.0.0.1') throw new Error('load tests target 127.0.0.1 only');
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const result: LoadResult = { ok: 0, failed: 0, errors: [], pids: new Set(), latencies: [] };
  let running = true;
  void stop.then(() => (running = false));
  const deadline = setTimeout(() => (running = false), maxMs);
  const one = () =>
    new Promise<void>((resolve) => {
      const started = performance.now();
      const req = request(url, { agent }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => {
          result.latencies.push(performance.now() - started);
          if (res.statusCode === 200) {
            result.ok += 1;
            const pid = (JSON.parse(body) as { pid?: number }).pid;
            if (pid) result.pids.add(pid);
          } else {
            result.failed += 1;
            result.errors.push(`HTTP ${res.statusCode}`);
          }
          resolve();
        });
      });
      // A connection lost in hand-off to a killed worker would otherwise hang the loop.
      req.setTimeout(5000, () => req.destroy(Object.assign(new Error('timed out'), { code: 'TIMEOUT' })));
      req.on('error', (error: NodeJS.ErrnoException) => {
        result.failed += 1;
        result.errors.push(error.code ?? error.message);
        resolve();
      });
      req.end();
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (running) await one();
    }),
  );
  clearTimeout(deadline);
  agent.destroy();
  return result;
}
