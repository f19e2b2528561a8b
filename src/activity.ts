export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy';
export type BackendStatus = 'active' | 'degraded' | 'draining';

/**
 * What one Express app has done: the counters behind the X-Backend-* headers,
 * /api/status and /api/keep-alive. One per app, shared by its middlewares.
 */
export class Activity {
  requestCount = 0;
  inFlight = 0;
  /** Epoch milliseconds of the last request seen. */
  lastActivity = Date.now();
  /** Epoch milliseconds of the last POST /api/keep-alive, or undefined. */
  lastClientPing: number | undefined;
  /** The clients that sent POST /api/keep-alive recently. */
  readonly clients = new RecentClients();
  /** Latest status computed by the health checks of this app. */
  health: HealthStatus = 'healthy';
  /** Set when a graceful shutdown begins: readiness fails and headers say `draining`. */
  draining = false;
  /** Set while serve() sheds load: readiness fails with `overloaded`. */
  overloaded = false;

  /**
   * Counts a request that starts now: the one place requests are counted, for keepAlive()
   * and serve()'s server-level probes alike. Returns its number (`X-Backend-Request-Count`);
   * pair it with end() when its answer is done.
   */
  begin(): number {
    this.inFlight += 1;
    this.lastActivity = Date.now();
    return ++this.requestCount;
  }

  /** The request counted by begin() has been answered (or its client left). */
  end(): void {
    this.inFlight -= 1;
  }

  get status(): BackendStatus {
    if (this.draining) return 'draining';
    return this.health === 'healthy' ? 'active' : 'degraded';
  }
}

/**
 * Distinct clients seen recently, in bounded memory: a Map kept in last-seen
 * order, so pruning the expired ones only looks at its oldest entries. Past
 * `capacity` the oldest client is forgotten, so a flood of made-up ids costs at
 * most `capacity` entries (and the count then reads `capacity`).
 */
export class RecentClients {
  private readonly seen = new Map<string, number>();

  constructor(readonly capacity = 10_000) {}

  /** Notes that client `id` was seen at `now` (epoch ms). */
  record(id: string, now: number = Date.now()): void {
    this.seen.delete(id);
    this.seen.set(id, now);
    if (this.seen.size > this.capacity) {
      for (const oldest of this.seen.keys()) {
        this.seen.delete(oldest);
        break;
      }
    }
  }

  /** How many distinct clients were seen at or after `since` (epoch ms); forgets older ones. */
  countSince(since: number): number {
    for (const [id, at] of this.seen) {
      if (at >= since) break;
      this.seen.delete(id);
    }
    return this.seen.size;
  }
}

const activities = new WeakMap<object, Activity>();

/** The Activity of an Express app (`req.app`), created on first use. */
export function activityOf(app: object): Activity {
  let activity = activities.get(app);
  if (!activity) {
    activity = new Activity();
    activities.set(app, activity);
  }
  return activity;
}
