import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { DATABASES, type TestDatabase } from './helpers.js';
import { ADMIN, READER, startApi, type ApiHarness } from './api-helpers.js';
import { startTarget } from './target.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function open(make: () => Promise<TestDatabase>, options: Parameters<typeof startApi>[1] = {}): Promise<ApiHarness> {
  const db = await make();
  cleanups.push(() => db.drop());
  const api = await startApi(db, options);
  cleanups.push(() => api.shutdown());
  return api;
}

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const server = (fields: Record<string, unknown> = {}) => ({ name: 'api', protocol: 'http', host: '127.0.0.1', port: 8080, ...fields });

describe.each(DATABASES)('monitor REST API on %s', (_kind, make) => {
  it('logs in with simplejwt answers: 200 {refresh, access}, 401 on bad credentials, 400 naming missing fields', async () => {
    const api = await open(make);
    const ok = await request(api.url).post('/api/auth/token/').send(ADMIN);
    expect(ok.status).toBe(200);
    expect(Object.keys(ok.body as object).sort()).toEqual(['access', 'refresh']);
    const bad = await request(api.url)
      .post('/api/auth/token')
      .send({ ...ADMIN, password: 'wrong-password' });
    expect(bad.status).toBe(401);
    expect(bad.body).toEqual({ detail: 'No active account found with the given credentials' });
    const nobody = await request(api.url).post('/api/auth/token/').send({ username: 'nobody', password: 'x' });
    expect(nobody.status).toBe(401);
    const missing = await request(api.url).post('/api/auth/token/').send({ username: 'admin' });
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual({ password: ['This field is required.'] });
  });

  it('refreshes and verifies tokens; a refresh token is not an access token and an access token does not refresh', async () => {
    const api = await open(make);
    const { refresh, access } = (await request(api.url).post('/api/auth/token/').send(ADMIN)).body as { refresh: string; access: string };
    const refreshed = await request(api.url).post('/api/auth/token/refresh/').send({ refresh });
    expect(refreshed.status).toBe(200);
    expect(Object.keys(refreshed.body as object)).toEqual(['access']);
    expect(
      (
        await request(api.url)
          .get('/api/servers/')
          .set(bearer((refreshed.body as { access: string }).access))
      ).status,
    ).toBe(200);

    expect((await request(api.url).post('/api/auth/token/verify/').send({ token: access })).body).toEqual({});
    expect((await request(api.url).post('/api/auth/token/verify/').send({ token: refresh })).status).toBe(200);
    const forged = `${access.slice(0, -4)}AAAA`;
    const badVerify = await request(api.url).post('/api/auth/token/verify/').send({ token: forged });
    expect(badVerify.status).toBe(401);
    expect(badVerify.body).toMatchObject({ detail: 'Token is invalid or expired', code: 'token_not_valid' });

    const refreshAsAccess = await request(api.url).get('/api/servers/').set(bearer(refresh));
    expect(refreshAsAccess.status).toBe(401);
    expect(refreshAsAccess.body).toMatchObject({ detail: expect.any(String) as string, code: 'token_not_valid' });
    expect((await request(api.url).post('/api/auth/token/refresh/').send({ refresh: access })).status).toBe(401);
    expect((await request(api.url).post('/api/auth/token/refresh/').send({})).body).toEqual({ refresh: ['This field is required.'] });
  });

  it('answers 401 {"detail"} without a token or with a bad one, and 403 to a read-only user writing', async () => {
    const api = await open(make);
    const none = await request(api.url).get('/api/servers/');
    expect(none.status).toBe(401);
    expect(none.body).toEqual({ detail: 'Authentication credentials were not provided.' });
    expect(none.headers['www-authenticate']).toBe('Bearer realm="api"');
    for (const header of ['Bearer', 'Bearer not-a-jwt', 'Basic YWRtaW46eA==', 'Bearer a.b.c']) {
      const res = await request(api.url).get('/api/server-status/').set('Authorization', header);
      expect(res.status, header).toBe(401);
      expect(typeof (res.body as { detail: unknown }).detail).toBe('string');
    }
    const reader = await api.login(READER);
    expect((await request(api.url).get('/api/servers/').set(bearer(reader))).status).toBe(200);
    const write = await request(api.url).post('/api/servers/').set(bearer(reader)).send(server());
    expect(write.status).toBe(403);
    expect(write.body).toEqual({ detail: 'You do not have permission to perform this action.' });
    expect((await request(api.url).post('/api/checks/run/').set(bearer(reader)).send({})).status).toBe(403);
    expect((await request(api.url).get('/api/notification-configs/').set(bearer(reader))).status).toBe(403);
  });

  it('creates, reads, replaces, patches and deletes servers (201/200/204), with the current status and DRF errors', async () => {
    const api = await open(make);
    const token = await api.login();
    const created = await request(api.url)
      .post('/api/servers/')
      .set(bearer(token))
      .send(server({ tags: ['prod'] }));
    expect(created.status).toBe(201);
    const body = created.body as { id: number; current_status: { status: string }; port: number; tags: string[]; timeout: number };
    expect(body).toMatchObject({ name: 'api', port: 8080, path: '/', check_interval: 60, timeout: 10, tags: ['prod'] });
    expect(body.current_status).toMatchObject({ status: 'pending', server: body.id });

    const one = await request(api.url).get(`/api/servers/${body.id}`).set(bearer(token));
    expect(one.status).toBe(200);
    expect(one.body).toEqual(created.body);

    const invalid = await request(api.url)
      .post('/api/servers/')
      .set(bearer(token))
      .send({ name: '', protocol: 'ftp', host: 'http://x', port: 70000 });
    expect(invalid.status).toBe(400);
    expect(Object.keys(invalid.body as object).sort()).toEqual(['host', 'name', 'port', 'protocol']);
    expect((invalid.body as Record<string, string[]>).port).toEqual(['Ensure this value is less than or equal to 65535.']);

    const patched = await request(api.url).patch(`/api/servers/${body.id}/`).set(bearer(token)).send({ check_interval: 5 });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: 'api', check_interval: 5, timeout: 4, port: 8080 });
    // PUT replaces: the required fields must all be there.
    const partialPut = await request(api.url).put(`/api/servers/${body.id}/`).set(bearer(token)).send({ name: 'x' });
    expect(partialPut.status).toBe(400);
    expect(partialPut.body).toMatchObject({ protocol: ['This field is required.'], host: ['This field is required.'] });
    const put = await request(api.url)
      .put(`/api/servers/${body.id}/`)
      .set(bearer(token))
      .send(server({ name: 'renamed', protocol: 'tcp', port: 22 }));
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ name: 'renamed', protocol: 'tcp', port: 22 });

    expect((await request(api.url).get('/api/servers/999').set(bearer(token))).body).toEqual({ detail: 'Not found.' });
    expect((await request(api.url).patch('/api/servers/999/').set(bearer(token)).send({})).status).toBe(404);
    expect((await request(api.url).delete(`/api/servers/${body.id}/`).set(bearer(token))).status).toBe(204);
    expect((await request(api.url).delete(`/api/servers/${body.id}/`).set(bearer(token))).status).toBe(404);
    expect((await request(api.url).get(`/api/servers/${body.id}/`).set(bearer(token))).status).toBe(404);
  });

  it('paginates lists in DRF shape with page and page_size (at most 500), absolute next/previous links', async () => {
    const api = await open(make);
    const token = await api.login();
    for (let i = 0; i < 7; i++) await api.monitor.store.servers.create({ ...(await validServer(i)) });
    const first = await request(api.url).get('/api/servers/?page_size=3&search=srv').set(bearer(token));
    expect(first.status).toBe(200);
    const page1 = first.body as { count: number; next: string; previous: null; results: Array<{ name: string }> };
    expect(page1.count).toBe(7);
    expect(page1.results.map((s) => s.name)).toEqual(['srv 0', 'srv 1', 'srv 2']);
    expect(page1.previous).toBeNull();
    expect(page1.next).toBe(`${api.url}/api/servers/?page_size=3&search=srv&page=2`);
    const last = await request(api.url).get('/api/servers/?page_size=3&search=srv&page=3').set(bearer(token));
    expect(last.body).toMatchObject({ count: 7, next: null, previous: `${api.url}/api/servers/?page_size=3&search=srv&page=2` });
    expect((last.body as { results: unknown[] }).results).toHaveLength(1);
    expect((await request(api.url).get('/api/servers/?page=4&page_size=3').set(bearer(token))).body).toEqual({ detail: 'Invalid page.' });
    expect((await request(api.url).get('/api/servers/?page=abc').set(bearer(token))).status).toBe(404);
    const big = await request(api.url).get('/api/servers/?page_size=100000').set(bearer(token));
    expect((big.body as { results: unknown[] }).results).toHaveLength(7);
  });

  it('lists ping results newest first with server_id, status, since and limit filters, and current statuses', async () => {
    const target = await startTarget();
    cleanups.push(() => target.close());
    const api = await open(make);
    const token = await api.login();
    const mk = (name: string, path: string) =>
      request(api.url)
        .post('/api/servers/')
        .set(bearer(token))
        .send(server({ name, port: target.port, path, failure_threshold: 1 }));
    const up = (await mk('up', '/ok')).body as { id: number };
    const down = (await mk('down', '/bad')).body as { id: number };
    target.failing.add('/bad');
    await api.monitor.runNow();
    const between = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 5));
    await api.monitor.runNow();

    const all = await request(api.url).get('/api/ping-results/').set(bearer(token));
    const results = (all.body as { count: number; results: Array<{ check_timestamp: string; server: number; status: string }> }).results;
    expect((all.body as { count: number }).count).toBe(4);
    expect(results.map((r) => r.check_timestamp)).toEqual([...results.map((r) => r.check_timestamp)].sort().reverse());
    const failures = await request(api.url)
      .get(`/api/ping-results/?status=failure,timeout&server_id=${up.id},${down.id}`)
      .set(bearer(token));
    expect((failures.body as { results: Array<{ server: number }> }).results.map((r) => r.server)).toEqual([down.id, down.id]);
    const since = await request(api.url)
      .get(`/api/ping-results/?since=${encodeURIComponent(between)}`)
      .set(bearer(token));
    expect((since.body as { count: number }).count).toBe(2);
    const limited = await request(api.url).get('/api/ping-results/?limit=3&page_size=2').set(bearer(token));
    expect(limited.body).toMatchObject({ count: 3 });
    expect((limited.body as { results: unknown[] }).results).toHaveLength(2);
    const limited2 = await request(api.url).get('/api/ping-results/?limit=3&page_size=2&page=2').set(bearer(token));
    expect((limited2.body as { results: unknown[]; next: null }).results).toHaveLength(1);
    expect((limited2.body as { next: null }).next).toBeNull();

    const statuses = await request(api.url).get('/api/server-status/').set(bearer(token));
    expect((statuses.body as { results: Array<{ server: number; status: string }> }).results.map((s) => [s.server, s.status])).toEqual([
      [up.id, 'up'],
      [down.id, 'down'],
    ]);
    const onlyDown = await request(api.url).get('/api/server-status/?status=down,degraded').set(bearer(token));
    expect((onlyDown.body as { count: number; results: Array<{ server: number }> }).results.map((s) => s.server)).toEqual([down.id]);
    expect((await request(api.url).get(`/api/server-status?server_id=${up.id}`).set(bearer(token))).body).toMatchObject({ count: 1 });

    const bad = await request(api.url).get('/api/ping-results/?status=broken&since=yesterday&server_id=x').set(bearer(token));
    expect(bad.status).toBe(400);
    expect(Object.keys(bad.body as object)).toHaveLength(1); // the first bad filter, named
    expect((await request(api.url).get('/api/ping-results/?since=yesterday').set(bearer(token))).body).toEqual({
      since: ['Enter a valid date/time (ISO 8601, e.g. 2026-11-30T06:00:00Z).'],
    });
    expect((await request(api.url).get('/api/server-status/?status=sideways').set(bearer(token))).body).toEqual({
      status: ['"sideways" is not a valid choice.'],
    });
  });

  it('manages notification configs with per-type recipients; the secret is written and never returned', async () => {
    const api = await open(make);
    const token = await api.login();
    const s = (await request(api.url).post('/api/servers/').set(bearer(token)).send(server())).body as { id: number };
    const post = (body: object) => request(api.url).post('/api/notification-configs/').set(bearer(token)).send(body);
    for (const [type, recipient, message] of [
      ['email', 'not-an-address', 'Enter a valid email address.'],
      ['webhook', 'ftp://example.com/hook', 'Enter a valid http(s) URL.'],
      ['sms', '0612345678', 'Enter a phone number in international format, e.g. +14155550123.'],
    ] as const) {
      const res = await post({ server: s.id, notification_type: type, recipient });
      expect(res.status, type).toBe(400);
      expect(res.body).toEqual({ recipient: [message] });
    }
    expect((await post({ server: 999, notification_type: 'email', recipient: 'a@b.co' })).body).toEqual({
      server: ['Invalid pk "999" - object does not exist.'],
    });
    const hook = await post({ server: s.id, notification_type: 'webhook', recipient: 'https://hooks.example.com/x', secret: 'whsec-123' });
    expect(hook.status).toBe(201);
    expect(hook.body).not.toHaveProperty('secret');
    const id = (hook.body as { id: number }).id;
    expect(await api.monitor.store.notifications.secretOf(id)).toBe('whsec-123');
    const list = await request(api.url).get(`/api/notification-configs/?server_id=${s.id}`).set(bearer(token));
    expect((list.body as { count: number }).count).toBe(1);
    expect(JSON.stringify(list.body)).not.toContain('whsec');
    const patched = await request(api.url).patch(`/api/notification-configs/${id}/`).set(bearer(token)).send({ enabled: false });
    expect(patched.body).toMatchObject({ id, enabled: false, recipient: 'https://hooks.example.com/x' });
    expect(JSON.stringify(patched.body)).not.toContain('whsec');
    expect(await api.monitor.store.notifications.secretOf(id)).toBe('whsec-123');
    const sms = await request(api.url)
      .put(`/api/notification-configs/${id}`)
      .set(bearer(token))
      .send({ server: s.id, notification_type: 'sms', recipient: '+14155550123' });
    expect(sms.status).toBe(200);
    expect((await request(api.url).get(`/api/notification-configs/${id}/`).set(bearer(token))).body).toMatchObject({
      notification_type: 'sms',
    });
    expect((await request(api.url).delete(`/api/notification-configs/${id}/`).set(bearer(token))).status).toBe(204);
    expect((await request(api.url).get(`/api/notification-configs/${id}/`).set(bearer(token))).status).toBe(404);
  });

  it('runs checks on request: 202 at once, results stored as usual; unknown ids are 400', async () => {
    const target = await startTarget();
    cleanups.push(() => target.close());
    const api = await open(make);
    const token = await api.login();
    const a = (
      await request(api.url)
        .post('/api/servers/')
        .set(bearer(token))
        .send(server({ port: target.port, path: '/a' }))
    ).body as { id: number };
    await request(api.url)
      .post('/api/servers/')
      .set(bearer(token))
      .send(server({ port: target.port, path: '/b' }));
    const run = await request(api.url)
      .post('/api/checks/run/')
      .set(bearer(token))
      .send({ server_ids: [a.id] });
    expect(run.status).toBe(202);
    expect(run.body).toEqual({ detail: 'Checks started.', server_ids: [a.id] });
    await waitForCount(api, token, 1);
    expect(target.arrivals.get('/b')).toBeUndefined();
    expect((await request(api.url).post('/api/checks/run').set(bearer(token))).body).toMatchObject({ server_ids: [a.id, a.id + 1] });
    await waitForCount(api, token, 3);
    expect(
      (
        await request(api.url)
          .post('/api/checks/run/')
          .set(bearer(token))
          .send({ server_ids: [a.id, 4242] })
      ).body,
    ).toEqual({
      server_ids: ['Invalid pk "4242" - object does not exist.'],
    });
    expect((await request(api.url).post('/api/checks/run/').set(bearer(token)).send({ server_ids: 'all' })).status).toBe(400);
  });
});

