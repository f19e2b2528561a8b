// Managing users beyond the first admin: the admin API, one's own password, and
// `lifeline monitor user list|remove|passwd|admin` run as child processes against the
// database a running monitor app uses (SQLite file and PostgreSQL).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '../../src/monitor/auth/passwords.js';
import { ADMIN, READER, startApi, type ApiHarness } from './api-helpers.js';
import { DATABASES, waitFor, type TestDatabase } from './helpers.js';
import { SseClient } from './live-helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const CHECK_MS = 300;

async function open(make: () => Promise<TestDatabase>): Promise<{ api: ApiHarness; db: TestDatabase }> {
  const db = await make();
  cleanups.push(() => db.drop());
  const api = await startApi(db, { userCheckInterval: CHECK_MS });
  cleanups.push(() => api.shutdown());
  return { api, db };
}

function as(api: ApiHarness, token: string) {
  const auth = (r: request.Test) => r.set('authorization', `Bearer ${token}`);
  return {
    get: (path: string) => auth(request(api.url).get(path)),
    post: (path: string, body: object) => auth(request(api.url).post(path)).send(body),
    patch: (path: string, body: object) => auth(request(api.url).patch(path)).send(body),
    delete: (path: string) => auth(request(api.url).delete(path)),
  };
}

async function tokens(api: ApiHarness, user: { username: string; password: string }) {
  const res = await request(api.url).post('/api/auth/token/').send(user);
  return { status: res.status, ...(res.body as { access?: string; refresh?: string }) };
}

async function stream(api: ApiHarness, access: string): Promise<SseClient> {
  const client = await SseClient.open(`${api.url}/api/events/status/`, { Authorization: `Bearer ${access}` });
  cleanups.push(() => client.close());
  await client.waitForEvents(1);
  return client;
}

interface Run {
  code: number | null;
  out: string;
  err: string;
}

