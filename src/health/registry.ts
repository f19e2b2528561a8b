import type { HealthStatus } from '../activity.js';
import type { FailureLog } from '../logging/failure-log.js';
import type { LifelineLogger } from '../logging/logger.js';
import type { SystemSample, SystemSampler } from '../system/sampler.js';
import { epochSeconds } from '../time.js';
import { runCheck } from './run-check.js';
import type { CheckOutcome, HealthCheck } from './types.js';

export interface Thresholds {
  /** Memory in use, percent of total, above which the app is degraded. Default 95. */
  memory: number;
  /** Disk in use, percent, above which the app is degraded. Default 95. */
  disk: number;
  /** Event-loop delay p99 in ms above which the app is degraded. Default 500. */
  eventLoopDelay: number;
}

export interface HealthSnapshot {
  status: HealthStatus;
  /** Epoch milliseconds when the checks finished. */
  takenAt: number;
  checks: Readonly<Record<string, CheckOutcome>>;
  system: SystemSample;
  /** Resource thresholds crossed, as short sentences. */
  warnings: readonly string[];
  /** A stand-in answered before the first run of the checks has finished: every check counts as failed. */
  pending?: true;
}

/** The part of a snapshot that processes running the same checks can share (system figures are each process's own). */
export interface SharedSnapshot {
  takenAt: number;
  checks: Readonly<Record<string, CheckOutcome>>;
}

/**
 * Lets processes running the same checks (cluster workers) run them once between them:
 * before a background refresh, `claim()` asks whether this process should run them now;
 * when not, a peer does and its snapshot arrives through `adopt()`.
 */
export interface SnapshotExchange {
  /** `run` true: run the checks now. Otherwise ask again after `retryIn` ms at the earliest. */
  claim(maxAge: number): Promise<{ run: boolean; retryIn: number }>;
  publish(snapshot: SharedSnapshot): void;
}

export interface RegistryOptions {
  checks: ReadonlyMap<string, HealthCheck>;
  timeout: number;
  maxAge: number;
  /** How long a request waits for the first run of the checks before it is answered `pending`, ms. */
  initialWait: number;
  thresholds: Thresholds;
  sampler: SystemSampler;
  logger: LifelineLogger;
  /** Hears of a background refresh that failed outside the checks (each check's failure is its outcome). */
  failures?: FailureLog;
}

function resourceWarnings(system: SystemSample, t: Thresholds): string[] {
  const warnings: string[] = [];
  if (system.memory_usage.percentage > t.memory) warnings.push(`memory ${system.memory_usage.percentage}% used (threshold ${t.memory}%)`);
  if (system.disk_usage.percentage > t.disk) warnings.push(`disk ${system.disk_usage.percentage}% used (threshold ${t.disk}%)`);
  const p99 = system.process.event_loop_delay_ms.p99;
  if (p99 > t.eventLoopDelay) warnings.push(`event loop delay p99 ${p99} ms (threshold ${t.eventLoopDelay} ms)`);
  return warnings;
}

/** Aggregates outcomes: a critical failure is unhealthy; any other failure, warning or crossed threshold is degraded. */
export function aggregate(checks: Readonly<Record<string, CheckOutcome>>, warnings: readonly string[]): HealthStatus {
  let status: HealthStatus = warnings.length > 0 ? 'degraded' : 'healthy';
  for (const outcome of Object.values(checks)) {
    if (outcome.status === 'fail' && outcome.critical) return 'unhealthy';
    if (outcome.status !== 'pass') status = 'degraded';
  }
  return status;
}

/**
 * Runs the checks of one health() and keeps the last result. Requests never wait for a
 * check: they read the snapshot, and one older than `maxAge` is answered as it is while
 * a single refresh runs in the background (stale-while-revalidate). Only the very first
 * requests, before any snapshot exists, wait, and at most `initialWait` ms.
 */
export class HealthRegistry {
  private snapshot: HealthSnapshot | undefined;
  private inFlight: Promise<HealthSnapshot> | undefined;
  private exchange: SnapshotExchange | undefined;
  /** Epoch ms before which a peer, not this process, is due to refresh. */
  private peerRefreshUntil = 0;
  private initialWaitOver = false;
  private readonly listeners = new Set<(status: HealthStatus) => void>();

  constructor(private readonly options: RegistryOptions) {}

  /** The last snapshot, if any, without waiting. */
  peek(): HealthSnapshot | undefined {
    return this.snapshot;
  }

  /**
   * The snapshot to answer with now. A stale one is returned at once and refreshed in
   * the background; before the first run has finished, a `pending` stand-in after `initialWait`.
   */
  get(): Promise<HealthSnapshot> {
    const s = this.snapshot;
    if (s) {
      this.revalidate();
      return Promise.resolve(s);
    }
    return this.firstSnapshot();
  }

  /** Starts one background refresh when the snapshot is older than `maxAge` (or missing). */
  revalidate(): void {
    const s = this.snapshot;
    if (s && Date.now() - s.takenAt <= this.options.maxAge) return;
    this.refreshInBackground();
  }

