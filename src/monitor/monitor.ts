import { randomBytes } from 'node:crypto';
import { monitorLogger } from './default-logger.js';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { ConfigError } from '../errors.js';
import type { LifelineLogger } from '../logging/logger.js';
import { checkBoolean, checkInteger, checkOptionsObject, optionError } from '../options.js';
import { backgroundLoop } from '../time.js';
import { checkServer, type CheckOutcome } from './checks/index.js';
import { MAX_CONCURRENCY, processConcurrency } from './concurrency.js';
import type { DatabaseOption } from './database.js';
import { MonitorEvents } from './events.js';
import { maintain, type MaintenanceReport } from './maintenance.js';
import { certificateHook } from './notify/cert.js';
import { notificationHook } from './notify/enqueue.js';
import { OverloadGuard, type OverloadStats } from './overload.js';
import { PushBook, type BeatAdmission } from './push/book.js';
import { heartbeatOutcome, type Heartbeat } from './push/heartbeat.js';
import { notifySettings, type NotifyOptions, type NotifySettings } from './notify/options.js';
import { NotificationSender, type SenderStats } from './notify/sender.js';
import { Scheduler, type SchedulerStats } from './scheduler.js';
import { nextState } from './state.js';
import { openStore, type MonitorStore } from './store/index.js';
import type { CheckRecord } from './store/results.js';
import { iso } from './store/rows.js';
import { fingerprintOf } from './store/servers.js';
import type { PingResult, Server, ServerState, ServerStatus } from './types.js';
import { mergeIntervals, trimChanges, uptimeFigures, WINDOWS, type Change, type Interval } from './uptime.js';
import { isDatabaseUnavailable } from './store/unavailable.js';
import { BatchWriter, DEFAULT_MAX_PENDING } from './writer.js';

export interface MonitorOptions {
  /** `postgres://…`, a SQLite file name, or a knex instance. Default `DATABASE_URL`, else `monitor.db`. */
  database?: DatabaseOption;
  /**
   * Checks at once at most (1-100,000). Default `MONITOR_CONCURRENCY`, else derived from
   * what a waiting check costs: half the sockets the descriptor limit (`ulimit -n`)
   * leaves after the process's own files, and at most a quarter of the memory at 64 KB
   * a check (`defaultConcurrency()`).
   */
  concurrency?: number;
  /** Days raw results are kept. Default `MONITOR_RETENTION_DAYS`, else 7. */
  retentionDays?: number;
  /** Days hourly rollups are kept. Default 90. */
  rollupRetentionDays?: number;
  /** Run checks on their schedule. Default true; false for a process that only serves the API or runs `check()`. */
  schedule?: boolean;
  /** Results are written in batches at least this often, ms. Default 250. */
  flushInterval?: number;
  /**
   * Check results kept in memory while the database cannot take them (down, read-only,
   * full); beyond, the oldest are dropped, counted in `stats().results.dropped`. Default 20,000.
   */
  resultBuffer?: number;
  /** Extra trusted certificate authorities (PEM) for https checks, e.g. an internal CA. */
  ca?: string[];
  /** Where problems are logged. Default: warnings and errors to the console; `false` for none. */
  logger?: LifelineLogger | false;
  /** Hub to announce on; default a new one. */
  events?: MonitorEvents;
  /** How often rollups and pruning run, ms. Default 5 minutes. */
  maintenanceInterval?: number;
  /**
   * Share the checks with the other instances on the same database: every slot of
   * every server is claimed in the database before it runs, so each runs once, and
   * when an instance stops the others take its slots at once. Default true on
   * PostgreSQL, false on SQLite.
   */
  shared?: boolean;
  /**
   * Notifications on state changes: the outbox is written with every change, and
   * this process sends it (retries, reminders, SMTP and SMS settings: see
   * `NotifyOptions`; SMTP and SMS default to `SMTP_URL`, `MONITOR_MAIL_FROM`,
   * `SMS_*`). `false`: this process does not send (another instance does); the
   * outbox is still written.
   */
  notifications?: NotifyOptions | false;
}

