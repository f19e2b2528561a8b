import { describe, expect, it } from 'vitest';
import { phaseOf, Scheduler } from '../../src/monitor/scheduler.js';
import { waitFor } from './helpers.js';

/** A check that runs until the test lets it end: its length is the test's choice, not a sleep. */
function gate() {
  const held: Array<() => void> = [];
  return {
    hold: () => new Promise<void>((release) => held.push(release)),
    releaseAll: () => held.splice(0).forEach((release) => release()),
    get waiting() {
      return held.length;
    },
  };
}

describe('Scheduler', () => {
  it('never overlaps two checks of one server: a slot that comes while the check runs is skipped', async () => {
    const active = new Map<number, number>();
    let maxPerServer = 0;
    const starts: number[] = [];
    const checks = gate();
    const scheduler = new Scheduler({
      concurrency: 10,
      async run(id) {
        starts.push(Date.now());
        active.set(id, (active.get(id) ?? 0) + 1);
        maxPerServer = Math.max(maxPerServer, active.get(id)!);
        await checks.hold(); // a check longer than the 1 s interval: it ends when two slots have been skipped
        active.set(id, active.get(id)! - 1);
      },
    });
    scheduler.schedule(1, 1, Date.now() - 1000 + 50);
    scheduler.start();
    await waitFor(() => scheduler.stats.overlapsSkipped >= 2, 5000, 'two slots skipped');
    checks.releaseAll();
    await waitFor(() => starts.length === 2, 5000, 'the next run on the grid');
    checks.releaseAll();
    await scheduler.stop();
    expect(maxPerServer).toBe(1);
    expect(scheduler.stats.overlapsSkipped).toBe(2);
    // Run at 0.05 s, skip 1.05 and 2.05, run again at 3.05 s: still on the grid.
    expect(starts[1]! - starts[0]!).toBeGreaterThan(2900);
    expect(starts[1]! - starts[0]!).toBeLessThan(3200);
  }, 10_000);

  it('queues beyond the concurrency bound and starts the queued checks as slots free up', async () => {
    let running = 0;
    let maxRunning = 0;
    const checks = gate();
    const scheduler = new Scheduler({
      concurrency: 4,
      async run() {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await checks.hold();
        running--;
      },
    });
    const now = Date.now();
    for (let id = 1; id <= 12; id++) scheduler.schedule(id, 60, now - 60_000, now);
    scheduler.start();
    for (const started of [4, 8, 12]) {
      await waitFor(() => checks.waiting === 4, 5000, `${started} checks started`);
      // The bound holds: the others wait in the queue until these end.
      expect(scheduler.stats.started).toBe(started);
      checks.releaseAll();
    }
    await scheduler.stop();
    expect(maxRunning).toBe(4);
    expect(scheduler.stats.started).toBe(12);
  });

  it('spreads new servers over their interval by a phase that every instance computes alike', async () => {
    const phases = Array.from({ length: 100 }, (_, i) => phaseOf(i + 1, 60_000));
    expect(Math.min(...phases)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...phases)).toBeLessThan(60_000);
    // Every tenth of the minute gets some servers.
    expect(new Set(phases.map((p) => Math.floor(p / 6000))).size).toBe(10);
    // Two schedulers on the epoch grid (two instances sharing the checks) give a server the same slot.
    const slots: number[][] = [[], []];
    const schedulers = slots.map(
      (seen) =>
        new Scheduler({
          concurrency: 1,
          epochGrid: true,
          async run(id, scheduledAt) {
            if (id === 7) seen.push(scheduledAt);
          },
        }),
    );
    for (const scheduler of schedulers) {
      scheduler.schedule(7, 0.5);
      scheduler.schedule(8, 0.5);
      scheduler.start();
    }
    await waitFor(() => slots.every((seen) => seen.length >= 1), 3000, 'a slot of server 7 in both');
    await Promise.all(schedulers.map((scheduler) => scheduler.stop()));
    expect(slots[0]![0]).toBe(slots[1]![0]);
    expect(slots[0]![0]! % 500).toBe(phaseOf(7, 500));
    expect(phaseOf(8, 500)).not.toBe(phaseOf(7, 500));
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
    await waitFor(() => runs >= 1, 3000, 'a first run');
    const before = runs;
    const until = Date.now() + 550;
    while (Date.now() < until); // block the event loop over 5 slots
    await waitFor(() => runs > before, 3000, 'the run after the block');
    await scheduler.stop();
    expect(runs - before).toBeLessThanOrEqual(2);
    expect(scheduler.stats.missed).toBeGreaterThanOrEqual(4);
  });
});
