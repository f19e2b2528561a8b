import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { READER, startApi, type ApiHarness } from './api-helpers.js';
import { DATABASES, serverInput, waitFor, type TestDatabase } from './helpers.js';
import { startTarget, type Target } from './target.js';

interface Summary {
  title: string;
  status: string;
  servers: Array<{
    id: number;
    name: string;
    status: string;
    uptime: Record<string, number | null>;
    days: Array<{ date: string; uptime: number | null; status: string }>;
  }>;
  incidents: Array<{
    id: number;
    title: string;
    state: string;
    impact: string;
    servers: number[];
    resolved_at: string | null;
    updates: unknown[];
  }>;
  maintenance: unknown[];
}

/** Reads SSE `state` events from a public stream until `until` says stop. */
async function readStates(url: string, until: (state: Summary) => boolean, timeout = 10_000): Promise<Summary[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeout);
  const res = await fetch(url, { signal: controller.signal });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const states: Summary[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of res.body!) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(frame)?.[1];
        const data = /^data: (.*)$/m.exec(frame)?.[1];
        if (event === 'state' && data) {
          const state = JSON.parse(data) as Summary;
          states.push(state);
          if (until(state)) return states;
        }
      }
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return states;
}

describe.each(DATABASES)('status pages and incidents on %s', (_name, makeDb) => {
  let db: TestDatabase;
  let api: ApiHarness;
  let target: Target;
  let admin: string;
  let reader: string;
  let web: number;
  let apiServer: number;
  let other: number;

  beforeAll(async () => {
    db = await makeDb();
    target = await startTarget();
    api = await startApi(db);
    admin = await api.login();
    reader = await api.login(READER);
    const { store } = api.monitor;
    web = (await store.servers.create(serverInput({ name: 'web-internal', port: target.port, path: '/web' }))).id;
    apiServer = (await store.servers.create(serverInput({ name: 'api-internal', port: target.port, path: '/api-secret-path' }))).id;
    other = (await store.servers.create(serverInput({ name: 'other', port: target.port, path: '/other' }))).id;
  });
  afterAll(async () => {
    await api?.shutdown();
    await target?.close();
    await db?.drop();
  });

  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

  it('validates pages DRF-style and keeps them to admins', async () => {
    const r = request(api.url);
    expect((await r.get('/api/status-pages/')).status).toBe(401);
    const bad = await r
      .post('/api/status-pages/')
      .set(auth(admin))
      .send({ slug: 'Not A Slug', servers: [web, 999_999], display_names: { x: 'y' } });
    expect(bad.status).toBe(400);
    expect(Object.keys(bad.body as object).sort()).toEqual(['display_names', 'slug', 'title']);
    expect((bad.body as Record<string, string[]>).title).toEqual(['This field is required.']);
    const missing = await r
      .post('/api/status-pages/')
      .set(auth(admin))
      .send({ slug: 'x', title: 'X', servers: [web, 999_999] });
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual({ servers: ['Invalid pk "999999" - object does not exist.'] });
    const stray = await r
      .post('/api/status-pages/')
      .set(auth(admin))
      .send({ slug: 'x', title: 'X', servers: [web], display_names: { [other]: 'O' } });
    expect(stray.body).toEqual({ display_names: [`Server ${other} is not on this page.`] });
    expect((await r.post('/api/status-pages/').set(auth(reader)).send({ slug: 'x', title: 'X' })).status).toBe(403);
    expect((await r.post('/api/status-pages/').set(auth(admin)).send('[1]').type('json')).status).toBe(400);
    expect((await r.get('/api/status-pages/nope/').set(auth(reader))).status).toBe(404);

    const created = await r
      .post('/api/status-pages/')
      .set(auth(admin))
      .send({ slug: 'acme', title: 'Acme', description: 'Our services', servers: [apiServer, web], display_names: { [apiServer]: 'API' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ slug: 'acme', title: 'Acme', servers: [apiServer, web], display_names: { [apiServer]: 'API' } });
    expect(created.body).not.toHaveProperty('id');
    const taken = await r.post('/api/status-pages/').set(auth(admin)).send({ slug: 'acme', title: 'Again' });
    expect(taken.body).toEqual({ slug: ['status page with this slug already exists.'] });
    const list = await r.get('/api/status-pages/').set(auth(reader));
    expect(list.body).toMatchObject({ count: 1, results: [{ slug: 'acme' }] });
    const patched = await r
      .patch('/api/status-pages/acme/')
      .set(auth(admin))
      .send({ display_names: { [web]: 'Website', [apiServer]: 'API' } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      title: 'Acme',
      servers: [apiServer, web],
      display_names: { [web]: 'Website', [apiServer]: 'API' },
    });

    const temp = await r.post('/api/status-pages/').set(auth(admin)).send({ slug: 'temp', title: 'Temp' });
    expect(temp.status).toBe(201);
    expect((await r.delete('/api/status-pages/temp/').set(auth(admin))).status).toBe(204);
    expect((await r.get('/api/status-pages/temp/summary/')).status).toBe(404);
  });

  it('serves a public summary and page with nothing private; an outage opens one incident, recovery resolves it', async () => {
    const r = request(api.url);
    // A webhook config on `web`: incident messages go to the outbox beside the server's own.
    await api.monitor.store.notifications.create({
      server: web,
      notification_type: 'webhook',
      recipient: 'http://127.0.0.1:9/hook',
      enabled: true,
      notify_on_failure: true,
      notify_on_recovery: true,
    });
    await api.monitor.runNow([web, apiServer]);
    let summary = (await r.get('/api/status-pages/acme/summary/')).body as Summary;
    expect(summary.status).toBe('operational');
    expect(summary.servers.map((s) => [s.id, s.name, s.status])).toEqual([
      [apiServer, 'API', 'operational'],
      [web, 'Website', 'operational'],
    ]);
    expect(summary.servers[0]!.days).toHaveLength(90);
    expect(summary.servers[0]!.days[89]).toEqual({ date: new Date().toISOString().slice(0, 10), uptime: 100, status: 'operational' });
    expect(summary.servers[0]!.uptime).toEqual({ '24h': 100, '7d': 100, '30d': 100, '90d': 100 });
    expect(summary.incidents).toEqual([]);

    const stream = readStates(`${api.url}/api/status-pages/acme/events/`, (s) => s.incidents.some((i) => i.servers.length === 2));
    // Both fail within a minute: one incident with both.
    target.failing.add('/web');
    target.failing.add('/api-secret-path');
    await api.monitor.runNow([web]);
    await api.monitor.runNow([apiServer]);
    const states = await stream;
    expect(states[0]!.status).toBe('operational');
    const last = states[states.length - 1]!;
    expect(last.status).toBe('outage');
    expect(last.servers.map((s) => s.status)).toEqual(['outage', 'outage']);

    summary = (await r.get('/api/status-pages/acme/summary/')).body as Summary;
    expect(summary.status).toBe('outage');
    expect(summary.incidents).toHaveLength(1);
    const [incident] = summary.incidents;
    expect(incident).toMatchObject({ state: 'investigating', impact: 'major', resolved_at: null, title: 'API, Website are down' });
    expect(incident!.servers.sort()).toEqual([web, apiServer].sort());
    const today = summary.servers[0]!.days[89]!;
    expect(today.uptime).toBe(50);
    expect(today.status).toBe('outage');

    const text = JSON.stringify(summary) + JSON.stringify(states);
    for (const secret of ['127.0.0.1', `:${target.port}`, 'api-secret-path', 'api-internal', 'web-internal', 'HTTP 503']) {
      expect(text).not.toContain(secret);
    }
    const html = await r.get('/status/acme');
    expect(html.status).toBe(200);
    expect(html.headers['content-security-policy']).toContain("script-src 'self'");
    expect(html.text).toContain('API, Website are down');
    expect(html.text).not.toContain('127.0.0.1');
    expect(html.text).not.toContain('api-secret-path');
    expect((await r.get('/status/nope')).status).toBe(404);

    // Recovery: one server back keeps it open, both resolve it.
    target.failing.delete('/web');
    await api.monitor.runNow([web]);
    let stored = await api.monitor.store.incidents.get(incident!.id);
    expect(stored?.resolved_at).toBeNull();
    target.failing.delete('/api-secret-path');
    await api.monitor.runNow([apiServer]);
    stored = await api.monitor.store.incidents.get(incident!.id);
    expect(stored).toMatchObject({ state: 'resolved', automatic: true, status_page: 'acme' });
    expect(stored!.resolved_at).not.toBeNull();
    summary = (await r.get('/api/status-pages/acme/summary/')).body as Summary;
    expect(summary.status).toBe('operational');
    expect(summary.incidents.map((i) => i.state)).toEqual(['resolved']);

    const events = (await api.monitor.store.outbox.list({ server: web })).map((m) => m.event);
    expect(events).toEqual(['server.down', 'incident.opened', 'server.up', 'incident.resolved']);
    const resolved = (await api.monitor.store.outbox.list({ server: web })).find((m) => m.event === 'incident.resolved')!;
    expect(resolved.payload).toMatchObject({
      type: 'incident.resolved',
      incident: { id: incident!.id, state: 'resolved', status_page: 'acme' },
    });
  });

  it('opens no incident for a server in a maintenance window, and shows the window on the page', async () => {
    const r = request(api.url);
    expect(
      (
        await r
          .post('/api/status-pages/')
          .set(auth(admin))
          .send({ slug: 'works', title: 'Works', servers: [other] })
      ).status,
    ).toBe(201);
    const now = Date.now();
    const window = await r
      .post('/api/maintenance/')
      .set(auth(admin))
      .send({
        title: 'Database upgrade',
        servers: [other],
        starts_at: new Date(now - 60_000).toISOString(),
        ends_at: new Date(now + 3_600_000).toISOString(),
      });
    expect(window.status).toBe(201);
    target.failing.add('/other');
    try {
      await api.monitor.runNow([other]);
      await api.monitor.runNow([other]);
      let summary = (await r.get('/api/status-pages/works/summary/')).body as Summary;
      expect(summary.status).toBe('maintenance');
      expect(summary.incidents).toEqual([]);
      expect(summary.maintenance).toMatchObject([{ title: 'Database upgrade', servers: [other] }]);
      expect((await api.monitor.store.incidents.list({ open: true })).results.filter((i) => i.servers.includes(other))).toEqual([]);
      // Without the window, the next outage of the same server opens its incident: the window was what held it back.
      expect((await r.delete(`/api/maintenance/${(window.body as { id: number }).id}/`).set(auth(admin))).status).toBe(204);
      target.failing.delete('/other');
      await api.monitor.runNow([other]);
      target.failing.add('/other');
      await api.monitor.runNow([other]);
      await api.monitor.runNow([other]);
      await waitFor(
        async () => ((await r.get('/api/status-pages/works/summary/')).body as Summary).incidents.length === 1,
        5000,
        'the incident of the outage after the window',
      );
      summary = (await r.get('/api/status-pages/works/summary/')).body as Summary;
      expect(summary.status).toBe('outage');
    } finally {
      target.failing.delete('/other');
      await api.monitor.runNow([other]);
    }
  });

  it("folds a child's outage into its parent's incident (depends_on), however long after the parent failed", async () => {
    const r = request(api.url);
    const { store } = api.monitor;
    const parent = await store.servers.create(serverInput({ name: 'router', port: target.port, path: '/router' }));
    const child = await store.servers.create(
      serverInput({ name: 'app-behind', port: target.port, path: '/behind', depends_on: [parent.id] }),
    );
    expect(
      (
        await r
          .post('/api/status-pages/')
          .set(auth(admin))
          .send({ slug: 'net', title: 'Net', servers: [parent.id, child.id] })
      ).status,
    ).toBe(201);
    await api.monitor.runNow([parent.id, child.id]);
    target.failing.add('/router');
    try {
      await api.monitor.runNow([parent.id]);
      const opened = (await store.incidents.list({ open: true })).results.find((i) => i.servers.includes(parent.id))!;
      expect(opened).toBeDefined();
      // Past the one-minute fold window: only the dependency can put the child in the same incident.
      await store
        .db('monitor_incidents')
        .where({ id: opened.id })
        .update({ started_at: Date.now() - 5 * 60_000 });
      target.failing.add('/behind');
      await api.monitor.runNow([child.id]);
      const open = (await store.incidents.list({ open: true })).results.filter(
        (i) => i.servers.includes(child.id) || i.servers.includes(parent.id),
      );
      expect(open).toHaveLength(1);
      expect(open[0]!.servers.sort()).toEqual([parent.id, child.id].sort());
    } finally {
      target.failing.delete('/router');
      target.failing.delete('/behind');
      await api.monitor.runNow([parent.id, child.id]);
    }
  });

  it('lets operators open, edit, update and resolve incidents, with field errors', async () => {
    const r = request(api.url);
    const bad = await r
      .post('/api/incidents/')
      .set(auth(admin))
      .send({ state: 'sleeping', servers: [999_999], started_at: 'yesterday' });
    expect(bad.status).toBe(400);
    expect(Object.keys(bad.body as object).sort()).toEqual(['started_at', 'state', 'title']);
    expect((await r.post('/api/incidents/').set(auth(reader)).send({ title: 'x' })).status).toBe(403);
    const created = await r
      .post('/api/incidents/')
      .set(auth(admin))
      .send({ title: 'Slow logins', impact: 'minor', servers: [web], message: 'We are looking into slow logins.' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      title: 'Slow logins',
      state: 'investigating',
      impact: 'minor',
      servers: [web],
      resolved_at: null,
      automatic: false,
    });
    const id = (created.body as { id: number }).id;
    const patched = await r
      .patch(`/api/incidents/${id}/`)
      .set(auth(admin))
      .send({ state: 'identified', resolved_at: '2020-01-01T00:00:00Z' });
    expect(patched.body).toEqual({ resolved_at: ['Only a resolved incident has a resolved_at.'] });
    expect((await r.patch(`/api/incidents/${id}/`).set(auth(admin)).send({ state: 'identified' })).body).toMatchObject({
      state: 'identified',
    });
    expect((await r.post(`/api/incidents/${id}/updates/`).set(auth(admin)).send({ state: 'resolved' })).body).toEqual({
      message: ['This field is required.'],
    });
    const resolved = await r
      .post(`/api/incidents/${id}/updates/`)
      .set(auth(admin))
      .send({ state: 'resolved', message: 'Fixed: a cache was cold.' });
    expect(resolved.status).toBe(201);
    expect(resolved.body).toMatchObject({
      state: 'resolved',
      updates: [{ state: 'investigating' }, { state: 'resolved', message: 'Fixed: a cache was cold.' }],
    });
    expect((resolved.body as { resolved_at: string | null }).resolved_at).not.toBeNull();
    const postmortem = await r.post(`/api/incidents/${id}/updates/`).set(auth(admin)).send({ message: 'Postmortem: …' });
    expect(postmortem.body).toMatchObject({ state: 'resolved' });
    expect((await r.get('/api/incidents/999999/').set(auth(reader))).status).toBe(404);
    const list = await r.get('/api/incidents/?open=false').set(auth(reader));
    expect((list.body as { results: Array<{ id: number }> }).results.map((i) => i.id)).toContain(id);

    // On the page: the operator's incident shows (its server is there), with its words.
    await waitFor(async () => {
      const s = (await r.get('/api/status-pages/acme/summary/')).body as Summary;
      return s.incidents.some((i) => i.id === id && i.updates.length === 3);
    });
    const events = (await api.monitor.store.outbox.list({ server: web })).map((m) => m.event);
    expect(events.slice(-2)).toEqual(['incident.opened', 'incident.resolved']);
  });
});
