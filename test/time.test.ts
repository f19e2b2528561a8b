import { describe, expect, it } from 'vitest';
import { failureLog } from '../src/logging/failure-log.js';
import { backgroundLoop, backoffDelay } from '../src/time.js';

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
    // Past the six failures and a few good runs: the recovery line is written by then.
    await expect.poll(() => runs, { timeout: 5000, interval: 10 }).toBeGreaterThan(8);
    loop.stop();
    expect(lines).toEqual([
      'error refresh failed: too many open files (logged once until it recovers)',
      'error refresh failed: database gone (logged once until it recovers)',
      'info refresh recovered after 6 failed tries',
    ]);
  });
});

describe('backgroundLoop with a first delay', () => {
  it('runs first after firstDelay, then every ms', async () => {
    const at: number[] = [];
    const t0 = Date.now();
    const loop = backgroundLoop(200, () => void at.push(Date.now() - t0), undefined, 0);
    await expect.poll(() => at.length, { timeout: 5000, interval: 20 }).toBeGreaterThanOrEqual(2);
    loop.stop();
    expect(at[0]).toBeLessThan(100);
    // Not every 0 ms after the first run: the period is `ms`.
    expect(at.length).toBeGreaterThanOrEqual(2);
    expect(at.length).toBeLessThanOrEqual(4);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(190);
  });
});

describe('backoffDelay', () => {
  it('grows by the factor from the base and stops at the cap', () => {
    expect([0, 1, 2, 3, 4].map((a) => backoffDelay(a, { base: 100 }))).toEqual([100, 200, 400, 800, 1600]);
    expect([0, 1, 2, 3].map((a) => backoffDelay(a, { base: 100, factor: 3, cap: 500 }))).toEqual([100, 300, 500, 500]);
  });

  it('spreads the delay over ±jitter of itself, never past it', () => {
    const delays = Array.from({ length: 200 }, () => backoffDelay(2, { base: 1000, cap: 3000, jitter: 0.5 }));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(1500);
    expect(Math.max(...delays)).toBeLessThanOrEqual(4500);
    expect(new Set(delays).size).toBeGreaterThan(10);
  });

  it('jitters the capped delay, in whole ms', () => {
    const delays = Array.from({ length: 200 }, () => backoffDelay(10, { base: 100, factor: 2, cap: 1000, jitter: 0.2 }));
    expect(delays.every(Number.isInteger)).toBe(true);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(800);
    expect(Math.max(...delays)).toBeLessThanOrEqual(1200);
    expect(backoffDelay(0, { base: 33.4 })).toBe(33);
  });

  it('counts a negative attempt as the first, and grows without bound when no cap is given', () => {
    expect(backoffDelay(-3, { base: 250 })).toBe(250);
    expect(backoffDelay(30, { base: 1 })).toBe(2 ** 30);
  });
});
