import { describe, expect, it } from 'vitest';
import { bootOutcome, decideRespawn, type RespawnPolicy, type SlotHistory } from '../../src/cluster/respawn.js';

// runCluster's defaults.
const policy: RespawnPolicy = { restartWindow: 60_000, restartDelay: 1000, maxRestartDelay: 30_000, stableAfter: 30_000, maxRestarts: 5 };
const NOW = 1_000_000;

function slot(history: Partial<SlotHistory> = {}): SlotHistory {
  return { startedAt: NOW - 100, deaths: [], consecutive: 0, ...history };
}

describe('decideRespawn', () => {
  it('respawns a first death after restartDelay ±50 %, and counts it', () => {
    const decision = decideRespawn(slot(), NOW, policy);
    expect(decision).toMatchObject({ action: 'respawn', deaths: [NOW], consecutive: 1 });
    const { delay } = decision as { delay: number };
    expect(delay).toBeGreaterThanOrEqual(500);
    expect(delay).toBeLessThanOrEqual(1500);
  });

  it('doubles the delay per consecutive death, up to maxRestartDelay (jitter included)', () => {
    const bounds = (consecutive: number) => {
      const delays = Array.from({ length: 100 }, () => {
        const d = decideRespawn(slot({ consecutive }), NOW, { ...policy, maxRestarts: 100 });
        return (d as { delay: number }).delay;
      });
      return [Math.min(...delays), Math.max(...delays)];
    };
    const [min3, max3] = bounds(3); // 8000 ms ±50 %
    expect(min3).toBeGreaterThanOrEqual(4000);
    expect(max3).toBeLessThanOrEqual(12_000);
    const [min10, max10] = bounds(10); // 1024 s, capped at 30 s, ±50 %
    expect(min10).toBeGreaterThanOrEqual(15_000);
    expect(max10).toBeLessThanOrEqual(45_000);
  });

  it('a worker that was up stableAfter resets the backoff', () => {
    const stable = decideRespawn(slot({ startedAt: NOW - 30_000, consecutive: 4 }), NOW, policy);
    expect(stable).toMatchObject({ action: 'respawn', consecutive: 1 });
    expect((stable as { delay: number }).delay).toBeLessThanOrEqual(1500);
    const unstable = decideRespawn(slot({ startedAt: NOW - 29_999, consecutive: 4 }), NOW, policy);
    expect(unstable).toMatchObject({ action: 'respawn', consecutive: 5 });
    expect((unstable as { delay: number }).delay).toBeGreaterThanOrEqual(8000);
  });

  it('gives the slot up at maxRestarts deaths within restartWindow', () => {
    const deaths = [NOW - 40_000, NOW - 30_000, NOW - 20_000, NOW - 10_000];
    const decision = decideRespawn(slot({ deaths, consecutive: 4 }), NOW, policy);
    expect(decision).toEqual({ action: 'give up', deaths: [...deaths, NOW], consecutive: 4 });
  });

  it('forgets deaths restartWindow old or older, so a slow crash keeps being respawned', () => {
    // Five deaths in all, but the first is exactly restartWindow old: four count.
    const deaths = [NOW - 60_000, NOW - 59_999, NOW - 58_000, NOW - 10_000];
    const decision = decideRespawn(slot({ deaths }), NOW, policy);
    expect(decision).toMatchObject({ action: 'respawn', deaths: [NOW - 59_999, NOW - 58_000, NOW - 10_000, NOW] });
  });

  it('maxRestarts 1 gives up at the first death', () => {
    expect(decideRespawn(slot(), NOW, { ...policy, maxRestarts: 1 }).action).toBe('give up');
  });
});

describe('bootOutcome', () => {
  it('is ready when every worker said ready', () => {
    expect(
      bootOutcome([
        { ready: true, dead: false },
        { ready: true, dead: false },
      ]),
    ).toBe('ready');
  });

  it('failed to boot when every worker exited before it was ready', () => {
    expect(
      bootOutcome([
        { ready: false, dead: true },
        { ready: false, dead: true },
      ]),
    ).toBe('failed to boot');
  });

  it('is partial when some are ready, or some are alive but not ready in time', () => {
    expect(
      bootOutcome([
        { ready: true, dead: false },
        { ready: false, dead: true },
      ]),
    ).toBe('partial');
    expect(
      bootOutcome([
        { ready: false, dead: false },
        { ready: false, dead: true },
      ]),
    ).toBe('partial');
  });
});
