import type { CheckOutcome } from '../checks/types.js';
import type { Server } from '../types.js';
import { expectedRuns, type ExpectedRuns } from './schedule.js';

/** Heartbeats a push token may send: a burst, then a steady rate; more get 429. */
export const PUSH_RATE = { burst: 20, perSecond: 10 } as const;
/** A started run is forgotten after this long without its end. */
const START_KEPT_MS = 7 * 24 * 3600_000;

interface Entry {
  server: Pick<Server, 'id' | 'push_token' | 'check_interval' | 'grace' | 'schedule' | 'timezone'>;
  expected: ExpectedRuns;
  /** The run expected next (epoch ms; null: the schedule has no more). */
  expectedAt: number | null;
  /** The latest heartbeat known (own or adopted from another instance), epoch ms. */
  lastBeat: number;
  /** When the current run started (`/start`), epoch ms. */
  startedAt: number | undefined;
  /** Token bucket: tokens left and when it was last filled. */
  tokens: number;
  filledAt: number;
}

export type BeatAdmission = 'ok' | 'unknown' | 'limited';

/**
 * The push servers a monitor tracks: each one's token, its next expected run and the
 * deadline that follows (`expectedAt + grace`). A heartbeat moves the deadline in
 * memory only, O(1); the scheduler holds one slot per server, and when it comes early
 * (a heartbeat moved the deadline since) the slot is moved, not run.
 */
export class PushBook {
  readonly #entries = new Map<number, Entry>();
  readonly #byToken = new Map<string, number>();

  /** Follows a server's settings (any protocol: a server no longer push is forgotten). */
  follow(server: Server, lastBeat: number | null, now = Date.now()): void {
    const previous = this.#entries.get(server.id);
    if (server.protocol !== 'push' || server.push_token === null) return this.forget(server.id);
    if (previous && previous.server.push_token !== server.push_token && previous.server.push_token !== null) {
      this.#byToken.delete(previous.server.push_token);
    }
    this.#byToken.set(server.push_token, server.id);
    const same =
      previous &&
      previous.server.check_interval === server.check_interval &&
      previous.server.schedule === server.schedule &&
      previous.server.timezone === server.timezone;
    const expected = same ? previous.expected : expectedRuns(server);
    // A server (or monitor) just started gets one whole period: heartbeats sent while no
    // monitor ran were refused, and their absence is not the job's outage.
    const from = Math.max(previous?.lastBeat ?? lastBeat ?? now, now);
    const entry: Entry = {
      server,
      expected,
      expectedAt: same ? previous.expectedAt : expected(from),
      lastBeat: previous?.lastBeat ?? lastBeat ?? 0,
      startedAt: previous?.startedAt,
      tokens: previous?.tokens ?? PUSH_RATE.burst,
      filledAt: previous?.filledAt ?? now,
    };
    this.#entries.set(server.id, entry);
  }

  forget(id: number): void {
    const entry = this.#entries.get(id);
    if (!entry) return;
    if (entry.server.push_token !== null && this.#byToken.get(entry.server.push_token) === id)
      this.#byToken.delete(entry.server.push_token);
    this.#entries.delete(id);
  }

  has(id: number): boolean {
    return this.#entries.has(id);
  }

  idOf(token: string): number | undefined {
    return this.#byToken.get(token);
  }

  /** Whether a heartbeat for this token is taken now (known, and within its rate). */
  admit(token: string, now = Date.now()): { admission: BeatAdmission; id?: number } {
    const id = this.#byToken.get(token);
    const entry = id === undefined ? undefined : this.#entries.get(id);
    if (id === undefined || !entry) return { admission: 'unknown' };
    entry.tokens = Math.min(PUSH_RATE.burst, entry.tokens + ((now - entry.filledAt) / 1000) * PUSH_RATE.perSecond);
    entry.filledAt = now;
    if (entry.tokens < 1) return { admission: 'limited', id };
    entry.tokens -= 1;
    return { admission: 'ok', id };
  }

  /** A run began. */
  start(id: number, now = Date.now()): void {
    const entry = this.#entries.get(id);
    if (entry) entry.startedAt = now;
  }

  /** A heartbeat came: the next run is expected from now on. Returns the run's start, if one was reported. */
  beat(id: number, now = Date.now()): number | undefined {
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    const started = entry.startedAt !== undefined && now - entry.startedAt < START_KEPT_MS ? entry.startedAt : undefined;
    entry.startedAt = undefined;
    entry.lastBeat = Math.max(entry.lastBeat, now);
    entry.expectedAt = entry.expected(now);
    return started;
  }

  /** When the server is due to be marked down (epoch ms), or null when no run is expected. */
  deadline(id: number): number | null {
    const entry = this.#entries.get(id);
    if (!entry || entry.expectedAt === null) return null;
    return entry.expectedAt + entry.server.grace * 1000;
  }

  /**
   * A heartbeat stored by another instance (`lastCheck` newer than any known, and a
   * success): it moves the deadline here too.
   */
  adopt(id: number, lastCheck: number): void {
    const entry = this.#entries.get(id);
    if (entry && lastCheck > entry.lastBeat) {
      entry.lastBeat = lastCheck;
      entry.expectedAt = entry.expected(lastCheck);
    }
  }

  /**
   * The deadline's verdict at `now`: undefined while it has not passed, else the failure
   * to record; the next run is then expected after the missed one.
   */
  overdue(id: number, now = Date.now()): CheckOutcome | undefined {
    const entry = this.#entries.get(id);
    const deadline = this.deadline(id);
    if (!entry || deadline === null || now < deadline) return undefined;
    const missed = entry.expectedAt!;
    const { server } = entry;
    const error_message = server.schedule
      ? `no heartbeat for the run expected at ${new Date(missed).toISOString()} (schedule "${server.schedule}"${server.timezone ? ` ${server.timezone}` : ''}, grace ${server.grace} s)`
      : `no heartbeat within ${server.check_interval + server.grace} s (check_interval ${server.check_interval} s + grace ${server.grace} s)`;
    let next = entry.expected(missed);
    // Runs missed while the process was blocked are one outage, not one result each.
    while (next !== null && next + server.grace * 1000 <= now) next = entry.expected(next);
    entry.expectedAt = next;
    return { status: 'failure', response_time: null, status_code: null, error_message };
  }
}
