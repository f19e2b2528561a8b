import express from 'express';
import { keepAlive, health, corsSecurity, lifeline } from 'express-lifeline';
import autocannon from 'autocannon';
const variants = {
  bare: () => [],
  ka: () => [keepAlive({ logger: false })],
  cors: () => [corsSecurity({ logger: false })],
  health: () => [health({ logger: false })],
  all3: () => [keepAlive({ logger: false }), corsSecurity({ logger: false }), health({ logger: false })],
  lifeline: () => [lifeline({ logger: false })],
};
const which = process.argv[2];
if (which) {
  const app = express();
  for (const m of variants[which]()) app.use(m);
  app.get('/api/items', (_req, res) => res.json({ items: [{ id: 1, name: 'one' }, { id: 2, name: 'two' }] }));
  const s = app.listen(0, '127.0.0.1', () => process.send(s.address().port));
} else {
  const { fork, execFileSync } = await import('node:child_process');
  execFileSync('taskset', ['-cp', '1', String(process.pid)]);
  const res = {};
  for (let round = 0; round < 2; round++) for (const v of Object.keys(variants)) {
    const c = fork(new URL(import.meta.url).pathname, [v]);
    const port = await new Promise((r) => c.once('message', r));
    execFileSync('taskset', ['-cp', '0', String(c.pid)]);
    await autocannon({ url: `http://127.0.0.1:${port}/api/items`, connections: 50, duration: 1 });
    const r = await autocannon({ url: `http://127.0.0.1:${port}/api/items`, connections: 50, duration: 3 });
    (res[v] ??= []).push(r.requests.average);
    c.kill();
  }
  for (const [k, v] of Object.entries(res)) console.log(k, v.map((x) => x.toFixed(0)).join(' '), (Math.max(...v) / Math.max(...res.bare)).toFixed(2));
}
