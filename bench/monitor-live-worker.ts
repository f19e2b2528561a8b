// The processes bench/monitor-live.ts starts (with `node --import tsx`):
//   clients <url> <sse> <ws> <token>: live clients (plain HTTP event streams and `ws` sockets) that record
//     when each ping event arrives; on IPC 'report' they send [pingId, arrival] pairs back.
//   scheduler <database>: one monitor instance sharing the checks on PostgreSQL; IPC {type:'window',from,to}
//     (epoch ms) sets the counting window; on 'stop' it sends how many checks it finished in it and the
//     slots it claimed in it, then closes.
import { request } from 'node:http';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { createMonitor } from 'express-lifeline/monitor';

/** Wall-clock ms with sub-ms resolution, comparable between processes of one machine. */
const wallNow = () => performance.timeOrigin + performance.now();

const send = (message: unknown) => process.send?.(message);

async function clients(url: string, sseCount: number, wsCount: number, token: string): Promise<void> {
  const sse: Array<[number, number]> = [];
  const ws: Array<[number, number]> = [];
  const closers: Array<() => void> = [];
  const openSse = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        `${url}/api/events/status/`,
        { headers: { Accept: 'text/event-stream', Authorization: `Bearer ${token}` } },
        (res) => {
          if (res.statusCode !== 200) return reject(new Error(`event stream answered ${res.statusCode}`));
          res.setEncoding('utf8');
          let pending = '';
          res.on('data', (chunk: string) => {
            const at = wallNow();
            pending += chunk;
            let end: number;
            while ((end = pending.indexOf('\n\n')) >= 0) {
              const block = pending.slice(0, end);
              pending = pending.slice(end + 2);
              if (!block.startsWith('event: ping\n')) continue;
              const data = block.slice(block.indexOf('\ndata: ') + 7);
              sse.push([(JSON.parse(data) as { id: number }).id, at]);
            }
          });
          resolve();
        },
      );
      req.on('error', reject);
      closers.push(() => req.destroy());
      req.end();
    });
  const openWs = () =>
    new Promise<void>((resolve, reject) => {
      const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/ws/status/`, { headers: { Authorization: `Bearer ${token}` } });
      closers.push(() => socket.terminate());
      socket.on('error', reject);
      socket.on('open', () => socket.send(JSON.stringify({ action: 'subscribe' })));
      socket.on('message', (raw) => {
        const at = wallNow();
        const message = JSON.parse(String(raw)) as { type: string; ping?: { id: number } };
        if (message.type === 'subscribed') resolve();
        else if (message.type === 'update' && message.ping) ws.push([message.ping.id, at]);
      });
    });
  // A few at a time: 500 connection attempts at once would overflow the listen backlog.
  const opens = [...Array.from({ length: sseCount }, () => openSse), ...Array.from({ length: wsCount }, () => openWs)];
  for (let i = 0; i < opens.length; i += 50) await Promise.all(opens.slice(i, i + 50).map((open) => open()));
  send({ type: 'ready' });
  process.on('message', (message: { type: string }) => {
    if (message.type === 'report') send({ type: 'report', sse, ws });
    if (message.type === 'stop') {
      for (const close of closers) close();
      process.disconnect?.();
    }
  });
}

async function scheduler(database: string): Promise<void> {
  let from = Infinity;
  let to = -Infinity;
  const monitor = await createMonitor({ database, logger: false, shared: true, notifications: false, maintenanceInterval: 3_600_000 });
  // The slots this instance won (each check runs only after its slot's claim is won): the parent
  // looks for a slot won by both instances.
  const claimed: Array<[number, number]> = [];
  const results = monitor.store.results;
  const claim = results.claim.bind(results);
  results.claim = async (serverId, slot, instance) => {
    const won = await claim(serverId, slot, instance);
    if (won && slot >= from && slot < to) claimed.push([serverId, slot]);
    return won;
  };
  let checks = 0;
  let cpuFrom: NodeJS.CpuUsage | undefined;
  let cpu: NodeJS.CpuUsage | undefined;
  monitor.events.on('ping', () => {
    const now = Date.now();
    if (now >= from && now < to) checks++;
  });
  send({ type: 'ready' });
  process.on('message', (message: { type: string; from?: number; to?: number }) => {
    if (message.type === 'window') {
      from = message.from ?? from;
      to = message.to ?? to;
      setTimeout(() => (cpuFrom = process.cpuUsage()), from - Date.now());
      setTimeout(() => (cpu = process.cpuUsage(cpuFrom)), to - Date.now());
    }
    if (message.type !== 'stop') return;
    const stats = monitor.stats();
    void monitor.close().then(() => {
      // Disconnect once the report is written: a large message still queued would be dropped.
      process.send?.(
        {
          type: 'report',
          checks,
          claimed,
          cpuMs: cpu ? (cpu.user + cpu.system) / 1000 : NaN,
          claimsLost: stats.claimsLost,
          skipped: stats.missed + stats.overlapsSkipped,
        },
        () => process.disconnect?.(),
      );
    });
  });
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'clients') await clients(args[0]!, Number(args[1]), Number(args[2]), args[3]!);
else if (mode === 'scheduler') await scheduler(args[0]!);
else throw new Error(`monitor-live-worker: unknown mode ${mode}`);