/** A finished check, as `check()` and `runNow()` give it back. */
export interface CheckReport {
  server: Server;
  ping: PingResult;
  status: ServerStatus;
}

export interface Monitor {
  readonly store: MonitorStore;
  readonly events: MonitorEvents;
  /** Checks the given servers (default: every enabled one) now; resolves when their results are stored. */
  runNow(serverIds?: readonly number[]): Promise<CheckReport[]>;
  /**
   * Records a push server's heartbeat (`/api/push/:token/…`): `ok` once queued for the
   * batch writer, `unknown` for a token no server has, `limited` over its rate.
   */
  heartbeat(token: string, beat: Heartbeat): BeatAdmission;
  /** Scheduler figures, for benchmarks and diagnostics. */
  stats(): SchedulerStats & {
    batches: number;
    servers: number;
    claimsLost: number;
    notifications: SenderStats;
    /** Results waiting to be written, dropped since start, and why writing fails now (null when it works). */
    results: { pending: number; dropped: number; error: string | null };
    /** The bound on checks at once, and how many are running. */
    concurrency: number;
    running: number;
    /** Checks not counted because the monitor could not keep up (see `overload`). */
    overloaded: number;
    overload: OverloadStats;
  };
  /** Rolls up finished hours and prunes old rows now (also runs in the background). */
  maintain(): Promise<MaintenanceReport>;
  /** Stops the checks (running ones are cancelled), stores what is pending, closes the database it opened. */
  close(): Promise<void>;
}

interface Tracked {
  server: Server;
  status: ServerStatus;
  changes: Change[];
}

interface PendingRecord extends CheckRecord {
  server: Server;
  previous: ServerState;
}

/** createMonitor()'s option names; the web entry points accept these and their own. */
export const MONITOR_OPTION_KEYS = [
  'database',
  'concurrency',
  'retentionDays',
  'rollupRetentionDays',
  'schedule',
  'flushInterval',
  'resultBuffer',
  'ca',
  'logger',
  'events',
  'maintenanceInterval',
  'shared',
  'notifications',
] as const;
const RUN_HEARTBEAT = 30_000;
const SYNC_INTERVAL = 15_000;
const RUN_RELOAD_INTERVAL = 600_000;

function envInteger(name: string, min: number, max: number): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(name, `${name} must be an integer ${min}-${max}, got "${raw}"`);
  return n;
}

/**
 * Opens the monitor's database (migrating it), loads the servers and starts
 * checking them on their schedule. Finished checks and state changes are
 * announced on `events`; the REST API, live updates and notifications build on
 * `store` and `events`.
 *
 * @example
 * import { createMonitor } from 'express-lifeline/monitor';
 * const monitor = await createMonitor({ database: 'monitor.db' });
 * monitor.events.on('status', ({ server, status }) => console.log(server.name, status.status));
 * // on shutdown: await monitor.close();
 */
