import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Activity } from '../activity.js';
import type { HeaderList } from '../middleware/cors-security.js';
import type { HealthMiddleware } from '../middleware/health.js';
import { backendHeaders } from '../middleware/keep-alive.js';
import { liveReport, notReadyReason, pingReport, readyReport } from '../health/report.js';
import { plainJsonAccepted } from '../middleware/health/negotiate.js';

type Probe = 'ping' | 'live' | 'ready';

/**
 * Answers GET/HEAD of `/api/ping`, `/api/health/live` and `/api/health/ready` at the
 * http.Server level, before Express, from the same state the health() middleware
 * uses, with the headers an Express answer of the same app carries: the security
 * headers corsSecurity() recorded (`sameOriginHeaders`) and keepAlive()'s timing,
 * count and status, the request counted in the app's activity. Returns false for anything else
 * (other methods, query strings, an Accept other than plain JSON, …), which Express then answers as usual.
 */
export function createProbeAnswerer(
  health: HealthMiddleware,
  activity: Activity,
  sameOriginHeaders: HeaderList,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const paths = new Map<string, Probe>();
  for (const [suffix, probe] of [
    ['/ping', 'ping'],
    ['/health/live', 'live'],
    ['/health/ready', 'ready'],
  ] as const) {
    paths.set(health.prefix + suffix, probe);
    paths.set(`${health.prefix + suffix}/`, probe);
  }
  // Everything but the length and the per-request headers, flattened once for writeHead().
  const fixed: Array<string | number> = ['Content-Type', 'application/json; charset=utf-8', 'Cache-Control', 'no-store'];
  for (const [name, value] of sameOriginHeaders) fixed.push(name, value);

  function send(req: IncomingMessage, res: ServerResponse, started: number, count: number, status: number, body: string): void {
    const headers = fixed.concat('Content-Length', Buffer.byteLength(body), backendHeaders(started, count, activity.status));
    res.writeHead(status, headers as string[]);
    res.end(req.method === 'HEAD' ? undefined : body);
    activity.end();
  }

  return function answerProbe(req, res) {
    const probe = paths.get(req.url ?? '');
    if (probe === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    const started = performance.now();
    // Browsers (Origin) go through Express for their CORS headers.
    if (req.headers.origin !== undefined) return false;
    if (!plainJsonAccepted(req)) return false;
    // Counted as keepAlive() counts an Express request.
    const count = activity.begin();
    if (probe === 'ping') {
      send(req, res, started, count, 200, pingReport());
    } else if (probe === 'live') {
      send(req, res, started, count, 200, liveReport());
    } else {
      health.readiness().then(
        ({ failing, pending }) => {
          const reason = notReadyReason(activity.draining, failing, pending, activity.overloaded);
          send(req, res, started, count, reason === undefined ? 200 : 503, JSON.stringify(readyReport(reason)));
        },
        () => send(req, res, started, count, 503, JSON.stringify(readyReport('readiness unknown'))),
      );
    }
    return true;
  };
}
