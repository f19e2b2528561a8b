import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { corsSecurity, health, keepAlive, lifeline, serve, type Served } from '../../src/index.js';
import { express } from '../helpers/express.js';

// Differ between any two answers: the clock, the counters, the connection.
const PER_ANSWER = new Set([
  'date',
  'x-backend-processing-time',
  'server-timing',
  'x-backend-request-count',
  'content-length',
  'connection',
  'keep-alive',
]);

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const done of cleanup.splice(0).reverse()) await done();
  delete process.env.NODE_ENV;
});

/** The app behind serve() (its probes) and behind a plain http.Server (Express only), and how often Express ran. */
async function twoServers(use: (app: ReturnType<typeof express>) => { close(): Promise<void> }) {
  const app = express();
  const parts = use(app);
  app.get('/api/items', (_req, res) => {
    res.json([]);
  });
  let expressCalls = 0;
  const handle = (app as unknown as { handle: (...args: unknown[]) => unknown }).handle.bind(app);
  (app as unknown as { handle: (...args: unknown[]) => unknown }).handle = (...args: unknown[]) => {
    expressCalls += 1;
    return handle(...args);
  };
  const served: Served = await serve(app, { port: 0, exit: false, signals: false, handleCrashes: false, idleGrace: 0, logger: false });
  const plain: Server = createServer(app).listen(0, '127.0.0.1');
  await new Promise((done) => plain.once('listening', done));
  cleanup.push(
    () => parts.close(),
    () => served.shutdown(),
    () => new Promise((done) => plain.close(done)),
  );
  return {
    served: served.url,
    express: `http://127.0.0.1:${(plain.address() as AddressInfo).port}`,
    expressCalls: () => expressCalls,
  };
}

function stable(headers: Headers): Record<string, string> {
  return Object.fromEntries([...headers].filter(([name]) => !PER_ANSWER.has(name)));
}

describe('serve() probes carry the headers of an Express answer of the same app', () => {
  for (const nodeEnv of ['development', 'production']) {
    it.each(['/api/ping', '/api/health/live', '/api/health/ready'])(
      `%s in ${nodeEnv}: same security headers, plus timing`,
      async (path) => {
        process.env.NODE_ENV = nodeEnv;
        const s = await twoServers((app) => {
          const life = lifeline({ logger: false, keepAlive: { interval: 0 }, health: { interval: 0 } });
          app.use(life);
          return life;
        });
        const byExpress = await fetch(s.express + path);
        const calls = s.expressCalls();
        const byProbe = await fetch(s.served + path);
        expect(s.expressCalls()).toBe(calls); // the probe answered, not Express
        expect(byProbe.status).toBe(byExpress.status);
        expect(stable(byProbe.headers)).toEqual(stable(byExpress.headers));
        expect([...byProbe.headers.keys()].sort()).toEqual([...byExpress.headers.keys()].sort());
        // The security headers are really there (not two empty sets).
        expect(byProbe.headers.get('x-content-type-options')).toBe('nosniff');
        expect(byProbe.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
        expect(byProbe.headers.get('strict-transport-security')).toBe(
          nodeEnv === 'production' ? 'max-age=31536000; includeSubDomains' : null,
        );
        expect(byProbe.headers.get('x-backend-processing-time')).toMatch(/^\d+\.\d{3}ms$/);
        expect(byProbe.headers.get('server-timing')).toMatch(/^app;dur=\d+\.\d{3}$/);
        expect(byProbe.headers.get('x-backend-status')).toBe('active');
        // One activity: the probe is counted like an Express request of the app.
        expect(Number(byProbe.headers.get('x-backend-request-count'))).toBe(Number(byExpress.headers.get('x-backend-request-count')) + 1);
        await byExpress.arrayBuffer();
        await byProbe.arrayBuffer();
      },
    );
  }

  it('HEAD gets the same headers as GET, and the probes count in /api/status', async () => {
    const s = await twoServers((app) => {
      const life = lifeline({ logger: false, keepAlive: { interval: 0 }, health: { interval: 0 } });
      app.use(life);
      return life;
    });
    const head = await fetch(`${s.served}/api/ping`, { method: 'HEAD' });
    expect(head.headers.get('x-frame-options')).toBe('DENY');
    expect(head.headers.get('x-backend-request-count')).toBe('1');
    await fetch(`${s.served}/api/health/live`).then((r) => r.arrayBuffer());
    const status = (await fetch(`${s.served}/api/status`).then((r) => r.json())) as { request_count: number };
    expect(status.request_count).toBe(3);
  });

  it('the parts one by one: corsSecurity with frontendUrl * gives the probes its Access-Control-Allow-Origin too', async () => {
    const s = await twoServers((app) => {
      const parts = [
        corsSecurity({ logger: false, frontendUrl: '*' }),
        keepAlive({ logger: false, interval: 0 }),
        health({ logger: false, interval: 0 }),
      ];
      for (const part of parts) app.use(part);
      return { close: async () => void (await Promise.all(parts.map((p) => p.close()))) };
    });
    const byExpress = await fetch(`${s.express}/api/ping`);
    const byProbe = await fetch(`${s.served}/api/ping`);
    expect(byProbe.headers.get('access-control-allow-origin')).toBe('*');
    expect(stable(byProbe.headers)).toEqual(stable(byExpress.headers));
  });

  it('a CSP that changes per request (a nonce function) leaves the probes to Express', async () => {
    const s = await twoServers((app) => {
      const life = lifeline({
        logger: false,
        keepAlive: { interval: 0 },
        health: { interval: 0 },
        cors: { helmet: { contentSecurityPolicy: { directives: { 'script-src': [() => `'nonce-${Math.random()}'`] } } } },
      });
      app.use(life);
      return life;
    });
    const calls = s.expressCalls();
    const res = await fetch(`${s.served}/api/ping`);
    expect(s.expressCalls()).toBe(calls + 1);
    expect(res.headers.get('content-security-policy')).toMatch(/nonce-/);
  });
});
