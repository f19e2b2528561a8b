import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

type RequestListener = (req: unknown, res: unknown) => void;

function isExpressApp(value: unknown): value is RequestListener {
  const app = value as { handle?: unknown; use?: unknown; set?: unknown };
  return typeof value === 'function' && typeof app.handle === 'function' && typeof app.use === 'function' && typeof app.set === 'function';
}

/**
 * Imports the app module and returns its Express app: the default export (or `app`)
 * is an app, or a function (sync or async) that returns one.
 */
export async function loadApp(entry: string): Promise<RequestListener> {
  const mod = (await import(pathToFileURL(resolve(entry)).href)) as Record<string, unknown>;
  let candidate: unknown = mod.default ?? mod.app;
  // A CommonJS module imported from ESM: its module.exports is the default.
  if (candidate && typeof candidate === 'object' && 'default' in candidate) candidate = (candidate as { default: unknown }).default;
  if (typeof candidate !== 'function') {
    throw new TypeError(`${entry}: expected a default export (or \`app\`) that is an Express app or a function returning one`);
  }
  if (isExpressApp(candidate)) return candidate;
  const made: unknown = await (candidate as () => unknown)();
  if (!isExpressApp(made)) throw new TypeError(`${entry}: the exported function did not return an Express app`);
  return made;
}
