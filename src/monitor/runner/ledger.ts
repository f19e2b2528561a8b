import type { LifelineLogger } from '../../logging/logger.js';
import { backgroundLoop } from '../../time.js';
import { monitorFailures } from '../failures.js';
import type { MonitorStore } from '../store/index.js';
import { mergeIntervals, WINDOWS, type Interval } from '../uptime.js';

/** How often this run's `last_seen_at` is written: a dead instance's run ends at its last heartbeat. */
const HEARTBEAT = 30_000;
/** How often the other instances' runs are read again (they only matter to uptime's coverage). */
const RELOAD = 600_000;

/**
 * The ledger of runs: when any instance of the monitor was running. Uptime counts only
 * the time inside runs, so the monitor's own downtime is never the targets'.
 */
export class RunLedger {
  readonly #store: MonitorStore;
  readonly #id: number;
  readonly #start: number;
  #past: Interval[];
  readonly #loops: Array<{ stop(): void }>;

  private constructor(store: MonitorStore, id: number, start: number, past: Interval[], logger: Pick<LifelineLogger, 'warn' | 'info'>) {
    this.#store = store;
    this.#id = id;
    this.#start = start;
    this.#past = past;
    this.#loops = [
      backgroundLoop(HEARTBEAT, () => this.#store.history.touchRun(this.#id), monitorFailures('monitor: run heartbeat', logger)),
      backgroundLoop(RELOAD, () => this.#reload(), monitorFailures('monitor: run reload', logger)),
    ];
  }

  /** Records this instance's run and reads the last 30 days of runs. */
  static async open(store: MonitorStore, instance: string, logger: Pick<LifelineLogger, 'warn' | 'info'>): Promise<RunLedger> {
    const start = Date.now();
    const id = await store.history.startRun(instance, start);
    const past = mergeIntervals(await store.history.runsSince(start - WINDOWS['30d']));
    return new RunLedger(store, id, start, past, logger);
  }

  /** When 30 days back the start of this run is (what the tracker loads state changes from). */
  get since(): number {
    return this.#start - WINDOWS['30d'];
  }

  /** The time some instance was running, up to `now`. */
  coverage(now: number): Interval[] {
    return mergeIntervals([...this.#past, { start: this.#start, end: now }]);
  }

  async #reload(): Promise<void> {
    const runs = await this.#store.history.runsSince(Date.now() - WINDOWS['30d']);
    this.#past = mergeIntervals(runs.filter((r) => r.start !== this.#start));
  }

  /** Stops the loops and writes this run's end. */
  async close(): Promise<void> {
    for (const loop of this.#loops) loop.stop();
    await this.#store.history.touchRun(this.#id).catch(() => {});
  }
}
