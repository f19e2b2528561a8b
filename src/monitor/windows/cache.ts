import type { MonitorStore } from '../store/index.js';
import type { ServerStatus } from '../types.js';
import { mergeIntervals, subtractIntervals, WINDOWS, type Interval } from '../uptime.js';
import { occurrences, type MaintenanceWindow } from './schedule.js';

const SPAN = WINDOWS['30d'];
const AHEAD = 86_400_000;

/**
 * The maintenance windows as the monitor's checks need them, without a query per
 * check: reloaded when this process wrote one (at once) or after `ttl` (another
 * instance's writes). A failed reload (the database is down) keeps the windows known.
 */
export class WindowCache {
  #windows: MaintenanceWindow[] = [];
  #loadedAt = -Infinity;
  #version = -1;
  #loading: Promise<void> | undefined;
  /** Per server, merged occurrences over [#from, #to), computed on demand. */
  #intervals = new Map<number, Interval[]>();
  #from = 0;
  #to = 0;

  constructor(
    private readonly store: MonitorStore,
    private readonly ttl = 10_000,
  ) {}

  /** Reloads when stale; resolves once the windows are current (or the reload failed). */
  async fresh(now: number = Date.now()): Promise<this> {
    if (this.#version === this.store.maintenance.version && now - this.#loadedAt < this.ttl) return this;
    this.#loading ??= this.load(now).finally(() => (this.#loading = undefined));
    await this.#loading;
    return this;
  }

  /**
   * For the check path: waits only for the first load or after this process's own write
   * (the database just answered); a reload that is merely due runs in the background, so
   * a database that hangs never holds a check (the windows last read serve meanwhile).
   */
  current(now: number = Date.now()): Promise<this> | this {
    if (this.#loadedAt === -Infinity || this.#version !== this.store.maintenance.version) return this.fresh(now);
    if (now - this.#loadedAt >= this.ttl) void this.fresh(now);
    return this;
  }

  private async load(now: number): Promise<void> {
    const version = this.store.maintenance.version;
    try {
      this.#windows = await this.store.maintenance.list();
      this.#intervals.clear();
    } catch {
      // Checks go on during a database outage with the windows last read.
    }
    this.#version = version;
    this.#loadedAt = now;
  }

  /** One server's maintenance time in the 30 days before `now` (and a day after), merged. */
  intervals(serverId: number, now: number): Interval[] {
    if (now - SPAN < this.#from || now > this.#to) {
      this.#intervals.clear();
      this.#from = now - SPAN - AHEAD;
      this.#to = now + AHEAD;
    }
    let list = this.#intervals.get(serverId);
    if (!list) {
      const covering = this.#windows.filter((w) => w.servers.includes(serverId));
      list = mergeIntervals(covering.flatMap((w) => occurrences(w, this.#from, this.#to)).map(({ start, end }) => ({ start, end })));
      this.#intervals.set(serverId, list);
    }
    return list;
  }

  active(serverId: number, at: number): boolean {
    return this.intervals(serverId, at).some((i) => i.start <= at && at < i.end);
  }

  /** The monitor's runs without this server's maintenance: the time its uptime counts. */
  coverage(serverId: number, runs: readonly Interval[], now: number): Interval[] {
    return subtractIntervals(runs, this.intervals(serverId, now));
  }

  /** The status as users see it at `at`. */
  show(status: ServerStatus, at: number): ServerStatus {
    return this.active(status.server, at) ? { ...status, status: 'maintenance' } : status;
  }
}
