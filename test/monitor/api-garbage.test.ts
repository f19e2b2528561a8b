import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASES, type TestDatabase } from './helpers.js';
import { startApi, type ApiHarness } from './api-helpers.js';

const PATHS = [
  '/api/auth/token/',
  '/api/auth/token/refresh/',
  '/api/auth/token/verify/',
  '/api/servers/',
  '/api/servers/1/',
  '/api/servers/abc/',
  '/api/servers/99999999999999999999/',
  '/api/servers/2147483648/',
  '/api/servers/-1/',
  '/api/servers/%00/',
  '/api/ping-results/',
  '/api/server-status/',
  '/api/notification-configs/',
  '/api/notification-configs/1/',
  '/api/notification-configs/4294967296/',
  '/api/checks/run/',
  '/api/users/',
  '/api/users/1/',
  '/api/users/abc/',
  '/api/users/4294967296/',
  '/api/auth/password/',
];
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
const QUERIES = [
  '',
  '?page=0',
  '?page=-1',
  '?page=99999999999999',
  '?page=1&page=2',
  '?page_size=-5&page=x',
  '?server_id=1,2,abc',
  '?server_id=99999999999',
  '?server_id=%00',
  '?status=up,%00',
  '?since=9999999-99-99',
  '?since=2026-13-45T99:99:99Z',
  '?limit=-1',
  '?limit=1e9',
  '?search=%00%25_\\',
  '?enabled=maybe',
  '?page[a]=1',
];
const NUL = '\u0000';
const BODIES: unknown[] = [
  null,
  [],
  [1, 2],
  'text',
  123,
  true,
  {},
  { name: NUL, protocol: 'http', host: 'a.b' },
  { name: 'x', protocol: 'http', host: 'a.b', keyword: `k${NUL}` },
  { name: 'x', protocol: 'http', host: 'a.b', tags: [`t${NUL}`] },
  { name: 'x'.repeat(10_000), protocol: 'https', host: 'h'.repeat(300), port: 65536 },
  { name: { $gt: '' }, protocol: ['http'], host: 12, port: '80', check_interval: 'NaN', timeout: -1, tags: 'a', enabled: 'yes' },
  { name: 'x', protocol: 'tcp', host: '::1', port: 2147483648, failure_threshold: 99999999999, degraded_threshold_ms: 1e20 },
  { server: 99999999999, notification_type: 'sms', recipient: '+1' },
  { server: 1, notification_type: 'telegram', recipient: {}, secret: [], base_url: 5 },
  { server: 1, notification_type: 'pagerduty', recipient: null, secret: 'k'.repeat(5000), base_url: 'javascript:alert(1)' },
  { name: 'x', protocol: 'tcp', host: '::1', port: 1, depends_on: [1e20, null, {}] },
  { name: 'x', protocol: 'tcp', host: '::1', port: 1, depends_on: 'all' },
  { username: `u${NUL}`, password: 'p'.repeat(5000), is_staff: 'maybe' },
  { username: ['admin'], password: 5, is_active: {} },
  { old_password: 5, new_password: null },
  { server: 1, notification_type: 'webhook', recipient: `https://x.y/${NUL}`, secret: 5 },
  { server: '1; drop table monitor_servers', notification_type: 'email', recipient: 'a@b.c' },
  { username: NUL, password: NUL },
  { username: ['admin'], password: { a: 1 } },
  { refresh: 'a.b.c', token: 42 },
  { refresh: 'x'.repeat(100_000), token: 'eyJhbGciOiJub25lIn0.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwidXNlcl9pZCI6MX0.' },
  { server_ids: [1, 'a', null] },
  { server_ids: [99999999999] },
  { server_ids: { 0: 1 } },
  { __proto__: { admin: true }, constructor: { prototype: { x: 1 } } },
  JSON.parse('{"__proto__": {"is_admin": true}, "name": "p", "protocol": "http", "host": "p.q"}') as unknown,
];
const RAW = [
  '{"name":"x","protocol":"http","host":"a.b","port":1e400,"timeout":-1e400}',
  '{',
  '{"a":1',
  '\u0000',
  'nul\u0000l',
  '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]',
  '"x"',
  'undefined',
];

describe.each(DATABASES)('monitor REST API under garbage on %s', (_kind, make) => {
  let db: TestDatabase;
  let api: ApiHarness;
  let token: string;
  beforeAll(async () => {
    db = await make();
    api = await startApi(db, { loginThrottle: false });
    token = await api.login();
    await request(api.url)
      .post('/api/servers/')
      .set('Authorization', `Bearer ${token}`)
      .send({ name: 's', protocol: 'http', host: 'example.com' });
  });
  afterAll(async () => {
    await api?.shutdown();
    await db?.drop();
  });

  it('never answers a 5xx to anything a client sends, at any route, and every error is JSON', async () => {
    const seen = new Map<number, number>();
    const check = (what: string, res: request.Response) => {
      seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
      expect(res.status, what).toBeLessThan(500);
      if (res.status >= 400) expect(res.headers['content-type'], what).toMatch(/application\/json/);
    };
    const agent = request(api.url);
    for (const path of PATHS) {
      for (const method of METHODS) {
        for (const auth of [undefined, `Bearer ${token}`, 'Bearer garbage']) {
          for (const query of method === 'get' ? QUERIES : ['']) {
            const req = agent[method](path + query);
            if (auth) void req.set('Authorization', auth);
            check(`${method} ${path}${query} ${auth ?? ''}`, await req);
          }
          if (method === 'get' || !auth?.includes(token)) continue;
          for (const body of BODIES) {
            check(
              `${method} ${path} ${JSON.stringify(body)?.slice(0, 80)}`,
              await agent[method](path).set('Authorization', auth).set('Content-Type', 'application/json').send(JSON.stringify(body)),
            );
          }
          for (const raw of RAW) {
            check(
              `${method} ${path} raw ${raw.slice(0, 20)}`,
              await agent[method](path).set('Authorization', auth).set('Content-Type', 'application/json').send(raw),
            );
          }
          check(
            `${method} ${path} charset`,
            await agent[method](path).set('Authorization', auth).set('Content-Type', 'application/json; charset=klingon').send('{}'),
          );
          check(
            `${method} ${path} gzip lie`,
            await agent[method](path)
              .set('Authorization', auth)
              .set('Content-Type', 'application/json')
              .set('Content-Encoding', 'gzip')
              .send('{}'),
          );
        }
      }
    }
    // The garbage was answered by the routes (400s and 404s), not only turned away at the door.
    expect(seen.get(400)).toBeGreaterThan(100);
    expect(seen.get(404)).toBeGreaterThan(10);
    // The service still works after all of it.
    const after = await request(api.url).get('/api/servers/').set('Authorization', `Bearer ${token}`);
    expect(after.status).toBe(200);
    expect((await request(api.url).get('/api/health/live')).status).toBe(200);
  }, 120_000);
});
