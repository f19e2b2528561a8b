import type { LifelineLogger } from '../../logging/logger.js';
import { monitorFailures } from '../failures.js';
import type { LiveUser } from './types.js';

/** Why a stream or socket lost its credentials; `code` and `detail` as the REST API's 401 says them. */
export interface AccessLoss {
  code: 'token_not_valid' | 'user_not_found' | 'user_inactive';
  detail: string;
}

export const TOKEN_EXPIRED: AccessLoss = { code: 'token_not_valid', detail: 'Token has expired' };
export const USER_REMOVED: AccessLoss = { code: 'user_not_found', detail: 'User not found' };
export const USER_INACTIVE: AccessLoss = { code: 'user_inactive', detail: 'User is inactive' };

/** Which of these users exist (absent: removed), and whether each is active. */
export type UserActivity = (ids: readonly number[]) => Promise<ReadonlyMap<number, boolean>>;

export interface LiveAccessOptions {
  /** Re-checks the users of the open streams; without it only expiry ends them. */
  users?: UserActivity;
  /** ms between re-checks. */
  interval: number;
  logger: LifelineLogger;
}

// setTimeout fires at once past 2^31-1 ms; a longer wait is taken in steps.
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Watch {
  end: (loss: AccessLoss) => void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Ends open streams and sockets with their credentials: each at its token's `exp` (a
 * timer of its own, unref'd), and every stream of a user removed or deactivated within
 * `interval`, found by one query for all the connected users, whatever their number of
 * connections.
 */
export class LiveAccess {
  readonly #byUser = new Map<number, Set<Watch>>();
  readonly #users: UserActivity | undefined;
  readonly #interval: number;
  #timer: NodeJS.Timeout | undefined;
  #checking = false;
  readonly #failures;
  #closed = false;

  constructor(options: LiveAccessOptions) {
    this.#users = options.users;
    this.#interval = options.interval;
    this.#failures = monitorFailures('monitor live: re-checking the users of open streams', options.logger);
  }

  /** Open connections being watched. */
  get size(): number {
    let n = 0;
    for (const set of this.#byUser.values()) n += set.size;
    return n;
  }

  /** Calls `end` once when `user`'s credentials no longer hold; returns the function that stops watching. */
  watch(user: LiveUser, end: (loss: AccessLoss) => void): () => void {
    const watch: Watch = { end, timer: undefined };
    const stop = () => {
      clearTimeout(watch.timer);
      const set = this.#byUser.get(user.id);
      set?.delete(watch);
      if (set?.size === 0) this.#byUser.delete(user.id);
    };
    watch.end = (loss) => {
      stop();
      end(loss);
    };
    if (typeof user.exp === 'number' && Number.isFinite(user.exp)) this.#expireAt(watch, user.exp * 1000);
    let set = this.#byUser.get(user.id);
    if (!set) this.#byUser.set(user.id, (set = new Set()));
    set.add(watch);
    this.#schedule();
    return stop;
  }

  #expireAt(watch: Watch, at: number): void {
    const wait = at - Date.now();
    watch.timer = setTimeout(
      () => (wait > MAX_TIMER_MS ? this.#expireAt(watch, at) : watch.end(TOKEN_EXPIRED)),
      Math.min(Math.max(wait, 0), MAX_TIMER_MS),
    );
    watch.timer.unref();
  }

  #schedule(): void {
    if (!this.#users || this.#closed || this.#checking || this.#timer || this.#byUser.size === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#check(this.#users!);
    }, this.#interval);
    this.#timer.unref();
  }

  async #check(users: UserActivity): Promise<void> {
    this.#checking = true;
    try {
      const ids = [...this.#byUser.keys()];
      if (ids.length === 0) return;
      let activity: ReadonlyMap<number, boolean>;
      try {
        activity = await users(ids);
      } catch (error) {
        // The database is away: the streams stay (they were valid); said once, until it answers again.
        this.#failures.failed(error);
        return;
      }
      this.#failures.succeeded();
      for (const id of ids) {
        const active = activity.get(id);
        if (active === true) continue;
        const loss = active === undefined ? USER_REMOVED : USER_INACTIVE;
        for (const watch of [...(this.#byUser.get(id) ?? [])]) watch.end(loss);
      }
    } finally {
      this.#checking = false;
      this.#schedule();
    }
  }

  /** Stops the re-checks and every expiry timer (the streams themselves are ended by their owners). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const set of this.#byUser.values()) for (const watch of set) clearTimeout(watch.timer);
    this.#byUser.clear();
  }
}
