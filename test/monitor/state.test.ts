import { describe, expect, it } from 'vitest';
import { nextState, type Counters } from '../../src/monitor/state.js';
import { mergeIntervals, trimChanges, uptimeBetween, uptimeFigures, type Change } from '../../src/monitor/uptime.js';

const ok = { status: 'success' as const, error_message: null };
const fail = { status: 'failure' as const, error_message: 'connection refused' };
const slow = { ...ok, degraded: 'response time 900 ms over 500 ms' };

function run(
  outcomes: Array<typeof ok | typeof fail | typeof slow>,
  thresholds = { failure_threshold: 2, success_threshold: 1 },
  start: Counters['status'] = 'pending',
) {
  let state: Counters = { status: start, consecutive_failures: 0, consecutive_successes: 0 };
  const seen: string[] = [];
  for (const o of outcomes) {
    state = nextState(state, o, thresholds);
    seen.push(state.status);
  }
  return seen;
}

describe('state machine', () => {
  it('goes down only after failure_threshold failures in a row, pending before', () => {
    expect(run([fail, fail, fail])).toEqual(['pending', 'down', 'down']);
    expect(run([ok, fail, ok, fail, fail])).toEqual(['up', 'pending', 'up', 'pending', 'down']);
    expect(run([fail], { failure_threshold: 1, success_threshold: 1 })).toEqual(['down']);
  });

  it('comes back up only after success_threshold successes in a row', () => {
    expect(run([ok, ok, ok], { failure_threshold: 1, success_threshold: 3 }, 'down')).toEqual(['down', 'down', 'up']);
    expect(run([ok, fail, ok, ok], { failure_threshold: 1, success_threshold: 2 }, 'down')).toEqual(['down', 'down', 'down', 'up']);
  });

  it('is degraded on a degraded success, and moves between up and degraded at once', () => {
    expect(run([slow, ok, slow])).toEqual(['degraded', 'up', 'degraded']);
    const next = nextState({ status: 'up', consecutive_failures: 0, consecutive_successes: 4 }, slow, {
      failure_threshold: 2,
      success_threshold: 1,
    });
    expect(next).toEqual({
      status: 'degraded',
      consecutive_failures: 0,
      consecutive_successes: 5,
      message: 'response time 900 ms over 500 ms',
    });
    expect(nextState(next, fail, { failure_threshold: 2, success_threshold: 1 })).toEqual({
      status: 'pending',
      consecutive_failures: 1,
      consecutive_successes: 0,
      message: 'connection refused',
    });
  });
});

describe('time-weighted uptime', () => {
  const H = 3_600_000;
  it('weighs states by time, not by number of checks', () => {
    const changes: Change[] = [
      { status: 'up', at: 0 },
      { status: 'down', at: 9 * H },
      { status: 'up', at: 10 * H },
    ];
    expect(uptimeBetween(changes, [{ start: 0, end: 12 * H }], 0, 12 * H)).toBeCloseTo((11 / 12) * 100, 9);
  });

  it('leaves out the time the monitor was not running', () => {
    // Down at 2h; the monitor stopped from 3h to 9h, came back at 9h and saw it up at 9h.
    const changes: Change[] = [
      { status: 'up', at: 0 },
      { status: 'down', at: 2 * H },
      { status: 'up', at: 9 * H },
    ];
    const runs = mergeIntervals([
      { start: 0, end: 3 * H },
      { start: 9 * H, end: 12 * H },
    ]);
    // Known: 6 h, of which 1 h down.
    expect(uptimeBetween(changes, runs, 0, 12 * H)).toBeCloseTo((5 / 6) * 100, 9);
    // Without the gap taken out it would be 5/12.
    expect(uptimeBetween(changes, [{ start: 0, end: 12 * H }], 0, 12 * H)).toBeCloseTo((5 / 12) * 100, 9);
  });

  it('counts pending as up, and time before the first change as unknown', () => {
    const changes: Change[] = [
      { status: 'pending', at: 6 * H },
      { status: 'down', at: 9 * H },
    ];
    expect(uptimeBetween(changes, [{ start: 0, end: 12 * H }], 0, 12 * H)).toBeCloseTo(50, 9);
    expect(uptimeBetween([], [{ start: 0, end: H }], 0, H)).toBeNull();
    expect(uptimeFigures([], [], 12 * H)).toEqual({ '24h': 100, '7d': 100, '30d': 100 });
  });

  it('uses the state in force at the window start, and merges overlapping runs of several instances', () => {
    const now = 40 * 24 * H;
    const changes: Change[] = [
      { status: 'down', at: 0 },
      { status: 'up', at: now - 12 * H },
    ];
    const runs = mergeIntervals([
      { start: 0, end: now },
      { start: now - 20 * H, end: now - 2 * H },
    ]);
    expect(runs).toEqual([{ start: 0, end: now }]);
    expect(uptimeFigures(changes, runs, now)).toEqual({
      '24h': 50,
      '7d': round(100 * (12 / (7 * 24))),
      '30d': round(100 * (12 / (30 * 24))),
    });
    trimChanges(changes, now);
    expect(changes).toHaveLength(2);
  });
});

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
