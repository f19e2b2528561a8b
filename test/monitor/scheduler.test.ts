import { describe, expect, it } from 'vitest';
import { phaseOf, Scheduler } from '../../src/monitor/scheduler.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Scheduler', () => {
  it('never overlaps two checks of one server: a slot that comes while the check runs is skipped', async () => {
    const active = new Map<number, number>();
    let maxPerServer = 0;
    const starts: number[] = [];
    const scheduler = new Scheduler({
      concurrency: 10,
      async run(id) {
        starts.push(Date.now());
        active.set(id, (active.get(id) ?? 0) + 1);
        maxPerServer = Math.max(maxPerServer, active.get(id)!);
        await sleep(2500); // a check longer than the 1 s interval
        active.set(id, active.get(id)! - 1);
      },
    });
    scheduler.schedule(1, 1, Date.now() - 1000 + 50);
    scheduler.start();
    await sleep(4300);
    await scheduler.stop();
    expect(maxPerServer).toBe(1);
    expect(scheduler.stats.overlapsSkipped).toBeGreaterThanOrEqual(2);
    // Run at 0.05 s, skip 1.05 and 2.05, run again at 3.05 s: still on the grid.
    expect(starts).toHaveLength(2);
    expect(starts[1]! - starts[0]!).toBeGreaterThan(2900);
    expect(starts[1]! - starts[0]!).toBeLessThan(3200);
  }, 10_000);

  it('queues beyond the concurrency bound and starts the queued checks as slots free up', async () => {
    let running = 0;
    let maxRunning = 0;
    const scheduler = new Scheduler({
      concurrency: 4,
      async run() {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await sleep(200);
        running--;
      },
    });
    const now = Date.now();
    for (let id = 1; id <= 12; id++) scheduler.schedule(id, 60, now - 60_000, now);
    scheduler.start();
    await sleep(900);
    await scheduler.stop();
    expect(maxRunning).toBe(4);
    expect(scheduler.stats.started).toBe(12);
  });

  it('spreads new servers over their interval by a stable phase', () => {
    const phases = Array.from({ length: 100 }, (_, i) => phaseOf(i + 1, 60_000));
    expect(phaseOf(7, 60_000)).toBe(phaseOf(7, 60_000));
    expect(Math.min(...phases)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...phases)).toBeLessThan(60_000);
    // Every tenth of the minute gets some servers.
    expect(new Set(phases.map((p) => Math.floor(p / 6000))).size).toBe(10);
  });

  it('skips slots missed while the process was blocked instead of running them in a burst', async () => {
    let runs = 0;
    const scheduler = new Scheduler({
      concurrency: 10,
      async run() {
        runs++;
      },
    });
    scheduler.schedule(1, 0.1, Date.now());
    scheduler.start();
    await sleep(150);
    const before = runs;
    const until = Date.now() + 550;
    while (Date.now() < until); // block the event loop over 5 slots
    await sleep(30);
    await scheduler.stop();
    expect(runs - before).toBeLessThanOrEqual(2);
    expect(scheduler.stats.missed).toBeGreaterThanOrEqual(4);
  });
});
