import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Activity } from '../activity.js';
import type { HealthMiddleware } from '../middleware/health.js';
import { liveReport, notReadyReason, pingReport, readyReport } from '../health/report.js';

type Probe = 'ping' | 'live' | 'ready';

/**
 * Answers GET/HEAD of `/api/ping`, `/api/health/live` and `/api/health/ready` at the
 * http.Server level, before Express, from the same state the health() middleware
 * uses. Returns false for anything else (including other methods, query strings with
 * an Accept the endpoint cannot satisfy, …), which Express then answers as usual.
 */
export function createProbeAnswerer(health: HealthMiddleware, activity: Activity): (req: IncomingMessage, res: ServerResponse) => boolean {
  const paths = new Map<string, Probe>();
  for (const [suffix, probe] of [
    ['/ping', 'ping'],
    ['/health/live', 'live'],
    ['/health/ready', 'ready'],
  ] as const) {
    paths.set(health.prefix + suffix, probe);
    paths.set(`${health.prefix + suffix}/`, probe);
  }

  function send(req: IncomingMessage, res: ServerResponse, status: number, body: string): void {
    res.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-store',
      'Content-Length': Buffer.byteLength(body),
      'X-Backend-Request-Count': activity.requestCount,
      'X-Backend-Status': activity.status,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  return function answerProbe(req, res) {
    const probe = paths.get(req.url ?? '');
    if (probe === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    // Browsers (Origin) go through Express for their CORS and security headers.
    if (req.headers.origin !== undefined) return false;
    const accept = req.headers.accept;
    if (accept !== undefined && accept !== '*/*' && accept !== 'application/json') return false;
    activity.requestCount += 1;
    activity.lastActivity = Date.now();
    if (probe === 'ping') {
      send(req, res, 200, pingReport());
    } else if (probe === 'live') {
      send(req, res, 200, liveReport());
    } else {
      health.readiness().then(
        ({ failing, pending }) => {
          const reason = notReadyReason(activity.draining, failing, pending);
          send(req, res, reason === undefined ? 200 : 503, JSON.stringify(readyReport(reason)));
        },
        () => send(req, res, 503, JSON.stringify(readyReport('readiness unknown'))),
      );
    }
    return true;
  };
}
