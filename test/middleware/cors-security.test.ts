import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { corsSecurity, errorHandler, type CorsSecurityOptions } from '../../src/index.js';
import { express } from '../helpers/express.js';
import { memoryLogger } from '../helpers/logger.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
  delete process.env.NODE_ENV;
  delete process.env.FRONTEND_URL;
});

type Res = { json(b: unknown): void };

function appWith(options: CorsSecurityOptions = {}) {
  const app = express();
  const mw = corsSecurity({ logger: false, ...options });
  closers.push(mw.close);
  app.use(mw);
  app.get('/api/data', (_req: unknown, res: Res) => res.json({ data: 1 }));
  app.post('/api/data', (_req: unknown, res: Res) => res.json({ posted: true }));
  app.use(errorHandler({ logger: false }));
  return app;
}

describe('CORS', () => {
  const frontendUrl = ['https://app.example.com', 'http://localhost:5173'];

  it('allows a listed origin exactly, with credentials, Vary and exposed headers', async () => {
    const res = await request(appWith({ frontendUrl })).get('/api/data').set('Origin', 'http://localhost:5173');
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe('http://localhost:5173');
    expect(res.headers['access-control-allow-credentials']).toBe('true');
    expect(res.headers.vary).toBe('Origin');
    expect(res.headers['access-control-expose-headers']).toContain('X-Backend-Request-Count');
  });

  it('never reflects an unknown origin, nor a near miss', async () => {
    const app = appWith({ frontendUrl });
    for (const origin of [
      'https://evil.example',
      'https://app.example.com.evil.example',
      'http://app.example.com',
      'https://APP.example.com',
      'null',
    ]) {
      const res = await request(app).get('/api/data').set('Origin', origin);
      expect(res.status).toBe(200);
      expect(res.headers['access-control-allow-origin'], origin).toBeUndefined();
      expect(res.headers['access-control-allow-credentials']).toBeUndefined();
      expect(res.headers.vary).toBe('Origin');
    }
  });

  it('answers an allowed preflight with 204, methods, headers and max-age', async () => {
    const res = await request(appWith({ frontendUrl }))
      .options('/api/data')
      .set('Origin', 'https://app.example.com')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'content-type,authorization');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(res.headers['access-control-allow-methods']).toBe('GET,HEAD,PUT,PATCH,POST,DELETE');
    expect(res.headers['access-control-allow-headers']).toBe('content-type,authorization');
    expect(res.headers['access-control-max-age']).toBe('600');
  });

  it('refuses a preflight from an unknown origin with a JSON 403 and no CORS headers', async () => {
    const res = await request(appWith({ frontendUrl }))
      .options('/api/data')
      .set('Origin', 'https://evil.example')
      .set('Access-Control-Request-Method', 'DELETE');
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ error: { status: 403, message: 'Origin not allowed' } });
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it("'*' allows any origin without credentials", async () => {
    const res = await request(appWith({ frontendUrl: '*' }))
      .get('/api/data')
      .set('Origin', 'https://anyone.example');
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
  });

  it('reads FRONTEND_URL as a comma-separated list, defaults to localhost:3000 in development', async () => {
    process.env.FRONTEND_URL = 'https://a.example, https://b.example';
    const app = appWith();
    expect((await request(app).get('/api/data').set('Origin', 'https://b.example')).headers['access-control-allow-origin']).toBe(
      'https://b.example',
    );
    delete process.env.FRONTEND_URL;
    const dev = appWith();
    expect((await request(dev).get('/api/data').set('Origin', 'http://localhost:3000')).headers['access-control-allow-origin']).toBe(
      'http://localhost:3000',
    );
  });

  it('allows no cross-origin calls in production without FRONTEND_URL, and warns', async () => {
    process.env.NODE_ENV = 'production';
    const logger = memoryLogger();
    const mw = corsSecurity({ logger });
    closers.push(mw.close);
    const app = express();
    app.use(mw);
    app.get('/x', (_req: unknown, res: Res) => res.json({}));
    expect((await request(app).get('/x').set('Origin', 'http://localhost:3000')).headers['access-control-allow-origin']).toBeUndefined();
    expect(logger.text()).toMatch(/FRONTEND_URL is not set in production/);
  });
});

describe('security headers', () => {
  it('are set for an API, with no X-Powered-By', async () => {
    const res = await request(appWith()).get('/api/data');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['x-xss-protection']).toBe('0');
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(res.headers['content-security-policy']).not.toContain('upgrade-insecure-requests');
    expect(res.headers['strict-transport-security']).toBeUndefined();
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('add HSTS and upgrade-insecure-requests in production', async () => {
    process.env.NODE_ENV = 'production';
    const res = await request(appWith()).get('/api/data');
    expect(res.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    expect(res.headers['content-security-policy']).toContain('upgrade-insecure-requests');
  });

  it('pass helmet options through, including its aliases and per-request directives', async () => {
    const res = await request(appWith({ helmet: { frameguard: { action: 'sameorigin' }, referrerPolicy: { policy: 'same-origin' } } })).get(
      '/api/data',
    );
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['referrer-policy']).toBe('same-origin');
    let n = 0;
    const dynamic = appWith({ helmet: { contentSecurityPolicy: { directives: { 'script-src': ["'self'", () => `'nonce-${++n}'`] } } } });
    expect((await request(dynamic).get('/api/data')).headers['content-security-policy']).toContain("'nonce-1'");
    expect((await request(dynamic).get('/api/data')).headers['content-security-policy']).toContain("'nonce-2'");
  });

  it('helmet: false leaves security headers out', async () => {
    const res = await request(appWith({ helmet: false })).get('/api/data');
    expect(res.headers['x-frame-options']).toBeUndefined();
  });
});
