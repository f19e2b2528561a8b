// @ts-check
// `node bench/monitor-store.js`: the CPU cost of writing check results (ResultQueries.record(),
// what the monitor's writer calls once per batch) on SQLite, where every statement runs
// synchronously on the event loop. 1,000 servers, batches of 100 checks (10 % of them a state
// change), after a warm-up; reports µs of the process's CPU per check written.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, validateServer } from '../dist/monitor/index.js';

const BATCHES = Number(process.env.BENCH_STORE_BATCHES ?? 300);
const SERVERS = 1000;
const dir = mkdtempSync(join(tmpdir(), 'lifeline-bench-store-'));
try {
  const store = await openStore({ database: join(dir, 'monitor.db') });
  /** @type {number[]} */
  const ids = [];
  for (let i = 0; i < SERVERS; i++) {
    const checked = validateServer({ name: `s${i}`, protocol: 'http', host: '127.0.0.1', port: 80 });
    if (!checked.ok) throw new Error('invalid server');
    ids.push((await store.servers.create(checked.value)).id);
  }
  let n = 0;
  const batch = () =>
    Array.from({ length: 100 }, (_, j) => {
      const server = ids[(n * 100 + j) % SERVERS] ?? 1;
      const at = Date.now();
      const changed = j % 10 === 0;
      return {
        ping: {
          server,
          status: 'success',
          response_time: 1.234,
          status_code: 200,
          error_message: null,
          check_timestamp: new Date(at).toISOString(),
        },
        status: {
          id: 0,
          server,
          status: changed && n % 2 ? 'down' : 'up',
          uptime_percentage: 99.5,
          uptime: { '24h': 99.5, '7d': 99.9, '30d': 99.99 },
          last_check: new Date(at).toISOString(),
          consecutive_failures: 0,
          consecutive_successes: n,
          message: 'OK',
          last_change: new Date(at).toISOString(),
        },
        ...(changed ? { change: { status: n % 2 ? 'down' : 'up', at, from: 'up' } } : {}),
      };
    });
  const run = async (/** @type {number} */ count) => {
    for (let i = 0; i < count; i++, n++) await store.results.record(/** @type {any} */ (batch()));
  };
  await run(50);
  const cpu = process.cpuUsage();
  const t = performance.now();
  await run(BATCHES);
  const used = process.cpuUsage(cpu);
  const wall = performance.now() - t;
  console.log(
    `record(): ${BATCHES} batches of 100 checks on SQLite: ${((used.user + used.system) / (BATCHES * 100)).toFixed(1)} µs of CPU per check (${((wall * 1000) / (BATCHES * 100)).toFixed(1)} µs wall)`,
  );
  await store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