async function waitForCount(api: ApiHarness, token: string, count: number): Promise<void> {
  const end = Date.now() + 10_000;
  for (;;) {
    const res = await request(api.url).get('/api/ping-results/').set(bearer(token));
    if ((res.body as { count: number }).count >= count) return;
    if (Date.now() > end) throw new Error(`expected ${count} ping results, got ${(res.body as { count: number }).count}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function validServer(i: number) {
  const { validateServer } = await import('../../src/monitor/validate.js');
  const checked = validateServer(server({ name: `srv ${i}` }));
  if (!checked.ok) throw new Error('invalid');
  return checked.value;
}

describe('monitor REST API protections', () => {
  const sqlite = DATABASES[0][1];

  it('answers 429 after 5 failed logins for one IP and username, while another username still logs in', async () => {
    const api = await open(sqlite);
    for (let i = 0; i < 5; i++) {
      expect(
        (
          await request(api.url)
            .post('/api/auth/token/')
            .send({ ...ADMIN, password: `wrong ${i}` })
        ).status,
      ).toBe(401);
    }
    const blocked = await request(api.url).post('/api/auth/token/').send(ADMIN);
    expect(blocked.status).toBe(429);
    expect((blocked.body as { detail: string }).detail).toMatch(/^Request was throttled\. Expected available in \d+ seconds\.$/);
    expect(blocked.headers['retry-after']).toMatch(/^\d+$/);
    expect((await request(api.url).post('/api/auth/token/').send(READER)).status).toBe(200);
  });

  it('answers 413 to a body over 1 MB, 400 to malformed JSON, 415 to other media types, 405 with Allow', async () => {
    const api = await open(sqlite);
    const token = await api.login();
    const huge = await request(api.url)
      .post('/api/servers/')
      .set(bearer(token))
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ name: 'x'.repeat(1_100_000) }));
    expect(huge.status).toBe(413);
    expect(huge.body).toEqual({ detail: 'Request body is larger than 1 MB.' });
    const broken = await request(api.url).post('/api/servers/').set(bearer(token)).set('Content-Type', 'application/json').send('{"name":');
    expect(broken.status).toBe(400);
    expect((broken.body as { detail: string }).detail).toMatch(/^JSON parse error/);
    const text = await request(api.url).post('/api/servers/').set(bearer(token)).set('Content-Type', 'text/plain').send('hello');
    expect(text.status).toBe(415);
    const form = await request(api.url)
      .post('/api/servers/')
      .set(bearer(token))
      .type('form')
      .send('name=web&protocol=http&host=example.com');
    expect(form.status).toBe(201);
    const wrong = await request(api.url).delete('/api/servers/').set(bearer(token));
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('GET, POST, OPTIONS');
    expect((await request(api.url).get('/api/auth/token/')).status).toBe(405);
  });

  it('answers every current status at once without paging parameters (an overview is one request), pages with them', async () => {
    const api = await open(sqlite);
    const token = await api.login();
    const input = await validServer(0);
    for (let i = 0; i < 600; i++) await api.monitor.store.servers.create({ ...input, name: `srv ${i}` });
    const all = await request(api.url).get('/api/server-status/').set(bearer(token));
    expect(all.body).toMatchObject({ count: 600, next: null, previous: null });
    expect((all.body as { results: unknown[] }).results).toHaveLength(600);
    const paged = await request(api.url).get('/api/server-status/?page_size=1000').set(bearer(token));
    expect((paged.body as { results: unknown[] }).results).toHaveLength(500);
    expect((paged.body as { next: string }).next).toBe(`${api.url}/api/server-status/?page_size=1000&page=2`);
  });

  it('leaves the app its other /api routes: health answers, unknown monitor paths are 404 JSON', async () => {
    const api = await open(sqlite);
    expect((await request(api.url).get('/api/health/live')).status).toBe(200);
    expect((await request(api.url).get('/api/servers/1/extra')).status).toBe(404);
    const redirect = await request(api.url).get('/');
    expect(redirect.status).toBe(302);
    expect(redirect.headers.location).toBe('/monitor/');
  });
});
