// After `npm test`: no process the tests started may outlive them. scripts/test.sh marks the run
// with LIFELINE_TEST_RUN in the environment, which every child inherits; any process still
// carrying the mark after the suite (servers, CLIs, apps, PostgreSQL, Redis) is reported,
// killed, and fails the run.
import { readdirSync, readFileSync } from 'node:fs';

const mark = process.env.LIFELINE_TEST_RUN;
if (!mark) {
  console.error('leftover-processes: LIFELINE_TEST_RUN is not set (run through scripts/test.sh)');
  process.exit(1);
}
const needle = `LIFELINE_TEST_RUN=${mark}`;
const self = new Set([process.pid, process.ppid]);

function marked() {
  const found = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || self.has(pid)) continue;
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(needle)) continue;
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
      found.push({ pid, cmdline });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

// A process ending as the suite ends gets a few seconds to finish.
let left = marked();
for (let waited = 0; left.length > 0 && waited < 5000; waited += 250) {
  await new Promise((resolve) => setTimeout(resolve, 250));
  left = marked();
}
if (left.length === 0) process.exit(0);
console.error(`leftover-processes: ${left.length} process(es) started by the tests outlived them:`);
for (const { pid, cmdline } of left) {
  console.error(`  pid ${pid}: ${cmdline.slice(0, 200)}`);
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
process.exit(1);
