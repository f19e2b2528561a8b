import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Activity } from '../../activity.js';
import type { HealthRegistry } from '../../health/registry.js';
import { kubernetesReport, type ProbeCheck } from '../../health/report.js';
import { sendError, sendJson } from '../respond.js';

export type KubernetesRoute = 'livez' | 'readyz';

/** The root mounts of `mounts.kubernetes`. */
export const KUBERNETES_PATHS: ReadonlyArray<[string, KubernetesRoute]> = [
  ['/livez', 'livez'],
  ['/readyz', 'readyz'],
];

const TEXT_TYPE = 'text/plain; charset=utf-8';

/** The request's query parameters (`?verbose&exclude=a&exclude=b`); parsed only on the Kubernetes endpoints. */
function queryOf(url: string): URLSearchParams {
  const q = url.indexOf('?');
  return new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
}

function sendText(req: IncomingMessage, res: ServerResponse, status: number, text: string): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  sendJson(req, res, status, text, TEXT_TYPE);
}

/**
 * `/livez/<check>` or `/readyz/<check>` (a path without its query): the endpoint and the
 * check's name, null when the name is not valid percent-encoding, undefined for other paths.
 */
export function checkPath(path: string): { route: KubernetesRoute; name: string } | null | undefined {
  const route = path.startsWith('/livez/') ? 'livez' : path.startsWith('/readyz/') ? 'readyz' : undefined;
  if (route === undefined) return undefined;
  const slash = path.indexOf('/', 1);
  try {
    return { route, name: decodeURIComponent(path.slice(slash + 1, path.endsWith('/') ? -1 : undefined)) };
  } catch {
    return null;
  }
}

/**
 * Answers `/livez` and `/readyz` (and one check of them, `only`) in Kubernetes' plain-text
 * format, from the registry's snapshot; `showDetails` decides whether failures say why.
 */
export function kubernetesAnswerer(
  registry: HealthRegistry,
  showDetails: (req: IncomingMessage) => boolean,
): (route: KubernetesRoute, only: string | undefined, req: IncomingMessage, res: ServerResponse, activity: Activity) => Promise<void> {
  /** The checks behind /livez or /readyz: liveness has only `ping`; readiness adds draining and each critical check. */
  async function probeChecks(route: KubernetesRoute, activity: Activity): Promise<ProbeCheck[]> {
    const list: ProbeCheck[] = [{ name: 'ping' }];
    if (route === 'livez') return list;
    list.push({ name: 'shutdown', error: activity.draining ? 'draining' : undefined });
    const snapshot = await registry.get();
    for (const [name, outcome] of Object.entries(snapshot.checks)) {
      if (!outcome.critical) continue;
      list.push({ name, error: outcome.status === 'fail' ? (outcome.error ?? 'failed') : undefined });
    }
    return list;
  }

  return async function answerKubernetes(route, only, req, res, activity) {
    const checks = await probeChecks(route, activity);
    const reasons = showDetails(req);
    if (only !== undefined) {
      // /readyz/<check>: that one check, as Kubernetes answers it.
      const check = checks.find((c) => c.name === only);
      if (check === undefined) {
        sendError(req, res, 404, `Not Found: no ${route} check named ${JSON.stringify(only.slice(0, 64))}`);
      } else if (check.error === undefined) {
        sendText(req, res, 200, 'ok');
      } else {
        sendText(req, res, 503, `internal server error: ${reasons ? check.error.replace(/\s+/g, ' ') : 'reason withheld'}\n`);
      }
      return;
    }
    const query = queryOf(req.url ?? '/');
    const report = kubernetesReport(route, checks, {
      verbose: query.has('verbose'),
      exclude: new Set(query.getAll('exclude')),
      reasons,
    });
    sendText(req, res, report.ok ? 200 : 503, report.text);
  };
}
