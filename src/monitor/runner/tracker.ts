import type { LifelineLogger } from '../../logging/logger.js';
import { backgroundLoop } from '../../time.js';
import type { MonitorEvents } from '../events.js';
import { monitorFailures } from '../failures.js';
import type { MonitorStore } from '../store/index.js';
import { iso } from '../store/rows.js';
import { fingerprintOf } from '../store/servers.js';
import { isDatabaseUnavailable } from '../store/unavailable.js';
import type { Server, ServerStatus } from '../types.js';
import { WINDOWS, type Change } from '../uptime.js';

/** A server as the runner knows it: its settings, its current status and 30 days of state changes (for uptime). */
export interface Tracked {
  server: Server;
  status: ServerStatus;
  changes: Change[];
}

/** Where the tracker puts servers on (or takes them off) the schedule. */
export interface SchedulePort {
  /** A server tracked anew; `lastCheck`: its last check (epoch ms), or null. */
  place(server: Server, lastCheck: number | null): void;
  /** A tracked server's settings changed from `old`. */
  replace(old: Server, server: Server, lastCheck: number | null): void;
  /** A server no longer tracked. */
  remove(id: number): void;
}

/** The safety net behind the live channel layer (see `sync`). */
const SYNC_INTERVAL = 15_000;

/**
 * The tracker of servers and claims: which servers the monitor checks, with their
 * state, followed as they are added, changed and removed (by this instance, through
 * the store's events; by others, through the live channel layer and a periodic sync),
 * and, when instances share the checks, the claim of each slot in the database.
 */
export class ServerTracker {
  readonly #store: MonitorStore;
  readonly #port: SchedulePort;
  readonly #instance: string;
  readonly #shared: boolean;
  readonly #entries = new Map<number, Tracked>();
  readonly #claimFailures;
  readonly #offServer: () => void;
  readonly #sync: { stop(): void };
  /** Slots another instance claimed first. */
  claimsLost = 0;

  constructor(options: {
    store: MonitorStore;
    events: MonitorEvents;
    schedule: SchedulePort;
    instance: string;
    shared: boolean;
    logger: Pick<LifelineLogger, 'warn' | 'info'>;
  }) {
    this.#store = options.store;
    this.#port = options.schedule;
    this.#instance = options.instance;
    this.#shared = options.shared;
    this.#claimFailures = monitorFailures('monitor: claiming a check in the database (skipping until it answers)', options.logger);
    this.#offServer = options.events.on('server', (event) => {
      if (event.action === 'deleted') this.#untrack(event.id);
      else this.#follow(event.server, event.action === 'created' ? event.status : undefined);
    });
    this.#sync = backgroundLoop(SYNC_INTERVAL, () => this.#syncNow(), monitorFailures('monitor: server sync', options.logger));
  }

  /** Loads what is stored: servers, their statuses and the state changes since `since`. */
  async load(since: number): Promise<void> {
    const [servers, statuses, changes] = await Promise.all([
      this.#store.servers.all(),
      this.#store.results.statuses(),
      this.#store.history.changesSince(since),
    ]);
    const statusOf = new Map(statuses.map((s) => [s.server, s]));
    const changesOf = new Map<number, Change[]>();
    for (const c of changes) {
      let list = changesOf.get(c.server);
      if (!list) changesOf.set(c.server, (list = []));
      list.push({ status: c.status, at: c.at });
    }
    for (const server of servers) this.#track(server, statusOf.get(server.id), changesOf.get(server.id) ?? []);
  }

  get(id: number): Tracked | undefined {
    return this.#entries.get(id);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The ids of the servers that are checked on their schedule. */
  enabledIds(): number[] {
    return [...this.#entries.values()].filter((t) => t.server.enabled).map((t) => t.server.id);
  }

  /**
   * Shared checks: takes the slot in the database, and adopts the state another
   * instance stored since this one last checked the server (with its state changes,
   * for uptime). True when this instance is to run the check.
   */
  async claim(entry: Tracked, slot: number): Promise<boolean> {
    if (!this.#shared) return true;
    let stored: ServerStatus | undefined;
    try {
      stored = await this.#store.results.claim(entry.server.id, slot, this.#instance);
      this.#claimFailures.succeeded();
    } catch (error) {
      // The database is down: no instance can share the slot, so each checks on its own and
      // the writer keeps the result until it can be stored (and says so, once). Two instances
      // may both check a server during the outage: a duplicate result beats a missed outage.
      if (isDatabaseUnavailable(error)) return true;
      this.#claimFailures.failed(error);
      return false;
    }
    if (!stored) {
      this.claimsLost++;
      return false;
    }
    const mine = entry.status.last_check ? Date.parse(entry.status.last_check) : -Infinity;
    if (stored.last_check !== null && Date.parse(stored.last_check) > mine) {
      const knownChange = entry.changes[entry.changes.length - 1]?.at ?? -Infinity;
      if (Date.parse(stored.last_change) > knownChange) {
        const changes = await this.#store.history.changesSince(Date.now() - WINDOWS['30d'], [entry.server.id]);
        entry.changes = changes.map((c) => ({ status: c.status, at: c.at }));
      }
      entry.status = stored;
    }
    return true;
  }

  #track(server: Server, status: ServerStatus | undefined, changes: Change[]): void {
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
      last_change: iso(Date.now()),
      cert_expires_at: null,
    };
    this.#entries.set(server.id, { server, status: current, changes });
    this.#port.place(server, current.last_check ? Date.parse(current.last_check) : null);
  }

  #untrack(id: number): void {
    this.#entries.delete(id);
    this.#port.remove(id);
  }

  /** Follows a server's new settings. */
  #follow(server: Server, status?: ServerStatus): void {
    const entry = this.#entries.get(server.id);
    if (!entry) return this.#track(server, status, [{ status: 'pending', at: Date.parse(server.created_at) }]);
    const old = entry.server;
    entry.server = server;
    const last = entry.status.last_check;
    this.#port.replace(old, server, last ? Date.parse(last) : null);
  }

  // Other instances' and the CLI's changes come through the live channel layer within a second; this
  // safety net (a change announced while the channel was down, a monitor without live updates) reads
  // every server only when a one-row fingerprint says they differ from what is tracked.
  async #syncNow(): Promise<void> {
    const stored = await this.#store.servers.fingerprint();
    const held = fingerprintOf([...this.#entries.values()].map((t) => t.server));
    if (stored.count === held.count && stored.ids === held.ids && stored.updated === held.updated) return;
    const current = await this.#store.servers.all();
    const seen = new Set<number>();
    for (const server of current) {
      seen.add(server.id);
      const entry = this.#entries.get(server.id);
      if (!entry) this.#follow(server, await this.#store.results.status(server.id));
      else if (entry.server.updated_at !== server.updated_at) this.#follow(server);
    }
    for (const id of [...this.#entries.keys()]) if (!seen.has(id)) this.#untrack(id);
  }

  /** Stops following changes. */
  close(): void {
    this.#sync.stop();
    this.#offServer();
  }
}
