import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lifeline } from '../../src/index.js';
import { checkServer } from '../../src/monitor/checks/index.js';
import type { Server } from '../../src/monitor/types.js';
import { express } from '../helpers/express.js';
import { makeCert } from './certs.js';
import { waitFor } from './helpers.js';

function server(fields: Partial<Server>): Server {
  return {
    id: 1,
    name: 'target',
    protocol: 'http',
    host: '127.0.0.1',
    port: 1,
    path: '/',
    check_interval: 60,
    timeout: 2,
    expected_status: '200-399',
    keyword: null,
    tags: [],
    enabled: true,
    failure_threshold: 2,
    success_threshold: 1,
    degraded_threshold_ms: null,
    depends_on: [],
    created_at: '',
    updated_at: '',
    ...fields,
  };
}

async function listen(srv: net.Server): Promise<number> {
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return (srv.address() as AddressInfo).port;
}

function close(srv: net.Server): Promise<void> {
  (srv as http.Server).closeAllConnections?.();
  return new Promise((resolve) => srv.close(() => resolve()));
}

const handler: http.RequestListener = (req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const hops = Number(url.searchParams.get('hops') ?? 0);
  if (url.pathname === '/ok') return void res.end('<h1>Welcome home</h1>');
  if (url.pathname === '/down') return void res.writeHead(503).end('maintenance');
  if (url.pathname === '/redirect') {
    const next = hops > 1 ? `/redirect?hops=${hops - 1}` : '/ok';
    return void res.writeHead(302, { location: next }).end();
  }
  if (url.pathname === '/loop') return void res.writeHead(301, { location: '/loop' }).end();
  if (url.pathname === '/hang') return; // never answers
  res.writeHead(404).end();
};

describe('HTTP checks against a real local server', () => {
  let srv: http.Server;
  let port: number;
  beforeAll(async () => {
    srv = http.createServer(handler);
    port = await listen(srv);
  });
  afterAll(() => close(srv));

  it('succeeds with the status code and a response time', async () => {
    const outcome = await checkServer(server({ port, path: '/ok' }));
    expect(outcome).toMatchObject({ status: 'success', status_code: 200, error_message: null });
    expect(outcome.response_time).toBeGreaterThan(0);
    expect(outcome.degraded).toBeUndefined();
  });

  it('fails on a status outside the expected range, and accepts it when expected', async () => {
    expect(await checkServer(server({ port, path: '/down' }))).toMatchObject({
      status: 'failure',
      status_code: 503,
      error_message: 'expected status 200-399, got 503',
    });
    expect(await checkServer(server({ port, path: '/down', expected_status: '503' }))).toMatchObject({
      status: 'success',
      status_code: 503,
    });
  });

  it('follows up to 5 redirects and fails beyond', async () => {
    expect(await checkServer(server({ port, path: '/redirect?hops=5' }))).toMatchObject({ status: 'success', status_code: 200 });
    expect(await checkServer(server({ port, path: '/redirect?hops=6' }))).toMatchObject({
      status: 'failure',
      status_code: 302,
      error_message: 'more than 5 redirects',
    });
    expect(await checkServer(server({ port, path: '/loop' }))).toMatchObject({ status: 'failure', error_message: 'more than 5 redirects' });
  });

  it('requires the keyword when one is set', async () => {
    expect(await checkServer(server({ port, path: '/ok', keyword: 'Welcome' }))).toMatchObject({ status: 'success' });
    expect(await checkServer(server({ port, path: '/ok', keyword: 'Goodbye' }))).toMatchObject({
      status: 'failure',
      status_code: 200,
      error_message: 'keyword "Goodbye" not found in the response',
    });
  });

  it('times out on a target that never answers, at the timeout', async () => {
    const started = Date.now();
    const outcome = await checkServer(server({ port, path: '/hang', timeout: 0.3 }));
    const took = Date.now() - started;
    expect(outcome).toMatchObject({ status: 'timeout', status_code: null, error_message: 'no answer within 0.3 s' });
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(2000);
  });

  it('says "connection refused" for a closed port', async () => {
    const spare = net.createServer();
    const closedPort = await listen(spare);
    await close(spare);
    expect(await checkServer(server({ port: closedPort }))).toMatchObject({ status: 'failure', error_message: 'connection refused' });
  });

  it('is degraded when a success is slower than degraded_threshold_ms', async () => {
    const slow = http.createServer((_req, res) => setTimeout(() => res.end('ok'), 120));
    const slowPort = await listen(slow);
    try {
      const outcome = await checkServer(server({ port: slowPort, degraded_threshold_ms: 50 }));
      expect(outcome.status).toBe('success');
      expect(outcome.degraded).toMatch(/^response time \d+ ms over 50 ms$/);
      expect((await checkServer(server({ port: slowPort, degraded_threshold_ms: 5000 }))).degraded).toBeUndefined();
    } finally {
      await close(slow);
    }
  });
});