export async function createMonitor(options: Readonly<MonitorOptions> = {}): Promise<Monitor> {
  checkOptionsObject('monitor', options, MONITOR_OPTION_KEYS);
  const concurrency = checkInteger(
    'monitor',
    'concurrency',
    options.concurrency ?? envInteger('MONITOR_CONCURRENCY', 1, MAX_CONCURRENCY) ?? processConcurrency(),
    { min: 1, max: MAX_CONCURRENCY },
  );
  const retentionDays = checkInteger(
    'monitor',
    'retentionDays',
    options.retentionDays ?? envInteger('MONITOR_RETENTION_DAYS', 1, 3650) ?? 7,
    {
      min: 1,
      max: 3650,
    },
  );
  const rollupRetentionDays = checkInteger('monitor', 'rollupRetentionDays', options.rollupRetentionDays ?? 90, { min: 1, max: 3650 });
  const flushInterval = checkInteger('monitor', 'flushInterval', options.flushInterval ?? 250, { min: 1, max: 60_000, unit: 'ms' });
  const resultBuffer = checkInteger('monitor', 'resultBuffer', options.resultBuffer ?? DEFAULT_MAX_PENDING, { min: 1, max: 10_000_000 });
  const maintenanceInterval = checkInteger('monitor', 'maintenanceInterval', options.maintenanceInterval ?? 300_000, {
    min: 1000,
    unit: 'ms',
  });
  if (options.ca !== undefined && (!Array.isArray(options.ca) || options.ca.some((c) => typeof c !== 'string'))) {
    throw optionError('monitor', 'ca', 'an array of PEM strings', options.ca);
  }
  const notify = notifySettings(options.notifications === false ? { send: false } : options.notifications);
  const logger = monitorLogger(options.logger);
  const events = options.events ?? new MonitorEvents();
  events.onListenerError = (error, event) => logger.error('monitor: an event listener failed', { event, error: String(error) });

  // knex's warnings (a failed connection, with its stack) repeat what the monitor reports in its own lines.
  const log = {
    warn: (message: unknown) => logger.debug(`knex: ${String(message)}`),
    error: (message: unknown) => logger.error(`knex: ${String(message)}`),
    deprecate: (message: unknown) => logger.warn(`knex: ${String(message)}`),
    debug: (message: unknown) => logger.debug(`knex: ${String(message)}`),
  };
  const store = await openStore({ database: options.database ?? (process.env.DATABASE_URL || 'monitor.db'), events, log });
  try {
    return await startMonitor(store, {
      concurrency,
      retentionDays,
      rollupRetentionDays,
      flushInterval,
      resultBuffer,
      maintenanceInterval,
      logger,
      events,
      ca: options.ca ? [...options.ca] : undefined,
      schedule: options.schedule !== false,
      shared: options.shared === undefined ? store.dialect === 'postgres' : checkBoolean('monitor', 'shared', options.shared),
      notify,
    });
  } catch (error) {
    await store.close();
    throw error;
  }
}

interface Settings {
  concurrency: number;
  retentionDays: number;
  rollupRetentionDays: number;
  flushInterval: number;
  resultBuffer: number;
  maintenanceInterval: number;
  logger: LifelineLogger;
  events: MonitorEvents;
  ca: string[] | undefined;
  schedule: boolean;
  shared: boolean;
  notify: NotifySettings;
}

