import type { HealthMiddleware } from '../middleware/health.js';

interface Layer {
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
  const holder = app as { router?: { stack?: Layer[] }; _router?: { stack?: Layer[] } };
  let stack: Layer[] | undefined;
  try {
    stack = holder._router?.stack ?? holder.router?.stack;
  } catch {
    // Express 4 throws from `app.router` ("app.router is deprecated")
    stack = holder._router?.stack;
  }
  for (const layer of stack ?? []) {
    const handle = layer.handle;
    if (isHealth(handle)) return handle;
    const part = (handle as { health?: unknown } | undefined)?.health;
    if (isHealth(part)) return part;
  }
  return undefined;
}
