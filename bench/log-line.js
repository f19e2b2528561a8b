// @ts-check
// The cost of one access line in backend.log, alone: `node bench/log-line.js` (after a build).
// The full path a line takes: winston's pipeline (redaction, timestamp, text format,
// escaping) and the rotating file transport's synchronous append.
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from 'express-lifeline';

/** @param {number} lines */
export async function measureLogLine(lines = 50_000) {
  const file = join(tmpdir(), `lifeline-bench-line-${process.pid}.log`);
  const logger = createLogger({ file, console: false });
  const meta = { component: 'access' };
  for (let i = 0; i < 5000; i++) logger.info('GET /api/items 200 1.2 ms 1532 bytes', meta); // warm-up
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < lines; i++) logger.info(`GET /api/items 200 ${(i % 100) / 10} ms 1532 bytes`, meta);
  await logger.closeAndFlush();
  const used = process.cpuUsage(cpu);
  const wallMs = performance.now() - started;
  const written = readFileSync(file, 'utf8').split('\n').length - 1;
  rmSync(file, { force: true });
  if (written !== lines + 5000) throw new Error(`${written} lines written, expected ${lines + 5000}`);
  return { cpuMicros: (used.user + used.system) / lines, wallMicros: (wallMs * 1000) / lines };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await measureLogLine();
  console.log(`one access line: ${r.cpuMicros.toFixed(1)} µs CPU, ${r.wallMicros.toFixed(1)} µs wall`);
}
