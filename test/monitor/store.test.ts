import { statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type MonitorStore } from '../../src/monitor/store/index.js';
import type { ServerInput, ServerStatus } from '../../src/monitor/types.js';
import { validateServer } from '../../src/monitor/validate.js';
import { DATABASES, sqliteDatabase, type TestDatabase } from './helpers.js';

function input(fields: Record<string, unknown>): ServerInput {
  const checked = validateServer({ name: 'api', protocol: 'http', host: '127.0.0.1', port: 8080, ...fields });
  if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
  return checked.value;
}

function statusOf(server: number, fields: Partial<ServerStatus> = {}): ServerStatus {
  const now = new Date().toISOString();
  return {
    id: 0,
    server,
    status: 'up',
    uptime_percentage: 100,
    uptime: { '24h': 100, '7d': 100, '30d': 100 },
    last_check: now,
    consecutive_failures: 0,
    consecutive_successes: 1,
    message: 'OK',
    cert_expires_at: null,
    last_change: now,
    ...fields,
  };
}

describe('a knex instance of the caller', () => {
  it('is used as given, migrated, and left open on close', async () => {
    const database = sqliteDatabase();
    const { default: knex } = await import('knex');
    const db = knex({ client: 'better-sqlite3', connection: { filename: database.url }, useNullAsDefault: true });
    try {
      const store = await openStore({ database: db });
      expect(store.dialect).toBe('sqlite');
      expect(await db.schema.hasTable('monitor_servers')).toBe(true);
      await store.close();
      expect(await db.raw('select 1 as one')).toEqual([{ one: 1 }]);
    } finally {
      await db.destroy();
      await database.drop();
    }
  });
});

