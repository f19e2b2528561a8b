import type { HealthMounts } from './options.js';
import { checkPath, KUBERNETES_PATHS, type KubernetesRoute } from './kubernetes.js';

export type Route = 'ping' | 'status' | 'keepAlive' | 'health' | 'live' | 'ready' | KubernetesRoute;

const ROUTE_PATHS: ReadonlyArray<[string, Route]> = [
  ['/ping', 'ping'],
  ['/status', 'status'],
  ['/keep-alive', 'keepAlive'],
  ['/health', 'health'],
  ['/health/live', 'live'],
  ['/health/ready', 'ready'],
];

/** What a request's URL is to health(): an endpoint (and the one check asked for), a 404 of ours, or not ours. */
export type RouteMatch = { route: Route; only?: string } | 'not found' | undefined;

/**
 * The endpoints under `prefix` and the root mounts, in one table built at setup: a request
 * costs a prefix test and one Map lookup. Anything else under `<prefix>/health/` is ours (404).
 */
export function routeMatcher(prefix: string, mounts: Required<HealthMounts>): (url: string) => RouteMatch {
  const routes = new Map<string, Route>();
  for (const [path, route] of ROUTE_PATHS) {
    routes.set(prefix + path, route);
    routes.set(`${prefix + path}/`, route);
  }
  const extraRoutes: Array<[string, Route]> = [];
  if (mounts.health) extraRoutes.push(['/health', 'health']);
  if (mounts.kubernetes) extraRoutes.push(...KUBERNETES_PATHS);
  for (const [path, route] of extraRoutes) {
    // The prefixed endpoints win where the two meet (prefix '' and /health).
    if (!routes.has(path)) routes.set(path, route);
    if (!routes.has(`${path}/`)) routes.set(`${path}/`, route);
  }
  const anyMount = extraRoutes.length > 0;
  const healthSubtree = `${prefix}/health/`;

  return function match(url) {
    if (!anyMount && !url.startsWith(prefix)) return undefined;
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const route = routes.get(path);
    if (route !== undefined) return { route };
    if (path.startsWith(healthSubtree)) return 'not found';
    const one = mounts.kubernetes ? checkPath(path) : undefined;
    if (one === undefined) return undefined;
    return one === null ? 'not found' : { route: one.route, only: one.name };
  };
}
