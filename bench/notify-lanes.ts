// `node --import tsx bench/notify-lanes.ts`: how long a hanging webhook receiver delays the others.
// One server, one config whose receiver accepts and never answers, N configs whose receivers answer
// 200 at once (each on its own port: its own destination). The server goes down, then up 2 s later;
// the figures are the delays from each state change to its arrival at the answering receivers.
// Notification options are the defaults (15 s timeout, 1 s poll); SQLite in a temporary folder.
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMonitor } from '../src/monitor/monitor.js';
import { validateNotificationConfig, validateServer } from '../src/monitor/validate.js';
import type { NotificationConfigInput } from '../src/monitor/types.js';

const COUNTS = (process.env.BENCH_RECEIVERS ?? '1,10,50').split(',').map(Number);
const GIVE_UP = Number(process.env.BENCH_GIVE_UP ?? 40_000);

interface Receiver {
  url: string;
  arrivals: Map<string, number>;
  close(): Promise<void>;
}

async function receiver(hang: boolean): Promise<Receiver> {
  const arrivals = new Map<string, number>();
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const type = String((JSON.parse(body) as { type: string }).type);
      if (!arrivals.has(type)) arrivals.set(type, Date.now());
      if (!hang) res.writeHead(200).end();
    });
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/hook`,
    arrivals,
    close: () =>
      new Promise((resolve) => {
        srv.closeAllConnections();
        srv.close(() => resolve());
      }),
  };
}

async function waitUntil(done: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!done() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

async function scenario(n: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-notify-bench-'));
  let failing = false;
  const target = http.createServer((_req, res) => res.writeHead(failing ? 503 : 200).end());
  target.listen(0, '127.0.0.1');
  await once(target, 'listening');
  const monitor = await createMonitor({ database: join(dir, 'monitor.db'), logger: false, schedule: false });
  const checked = validateServer({ name: 'api', protocol: 'http', host: '127.0.0.1', port: (target.address() as AddressInfo).port });
  if (!checked.ok) throw new Error('invalid server');
  const server = await monitor.store.servers.create({ ...checked.value, failure_threshold: 1 });
  const hanging = await receiver(true);
  const answering = await Promise.all(Array.from({ length: n }, () => receiver(false)));
  for (const r of [hanging, ...answering]) {
    const config = validateNotificationConfig({ server: server.id, notification_type: 'webhook', recipient: r.url });
    if (!config.ok) throw new Error('invalid config');
    await monitor.store.notifications.create(config.value as NotificationConfigInput);
  }
  const line: string[] = [`${String(n).padStart(3)} answering`];
  for (const [type, down] of [
    ['server.down', true],
    ['server.up', false],
  ] as const) {
    failing = down;
    await monitor.runNow([server.id]);
    const at = Date.now();
    await waitUntil(() => answering.every((r) => r.arrivals.has(type)), GIVE_UP);
    const delays = answering.map((r) => (r.arrivals.get(type) ?? Infinity) - at).sort((a, b) => a - b);
    const missing = delays.filter((d) => d === Infinity).length;
    line.push(`${type} p50 ${pct(delays, 50)} ms, max ${missing ? `> ${GIVE_UP} ms (${missing} not arrived)` : `${delays.at(-1)} ms`}`);
    if (down) await new Promise((r) => setTimeout(r, 2000));
  }
  console.log(line.join('; '));
  await monitor.close();
  await Promise.all([hanging, ...answering].map((r) => r.close()));
  target.close();
  rmSync(dir, { recursive: true, force: true });
}

for (const n of COUNTS) await scenario(n);
