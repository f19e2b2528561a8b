import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { hashPassword, verifyPassword } from '../../src/monitor/auth/passwords.js';
import { configuredSecret, monitorProduction, seedAdmin } from '../../src/monitor/auth/setup.js';
import { Tokens } from '../../src/monitor/auth/tokens.js';
import { openStore } from '../../src/monitor/store/index.js';
import { sqliteDatabase, waitFor } from './helpers.js';
import { ADMIN, startApi } from './api-helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('monitor passwords', () => {
  it('hashes with scrypt and a random salt, and verifies only the right password', async () => {
    const a = await hashPassword('correct horse');
    const b = await hashPassword('correct horse');
    expect(a).toMatch(/^scrypt\$32768\$8\$1\$[\w-]{22}\$[\w-]{86}$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('correct horse', a)).toBe(true);
    expect(await verifyPassword('correct horsf', a)).toBe(false);
    expect(await verifyPassword('correct horse', 'plain')).toBe(false);
    expect(await verifyPassword('correct horse', 'scrypt$99999999$8$1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA')).toBe(false);
  });
});

describe('monitor tokens and secrets', () => {
  it('signs HS256 tokens with token_type, user_id, jti, iat, exp; another secret or alg none is refused', async () => {
    const tokens = new Tokens('k'.repeat(32));
    const access = await tokens.sign('access', 7);
    const [header, payload] = access
      .split('.')
      .slice(0, 2)
      .map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>);
    expect(header).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(payload).toMatchObject({ token_type: 'access', user_id: 7 });
    expect((payload!.exp as number) - (payload!.iat as number)).toBe(300);
    await expect(tokens.verify(access, 'access')).resolves.toMatchObject({ user_id: 7 });
    await expect(tokens.verify(access, 'refresh')).rejects.toThrow('Token has wrong type');
    await expect(new Tokens('j'.repeat(32)).verify(access)).rejects.toThrow('Token is invalid or expired');
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${access.split('.')[1]}.`;
    await expect(tokens.verify(none)).rejects.toThrow('Token is invalid or expired');
  });

  it('needs MONITOR_SECRET in production (NODE_ENV, or ENVIRONMENT=production|staging), of at least 32 characters', () => {
    expect(monitorProduction({ NODE_ENV: 'production' })).toBe(true);
    expect(monitorProduction({ ENVIRONMENT: 'staging' })).toBe(true);
    expect(monitorProduction({ ENVIRONMENT: 'development' })).toBe(false);
    expect(() => configuredSecret(undefined, true)).toThrow(ConfigError);
    expect(() => configuredSecret('short', false)).toThrow(/MONITOR_SECRET must be at least 32 characters/);
    expect(configuredSecret(undefined, false)).toBeUndefined();
  });

  it('outside production generates one secret, kept in the database: tokens survive a restart', async () => {
    const db = sqliteDatabase();
    cleanups.push(() => db.drop());
    const first = await startApi(db);
    const token = await first.login();
    await first.shutdown();
    const second = await startApi(db);
    cleanups.push(() => second.shutdown());
    expect((await request(second.url).get('/api/servers/').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    expect(await second.monitor.store.settings.get('jwt_secret')).toMatch(/^[\w-]{64}$/);
  });

  it('refuses a well-signed token of a user that does not exist, and one signed with another algorithm', async () => {
    const db = sqliteDatabase();
    cleanups.push(() => db.drop());
    const api = await startApi(db);
    cleanups.push(() => api.shutdown());
    const secret = (await api.monitor.store.settings.get('jwt_secret'))!;
    for (const id of [999, 2 ** 40]) {
      const ghost = await new Tokens(secret).sign('access', id);
      const res = await request(api.url).get('/api/servers/').set('Authorization', `Bearer ${ghost}`);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ detail: 'User not found', code: 'user_not_found' });
    }
    const { SignJWT } = await import('jose');
    const hs512 = await new SignJWT({ token_type: 'access', user_id: 1 })
      .setProtectedHeader({ alg: 'HS512' })
      .setJti('x')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(secret));
    expect((await request(api.url).get('/api/servers/').set('Authorization', `Bearer ${hs512}`)).status).toBe(401);
  });

  it('expires access tokens after their lifetime (401), while the refresh token still gives a new one', async () => {
    const db = sqliteDatabase();
    cleanups.push(() => db.drop());
    const api = await startApi(db, { tokenLifetimes: { access: 1 } });
    cleanups.push(() => api.shutdown());
    const { access, refresh } = (await request(api.url).post('/api/auth/token/').send(ADMIN)).body as { access: string; refresh: string };
    // Wait for the token's own `exp` (seconds) to pass, not a guess of it.
    const exp = (JSON.parse(Buffer.from(access.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp;
    await waitFor(() => Date.now() >= exp * 1000 + 1, 3000, 'the access token to expire');
    const expired = await request(api.url).get('/api/servers/').set('Authorization', `Bearer ${access}`);
    expect(expired.status).toBe(401);
    const again = await request(api.url).post('/api/auth/token/refresh/').send({ refresh });
    expect(again.status).toBe(200);
  });

  it('creates the first admin only when no user exists, and refuses an inactive user', async () => {
    const db = sqliteDatabase();
    cleanups.push(() => db.drop());
    const store = await openStore({ database: db.url });
    cleanups.push(() => store.close());
    expect(await seedAdmin(store, { username: 'first', password: 'first-password' })).toBe('first');
    expect(await seedAdmin(store, { username: 'second', password: 'second-password' })).toBeUndefined();
    expect((await store.users.list()).map((u) => [u.username, u.is_admin])).toEqual([['first', true]]);
    await expect(seedAdmin(store, { username: 'x', password: 'short' })).rejects.toThrow(/at least 8 characters/);

    const api = await startApi(db);
    cleanups.push(() => api.shutdown());
    const user = await api.monitor.store.users.byUsername('first');
    await api.monitor.store.users.update(user!.id, { is_active: false });
    expect((await request(api.url).post('/api/auth/token/').send({ username: 'first', password: 'first-password' })).status).toBe(401);
  });
});
