// `node --import tsx bench/status-page.ts`: a public status page of 100 servers with 90 days
// of hourly rollups and a day of raw results (one check a minute), on SQLite (or on
// PostgreSQL with BENCH_DATABASE_URL). Measures the summary JSON and the HTML page:
// warm (the cache in front of them), cold (every request recomputes), and mixed (a status
// change invalidates the page every 10th request, as a live monitor would).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createMonitorApp } from '../src/monitor/app.js';
import { summaryCache } from '../src/monitor/pages/cache.js';

const SERVERS = Number(process.env.BENCH_PAGE_SERVERS ?? 100);
const REQUESTS = Number(process.env.BENCH_PAGE_REQUESTS ?? 2000);
const COLD = Number(process.env.BENCH_PAGE_COLD ?? 30);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const dir = mkdtempSync(join(tmpdir(), 'bench-status-page-'));
const database = process.env.BENCH_DATABASE_URL ?? join(dir, 'monitor.db');
const app = await createMonitorApp({
  database,
  logger: false,
  schedule: false,
  dashboard: false,
  admin: { username: 'admin', password: 'admin-password-1' },
});
const { store } = app.monitor;
const now = Date.now();
const ids: number[] = [];
for (let i = 0; i < SERVERS; i++) {
  const server = await store.servers.create({
    name: `server-${i}`,
    ...{ keyword_mode: 'present', json_path: null, json_expected: null, dns_record_type: null, dns_expected: null, dns_server: null },
    ...{ grace: 60, schedule: null, timezone: null },
    protocol: 'http',
    host: '127.0.0.1',
    port: 9,
    path: '/',
    check_interval: 60,
    timeout: 2,
    expected_status: '200-399',
    keyword: null,
    tags: [],
    enabled: true,
    failure_threshold: 1,
    success_threshold: 1,
    degraded_threshold_ms: null,
  });
  ids.push(server.id);
}
// Rolled up to the last finished hour (the monitor rolls each hour up two minutes after it ends).
const watermark = Math.floor(now / HOUR) * HOUR - (now % HOUR < 2 * 60_000 ? HOUR : 0);
const rollups = [];
for (const id of ids)
  for (let h = Math.floor(now / DAY) * DAY - 89 * DAY; h < watermark; h += HOUR)
    rollups.push({ server_id: id, hour: h, count: 60, failures: h % 7 === 0 ? 1 : 0, avg_response_ms: 20, p95_response_ms: 40 });
for (let i = 0; i < rollups.length; i += 500) await store.db('monitor_rollups').insert(rollups.slice(i, i + 500));
const raw = [];
for (const id of ids)
  for (let t = watermark; t < now; t += 60_000)
    raw.push({ server_id: id, status: 'success', response_time: 20, status_code: 200, error_message: null, check_timestamp: t });
for (let i = 0; i < raw.length; i += 500) await store.db('monitor_ping_results').insert(raw.slice(i, i + 500));
await store.settings.set('rollup_watermark', String(watermark));
await store.statusPages.create({ slug: 'bench', title: 'Bench', description: '', servers: ids, display_names: {} });

const server = app.app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const { port } = server.address() as { port: number };
const base = `http://127.0.0.1:${port}`;
const cache = summaryCache(store);

async function timed(path: string): Promise<number> {
  const start = performance.now();
  const res = await fetch(base + path);
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
  return performance.now() - start;
}
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(p * xs.length) - 1)]!;
const line = (what: string, xs: number[]) =>
  console.log(
    `${what.padEnd(44)} p50 ${pct(xs, 0.5).toFixed(1).padStart(6)} ms  p95 ${pct(xs, 0.95).toFixed(1).padStart(6)} ms  (${xs.length} requests)`,
  );

console.log(
  `status page of ${SERVERS} servers, ${rollups.length} rollups, ${raw.length} raw results, ${database.startsWith('postgres') ? 'PostgreSQL' : 'SQLite'}`,
);
const size = (await (await fetch(`${base}/api/status-pages/bench/summary/`)).text()).length;
console.log(`summary JSON ${Math.round(size / 1024)} KB`);
const cold: number[] = [];
for (let i = 0; i < COLD; i++) {
  cache.invalidate();
  cold.push(await timed('/api/status-pages/bench/summary/'));
}
line('summary, cold (recomputed every request)', cold);
for (const path of ['/api/status-pages/bench/summary/', '/status/bench']) {
  const warm: number[] = [];
  for (let i = 0; i < REQUESTS; i++) warm.push(await timed(path));
  line(`${path}, warm`, warm);
  const mixed: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    if (i % 10 === 0) cache.invalidateServers([ids[i % ids.length]!]);
    mixed.push(await timed(path));
  }
  line(`${path}, invalidated every 10th request`, mixed);
}
server.close();
await app.close();
if (process.env.BENCH_KEEP) console.log(database);
else rmSync(dir, { recursive: true, force: true });
