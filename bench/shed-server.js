// @ts-check
// The server of bench/shed.js: `node bench/shed-server.js`; SHED=0 turns shedding off,
// ROUTE=sync (the default) burns CPU in one piece, ROUTE=await waits 5 ms (a database) first.
// Prints nothing; sends {"port":n} over IPC once listening.
import { createHash } from 'node:crypto';
import { setTimeout as wait } from 'node:timers/promises';
import express from 'express';
import { createLogger, lifeline, serve } from 'express-lifeline';

const WORK_MS = Number(process.env.WORK_MS ?? 8);
const logger = createLogger({ file: process.env.LOG_FILE, console: false });

/** One unit of fixed work (not a clock: a descheduled process must not do less). */
function unit() {
  let digest = Buffer.alloc(32);
  for (let i = 0; i < 100; i++) digest = createHash('sha256').update(digest).digest();
  return digest[0] ?? 0;
}
// Calibrated once, on CPU time (the machine may be shared) after a warm-up (JIT): how
// many units make WORK_MS of CPU.
let calibration = 0;
for (let i = 0; i < 300; i++) calibration += unit();
const cpu0 = process.cpuUsage();
for (let i = 0; i < 500; i++) calibration += unit();
const cpu = process.cpuUsage(cpu0);
const units = Math.max(1, Math.round((WORK_MS * 1000 * 500) / (cpu.user + cpu.system)));

const app = express();
app.use(lifeline({ logger, keepAlive: { interval: 0 }, health: { interval: 0 } }));
app.get('/api/work', async (_req, res) => {
  if (process.env.ROUTE === 'await') await wait(5);
  let sum = calibration;
  for (let i = 0; i < units; i++) sum += unit();
  res.json({ ok: true, sum });
});
const served = await serve(app, { port: 0, logger, shed: process.env.SHED !== '0', exit: true });
process.send?.({ port: served.port });
// The bench died (an error): nobody is left to stop this server.
process.on('disconnect', () => process.exit(0));
process.on('message', (message) => {
  if (message === 'stats') process.send?.({ shedding: served.shedding() ?? null });
});
