import type { IncomingMessage } from 'node:http';

/** The label of a request no route took (404s, scanners, static files): never its raw path. */
export const UNMATCHED = 'unmatched';

interface Layer {
  route?: object;
  handle?: { stack?: unknown };
  /** Express 5's router: the path the layer was declared with. */
  rawPath?: unknown;
  /** Express 4's router: the compiled path and its parameter names. */
  regexp?: RegExp & { fast_slash?: boolean };
  keys?: Array<{ name: string | number }>;
}

type RoutedRequest = IncomingMessage & { route?: { path?: unknown }; app?: MountedApp };
interface MountedApp {
  mountpath?: unknown;
  parent?: MountedApp;
  router?: { stack?: Layer[] };
  _router?: { stack?: Layer[] };
}

const templates = new WeakMap<object, string>();

function pathText(path: unknown): string {
  if (typeof path === 'string') return path === '/' ? '' : path.replace(/\/$/, '');
  if (Array.isArray(path)) return path.length === 1 ? pathText(path[0]) : `{${path.map(pathText).join(',')}}`;
  return String(path);
}

function routePath(route: { path?: unknown }): string {
  const path = route.path;
  if (typeof path === 'string') return path;
  if (Array.isArray(path)) return path.map(String).join(',');
  return String(path);
}

/**
 * Express 4 keeps only the compiled regexp of a mount path: `/users/:id` is
 * `^\/users(?:\/([^/]+?))\/?(?=\/|$)`. Turned back into the template it came from;
 * a path it cannot read back is shown as its regexp, which is constant too.
 */
function express4Mount(layer: Layer): string {
  const regexp = layer.regexp;
  if (regexp === undefined || regexp.fast_slash === true) return '';
  const keys = layer.keys ?? [];
  let i = 0;
  const text = regexp.source
    .replace(/^\^/, '')
    .replace(/\\\/\?\(\?=\\\/\|\$\)$/, '')
    // A parameter: `(?:\/([^/]+?))` after a segment, `(?:([^\/]+?))` within one.
    .replace(/\(\?:(\\\/)?\(\[\^\\?\/\]\+\?\)\)/g, (_m, slash?: string) => `${slash ? '/' : ''}:${String(keys[i++]?.name ?? i)}`)
    .replace(/\\(.)/g, '$1');
  return /[()[\]*+?|^$]/.test(text) ? regexp.source : text;
}

function mountText(layer: Layer): string {
  return 'rawPath' in layer ? pathText(layer.rawPath) : express4Mount(layer);
}

function stackOf(holder: unknown): Layer[] | undefined {
  const stack = (holder as { stack?: unknown } | undefined)?.stack;
  return Array.isArray(stack) ? (stack as Layer[]) : undefined;
}

/** The template of `route` within a router's stack: the mount paths of the routers on the way, then the route's path. */
function search(stack: Layer[], route: object, seen: Set<unknown>): string | undefined {
  for (const layer of stack) {
    if (layer.route === route) return routePath(route as { path?: unknown });
    const inner = stackOf(layer.handle);
    if (inner === undefined || seen.has(inner)) continue;
    seen.add(inner);
    const found = search(inner, route, seen);
    if (found !== undefined) return mountText(layer) + found;
  }
  return undefined;
}

function appStack(app: MountedApp): Layer[] | undefined {
  try {
    return app._router?.stack ?? app.router?.stack;
  } catch {
    // Express 4 throws from `app.router`
    return app._router?.stack;
  }
}

function findTemplate(req: RoutedRequest, route: { path?: unknown }): string {
  const app = req.app;
  const inApp = app === undefined ? undefined : appStack(app);
  const found = inApp === undefined ? undefined : search(inApp, route, new Set());
  if (found === undefined) return routePath(route);
  // A sub-app (`app.use('/admin', adminApp)`) knows where it is mounted.
  let prefix = '';
  for (let a: MountedApp | undefined = app; a?.parent !== undefined; a = a.parent) prefix = pathText(a.mountpath) + prefix;
  return prefix + found;
}

/**
 * The route template that answered a request (`/notes/:id`, with the mount paths of the
 * routers it went through: `/api/notes/:id`), or `unmatched`. Never the path the client
 * sent (Express matches mount paths case-insensitively, so even a fixed `req.baseUrl` is
 * the client's text): each template is found once per route in the app's router tree
 * and remembered, so the series stay as many as the app has routes.
 */
export function routeLabel(req: IncomingMessage): string {
  const route = (req as RoutedRequest).route;
  if (route === undefined || route === null || typeof route !== 'object') return UNMATCHED;
  let label = templates.get(route);
  if (label === undefined) {
    label = findTemplate(req as RoutedRequest, route) || '/';
    templates.set(route, label);
  }
  return label;
}
