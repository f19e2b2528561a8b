import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

type RequestListener = (req: unknown, res: unknown) => void;

function isExpressApp(value: unknown): value is RequestListener {
  const app = value as { handle?: unknown; use?: unknown; set?: unknown };
  return typeof value === 'function' && typeof app.handle === 'function' && typeof app.use === 'function' && typeof app.set === 'function';
}

type Hook = () => unknown;

export interface LoadedApp {
  app: RequestListener;
  /** The module's `beforeShutdown` and `onShutdown` exports, if any. */
  beforeShutdown: Hook[];
  onShutdown: Hook[];
}

function hooksOf(value: unknown): Hook[] {
  if (typeof value === 'function') return [value as Hook];
  return Array.isArray(value) ? value.filter((h): h is Hook => typeof h === 'function') : [];
}

/**
 * Imports the app module and returns its Express app: the default export (or `app`)
 * is an app, or a function (sync or async) that returns one. Named exports
 * `beforeShutdown` and `onShutdown` become the graceful-shutdown hooks.
 */
export async function loadApp(entry: string): Promise<LoadedApp> {
  const mod = (await import(pathToFileURL(resolve(entry)).href)) as Record<string, unknown>;
  let candidate: unknown = mod.default ?? mod.app;
  // A CommonJS module imported from ESM: its module.exports is the default.
  if (candidate && typeof candidate === 'object' && 'default' in candidate) candidate = (candidate as { default: unknown }).default;
  if (typeof candidate !== 'function') {
    throw new TypeError(`${entry}: expected a default export (or \`app\`) that is an Express app or a function returning one`);
  }
  const app: unknown = isExpressApp(candidate) ? candidate : await (candidate as () => unknown)();
  if (!isExpressApp(app)) throw new TypeError(`${entry}: the exported function did not return an Express app`);
  return { app, beforeShutdown: hooksOf(mod.beforeShutdown), onShutdown: hooksOf(mod.onShutdown) };
}
