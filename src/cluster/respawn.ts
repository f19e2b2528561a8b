import { backoffDelay } from '../time.js';

/** The cluster options that decide what happens when a worker dies (all in ms but maxRestarts). */
export interface RespawnPolicy {
  restartWindow: number;
  restartDelay: number;
  maxRestartDelay: number;
  stableAfter: number;
  maxRestarts: number;
}

/** What the primary remembers of one worker slot. */
export interface SlotHistory {
  /** When the worker that just died was started. */
  startedAt: number;
  /** When the slot's earlier workers died. */
  deaths: readonly number[];
  /** Deaths since the slot last had a worker up for `stableAfter`: the backoff attempt. */
  consecutive: number;
}

/** The slot's new history, and whether to respawn it (after `delay` ms) or give it up. */
export type RespawnDecision =
  | { action: 'respawn'; delay: number; deaths: number[]; consecutive: number }
  | { action: 'give up'; deaths: number[]; consecutive: number };

/**
 * A worker of the slot died at `now`: a worker that had been up `stableAfter` resets the
 * backoff; `maxRestarts` deaths within `restartWindow` give the slot up (a crash loop);
 * else respawn after `restartDelay * 2^consecutive`, capped, ±50 % jitter.
 */
export function decideRespawn(slot: SlotHistory, now: number, policy: RespawnPolicy): RespawnDecision {
  const consecutive = now - slot.startedAt >= policy.stableAfter ? 0 : slot.consecutive;
  const deaths = [...slot.deaths.filter((t) => now - t < policy.restartWindow), now];
  if (deaths.length >= policy.maxRestarts) return { action: 'give up', deaths, consecutive };
  const delay = backoffDelay(consecutive, { base: policy.restartDelay, cap: policy.maxRestartDelay, jitter: 0.5 });
  return { action: 'respawn', delay, deaths, consecutive: consecutive + 1 };
}

/**
 * How the first start of the workers went: all ready; none booted (every one exited before
 * it was ready, so the primary stops rather than respawn the same failure); or some ready.
 */
export function bootOutcome(workers: ReadonlyArray<{ ready: boolean; dead: boolean }>): 'ready' | 'failed to boot' | 'partial' {
  if (workers.every((w) => w.ready)) return 'ready';
  if (workers.every((w) => w.dead)) return 'failed to boot';
  return 'partial';
}
