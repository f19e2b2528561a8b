import { describe, expect, it } from 'vitest';
import { failureLog } from '../src/logging/failure-log.js';
import { backgroundLoop, sleep } from '../src/time.js';

describe('backgroundLoop', () => {
  it('survives a throwing task and logs each kind of error once, then the recovery', async () => {
    const lines: string[] = [];
    const failures = failureLog(
      'refresh',
      (m) => lines.push(`error ${m}`),
      (m) => lines.push(`info ${m}`),
    );
    let runs = 0;
    const loop = backgroundLoop(
      10,
      () => {
        runs += 1;
        if (runs <= 4) throw Object.assign(new Error('too many open files'), { code: 'EMFILE' });
        if (runs <= 6) throw new Error('database gone');
      },
      failures,
    );
    await sleep(300);
    loop.stop();
    expect(runs).toBeGreaterThan(8);
    expect(lines).toEqual([
      'error refresh failed: too many open files (logged once until it recovers)',
      'error refresh failed: database gone (logged once until it recovers)',
      'info refresh recovered after 6 failed tries',
    ]);
  });
});
