import { performance } from 'node:perf_hooks';
import type { LifelineLogger } from '../../logging/logger.js';
import { checkServer, type CheckOutcome } from '../checks/index.js';
import type { MonitorEvents } from '../events.js';
import { OverloadGuard } from '../overload.js';
import { Scheduler } from '../scheduler.js';
import { nextState } from '../state.js';
import type { MonitorStore } from '../store/index.js';
import type { CheckRecord } from '../store/results.js';
import { iso } from '../store/rows.js';
import type { PingResult, Server, ServerState, ServerStatus } from '../types.js';
import { trimChanges, uptimeFigures } from '../uptime.js';
import { WindowCache } from '../windows/cache.js';
import { BatchWriter } from '../writer.js';
import type { RunLedger } from './ledger.js';
import type { ServerTracker } from './tracker.js';

/** A finished check, as `check()` and `runNow()` give it back. */
export interface CheckReport {
  server: Server;
  ping: PingResult;
  status: ServerStatus;
}

interface PendingRecord extends CheckRecord {
  server: Server;
  previous: ServerState;
}

/** Wrapped, so the scheduler's slot is freed when the check is done, not when it is stored. */
interface Ran {
  committed: Promise<CheckReport | undefined>;
}

export interface RunnerOptions {
  store: MonitorStore;
  events: MonitorEvents;
  logger: LifelineLogger;
  concurrency: number;
  flushInterval: number;
  resultBuffer: number;
  /** Instances share the checks: every server on the epoch grid, each slot claimed. */
  shared: boolean;
  ca: string[] | undefined;
}

/**
 * The runner: the check pipeline from a due slot to a stored, announced result. The
 * scheduler hands it a slot; the tracker claims it (shared checks) and holds the
 * server's state; the check runs; a result the monitor's own overload may have
 * spoiled is dropped; the state machine and uptime (over the ledger's runs) give the
 * new status; the writer stores it in a batch and announces it after the commit.
 */
export class CheckRunner {
  readonly scheduler: Scheduler<Ran | undefined>;
  readonly writer: BatchWriter<PendingRecord>;
  readonly overload: OverloadGuard;
  /** Maintenance windows: shown as `maintenance`, and their time left out of uptime like the monitor's own downtime. */
  readonly windows: WindowCache;
  readonly #options: RunnerOptions;
  #tracker: ServerTracker | undefined;
  #ledger: RunLedger | undefined;
  // One controller per running check, aborted on close: a listener per check on one shared
  // signal would cost O(checks running) to add and remove (EventTarget keeps a list).
  readonly #inFlight = new Set<AbortController>();
  #closing = false;
  /** Looks at a failed check again (the monitor's own network may be what failed); default: as it is. */
  judge: (outcome: CheckOutcome) => Promise<CheckOutcome> = (outcome) => Promise.resolve(outcome);

  constructor(options: RunnerOptions) {
    this.#options = options;
    const { events } = options;
    const windows = (this.windows = new WindowCache(options.store));
    this.writer = new BatchWriter<PendingRecord>({
      results: options.store.results,
      flushInterval: options.flushInterval,
      maxPending: options.resultBuffer,
      logger: options.logger,
      onCommitted(stored) {
        for (const { record, ping } of stored) {
          const status = windows.show(record.status, Date.parse(ping.check_timestamp));
          events.publish('ping', { ping, status });
          if (record.change) events.publish('status', { status, previous: record.previous, server: record.server, ping });
        }
      },
    });
    this.overload = new OverloadGuard(options.logger);
    this.scheduler = new Scheduler({
      concurrency: options.concurrency,
      run: (id, slot) => this.#run(id, slot),
      epochGrid: options.shared,
      tooLate: (slot, intervalMs, now) => this.overload.startsTooLate(slot, intervalMs, now),
    });
  }

  /** The servers to run and the runs uptime is counted over (they need the scheduler first). */
  attach(tracker: ServerTracker, ledger: RunLedger): void {
    this.#tracker = tracker;
    this.#ledger = ledger;
  }

  async #run(id: number, slot: number): Promise<Ran | undefined> {
    const tracker = this.#tracker!;
    const entry = tracker.get(id);
    if (!entry || !(await tracker.claim(entry, slot))) return undefined;
    await this.windows.fresh();
    const startedAt = Date.now();
    const controller = new AbortController();
    this.#inFlight.add(controller);
    const began = performance.now();
    let outcome: CheckOutcome;
    try {
      const { ca } = this.#options;
      outcome = await this.judge(await checkServer(entry.server, { signal: controller.signal, ...(ca ? { ca } : {}) }));
    } finally {
      this.#inFlight.delete(controller);
    }
    if (this.#closing || tracker.get(id) !== entry) return undefined; // cancelled, or removed meanwhile
    // The monitor's own lateness is not the target's outage: such a check is counted, not recorded.
    const timeoutMs = Math.max(1, Math.round(entry.server.timeout * 1000));
    if (this.overload.waitedOnLoop(outcome, began, performance.now(), timeoutMs)) return undefined;
    const now = Date.now();
    const previous = entry.status.status;
    const next = nextState(entry.status, outcome, entry.server);
    const changed = next.status !== previous;
    if (changed) {
      entry.changes.push({ status: next.status, at: now });
      trimChanges(entry.changes, now);
    }
    const uptime = uptimeFigures(entry.changes, this.windows.coverage(id, this.#ledger!.coverage(now), now), now);
    entry.status = {
      ...entry.status,
      ...next,
      uptime,
      uptime_percentage: uptime['24h'],
      last_check: iso(startedAt),
      last_change: changed ? iso(now) : entry.status.last_change,
    };
    const record: PendingRecord = {
      ping: {
        server: id,
        status: outcome.status,
        response_time: outcome.response_time,
        status_code: outcome.status_code,
        error_message: outcome.error_message,
        check_timestamp: iso(startedAt),
      },
      status: entry.status,
      server: entry.server,
      previous,
      ...(changed ? { change: { status: next.status, at: now, from: previous } } : {}),
      ...(entry.server.depends_on.length > 0 ? { dependent: true } : {}),
    };
    const committed = this.writer.add(record).then((ping) => (ping ? { server: record.server, ping, status: record.status } : undefined));
    return { committed };
  }

  /** Checks the given servers now, outside their grid; resolves when their results are stored. */
  async runNow(ids: readonly number[]): Promise<CheckReport[]> {
    const ran = await this.scheduler.runNow(ids);
    const reports = await Promise.all(ran.map((r) => r?.committed));
    return reports.filter((r): r is CheckReport => r !== undefined);
  }

  /** Cancels the running checks and stores what is pending. */
  async close(): Promise<void> {
    this.#closing = true;
    for (const controller of this.#inFlight) controller.abort();
    this.overload.stop();
    await this.scheduler.stop();
    await this.writer.close();
  }
}