describe.each(DATABASES)('monitor store on %s', (kind, make) => {
  let database: TestDatabase;
  let store: MonitorStore;
  beforeAll(async () => {
    database = await make();
    store = await openStore({ database: database.url });
  });
  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  it('creates the monitor_ tables with versioned knex migrations, and a second migrate applies nothing', async () => {
    for (const table of [
      'monitor_servers',
      'monitor_ping_results',
      'monitor_server_status',
      'monitor_status_changes',
      'monitor_runs',
      'monitor_rollups',
      'monitor_notification_configs',
      'monitor_users',
      'monitor_settings',
      'monitor_notification_outbox',
      'monitor_notification_deliveries',
      'monitor_live_counter',
      'monitor_maintenance_windows',
      'monitor_maintenance_servers',
      'monitor_status_pages',
      'monitor_status_page_servers',
      'monitor_incidents',
      'monitor_incident_servers',
      'monitor_incident_updates',
      'monitor_cert_warnings',
      'monitor_knex_migrations',
    ]) {
      expect(await store.db.schema.hasTable(table), table).toBe(true);
    }
    expect(await store.migrate()).toEqual([]);
    const [row] = await store.db('monitor_knex_migrations').select('name');
    expect(row.name).toBe('0001_initial');
    expect((await store.db('monitor_knex_migrations').orderBy('id')).map((m: { name: string }) => m.name)).toEqual([
      '0001_initial',
      '0002_claims',
      '0003_notifications',
      '0004_live_counter',
      '0020_maintenance_windows',
      '0021_status_pages',
      '0022_incidents',
      '0030_notification_channels',
      '0031_dependencies',
      '0040_push_monitors',
      '0041_assertions',
      '0042_cert_expiry',
    ]);
  });

  if (kind === 'SQLite') {
    it('opens SQLite in WAL mode with a busy timeout and enforced foreign keys', async () => {
      expect(await store.db.raw('pragma journal_mode')).toEqual([{ journal_mode: 'wal' }]);
      expect(await store.db.raw('pragma busy_timeout')).toEqual([{ timeout: 5000 }]);
      expect(await store.db.raw('pragma foreign_keys')).toEqual([{ foreign_keys: 1 }]);
    });

    it('creates the database file readable by its owner only (it holds password hashes and secrets)', () => {
      const file = store.db.client.config.connection.filename as string;
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(statSync(`${file}-wal`).mode & 0o777).toBe(0o600);
    });
  }

  it('adds a server with a pending status and its first state change, and announces it', async () => {
    const seen: string[] = [];
    const off = store.events.on('server', (e) => seen.push(e.action));
    const server = await store.servers.create(input({ name: 'Prod API', tags: ['prod', 'eu'] }));
    off();
    expect(server).toMatchObject({ name: 'Prod API', protocol: 'http', port: 8080, path: '/', tags: ['prod', 'eu'], enabled: true });
    expect(server.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const got = await store.servers.get(server.id);
    expect(got?.current_status).toMatchObject({ server: server.id, status: 'pending', consecutive_failures: 0, last_check: null });
    const changes = await store.history.changesSince(0, [server.id]);
    expect(changes).toEqual([{ server: server.id, status: 'pending', at: Date.parse(server.created_at) }]);
    expect(seen).toEqual(['created']);
  });

  it('lists servers by page and by case-insensitive name, with their status', async () => {
    await store.servers.create(input({ name: 'staging web' }));
    await store.servers.create(input({ name: 'PROD db', protocol: 'tcp', port: 5432 }));
    const page = await store.servers.list({ limit: 2, offset: 0 });
    expect(page.count).toBe(3);
    expect(page.results).toHaveLength(2);
    const prod = await store.servers.list({ query: 'prod' });
    expect(prod.results.map((s) => s.name)).toEqual(['Prod API', 'PROD db']);
    expect(prod.results[1]!.current_status?.status).toBe('pending');
    // Wildcards in the query are plain characters.
    expect((await store.servers.list({ query: '%' })).count).toBe(0);
    const literal = await store.servers.create(input({ name: '100% up_time uptime' }));
    expect((await store.servers.list({ query: '0% UP_' })).results.map((s) => s.name)).toEqual(['100% up_time uptime']);
    expect((await store.servers.list({ query: 'u_t' })).count).toBe(0);
    await store.servers.remove(literal.id);
  });

  it('updates and removes a server; removal takes its history with it', async () => {
    const server = await store.servers.create(input({ name: 'temp' }));
    const updated = await store.servers.update(server.id, { ...input({ name: 'temp 2' }), check_interval: 30 });
    expect(updated).toMatchObject({ id: server.id, name: 'temp 2', check_interval: 30 });
    await store.results.record([
      {
        ping: {
          server: server.id,
          status: 'success',
          response_time: 3,
          status_code: 200,
          error_message: null,
          check_timestamp: new Date().toISOString(),
        },
        status: statusOf(server.id),
      },
    ]);
    expect(await store.servers.remove(server.id)).toBe(true);
    expect(await store.servers.get(server.id)).toBeUndefined();
    expect((await store.results.list({ serverIds: [server.id] })).count).toBe(0);
    expect(await store.results.status(server.id)).toBeUndefined();
    expect(await store.servers.remove(server.id)).toBe(false);
    expect(await store.servers.update(server.id, input({}))).toBeUndefined();
  });

  it('writes a batch of checks with one INSERT of results per 100 checks, and drops checks of removed servers', async () => {
    const a = await store.servers.create(input({ name: 'batch a' }));
    const b = await store.servers.create(input({ name: 'batch b' }));
    const gone = await store.servers.create(input({ name: 'batch gone' }));
    await store.servers.remove(gone.id);
    const t0 = Date.now();
    const records = Array.from({ length: 150 }, (_, i) => {
      const server = i === 149 ? gone.id : i % 2 ? a.id : b.id;
      return {
        ping: {
          server,
          status: 'success' as const,
          response_time: i,
          status_code: 200,
          error_message: null,
          check_timestamp: new Date(t0 + i).toISOString(),
        },
        status: statusOf(server, { consecutive_successes: i }),
        ...(i === 0 ? { change: { status: 'up' as const, at: t0 } } : {}),
      };
    });
    const inserts: string[] = [];
    const onQuery = (q: { sql: string }) => {
      if (/^insert into [`"]monitor_ping_results[`"]/i.test(q.sql)) inserts.push(q.sql);
    };
    store.db.on('query', onQuery);
    const stored = await store.results.record(records);
    store.db.off('query', onQuery);
    expect(inserts).toHaveLength(2);
    expect(stored).toHaveLength(149);
    expect(stored.every((s, i) => s.ping.response_time === i && s.ping.id > 0)).toBe(true);
    const newest = await store.results.list({ serverIds: [a.id], limit: 2 });
    expect(newest.count).toBe(74);
    expect(newest.results.map((p) => p.response_time)).toEqual([147, 145]);
    expect((await store.results.status(a.id))?.consecutive_successes).toBe(147);
    expect((await store.results.status(b.id))?.consecutive_successes).toBe(148);
    const since = await store.results.list({ serverIds: [a.id, b.id], since: new Date(t0 + 140).toISOString() });
    expect(since.count).toBe(9);
    const changes = await store.history.changesSince(t0);
    expect(changes).toContainEqual({ server: b.id, status: 'up', at: t0 });
  });

  it('rolls an hour up into count, failures, average and p95, and prunes old rows in batches', async () => {
    const server = await store.servers.create(input({ name: 'rollup' }));
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 10 * 86_400_000;
    const records = Array.from({ length: 20 }, (_, i) => ({
      ping: {
        server: server.id,
        status: i < 2 ? ('failure' as const) : ('success' as const),
        response_time: i < 2 ? null : i,
        status_code: i < 2 ? null : 200,
        error_message: i < 2 ? 'connection refused' : null,
        check_timestamp: new Date(hour + i * 60_000).toISOString(),
      },
      status: statusOf(server.id),
    }));
    await store.results.record(records);
    expect(await store.history.rollUpHour(hour)).toBeGreaterThanOrEqual(1);
    expect(await store.history.rollUpHour(hour)).toBeGreaterThanOrEqual(1); // idempotent
    const [rollup] = await store.history.rollups(server.id, hour);
    expect(rollup).toEqual({
      server: server.id,
      hour: new Date(hour).toISOString(),
      count: 20,
      failures: 2,
      avg_response_ms: 10.5,
      p95_response_ms: 19,
    });
    const deleted = await store.history.prune('monitor_ping_results', Date.now() - 7 * 86_400_000, { batch: 7 });
    expect(deleted).toBe(20);
    expect((await store.results.list({ serverIds: [server.id] })).count).toBe(0);
  });

  it('keeps settings, users and notification configs; a webhook secret is stored but never listed', async () => {
    const first = await store.settings.getOrCreate('jwt_secret', () => 'one');
    const second = await store.settings.getOrCreate('jwt_secret', () => 'two');
    expect([first, second]).toEqual(['one', 'one']);
    await store.settings.set('jwt_secret', 'three');
    expect(await store.settings.get('jwt_secret')).toBe('three');

    const user = await store.users.create({ username: 'ada', password_hash: 'scrypt$x', is_admin: true });
    expect(user).toMatchObject({ username: 'ada', is_admin: true, is_active: true });
    expect(await store.users.byUsername('ada')).toMatchObject({ id: user.id, password_hash: 'scrypt$x' });
    await expect(store.users.create({ username: 'ada', password_hash: 'y' })).rejects.toThrow(/unique|UNIQUE/);

    const server = await store.servers.create(input({ name: 'notified' }));
    const config = await store.notifications.create({
      server: server.id,
      notification_type: 'webhook',
      recipient: 'https://example.com/hook',
      enabled: true,
      notify_on_failure: true,
      notify_on_recovery: false,
      secret: 'whsec_abc',
    });
    expect(config).not.toHaveProperty('secret');
    expect(JSON.stringify(await store.notifications.list())).not.toContain('whsec_abc');
    expect(await store.notifications.secretOf(config.id)).toBe('whsec_abc');
    await store.notifications.update(config.id, { ...config, enabled: false });
    expect(await store.notifications.secretOf(config.id)).toBe('whsec_abc');
    expect((await store.notifications.get(config.id))?.enabled).toBe(false);
    expect(await store.notifications.remove(config.id)).toBe(true);
  });
});
