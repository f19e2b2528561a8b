// @ts-check
// The monitor app of `bench/push.js`, alone in this process (its CPU is what is measured):
// SQLite in a temp dir, the scheduler running, N push servers.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { createMonitorApp, validateServer } from '../dist/monitor/index.js';

// BENCH_PUSH_PROFILE=file.cpuprofile: a CPU profile of the measured window only.
const profile = process.env.BENCH_PUSH_PROFILE;
const session = profile ? new Session() : undefined;

const SERVERS = Number(process.env.BENCH_PUSH_SERVERS ?? 5000);
const dir = mkdtempSync(join(tmpdir(), 'lifeline-bench-push-'));
const app = await createMonitorApp({ database: join(dir, 'monitor.db'), logger: false });
const { store } = app.monitor;
/** @type {string[]} */
const tokens = [];
for (let i = 0; i < SERVERS; i++) {
  const checked = validateServer({ name: `job ${i}`, protocol: 'push', check_interval: 3600 });
  if (!checked.ok) throw new Error('invalid server');
  const server = await store.servers.create(checked.value);
  tokens.push(/** @type {string} */ (server.push_token));
}
const http = createServer({ keepAliveTimeout: 60_000 }, app.app);
http.listen(0, '127.0.0.1', () => {
  const address = http.address();
  process.send?.({ port: typeof address === 'object' && address ? address.port : 0, tokens });
});
const stored = async () => Number((await store.db('monitor_ping_results').count({ n: '*' }))[0]?.n ?? 0);
/** @type {NodeJS.CpuUsage | undefined} */
let cpu;
let before = 0;
process.on('message', async (/** @type {any} */ message) => {
  if (message === 'start') {
    before = await stored();
    if (session) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }
    cpu = process.cpuUsage();
    process.send?.('started');
  } else if (message === 'stop') {
    const used = process.cpuUsage(cpu);
    // What was queued is written before counting (its CPU is the measurement's too).
    await new Promise((r) => setTimeout(r, 500));
    const all = process.cpuUsage(cpu);
    if (session && profile) writeFileSync(profile, JSON.stringify((await session.post('Profiler.stop')).profile));
    process.send?.({
      cpuMs: (all.user + all.system) / 1000,
      cpuAtStopMs: (used.user + used.system) / 1000,
      stored: (await stored()) - before,
      batches: app.monitor.stats().batches,
    });
  } else if (message === 'exit') {
    http.close();
    await app.close();
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  }
});
