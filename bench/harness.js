// @ts-check
// The benchmark servers' harness, shared by bench/run.js and bench/same-process.js: start a
// bench/server.js process pinned to core 0, take a timed sample of one of its URLs under load.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { pin } from './cpu-pinning.js';

const here = dirname(fileURLToPath(import.meta.url));

/** @param {number[]} values */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/**
 * Loads one URL and measures throughput, latency, and the server's own CPU time per
 * request: the last is the steadier figure on a machine whose neighbours steal cycles.
 * An untimed burst comes first: a server that sat idle while others were measured has had
 * V8's memory reducer run (after ~10 s idle), and its first half second of load then costs
 * ~40 µs more a request (measured: 164 µs, then 120 µs steady, in 0.5 s slices), a penalty
 * that would land on whichever server had idled longest and read as its own cost.
 * @param {() => Promise<{ cpuMicros: number }>} stats the server process's CPU time so far
 * @param {string} url
 * @param {{ connections: number, seconds: number, warmSeconds: number, extra?: Partial<autocannon.Options> }} how
 */
export async function sample(stats, url, { connections, seconds, warmSeconds, extra = {} }) {
  if (warmSeconds > 0) await autocannon({ url, connections, duration: warmSeconds });
  const before = (await stats()).cpuMicros;
  const result = await autocannon({ url, connections, duration: seconds, ...extra });
  const cpu = (await stats()).cpuMicros - before;
  if (result.errors > 0 || result.non2xx > 0) throw new Error(`${url}: ${result.errors} errors, ${result.non2xx} non-2xx answers`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, cpu: cpu / Math.max(1, result.requests.total) };
}

/**
 * Starts `node bench/server.js <modes>` (one app and port per comma-separated mode) on core 0.
 * @param {string} modes
 */
export async function startServer(modes) {
  const child = fork(join(here, 'server.js'), [modes], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [message] = /** @type {[{ port: number, ports: number[] }]} */ (await once(child, 'message'));
  pin(child.pid, '0');
  return {
    url: `http://127.0.0.1:${message.port}`,
    urls: message.ports.map((port) => `http://127.0.0.1:${port}`),
    /** @returns {Promise<{ rss: number, spawned: number, cpuMicros: number }>} */
    async stats() {
      child.send('stats');
      const [stats] = await once(child, 'message');
      return stats;
    },
    async gc() {
      child.send('gc');
      await once(child, 'message');
    },
    async stop() {
      child.send('stop');
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}
