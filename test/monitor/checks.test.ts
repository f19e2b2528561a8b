import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lifeline } from '../../src/index.js';
import { checkServer } from '../../src/monitor/checks/index.js';
import { FULL_HANDSHAKE_EVERY, SessionCache } from '../../src/monitor/checks/sessions.js';
import type { Server } from '../../src/monitor/types.js';
import { express } from '../helpers/express.js';
import { makeCert } from './certs.js';
import { storedServer, waitFor } from './helpers.js';

function server(fields: Partial<Server>): Server {
  return storedServer({ port: 1, ...fields });
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

/**
 * Answers that never end: `/endless` streams as fast as the socket takes it, `/drip` sends a
 * line every 50 ms; `-json` variants are health-style JSON. `closed` counts the answers whose
 * connection ended before their body did.
 */
function endlessTarget() {
  const counts = { closed: 0 };
  const handler: http.RequestListener = (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = url.pathname.endsWith('-json');
    const first = url.searchParams.get('first') ?? (json ? '{"status":"degraded","filler":"' : '<h1>Welcome</h1>');
    res.writeHead(200, { 'content-type': json ? 'application/json' : 'text/html' });
    res.write(first);
    let open = true;
    res.on('close', () => {
      open = false;
      if (!res.writableEnded) counts.closed++;
    });
    if (url.pathname.startsWith('/split')) {
      res.write('...Good');
      setTimeout(() => res.end(json ? 'bye"}' : 'bye, see you'), 30);
      return;
    }
    const chunk = Buffer.alloc(16 * 1024, 'x');
    const pump = () => {
      while (open && res.write(chunk));
      if (open) res.once('drain', pump);
    };
    if (url.pathname.startsWith('/endless')) return pump();
    const timer = setInterval(() => (open ? res.write('tick\n') : clearInterval(timer)), 50);
  };
  return { handler, counts };
}

describe('answers decided as users expect', () => {
  const { handler: endless, counts } = endlessTarget();
  const cert = makeCert();
  let port: number;
  let securePort: number;
  const plain = http.createServer(endless);
  const secure = https.createServer({ key: cert.key, cert: cert.cert }, endless);
  beforeAll(async () => {
    port = await listen(plain);
    securePort = await listen(secure);
  });
  afterAll(() => Promise.all([close(plain), close(secure)]));

  it('without a keyword, an endless 200 is a success decided at the headers, its connection closed at once', async () => {
    const before = counts.closed;
    for (const [protocol, p] of [
      ['http', port],
      ['https', securePort],
    ] as const) {
      for (const path of ['/endless', '/drip']) {
        const outcome = await checkServer(server({ protocol, port: p, path, timeout: 1.5 }), { ca: [cert.cert] });
        expect(outcome, `${protocol} ${path}`).toMatchObject({ status: 'success', status_code: 200, error_message: null });
        expect(outcome.response_time).toBeLessThan(1000);
      }
    }
    await waitFor(() => counts.closed - before === 4, 3000, 'the four answers closed by the monitor');
  });

  it('with a keyword, reads until it is seen (even across chunks), else up to 1 MiB or the timeout, and says how far it read', async () => {
    // Seen in the first line of an answer that drips forever: decided then, not at the timeout.
    const seen = await checkServer(server({ port, path: '/drip', keyword: 'Welcome', timeout: 1.5 }));
    expect(seen).toMatchObject({ status: 'success', status_code: 200 });
    expect(seen.response_time).toBeLessThan(1000);
    expect(await checkServer(server({ port, path: '/split', keyword: 'Goodbye' }))).toMatchObject({ status: 'success' });
    expect(await checkServer(server({ port, path: '/endless', keyword: 'Goodbye', timeout: 1.5 }))).toMatchObject({
      status: 'failure',
      status_code: 200,
      error_message: 'keyword "Goodbye" not found in the first 1 MiB of the response',
    });
    expect(await checkServer(server({ port, path: '/drip', keyword: 'Goodbye', timeout: 0.4 }))).toMatchObject({
      status: 'failure',
      status_code: 200,
      error_message: 'keyword "Goodbye" not found in what the response sent within 0.4 s',
    });
  });

  it('an endless or dripping JSON answer is bounded and decided, never a timeout, and not read as a health answer', async () => {
    for (const path of ['/endless-json', '/drip-json']) {
      const outcome = await checkServer(server({ port, path, timeout: 0.5 }));
      expect(outcome, path).toMatchObject({ status: 'success', status_code: 200, error_message: null });
      expect(outcome.degraded, path).toBeUndefined();
    }
    // A complete health answer is still read.
    expect(await checkServer(server({ port, path: '/split-json', timeout: 0.5 }))).toMatchObject({
      status: 'success',
      degraded: 'health endpoint reports degraded',
    });
  });
});

describe('TLS sessions', () => {
  const cert = makeCert();
  const other = makeCert();
  let srv: https.Server;
  let port: number;
  const reused: boolean[] = [];
  beforeAll(async () => {
    srv = https.createServer({ key: cert.key, cert: cert.cert }, (_req, res) => res.end('secure'));
    srv.on('secureConnection', (socket: import('node:tls').TLSSocket) => reused.push(socket.isSessionReused()));
    port = await listen(srv);
  });
  afterAll(() => close(srv));

  it('a repeat check of a target resumes its session; another trust list does not share it', async () => {
    const ca = [cert.cert];
    reused.length = 0;
    for (let i = 0; i < 3; i++) expect(await checkServer(server({ protocol: 'https', port }), { ca })).toMatchObject({ status: 'success' });
    expect(reused).toEqual([false, true, true]);
    expect(await checkServer(server({ protocol: 'https', port }), { ca: [cert.cert] })).toMatchObject({ status: 'success' });
    expect(reused).toEqual([false, true, true, false]);
  });

  it('a certificate changed on the target is seen at the next check, and the session starts anew after it', async () => {
    const ca = [cert.cert];
    reused.length = 0;
    expect(await checkServer(server({ protocol: 'https', port }), { ca })).toMatchObject({ status: 'success' });
    expect(await checkServer(server({ protocol: 'https', port }), { ca })).toMatchObject({ status: 'success' });
    srv.setSecureContext({ key: other.key, cert: other.cert });
    expect(await checkServer(server({ protocol: 'https', port }), { ca })).toMatchObject({
      status: 'failure',
      error_message: 'TLS error: self-signed certificate',
    });
    srv.setSecureContext({ key: cert.key, cert: cert.cert });
    expect(await checkServer(server({ protocol: 'https', port }), { ca })).toMatchObject({ status: 'success' });
    expect(await checkServer(server({ protocol: 'https', port }), { ca })).toMatchObject({ status: 'success' });
    // The refused handshake never completes on the server: four connections, the third a full handshake.
    expect(reused).toEqual([false, true, false, true]);
  });

  it('leaves no connection open behind a check, http or https', async () => {
    const target = http.createServer((_req, res) => res.end('ok'));
    const plainPort = await listen(target);
    try {
      await Promise.all(Array.from({ length: 5 }, () => checkServer(server({ port: plainPort }))));
      await Promise.all(Array.from({ length: 5 }, () => checkServer(server({ protocol: 'https', port }), { ca: [cert.cert] })));
      const open = (s: net.Server) => new Promise<number>((resolve, reject) => s.getConnections((e, n) => (e ? reject(e) : resolve(n))));
      await waitFor(async () => (await open(target)) === 0 && (await open(srv)) === 0, 3000, 'no open connections');
    } finally {
      await close(target);
    }
  });

  it('the session cache is bounded, makes a full handshake due every FULL_HANDSHAKE_EVERY, and frees stale entries', () => {
    const cache = new SessionCache(2);
    const t0 = 1_000_000;
    const s = (n: number) => Buffer.from([n]);
    cache.set('a', s(1), false, t0);
    cache.set('b', s(2), false, t0);
    cache.set('c', s(3), false, t0 + 1);
    // Full: a new target is left out rather than pushing out one in use.
    expect([cache.get('a', t0 + 2), cache.get('b', t0 + 2), cache.get('c', t0 + 2)]).toEqual([s(1), s(2), undefined]);
    // A resumed handshake does not renew the verification; a full one does.
    cache.set('a', s(4), true, t0 + 60_000);
    cache.set('b', s(5), false, t0 + 60_000);
    expect(cache.get('a', t0 + FULL_HANDSHAKE_EVERY)).toBeUndefined();
    expect(cache.get('b', t0 + FULL_HANDSHAKE_EVERY)).toEqual(s(5));
    // Entries unused for FULL_HANDSHAKE_EVERY make room: b goes, e (stored later) stays.
    cache.set('e', s(6), false, t0 + 60_001);
    const later = t0 + 60_000 + FULL_HANDSHAKE_EVERY;
    cache.set('d', s(7), false, later);
    expect(cache.size).toBe(2);
    expect([cache.get('b', later), cache.get('e', later), cache.get('d', later)]).toEqual([undefined, s(6), s(7)]);
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