/** Loads the servers and starts the checks on an open store. */
async function startMonitor(store: MonitorStore, settings: Settings): Promise<Monitor> {
  const { concurrency, retentionDays, rollupRetentionDays, flushInterval, maintenanceInterval, logger, events, ca } = settings;
  // One controller per running check, aborted on close: a listener per check on one shared
  // signal would cost O(checks running) to add and remove (EventTarget keeps a list).
  const inFlight = new Set<AbortController>();
  let closing = false;
  const tracked = new Map<number, Tracked>();

  // Runs of the monitor (all instances): uptime leaves out the time outside them.
  const start = Date.now();
  const since = start - WINDOWS['30d'];
  const instance = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const runId = await store.history.startRun(instance, start);
  let pastRuns: Interval[] = mergeIntervals(await store.history.runsSince(since));
  const coverage = (now: number) => mergeIntervals([...pastRuns, { start, end: now }]);

  // Notifications: the outbox row commits with the state change; the sender reads it in the background.
  const removeHook = store.results.addRecordHook(notificationHook(store.outbox, settings.notify));
  const removeCertHook = store.results.addRecordHook(certificateHook(store.outbox));
  const sender = settings.notify.send ? new NotificationSender(store, settings.notify, logger, instance) : undefined;

  const writer = new BatchWriter<PendingRecord>({
    results: store.results,
    flushInterval,
    maxPending: settings.resultBuffer,
    logger,
    onCommitted(stored) {
      for (const { record, ping } of stored) {
        events.publish('ping', { ping, status: record.status });
        if (record.change) events.publish('status', { status: record.status, previous: record.previous, server: record.server, ping });
      }
    },
  });

  /** Wrapped, so the scheduler's slot is freed when the check is done, not when it is stored. */
  interface Ran {
    committed: Promise<CheckReport | undefined>;
  }

  /**
   * Shared checks: takes the slot in the database, and adopts the state another
   * instance stored since this one last checked the server (with its state changes,
   * for uptime).
   */
  async function claim(entry: Tracked, slot: number): Promise<boolean> {
    let stored: ServerStatus | undefined;
    try {
      stored = await store.results.claim(entry.server.id, slot, instance);
      claimFailing = false;
    } catch (error) {
      // The database is down: no instance can share the slot, so each checks on its own and
      // the writer keeps the result until it can be stored (and says so, once). Two instances
      // may both check a server during the outage: a duplicate result beats a missed outage.
      if (isDatabaseUnavailable(error)) return true;
      if (!claimFailing)
        logger.warn('monitor: could not claim a check in the database, skipping until it answers', { error: String(error) });
      claimFailing = true;
      return false;
    }
    if (!stored) {
      claimsLost++;
      return false;
    }
    const mine = entry.status.last_check ? Date.parse(entry.status.last_check) : -Infinity;
    if (stored.last_check !== null && Date.parse(stored.last_check) > mine) {
      const knownChange = entry.changes[entry.changes.length - 1]?.at ?? -Infinity;
      if (Date.parse(stored.last_change) > knownChange) {
        const now = Date.now();
        entry.changes = (await store.history.changesSince(now - WINDOWS['30d'], [entry.server.id])).map((c) => ({
          status: c.status,
          at: c.at,
        }));
      }
      entry.status = stored;
    }
    return true;
  }
  let claimsLost = 0;
  let claimFailing = false;

  // Push servers are never reached: their slot is a deadline, moved by each heartbeat.
  const pushes = new PushBook();
  function reschedulePush(server: Server): void {
    const deadline = server.enabled ? pushes.deadline(server.id) : null;
    if (deadline === null) scheduler.unschedule(server.id);
    else scheduler.scheduleAt(server.id, deadline, server.check_interval);
  }
  async function pushDeadline(id: number, entry: Tracked, slot: number): Promise<Ran | undefined> {
    const deadline = pushes.deadline(id);
    if (deadline === null || Date.now() < deadline) return void reschedulePush(entry.server); // a heartbeat moved it
    if (settings.shared && !(await claim(entry, slot))) return undefined;
    // A heartbeat another instance took and stored (adopted by claim()) moves it too.
    if (entry.status.last_check !== null && entry.status.consecutive_successes > 0) pushes.adopt(id, Date.parse(entry.status.last_check));
    const missed = pushes.overdue(id);
    reschedulePush(entry.server);
    return missed && { committed: settle(id, entry, missed, Date.now()) };
  }

  async function runCheck(id: number, slot: number): Promise<Ran | undefined> {
    const entry = tracked.get(id);
    if (!entry) return undefined;
    if (entry.server.protocol === 'push') return pushDeadline(id, entry, slot);
    if (settings.shared && !(await claim(entry, slot))) return undefined;
    const startedAt = Date.now();
    const controller = new AbortController();
    inFlight.add(controller);
    const began = performance.now();
    let outcome: CheckOutcome;
    try {
      outcome = await checkServer(entry.server, { signal: controller.signal, ...(ca ? { ca } : {}) });
    } finally {
      inFlight.delete(controller);
    }
    if (closing || tracked.get(id) !== entry) return undefined; // cancelled, or removed meanwhile
    // The monitor's own lateness is not the target's outage: such a check is counted, not recorded.
    if (overload.waitedOnLoop(outcome, began, performance.now(), Math.max(1, Math.round(entry.server.timeout * 1000)))) return undefined;
    return { committed: settle(id, entry, outcome, startedAt) };
  }

  /** Moves a server's state by one result and queues both for the writer; resolves once stored. */
  function settle(id: number, entry: Tracked, outcome: CheckOutcome, startedAt: number): Promise<CheckReport | undefined> {
    const now = Date.now();
    const previous = entry.status.status;
    const next = nextState(entry.status, outcome, entry.server);
    const changed = next.status !== previous;
    if (changed) {
      entry.changes.push({ status: next.status, at: now });
      trimChanges(entry.changes, now);
    }
    const uptime = uptimeFigures(entry.changes, coverage(now), now);
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
    };
    return writer.add(record).then((ping) => (ping ? { server: record.server, ping, status: record.status } : undefined));
  }

  const scheduler = new Scheduler({
    concurrency,
    run: runCheck,
    epochGrid: settings.shared,
    tooLate: (slot, intervalMs, now) => overload.startsTooLate(slot, intervalMs, now),
  });

  function track(server: Server, status: ServerStatus | undefined, changes: Change[]): void {
    const now = Date.now();
    const current: ServerStatus = status ?? {
      id: 0,
      server: server.id,
      status: 'pending',
      uptime_percentage: 100,
      uptime: { '24h': 100, '7d': 100, '30d': 100 },
      last_check: null,
      consecutive_failures: 0,
      consecutive_successes: 0,
      message: '',
      last_change: iso(now),
      cert_expires_at: null,
    };
    tracked.set(server.id, { server, status: current, changes });
    pushes.follow(server, current.last_check ? Date.parse(current.last_check) : null, now);
    if (server.protocol === 'push') reschedulePush(server);
    else if (server.enabled)
      scheduler.schedule(server.id, server.check_interval, current.last_check ? Date.parse(current.last_check) : null);
    else scheduler.unschedule(server.id);
  }

  function untrack(id: number): void {
    tracked.delete(id);
    pushes.forget(id);
    scheduler.unschedule(id);
  }

  /** Follows a server's new settings; the schedule changes only when the interval or `enabled` did. */
  function follow(server: Server, status?: ServerStatus): void {
    const entry = tracked.get(server.id);
    if (!entry) return track(server, status, [{ status: 'pending', at: Date.parse(server.created_at) }]);
    const old = entry.server;
    entry.server = server;
    pushes.follow(server, null);
    if (server.protocol === 'push') return reschedulePush(server);
    if (old.check_interval === server.check_interval && old.enabled === server.enabled) return;
    if (!server.enabled) return scheduler.unschedule(server.id);
    const last = entry.status.last_check;
    scheduler.schedule(server.id, server.check_interval, last ? Date.parse(last) : null);
  }

  // Load what is stored: servers, their statuses and 30 days of state changes.
  const [servers, statuses, changes] = await Promise.all([
    store.servers.all(),
    store.results.statuses(),
    store.history.changesSince(since),
  ]);
  const statusOf = new Map(statuses.map((s) => [s.server, s]));
  const changesOf = new Map<number, Change[]>();
  for (const c of changes) {
    let list = changesOf.get(c.server);
    if (!list) changesOf.set(c.server, (list = []));
    list.push({ status: c.status, at: c.at });
  }
  for (const server of servers) track(server, statusOf.get(server.id), changesOf.get(server.id) ?? []);

  const offStatus = sender ? events.on('status', () => sender.wake()) : () => {};
  const offServer = events.on('server', (event) => {
    if (event.action === 'deleted') untrack(event.id);
    else follow(event.server, event.action === 'created' ? event.status : undefined);
  });

  // Other instances' and the CLI's changes come through the live channel layer within a second; this
  // safety net (a change announced while the channel was down, a monitor without live updates) reads
  // every server only when a one-row fingerprint says they differ from what is tracked.
  async function sync(): Promise<void> {
    const stored = await store.servers.fingerprint();
    const held = fingerprintOf([...tracked.values()].map((t) => t.server));
    if (stored.count === held.count && stored.ids === held.ids && stored.updated === held.updated) return;
    const current = await store.servers.all();
    const seen = new Set<number>();
    for (const server of current) {
      seen.add(server.id);
      const entry = tracked.get(server.id);
      if (!entry) follow(server, await store.results.status(server.id));
      else if (entry.server.updated_at !== server.updated_at) follow(server);
    }
    for (const id of [...tracked.keys()]) if (!seen.has(id)) untrack(id);
  }

  const loops: Array<{ stop(): void }> = [];
  const guard = (what: string, task: () => Promise<unknown>) => async () => {
    try {
      await task();
    } catch (error) {
      // An outage is the writer's to report, once; these loops just try again next time.
      if (!isDatabaseUnavailable(error)) logger.warn(`monitor: ${what} failed`, { error: String(error) });
    }
  };
  loops.push(
    backgroundLoop(
      RUN_HEARTBEAT,
      guard('run heartbeat', () => store.history.touchRun(runId)),
    ),
  );
  loops.push(backgroundLoop(SYNC_INTERVAL, guard('server sync', sync)));
  loops.push(
    backgroundLoop(
      RUN_RELOAD_INTERVAL,
      guard('run reload', async () => {
        pastRuns = mergeIntervals((await store.history.runsSince(Date.now() - WINDOWS['30d'])).filter((r) => r.start !== start));
      }),
    ),
  );
  const maintenanceOptions = { retentionDays, rollupRetentionDays, logger };
  loops.push(
    backgroundLoop(
      maintenanceInterval,
      guard('maintenance', () => maintain(store, maintenanceOptions)),
    ),
  );
  // Last before the checks start: nothing after it can fail and leave its timers running.
  const overload = new OverloadGuard(logger);
  if (settings.schedule) scheduler.start();
  sender?.start();

  let closed: Promise<void> | undefined;
  return {
    store,
    events,
    async runNow(serverIds) {
      const ids = serverIds ?? [...tracked.values()].filter((t) => t.server.enabled).map((t) => t.server.id);
      const ran = await scheduler.runNow(ids);
      const reports = await Promise.all(ran.map((r) => r?.committed));
      return reports.filter((r): r is CheckReport => r !== undefined);
    },
    heartbeat(token, beat) {
      const { admission, id } = pushes.admit(token);
      const entry = id === undefined ? undefined : tracked.get(id);
      if (admission !== 'ok' || !entry || closing) return admission;
      const now = Date.now();
      if (beat.kind === 'start') {
        pushes.start(entry.server.id, now);
        return 'ok';
      }
      const started = pushes.beat(entry.server.id, now);
      void settle(entry.server.id, entry, heartbeatOutcome(beat, started, now), started ?? now);
      return 'ok';
    },
    stats: () => ({
      ...scheduler.stats,
      lateness: [...scheduler.stats.lateness],
      batches: writer.batches,
      servers: tracked.size,
      claimsLost,
      results: { pending: writer.pending, dropped: writer.dropped, error: writer.failure ?? null },
      concurrency,
      running: scheduler.running,
      overloaded: overload.stats.overloaded,
      overload: { ...overload.stats },
      notifications: sender ? { ...sender.stats } : { attempts: 0, delivered: 0, failed: 0 },
    }),
    maintain: () => maintain(store, maintenanceOptions),
    close() {
      closed ??= (async () => {
        for (const loop of loops) loop.stop();
        offServer();
        offStatus();
        closing = true;
        for (const controller of inFlight) controller.abort();
        overload.stop();
        await scheduler.stop();
        await writer.close();
        removeHook();
        removeCertHook();
        await sender?.close();
        await store.history.touchRun(runId).catch(() => {});
        await store.close();
      })();
      return closed;
    },
  };
}
