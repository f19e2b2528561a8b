// @ts-check
// `npm run bench:push` (also part of `npm run bench`): heartbeats of push monitors over
// keep-alive HTTP from autocannon, as cron jobs and workers send them, into the monitor app
// in a child process (bench/push-child.js, on core 0; the load here on core 1). Reports the
// heartbeats stored per second and per core of the monitor's CPU (target: 5,000).
import autocannon from 'autocannon';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pin } from './cpu-pinning.js';

const here = dirname(fileURLToPath(import.meta.url));
const SECONDS = Number(process.env.BENCH_PUSH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_PUSH_CONNECTIONS ?? 50);
const TARGET_PER_CORE = 5000;

pin(process.pid, '1');
const child = fork(join(here, 'push-child.js'), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
pin(child.pid, '0');
const [{ port, tokens }] = /** @type {[{ port: number; tokens: string[] }]} */ (await once(child, 'message'));
const ask = async (/** @type {string} */ message) => {
  child.send(message);
  return (await once(child, 'message'))[0];
};

let next = 0;
const run = (/** @type {number} */ duration) =>
  autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration,
    requests: [
      {
        method: 'GET',
        // Each request a different job's heartbeat, within every token's rate.
        setupRequest: (req) => ({ ...req, path: `/api/push/${tokens[next++ % tokens.length]}/?msg=ok&ping=12` }),
      },
    ],
  });

await run(2); // warm-up: JIT, connections, the first batches
await ask('start');
const result = await run(SECONDS);
const figures = /** @type {{ cpuMs: number; stored: number; batches: number }} */ (await ask('stop'));
child.send('exit');
await once(child, 'exit');
const ok = result['2xx'];
const perSecond = figures.stored / SECONDS;
const perCore = figures.stored / (figures.cpuMs / 1000);
console.log(
  JSON.stringify(
    {
      bench: 'push heartbeats',
      tokens: tokens.length,
      connections: CONNECTIONS,
      seconds: SECONDS,
      answered2xx: ok,
      non2xx: result.non2xx,
      stored: figures.stored,
      heartbeatsPerSecond: Math.round(perSecond),
      monitorCpuSeconds: Math.round(figures.cpuMs) / 1000,
      heartbeatsPerCpuSecond: Math.round(perCore),
      latencyP99ms: result.latency.p99,
      target: `${TARGET_PER_CORE} per second per core`,
      holds: perCore >= TARGET_PER_CORE,
    },
    null,
    2,
  ),
);
process.exitCode = perCore >= TARGET_PER_CORE ? 0 : 1;
