// @ts-check
// The server of bench/shed.js: `node bench/shed-server.js`; SHED=0 turns shedding off,
// ROUTE=sync (the default) burns CPU in one piece, ROUTE=await waits 5 ms (a database) first.
// Prints nothing; sends {"port":n} over IPC once listening.
import { pbkdf2Sync } from 'node:crypto';
import { setTimeout as wait } from 'node:timers/promises';
import express from 'express';
import { createLogger, lifeline, serve } from 'express-lifeline';

const WORK_MS = Number(process.env.WORK_MS ?? 8);
const logger = createLogger({ file: process.env.LOG_FILE, console: false });

/**
 * WORK_MS of fixed work (not a clock: a descheduled process must not do less): PBKDF2
 * rounds, which allocate nothing (a loop of createHash calls left thousands of native
 * objects a request, whose clean-up made every third request 20 ms slower). Calibrated
 * once, after a warm-up, on the fastest of several tries: a try the machine interrupted
 * is slower, never faster.
 */
const work = (/** @type {number} */ rounds) => pbkdf2Sync('lifeline', 'bench', rounds, 32, 'sha256')[0] ?? 0;
let calibration = 0;
let fastest = Infinity;
for (let i = 0; i < 30; i++) {
  const started = performance.now();
  calibration += work(10_000);
  fastest = Math.min(fastest, performance.now() - started);
}
const rounds = Math.max(1, Math.round((WORK_MS / fastest) * 10_000));

const app = express();
app.use(lifeline({ logger, keepAlive: { interval: 0 }, health: { interval: 0 } }));
app.get('/api/work', async (_req, res) => {
  if (process.env.ROUTE === 'await') await wait(5);
  res.json({ ok: true, sum: calibration + work(rounds) });
});
const served = await serve(app, { port: 0, logger, shed: process.env.SHED !== '0', exit: true });
process.send?.({ port: served.port });
// The bench died (an error): nobody is left to stop this server.
process.on('disconnect', () => process.exit(0));
process.on('message', (message) => {
  if (message === 'stats') process.send?.({ shedding: served.shedding() ?? null });
});
