import { SAME_ORIGIN_HEADERS, type HeaderList } from '../middleware/cors-security.js';
import type { HealthMiddleware } from '../middleware/health.js';

export interface Layer {
  handle?: unknown;
}

function isHealth(value: unknown): value is HealthMiddleware {
  return typeof value === 'function' && typeof (value as Partial<HealthMiddleware>).readiness === 'function';
}

/**
 * The health() of an Express app, found among its top-level middlewares (directly, or
 * as the health part of a lifeline()). Express 5 keeps them in `app.router.stack`,
 * Express 4 in `app._router.stack`.
 */
export function findHealth(app: unknown): HealthMiddleware | undefined {
  for (const layer of topLevelLayers(app)) {
    const handle = layer.handle;
    if (isHealth(handle)) return handle;
    const part = (handle as { health?: unknown } | undefined)?.health;
    if (isHealth(part)) return part;
  }
  return undefined;
}

/**
 * The headers the corsSecurity() in front of `health` sets on a request without Origin
 * (`[]` without one), as an Express answer of the health endpoints carries them; or
 * 'per-request' when they cannot be recorded once (a CSP nonce).
 */
export function findSameOriginHeaders(app: unknown, health: HealthMiddleware): HeaderList | 'per-request' {
  let found: HeaderList = [];
  for (const layer of topLevelLayers(app)) {
    const handle = layer.handle as ({ health?: unknown } & Record<symbol, unknown>) | undefined;
    if (handle && SAME_ORIGIN_HEADERS in handle) {
      const headers = handle[SAME_ORIGIN_HEADERS] as HeaderList | undefined;
      if (headers === undefined) return 'per-request';
      found = headers;
    }
    if ((handle as unknown) === health || handle?.health === health) break;
  }
  return found;
}

/** The middlewares an Express app was given with app.use(), in order. */
export function topLevelLayers(app: unknown): Layer[] {
  const holder = app as { router?: { stack?: Layer[] }; _router?: { stack?: Layer[] } };
  let stack: Layer[] | undefined;
  try {
    stack = holder._router?.stack ?? holder.router?.stack;
  } catch {
    // Express 4 throws from `app.router` ("app.router is deprecated")
    stack = holder._router?.stack;
  }
  return stack ?? [];
}
