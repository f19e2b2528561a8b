import { describe, expect, it } from 'vitest';
import { EventLog } from '../../src/monitor/live/log.js';
import type { LiveEvent, LiveStatus } from '../../src/monitor/live/types.js';

const event = (id: number): LiveEvent => ({ type: 'status', id, previous: 'up', status: { server: id % 100 } as LiveStatus['status'] });

describe('EventLog (the live events kept for replay)', () => {
  it('stays bounded at maxEvents and costs O(1) an event once full, not a shift of every kept event', () => {
    const log = new EventLog({ windowMs: 60 * 60_000, minEvents: 10, maxEvents: 50_000 });
    const started = performance.now();
    // 150,000 events past the bound: shifting the 50,000 kept events for each took 77 s here on a
    // busy machine, against 1.5 s when the trim is amortised; the bound leaves room for the load.
    for (let id = 1; id <= 200_000; id++) log.add(event(id), 1_000_000 + id);
    const elapsed = performance.now() - started;
    console.log(`200,000 events into a log of 50,000: ${elapsed.toFixed(0)} ms`);
    expect(log.size).toBe(50_000);
    expect(log.lastId).toBe(200_000);
    expect(elapsed).toBeLessThan(20_000);
    // What it keeps is exactly the latest events, in order; older ids get the snapshot.
    const replay = log.since(150_000)!;
    expect(replay.map((e) => e.id)).toEqual(Array.from({ length: 50_000 }, (_, i) => 150_001 + i));
    expect(replay[0]).not.toHaveProperty('at');
    expect(log.since(149_999)).toBeUndefined();
    expect(log.since(199_999)!.map((e) => e.id)).toEqual([200_000]);
    expect(log.since(200_000)).toEqual([]);
  }, 60_000);

  it('drops events older than the window beyond minEvents, keeps ids in order when they come out of order', () => {
    const log = new EventLog({ windowMs: 1000, minEvents: 3, maxEvents: 100 });
    for (let id = 1; id <= 10; id++) log.add(event(id), id * 100);
    expect(log.size).toBe(10);
    log.add(event(12), 5000); // everything older than 4000 ms goes but the last 3
    expect(log.size).toBe(3);
    log.add(event(11), 5001); // out of order: kept sorted
    log.add(event(11), 5002); // delivered twice: kept once
    expect(log.since(8)).toBeUndefined(); // 9 was trimmed
    expect(log.since(9)?.map((e) => e.id)).toEqual([10, 11, 12]);
    expect(log.lastId).toBe(12);
  });

  it('holds at most 20,000 events by default, whatever the rate (memory, not minutes, is the bound)', () => {
    const log = new EventLog();
    for (let id = 1; id <= 30_000; id++) log.add(event(id), 1_000_000);
    expect(log.size).toBe(20_000);
    expect(log.since(10_000)?.length).toBe(20_000);
  });
});
