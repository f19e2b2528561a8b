import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { ConfigError } from '../errors.js';
import type { LifelineLogger } from '../logging/logger.js';
import { checkBoolean, checkInteger, checkOptionsObject, optionError } from '../options.js';
import { backgroundLoop } from '../time.js';
import { MAX_CONCURRENCY, processConcurrency } from './concurrency.js';
import type { DatabaseOption } from './database.js';
import { monitorLogger } from './default-logger.js';
import { MonitorEvents } from './events.js';
import { monitorFailures } from './failures.js';
import { maintain, type MaintenanceReport } from './maintenance.js';
import { certificateHook } from './notify/cert.js';
import { notificationHook } from './notify/enqueue.js';
import type { BeatAdmission } from './push/book.js';
import type { Heartbeat } from './push/heartbeat.js';
import { incidentHook } from './pages/incident-hook.js';
import { notifySettings, type NotifyOptions, type NotifySettings } from './notify/options.js';
import { NotificationSender, type SenderStats } from './notify/sender.js';
import { watchNetwork } from './notify/network-alert.js';
import { canarySettings, type CanaryOptions, type CanarySettings } from './network.js';
import type { OverloadStats } from './overload.js';
import { RunLedger } from './runner/ledger.js';
import { CheckRunner, type CheckReport } from './runner/runner.js';
import { ServerTracker } from './runner/tracker.js';
import type { SchedulerStats } from './scheduler.js';
import { openStore, type MonitorStore } from './store/index.js';
import { DEFAULT_MAX_PENDING } from './writer.js';

export type { CheckReport } from './runner/runner.js';

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
  /**
   * `host:port` the monitor can always reach while its own network works (default
   * `MONITOR_CANARY`). A check that fails before any answer while the canary does not
   * answer either is recorded `unknown` (no state change, no downtime) and one "the monitor
   * cannot reach the network" alert goes out. None: every failure is the server's.
   */
  canary?: string | CanaryOptions;
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
  'canary',
] as const;

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
  const canary = canarySettings(options.canary);
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
      canary,
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
  canary: CanarySettings | undefined;
}

/**
 * Starts the monitor on an open store: the ledger records this run, the tracker loads
 * the servers and follows their changes, the runner checks them on their schedule; the
 * notification sender and the rollups run beside.
 */
async function startMonitor(store: MonitorStore, settings: Settings): Promise<Monitor> {
  const { retentionDays, rollupRetentionDays, maintenanceInterval, logger, events } = settings;
  const instance = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const runner = new CheckRunner({ ...settings, store });
  let tracker: ServerTracker | undefined;
  let ledger: RunLedger | undefined;
  try {
    ledger = await RunLedger.open(store, instance, logger);
    tracker = new ServerTracker({ store, events, schedule: runner, instance, shared: settings.shared, logger });
    runner.attach(tracker, ledger);
    await tracker.load(ledger.since);
  } catch (error) {
    tracker?.close();
    await ledger?.close();
    await runner.close();
    throw error;
  }

  // Notifications: the outbox row commits with the state change; the sender reads it in the background.
  const removeHook = store.results.addRecordHook(notificationHook(store.outbox, settings.notify));
  const removeCertHook = store.results.addRecordHook(certificateHook(store.outbox));
  const removeIncidentHook = store.results.addRecordHook(incidentHook(store));
  const sender = settings.notify.send ? new NotificationSender(store, settings.notify, logger, instance) : undefined;
  const offStatus = sender ? events.on('status', () => sender.wake()) : () => {};
  // The monitor's own network: a failure the canary shares is `unknown`, not the server's outage.
  const alertConfigs = settings.notify.networkAlertConfigs;
  const network = watchNetwork(store.db, store.outbox, settings.canary, {
    logger,
    wake: () => sender?.wake(),
    ...(alertConfigs ? { configIds: alertConfigs } : {}),
  });
  if (network) runner.judge = (outcome) => network.judge(outcome);
  const maintenanceOptions = { retentionDays, rollupRetentionDays, logger };
  const rollups = backgroundLoop(
    maintenanceInterval,
    async () => {
      await maintain(store, maintenanceOptions);
    },
    monitorFailures('monitor: maintenance', logger),
  );
  if (settings.schedule) runner.scheduler.start();
  sender?.start();

  const { scheduler, writer, overload } = runner;
  let closed: Promise<void> | undefined;
  return {
    store,
    events,
    runNow: (serverIds) => runner.runNow(serverIds ?? tracker.enabledIds()),
    heartbeat: (token, beat) => runner.heartbeat(token, beat),
    stats: () => ({
      ...scheduler.stats,
      lateness: [...scheduler.stats.lateness],
      batches: writer.batches,
      servers: tracker.size,
      claimsLost: tracker.claimsLost,
      results: { pending: writer.pending, dropped: writer.dropped, error: writer.failure ?? null },
      concurrency: settings.concurrency,
      running: scheduler.running,
      overloaded: overload.stats.overloaded,
      overload: { ...overload.stats },
      notifications: sender ? { ...sender.stats } : { attempts: 0, delivered: 0, failed: 0 },
    }),
    maintain: () => maintain(store, maintenanceOptions),
    close() {
      closed ??= (async () => {
        rollups.stop();
        tracker.close();
        offStatus();
        network?.close();
        await runner.close();
        removeHook();
        removeCertHook();
        removeIncidentHook();
        await sender?.close();
        await ledger.close();
        await store.close();
      })();
      return closed;
    },
  };
}