  /**
   * One refresh that nobody waits for (the background loop, stale requests). With an
   * exchange, it runs only when this process wins the claim; a peer's result is adopted.
   */
  refreshInBackground(): void {
    if (this.inFlight || Date.now() < this.peerRefreshUntil) return;
    this.inFlight = this.claimThenRun().finally(() => {
      this.inFlight = undefined;
    });
    // run() contains every check's failure; anything else is logged once per kind, never an unhandled rejection.
    this.inFlight.then(
      () => this.options.failures?.succeeded(),
      (error: unknown) => this.options.failures?.failed(error),
    );
  }

  /** Runs every check now, or joins the run already under way. For the server's own use, never for a request. */
  refresh(): Promise<HealthSnapshot> {
    this.inFlight ??= this.run().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** Shares snapshots with peers running the same checks (see SnapshotExchange). */
  share(exchange: SnapshotExchange): void {
    this.exchange = exchange;
  }

  /** Takes a peer's snapshot when it is newer than this one; system figures stay this process's own. */
  adopt(shared: SharedSnapshot): void {
    const previous = this.snapshot;
    if (previous && previous.takenAt >= shared.takenAt) return;
    const system = this.options.sampler.current();
    const warnings = resourceWarnings(system, this.options.thresholds);
    const next: HealthSnapshot = {
      status: aggregate(shared.checks, warnings),
      takenAt: shared.takenAt,
      checks: shared.checks,
      system,
      warnings,
    };
    this.peerRefreshUntil = 0;
    this.report(previous, next);
    this.snapshot = next;
  }

  private async claimThenRun(): Promise<HealthSnapshot> {
    const current = this.snapshot;
    if (this.exchange && current) {
      const { run, retryIn } = await this.exchange.claim(this.options.maxAge);
      if (!run) {
        this.peerRefreshUntil = Date.now() + retryIn;
        return current;
      }
    }
    return this.run();
  }

  /** Called with the new status whenever it changes. */
  onStatus(listener: (status: HealthStatus) => void): void {
    this.listeners.add(listener);
    if (this.snapshot) listener(this.snapshot.status);
  }

  private firstSnapshot(): Promise<HealthSnapshot> {
    const started = Date.now();
    const run = this.refresh();
    // One request has already waited initialWait in vain: the others are answered at once.
    if (this.initialWaitOver) return Promise.resolve(this.pendingSnapshot(started));
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<HealthSnapshot>((resolve) => {
      timer = setTimeout(() => {
        this.initialWaitOver = true;
        resolve(this.pendingSnapshot(started));
      }, this.options.initialWait);
    });
    return Promise.race([run, waited]).finally(() => clearTimeout(timer));
  }

  /** What is known before the first run has finished: nothing, so every check counts as failed. */
  private pendingSnapshot(since: number): HealthSnapshot {
    const checks: Record<string, CheckOutcome> = {};
    const now = Date.now();
    for (const [name, check] of this.options.checks) {
      checks[name] = {
        status: 'fail',
        critical: check.critical ?? true,
        duration_ms: now - since,
        checked_at: epochSeconds(now),
        error: 'not completed yet',
      };
    }
    const system = this.options.sampler.current();
    return { status: aggregate(checks, []), takenAt: now, checks, system, warnings: [], pending: true };
  }

  private async run(): Promise<HealthSnapshot> {
    const { checks, timeout, sampler, thresholds } = this.options;
    const entries = [...checks];
    const outcomes = await Promise.all(entries.map(([, check]) => runCheck(check, check.timeout ?? timeout)));
    const results: Record<string, CheckOutcome> = {};
    entries.forEach(([name], i) => {
      results[name] = outcomes[i] as CheckOutcome;
    });
    const system = sampler.current();
    const warnings = resourceWarnings(system, thresholds);
    const next: HealthSnapshot = { status: aggregate(results, warnings), takenAt: Date.now(), checks: results, system, warnings };
    this.report(this.snapshot, next);
    this.snapshot = next;
    this.exchange?.publish({ takenAt: next.takenAt, checks: next.checks });
    return next;
  }

  private report(previous: HealthSnapshot | undefined, next: HealthSnapshot): void {
    const log = this.options.logger;
    for (const [name, outcome] of Object.entries(next.checks)) {
      const before = previous?.checks[name];
      if (outcome.status === 'fail' && before?.status !== 'fail') {
        log.warn(`${name}: ${outcome.error ?? 'failed'}`, { check: name, critical: outcome.critical });
      } else if (outcome.status !== 'fail' && before?.status === 'fail') {
        log.info(`${name}: recovered`, { check: name });
      }
    }
    const from = previous?.status ?? 'healthy';
    if (next.status !== from) {
      const reasons = [
        ...Object.entries(next.checks)
          .filter(([, o]) => o.status !== 'pass')
          .map(([n, o]) => `${n}: ${o.error ?? o.message ?? o.status}`),
        ...next.warnings,
      ];
      const message = `status ${from} -> ${next.status}${reasons.length ? ` (${reasons.join('; ')})` : ''}`;
      if (next.status === 'healthy') log.info(message);
      else if (next.status === 'degraded') log.warn(message);
      else log.error(message);
    }
    if (next.status !== previous?.status) for (const listener of this.listeners) listener(next.status);
  }
}