/** The built CLI in a child process, on the database the app uses. */
async function lifeline(db: TestDatabase, args: string[], input = ''): Promise<Run> {
  const child = spawn(process.execPath, [resolve('dist/cli/main.js'), 'monitor', ...args, '--database', db.url], {
    env: { ...process.env, DATABASE_URL: '' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  child.stdin.end(input);
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, out, err };
}

describe.each(DATABASES)('users (%s)', (_name, make) => {
  it('admins list, create, read, change and remove users; the password is write-only; read-only users get 403', async () => {
    const { api } = await open(make);
    const admin = as(api, await api.login());

    const list = await admin.get('/api/users/');
    expect(list.status).toBe(200);
    expect(list.body).toMatchObject({
      count: 2,
      results: [
        { username: 'admin', is_staff: true, is_active: true },
        { username: 'reader', is_staff: false, is_active: true },
      ],
    });

    const bad = await admin.post('/api/users/', { username: 'no spaces', password: 'short' });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({
      username: ['Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.'],
      password: ['This password is too short. It must contain at least 8 characters.'],
    });
    expect((await admin.post('/api/users/', {})).body).toEqual({
      username: ['This field is required.'],
      password: ['This field is required.'],
    });
    expect((await admin.post('/api/users/', { username: 'reader', password: 'long-enough-1' })).body).toEqual({
      username: ['A user with that username already exists.'],
    });

    const created = await admin.post('/api/users/', { username: 'ada', password: 'ada-password-1', is_staff: false });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(Number),
      username: 'ada',
      is_staff: false,
      is_active: true,
      date_joined: expect.any(String),
    });
    expect(JSON.stringify(created.body)).not.toMatch(/password|scrypt/);
    const id = (created.body as { id: number }).id;
    expect((await tokens(api, { username: 'ada', password: 'ada-password-1' })).status).toBe(200);

    const ada = as(api, (await tokens(api, { username: 'ada', password: 'ada-password-1' })).access!);
    expect((await ada.get('/api/users/')).status).toBe(403);
    expect((await ada.post('/api/users/', { username: 'eve', password: 'eve-password-1' })).status).toBe(403);

    const promoted = await admin.patch(`/api/users/${id}/`, { is_staff: true, password: 'ada-password-2' });
    expect(promoted.status).toBe(200);
    expect(promoted.body).toMatchObject({ id, username: 'ada', is_staff: true });
    expect((await tokens(api, { username: 'ada', password: 'ada-password-1' })).status).toBe(401);
    expect((await tokens(api, { username: 'ada', password: 'ada-password-2' })).status).toBe(200);
    // The change reaches her next request at once on this instance: she is an admin now.
    expect((await ada.get('/api/users/')).status).toBe(200);
    expect((await admin.get(`/api/users/${id}/`)).body).toMatchObject({ id, is_staff: true });
    expect((await admin.patch(`/api/users/${id}/`, { username: 'reader' })).body).toEqual({
      username: ['A user with that username already exists.'],
    });
    expect((await admin.patch(`/api/users/${id}/`, { is_active: 'maybe' })).body).toEqual({ is_active: ['Must be a valid boolean.'] });
    expect(
      (
        await request(api.url)
          .put(`/api/users/${id}/`)
          .set('authorization', `Bearer ${await api.login()}`)
          .send({})
      ).status,
    ).toBe(405);

    expect((await admin.delete(`/api/users/${id}/`)).status).toBe(204);
    expect((await admin.get(`/api/users/${id}/`)).status).toBe(404);
    expect((await admin.delete(`/api/users/${id}/`)).status).toBe(404);
    expect((await admin.get('/api/users/abc/')).status).toBe(404);
  });

  it('the last active admin cannot be removed, deactivated or demoted (400); two admins demoting each other at once leave one', async () => {
    const { api } = await open(make);
    const admin = as(api, await api.login());
    const me = (await api.monitor.store.users.byUsername(ADMIN.username))!.id;
    const last = 'The last active admin cannot be removed, deactivated or demoted: make another user an admin first.';
    expect((await admin.delete(`/api/users/${me}/`)).body).toEqual({ non_field_errors: [last] });
    expect((await admin.patch(`/api/users/${me}/`, { is_staff: false })).body).toEqual({ is_staff: [last] });
    expect((await admin.patch(`/api/users/${me}/`, { is_active: false })).body).toEqual({ is_active: [last] });
    expect(await api.monitor.store.users.get(me)).toMatchObject({ is_admin: true, is_active: true });

    const reader = (await api.monitor.store.users.byUsername(READER.username))!.id;
    expect((await admin.patch(`/api/users/${reader}/`, { is_staff: true })).status).toBe(200);
    const other = as(api, await api.login(READER));
    const [a, b] = await Promise.all([
      admin.patch(`/api/users/${reader}/`, { is_staff: false }),
      other.patch(`/api/users/${me}/`, { is_staff: false }),
    ]);
    // One wins; the other is refused as the last admin (400) or, demoted already, as read-only (403).
    expect([a.status, b.status].filter((status) => status === 200)).toHaveLength(1);
    expect([a.status, b.status].filter((status) => status === 400 || status === 403)).toHaveLength(1);
    const admins = (await api.monitor.store.users.list()).filter((u) => u.is_admin && u.is_active);
    expect(admins).toHaveLength(1);
  });

  it('a user changes their own password with the old one; a wrong old password is a 400 field error', async () => {
    const { api } = await open(make);
    const reader = as(api, await api.login(READER));
    expect((await request(api.url).post('/api/auth/password/').send({ old_password: 'x', new_password: 'y' })).status).toBe(401);
    const wrong = await reader.post('/api/auth/password/', { old_password: 'not-it', new_password: 'reader-password-2' });
    expect(wrong.status).toBe(400);
    expect(wrong.body).toEqual({ old_password: ['Your old password was entered incorrectly. Please enter it again.'] });
    expect((await reader.post('/api/auth/password/', { old_password: READER.password })).body).toEqual({
      new_password: ['This field is required.'],
    });
    expect((await reader.post('/api/auth/password/', { old_password: READER.password, new_password: 'short' })).body).toEqual({
      new_password: ['This password is too short. It must contain at least 8 characters.'],
    });
    const ok = await reader.post('/api/auth/password/', { old_password: READER.password, new_password: 'reader-password-2' });
    expect(ok.status).toBe(200);
    expect((await tokens(api, READER)).status).toBe(401);
    expect((await tokens(api, { username: READER.username, password: 'reader-password-2' })).status).toBe(200);
  });

  it('removing or deactivating a user through the API ends their streams within the re-check interval and their refresh tokens stop working', async () => {
    const { api } = await open(make);
    const admin = as(api, await api.login());
    for (const change of ['deactivate', 'remove'] as const) {
      const username = `user-${change}`;
      const user = await api.monitor.store.users.create({ username, password_hash: await hashPassword('a-password-1') });
      const t = await tokens(api, { username, password: 'a-password-1' });
      const sse = await stream(api, t.access!);
      const at = Date.now();
      const res =
        change === 'remove'
          ? await admin.delete(`/api/users/${user.id}/`)
          : await admin.patch(`/api/users/${user.id}/`, { is_active: false });
      expect(res.status).toBeLessThan(300);
      await waitFor(() => sse.done, CHECK_MS * 4, `the stream of the ${change}d user to end`);
      expect(Date.now() - at).toBeLessThan(CHECK_MS * 3);
      expect(sse.events.at(-1)?.event).toBe('unauthorized');
      expect((await request(api.url).post('/api/auth/token/refresh/').send({ refresh: t.refresh })).status).toBe(401);
    }
  });

  it('lifeline monitor user list|admin|passwd|remove in child processes, on the running app’s database', async () => {
    const { api, db } = await open(make);
    const admin = (await api.monitor.store.users.byUsername(ADMIN.username))!;

    const listed = await lifeline(db, ['user', 'list']);
    expect(listed.code, listed.err).toBe(0);
    expect(listed.out).toMatch(/^ID\s+NAME\s+ROLE\s+STATE\n1\s+admin\s+admin\s+active\n2\s+reader\s+read-only\s+active\n$/);
    const asJson = await lifeline(db, ['user', 'list', '--json']);
    expect(JSON.parse(asJson.out)).toEqual([
      expect.objectContaining({ username: 'admin', is_staff: true, is_active: true }),
      expect.objectContaining({ username: 'reader', is_staff: false, is_active: true }),
    ]);

    // The last admin stays: one line, exit 1.
    for (const args of [
      ['user', 'remove', 'admin'],
      ['user', 'admin', 'admin', '--revoke'],
    ]) {
      const refused = await lifeline(db, args);
      expect({ code: refused.code, out: refused.out }).toEqual({ code: 1, out: '' });
      expect(refused.err.trimEnd().split('\n')).toEqual([expect.stringMatching(/^lifeline: user admin is the last active admin/)]);
    }
    const missing = await lifeline(db, ['user', 'remove', 'nobody']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/no user named "nobody"/);

    const promoted = await lifeline(db, ['user', 'admin', 'reader']);
    expect(promoted.out).toBe('reader is an admin now\n');
    expect(await api.monitor.store.users.byUsername(READER.username)).toMatchObject({ is_admin: true });
    const revoked = await lifeline(db, ['user', 'admin', 'admin', '--revoke']);
    expect(revoked.code, revoked.err).toBe(0);
    expect(await api.monitor.store.users.get(admin.id)).toMatchObject({ is_admin: false });

    const passwd = await lifeline(db, ['user', 'passwd', 'reader'], 'reader-password-9\n');
    expect(passwd.code, passwd.err).toBe(0);
    expect(await verifyPassword('reader-password-9', (await api.monitor.store.users.byUsername('reader'))!.password_hash)).toBe(true);
    const short = await lifeline(db, ['user', 'passwd', 'reader'], 'short\n');
    expect(short.code).toBe(1);
    expect(short.err).toMatch(/at least 8 characters/);

    // Removed by another process: the app's stream of that user ends within the re-check interval, the refresh token is refused.
    const t = await tokens(api, ADMIN);
    const sse = await stream(api, t.access!);
    const at = Date.now();
    const removed = await lifeline(db, ['user', 'remove', 'admin']);
    expect(removed.code, removed.err).toBe(0);
    expect(removed.out).toMatch(/^removed user admin/);
    await waitFor(() => sse.done, CHECK_MS * 4, 'the stream of the removed user to end');
    console.log(
      `users: stream ended ${Date.now() - at} ms after the CLI's remove began (child process included; re-check every ${CHECK_MS} ms)`,
    );
    expect((await request(api.url).post('/api/auth/token/refresh/').send({ refresh: t.refresh })).status).toBe(401);
    expect((await lifeline(db, ['user', 'list'])).out).not.toMatch(/\badmin\s+admin/);
  }, 60_000);
});
