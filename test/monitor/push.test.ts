// Push monitors through the real app on a real port: heartbeats over HTTP, deadlines on
// the scheduler's timer, tokens kept from read-only users, on SQLite and PostgreSQL.
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import type { PingResult, ServerStatus } from '../../src/monitor/types.js';
import { DATABASES, waitFor, type TestDatabase } from './helpers.js';
import { READER, startApi, type ApiHarness } from './api-helpers.js';

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

interface Created {
  id: number;
  push_token: string;
}

async function createPush(api: ApiHarness, fields: Record<string, unknown> = {}): Promise<Created> {
  const admin = await api.login();
  const res = await request(api.url)
    .post('/api/servers/')
    .set(bearer(admin))
    .send({ name: 'nightly backup', protocol: 'push', ...fields });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as Created;
}

async function results(api: ApiHarness, id: number): Promise<PingResult[]> {
  return (await api.monitor.store.results.list({ serverIds: [id] })).results;
}

async function statusOf(api: ApiHarness, id: number): Promise<ServerStatus> {
  return (await api.monitor.store.results.status(id))!;
}

describe.each(DATABASES)('push monitors on %s', (_kind, make) => {
  it('gives a push server a token that admins read and read-only users do not; no host or port needed', async () => {
    const api = await open(make);
    const created = await createPush(api);
    expect(created).toMatchObject({ protocol: 'push', host: '', grace: 60, failure_threshold: 1, schedule: null });
    expect(created.push_token).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const reader = await api.login(READER);
    const one = await request(api.url).get(`/api/servers/${created.id}/`).set(bearer(reader));
    expect(one.body.push_token).toBeNull();
    const list = await request(api.url).get('/api/servers/').set(bearer(reader));
    expect(list.body.results[0].push_token).toBeNull();
    const admin = await api.login();
    expect((await request(api.url).get(`/api/servers/${created.id}/`).set(bearer(admin))).body.push_token).toBe(created.push_token);
    // An http server still needs its host.
    const http = await request(api.url).post('/api/servers/').set(bearer(admin)).send({ name: 'web', protocol: 'http' });
    expect(http.status).toBe(400);
    expect(http.body.host).toEqual(['This field is required.']);
  });

  it('records heartbeats as results: status, message, response time, /fail, exit codes, /start durations', async () => {
    const api = await open(make);
    const { id, push_token: token } = await createPush(api);
    const up = await request(api.url).get(`/api/push/${token}/?msg=backup%20done&ping=12.5`);
    expect(up.status).toBe(200);
    expect(up.body).toEqual({ ok: true });
    await waitFor(async () => (await results(api, id)).length === 1, 5000, 'the first heartbeat stored');
    expect((await results(api, id))[0]).toMatchObject({ status: 'success', response_time: 12.5, error_message: 'backup done' });
    expect(await statusOf(api, id)).toMatchObject({ status: 'up' });

    expect((await request(api.url).post(`/api/push/${token}/fail`).type('text').send('disk full')).status).toBe(200);
    await waitFor(async () => (await statusOf(api, id)).status === 'down', 5000, 'down after /fail');
    expect((await results(api, id))[0]).toMatchObject({ status: 'failure', error_message: 'reported down: disk full' });

    expect((await request(api.url).get(`/api/push/${token}/0`)).status).toBe(200);
    await waitFor(async () => (await statusOf(api, id)).status === 'up', 5000, 'up after exit code 0');
    expect((await request(api.url).get(`/api/push/${token}/3?msg=oops`)).status).toBe(200);
    await waitFor(async () => (await statusOf(api, id)).status === 'down', 5000, 'down after exit code 3');
    expect((await results(api, id))[0]).toMatchObject({ status: 'failure', error_message: 'exit code 3: oops' });
    expect((await request(api.url).get(`/api/push/${token}/?status=down`)).status).toBe(200);
    await waitFor(async () => (await results(api, id)).length === 5, 5000, 'the status=down heartbeat');
    expect((await results(api, id))[0]).toMatchObject({ status: 'failure', error_message: 'reported down' });

    // A run's duration, from its start to its end, is its response time.
    expect((await request(api.url).get(`/api/push/${token}/start`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 150));
    expect((await request(api.url).post(`/api/push/${token}/0`)).status).toBe(200);
    await waitFor(async () => (await results(api, id)).length === 6, 5000, 'the end of the run');
    const run = (await results(api, id))[0]!;
    expect(run.status).toBe('success');
    expect(run.response_time).toBeGreaterThanOrEqual(140);
    expect(run.response_time).toBeLessThan(5000);
  });

  it('answers 404 JSON for an unknown token or action, 400 for bad parameters, 405 for other methods, 429 over the rate', async () => {
    const api = await open(make);
    const { push_token: token } = await createPush(api);
    const unknown = await request(api.url).get('/api/push/aaaaaaaaaaaaaaaaaaaaaaaa/');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ detail: 'Not found.' });
    expect((await request(api.url).get('/api/push/short/')).status).toBe(404);
    expect((await request(api.url).get(`/api/push/${token}/256`)).status).toBe(404);
    expect((await request(api.url).get(`/api/push/${token}/nope`)).status).toBe(404);
    const bad = await request(api.url).get(`/api/push/${token}/?status=sideways`);
    expect(bad.status).toBe(400);
    expect(bad.body.status[0]).toMatch(/not a valid choice/);
    expect((await request(api.url).get(`/api/push/${token}/?ping=-1`)).status).toBe(400);
    expect((await request(api.url).delete(`/api/push/${token}/`)).status).toBe(405);
    const answers: number[] = [];
    for (let i = 0; i < 40; i++) answers.push((await request(api.url).get(`/api/push/${token}/`)).status);
    expect(answers).toContain(429);
    expect(answers.filter((s) => s === 200).length).toBeGreaterThanOrEqual(20);
  });

  it('rotates the token (admins only): the old one stops working at once', async () => {
    const api = await open(make);
    const { id, push_token: old } = await createPush(api);
    const reader = await api.login(READER);
    expect((await request(api.url).post(`/api/servers/${id}/rotate-push-token/`).set(bearer(reader))).status).toBe(403);
    const admin = await api.login();
    const rotated = await request(api.url).post(`/api/servers/${id}/rotate-push-token/`).set(bearer(admin));
    expect(rotated.status).toBe(200);
    const fresh = rotated.body.push_token as string;
    expect(fresh).not.toBe(old);
    await waitFor(async () => (await request(api.url).get(`/api/push/${old}/`)).status === 404, 5000, 'the old token refused');
    expect((await request(api.url).get(`/api/push/${fresh}/`)).status).toBe(200);
    const web = await request(api.url)
      .post('/api/servers/')
      .set(bearer(admin))
      .send({ name: 'web', protocol: 'http', host: '127.0.0.1', port: 80 });
    expect(web.body.push_token).toBeNull();
    expect((await request(api.url).post(`/api/servers/${web.body.id}/rotate-push-token/`).set(bearer(admin))).status).toBe(400);
    expect((await request(api.url).post('/api/servers/99999/rotate-push-token/').set(bearer(admin))).status).toBe(404);
  });

  it('marks a push server down when no heartbeat came within check_interval + grace, and a heartbeat brings it back', async () => {
    const api = await open(make, { schedule: true });
    const { id, push_token: token } = await createPush(api, { check_interval: 1, grace: 0 });
    await waitFor(async () => (await statusOf(api, id)).status === 'down', 8000, 'down after the deadline');
    const missed = (await results(api, id))[0]!;
    expect(missed).toMatchObject({ status: 'failure', error_message: 'no heartbeat within 1 s (check_interval 1 s + grace 0 s)' });
    expect((await request(api.url).get(`/api/push/${token}/`)).status).toBe(200);
    await waitFor(async () => (await statusOf(api, id)).status === 'up', 5000, 'up after a heartbeat');
    await waitFor(async () => (await statusOf(api, id)).status === 'down', 8000, 'down again after the next deadline');
    // runNow() never reaches a push server: nothing to check before its deadline.
    const { id: fresh } = await createPush(api, { name: 'other', check_interval: 3600 });
    await waitFor(() => api.monitor.stats().servers === 2, 5000, 'the second server tracked');
    expect(await api.monitor.runNow([fresh])).toEqual([]);
  });

  it('with a cron schedule, is down when the expected run has not reported within the grace', async () => {
    const api = await open(make, { schedule: true });
    const admin = await api.login();
    const bad = await request(api.url)
      .post('/api/servers/')
      .set(bearer(admin))
      .send({ name: 'x', protocol: 'push', schedule: 'every day', timezone: 'Mars/Olympus' });
    expect(bad.status).toBe(400);
    expect(bad.body.timezone[0]).toMatch(/IANA time zone/);
    const badCron = await request(api.url)
      .post('/api/servers/')
      .set(bearer(admin))
      .send({ name: 'x', protocol: 'push', schedule: 'every day' });
    expect(badCron.body.schedule[0]).toMatch(/valid cron expression/);
    // Every second (croner's six-field form), one second of grace.
    const { id } = await createPush(api, { schedule: '* * * * * *', timezone: 'Europe/Berlin', grace: 1 });
    await waitFor(async () => (await statusOf(api, id)).status === 'down', 8000, 'down after a missed run');
    expect((await results(api, id))[0]!.error_message).toMatch(
      /^no heartbeat for the run expected at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z \(schedule "\* \* \* \* \* \*" Europe\/Berlin, grace 1 s\)$/,
    );
  });
});
