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
import { PushBook, type BeatAdmission } from '../push/book.js';
import { heartbeatOutcome, type Heartbeat } from '../push/heartbeat.js';
import type { RunLedger } from './ledger.js';
import type { SchedulePort, ServerTracker, Tracked } from './tracker.js';

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
export class CheckRunner implements SchedulePort {
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
  // Push servers are never reached: their slot is a deadline, moved by each heartbeat.
  readonly #pushes = new PushBook();
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

  /** A server tracked anew: on the grid from its last check, or (push) on its heartbeat deadline. */
  place(server: Server, lastCheck: number | null): void {
    this.#pushes.follow(server, lastCheck, Date.now());
    if (server.protocol === 'push') this.#reschedulePush(server);
    else if (server.enabled) this.scheduler.schedule(server.id, server.check_interval, lastCheck);
    else this.scheduler.unschedule(server.id);
  }

  /** New settings: the schedule changes only when the interval or `enabled` did (a push server's deadline may move). */
  replace(old: Server, server: Server, lastCheck: number | null): void {
    this.#pushes.follow(server, null);
    if (server.protocol === 'push') return this.#reschedulePush(server);
    if (old.protocol !== 'push' && old.check_interval === server.check_interval && old.enabled === server.enabled) return;
    if (!server.enabled) return this.scheduler.unschedule(server.id);
    this.scheduler.schedule(server.id, server.check_interval, lastCheck);
  }

  remove(id: number): void {
    this.#pushes.forget(id);
    this.scheduler.unschedule(id);
  }

  #reschedulePush(server: Server): void {
    const deadline = server.enabled ? this.#pushes.deadline(server.id) : null;
    if (deadline === null) this.scheduler.unschedule(server.id);
    else this.scheduler.scheduleAt(server.id, deadline, server.check_interval);
  }

  async #pushDeadline(id: number, entry: Tracked, slot: number): Promise<Ran | undefined> {
    const deadline = this.#pushes.deadline(id);
    if (deadline === null || Date.now() < deadline) return void this.#reschedulePush(entry.server); // a heartbeat moved it
    if (!(await this.#tracker!.claim(entry, slot))) return undefined;
    // A heartbeat another instance took and stored (adopted by claim()) moves it too.
    if (entry.status.last_check !== null && entry.status.consecutive_successes > 0)
      this.#pushes.adopt(id, Date.parse(entry.status.last_check));
    const missed = this.#pushes.overdue(id);
    this.#reschedulePush(entry.server);
    return missed && { committed: this.#settle(id, entry, missed, Date.now()) };
  }

  /**
   * Records a push server's heartbeat (`/api/push/:token/…`): `ok` once queued for the
   * batch writer, `unknown` for a token no server has, `limited` over its rate.
   */
  heartbeat(token: string, beat: Heartbeat): BeatAdmission {
    const { admission, id } = this.#pushes.admit(token);
    const entry = id === undefined ? undefined : this.#tracker?.get(id);
    if (admission !== 'ok' || !entry || this.#closing) return admission;
    const now = Date.now();
    if (beat.kind === 'start') {
      this.#pushes.start(entry.server.id, now);
      return 'ok';
    }
    const started = this.#pushes.beat(entry.server.id, now);
    void this.#settle(entry.server.id, entry, heartbeatOutcome(beat, started, now), started ?? now);
    return 'ok';
  }

  async #run(id: number, slot: number): Promise<Ran | undefined> {
    const tracker = this.#tracker!;
    const entry = tracker.get(id);
    if (!entry) return undefined;
    if (entry.server.protocol === 'push') return this.#pushDeadline(id, entry, slot);
    if (!(await tracker.claim(entry, slot))) return undefined;
    await this.windows.current();
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
    return { committed: this.#settle(id, entry, outcome, startedAt) };
  }

  /** Moves a server's state by one result and queues both for the writer; resolves once stored. */
  #settle(id: number, entry: Tracked, outcome: CheckOutcome, startedAt: number): Promise<CheckReport | undefined> {
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
      cert_expires_at: outcome.cert_expires_at ?? entry.status.cert_expires_at ?? null,
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
    return this.writer.add(record).then((ping) => (ping ? { server: record.server, ping, status: record.status } : undefined));
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