describe('an express-lifeline backend as target', () => {
  it('counts a health answer of "degraded" (a failing non-critical check) as degraded, and unhealthy as a failure', async () => {
    let queueUp = false;
    let dbUp = true;
    const app = express();
    const life = lifeline({
      logger: false,
      health: {
        interval: 0,
        maxAge: 0,
        checks: {
          queue: {
            critical: false,
            check: () => {
              if (!queueUp) throw new Error('queue unreachable');
            },
          },
          db: () => {
            if (!dbUp) throw new Error('database unreachable');
          },
        },
      },
    });
    app.use(life);
    const backend = http.createServer(app);
    const port = await listen(backend);
    try {
      const target = server({ port, path: '/api/health' });
      const degraded = await checkServer(target);
      expect(degraded).toMatchObject({ status: 'success', status_code: 200, degraded: 'health endpoint reports degraded' });
      // The backend answers from its last snapshot while it refreshes: poll.
      queueUp = true;
      await waitFor(async () => (await checkServer(target)).degraded === undefined, 3000, 'healthy');
      expect(await checkServer(target)).toMatchObject({ status: 'success', status_code: 200 });
      dbUp = false;
      await waitFor(async () => (await checkServer(target)).status === 'failure', 3000, 'unhealthy');
      expect(await checkServer(target)).toMatchObject({
        status: 'failure',
        status_code: 503,
        error_message: 'expected status 200-399, got 503',
      });
    } finally {
      await life.close();
      await close(backend);
    }
  });
});

describe('HTTPS checks', () => {
  const good = makeCert();
  const expired = makeCert({ expired: true });
  const servers: https.Server[] = [];
  afterAll(() => Promise.all(servers.map(close)));

  async function httpsTarget(cert: { key: string; cert: string }): Promise<number> {
    const srv = https.createServer({ key: cert.key, cert: cert.cert }, (_req, res) => res.end('secure'));
    servers.push(srv);
    return listen(srv);
  }

  it('fails a self-signed certificate with a clear message, and passes when its CA is trusted', async () => {
    const port = await httpsTarget(good);
    const target = server({ protocol: 'https', port });
    expect(await checkServer(target)).toMatchObject({
      status: 'failure',
      status_code: null,
      error_message: 'TLS error: self-signed certificate',
    });
    expect(await checkServer(target, { ca: [good.cert] })).toMatchObject({ status: 'success', status_code: 200 });
  });

  it('fails an expired certificate with "certificate has expired"', async () => {
    const port = await httpsTarget(expired);
    expect(await checkServer(server({ protocol: 'https', port }), { ca: [expired.cert] })).toMatchObject({
      status: 'failure',
      error_message: 'TLS error: certificate has expired',
    });
  });

  it('follows a redirect from http to https', async () => {
    const securePort = await httpsTarget(good);
    const plain = http.createServer((_req, res) => res.writeHead(301, { location: `https://127.0.0.1:${securePort}/` }).end());
    const port = await listen(plain);
    try {
      expect(await checkServer(server({ port }), { ca: [good.cert] })).toMatchObject({ status: 'success', status_code: 200 });
    } finally {
      await close(plain);
    }
  });
});

describe('TCP checks', () => {
  it('succeeds when the port accepts a connection and fails when it refuses', async () => {
    const srv = net.createServer((socket) => socket.end());
    const port = await listen(srv);
    const outcome = await checkServer(server({ protocol: 'tcp', port }));
    expect(outcome).toMatchObject({ status: 'success', status_code: null, error_message: null });
    expect(outcome.response_time).toBeGreaterThan(0);
    await close(srv);
    expect(await checkServer(server({ protocol: 'tcp', port }))).toMatchObject({ status: 'failure', error_message: 'connection refused' });
  });

  it('stops at once when the monitor closes', async () => {
    const srv = http.createServer(() => {});
    const port = await listen(srv);
    try {
      const controller = new AbortController();
      const pending = checkServer(server({ port, timeout: 5 }), { signal: controller.signal });
      setTimeout(() => controller.abort(), 50);
      const started = Date.now();
      expect(await pending).toMatchObject({ status: 'failure', error_message: 'check cancelled' });
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      await close(srv);
    }
  });
});
