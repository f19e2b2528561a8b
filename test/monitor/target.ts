import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A real local target: records when each path was requested and how many requests were in flight. */
export interface Target {
  port: number;
  arrivals: Map<string, number[]>;
  inFlight: number;
  maxInFlight: number;
  /** Paths answering 503 while listed here. */
  failing: Set<string>;
  close(): Promise<void>;
}

export async function startTarget(): Promise<Target> {
  const target = { arrivals: new Map<string, number[]>(), inFlight: 0, maxInFlight: 0, failing: new Set<string>() } as Target;
  const srv = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const at = Date.now();
    let list = target.arrivals.get(path);
    if (!list) target.arrivals.set(path, (list = []));
    list.push(at);
    target.inFlight++;
    target.maxInFlight = Math.max(target.maxInFlight, target.inFlight);
    res.on('close', () => target.inFlight--);
    if (path.startsWith('/hang')) return; // never answers: the check times out
    const delay = path.startsWith('/slow') ? 600 : 0;
    setTimeout(() => {
      if (target.failing.has(path)) res.writeHead(503).end('down');
      else res.end('ok');
    }, delay);
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  target.port = (srv.address() as AddressInfo).port;
  target.close = () =>
    new Promise((resolve) => {
      srv.closeAllConnections();
      srv.close(() => resolve());
    });
  return target;
}
