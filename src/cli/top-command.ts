import type { Output } from './daemon-commands.js';
import { printStatus, statusReport } from './info-commands.js';

const CLEAR = '\x1b[H\x1b[2J';

/**
 * `lifeline top`: the status view with every worker's restarts, req/s and p99, redrawn
 * every interval (like PM2's monit). On a terminal, q or Ctrl-C quits (stdin in raw
 * mode, so Ctrl-C is a key, not a signal); otherwise it prints one view per interval
 * until SIGINT or SIGTERM. Exits 0; 1 at once when nothing runs.
 */
export async function top(options: { port?: number; interval: number }, io: Output): Promise<number> {
  const tty = process.stdin.isTTY && process.stdout.isTTY;
  let quit: () => void = () => undefined;
  const quitting = new Promise<void>((resolve) => (quit = resolve));
  let done = false;
  void quitting.then(() => (done = true));
  const onSignal = () => quit();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const onKey = (key: Buffer) => {
    const text = key.toString('utf8');
    if (text.includes('q') || text.includes('Q') || text.includes('\x03')) quit();
  };
  if (tty) {
    process.stdin.setRawMode(true);
    process.stdin.on('data', onKey);
    process.stdin.resume();
  }
  let first = true;
  try {
    while (!done) {
      const started = Date.now();
      const { report } = await statusReport(options.port);
      if (done) break;
      if (first && report.state === 'STOPPED') {
        // Nothing to watch: say so once rather than redraw "STOPPED" for ever.
        io.err(`not running on port ${report.port}: nothing to watch (lifeline start, or lifeline serve in another terminal)`);
        return 1;
      }
      first = false;
      const lines: string[] = [];
      printStatus(report, false, { out: (line) => lines.push(line), err: (line) => lines.push(line) });
      const header = `lifeline top - ${new Date().toISOString()} - every ${options.interval} ms, ${tty ? 'q or Ctrl-C quits' : 'Ctrl-C quits'}`;
      if (tty) process.stdout.write(`${CLEAR}${header}\n${lines.join('\n')}\n`);
      else io.out(`--- ${header}\n${lines.join('\n')}`);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([quitting, new Promise((r) => (timer = setTimeout(r, Math.max(0, options.interval - (Date.now() - started)))))]);
      clearTimeout(timer);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (tty) {
      process.stdin.off('data', onKey);
      process.stdin.setRawMode(false);
      process.stdin.pause();
    }
  }
  return 0;
}
