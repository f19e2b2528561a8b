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
  /** Latest status computed by the health checks of this app. */
  health: HealthStatus = 'healthy';
  /** Set when a graceful shutdown begins: readiness fails and headers say `draining`. */
  draining = false;

  get status(): BackendStatus {
    if (this.draining) return 'draining';
    return this.health === 'healthy' ? 'active' : 'degraded';
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
