// Certificate expiry from each https check's own handshake (also when the TLS session is
// resumed), and `server.cert_expiring` written once per certificate and threshold, on
// SQLite and PostgreSQL, by real checks of local HTTPS servers with openssl certificates.
import { once } from 'node:events';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createMonitor, type Monitor } from '../../src/monitor/monitor.js';
import { warningDue } from '../../src/monitor/notify/cert.js';
import { checkServer } from '../../src/monitor/checks/index.js';
import { trustOf } from '../../src/monitor/checks/sessions.js';
import { makeCert } from './certs.js';
import { DATABASES, serverInput, type TestDatabase } from './helpers.js';

const DAY = 86_400_000;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function httpsTarget(days: number): Promise<{ port: number; ca: string }> {
  const cert = makeCert({ days });
  const srv = https.createServer({ key: cert.key, cert: cert.cert }, (_req, res) => res.end('secure'));
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  cleanups.push(() => new Promise((r) => (srv.closeAllConnections(), srv.close(() => r()))));
  return { port: (srv.address() as AddressInfo).port, ca: cert.cert };
}

it('picks the most urgent warning due: 30, 14, 7 days before, 0 once expired', () => {
  const now = Date.now();
  expect(warningDue(now + 40 * DAY, now)).toBeUndefined();
  expect(warningDue(now + 29 * DAY, now)).toBe(30);
  expect(warningDue(now + 13 * DAY, now)).toBe(14);
  expect(warningDue(now + 5 * DAY, now)).toBe(7);
  expect(warningDue(now - 1000, now)).toBe(0);
});

it("reads the expiry from the check's own handshake, and keeps it when the next check resumes the TLS session", async () => {
  const target = await httpsTarget(13);
  const ca = [target.ca];
  const server = {
    ...serverInput({ name: 'site', protocol: 'https', port: target.port }),
    id: 1,
    push_token: null,
    depends_on: [],
    created_at: '',
    updated_at: '',
  };
  const seen: Array<string | undefined> = [];
  for (let i = 0; i < 2; i++) {
    const outcome = await checkServer(server, { ca });
    seen.push(outcome.cert_expires_at);
  }
  // The second check resumed the session the first one stored.
  expect(trustOf(ca).sessions.size).toBe(1);
  expect(seen[0]).toMatch(/^\d{4}-\d\d-\d\dT/);
  expect(seen[1]).toBe(seen[0]);
});

describe.each(DATABASES)('certificate expiry on %s', (_kind, make) => {
  async function open(db: TestDatabase, ca: string[]): Promise<Monitor> {
    const monitor = await createMonitor({ database: db.url, schedule: false, logger: false, ca, notifications: false, shared: false });
    cleanups.push(() => monitor.close());
    return monitor;
  }

  it('records cert_expires_at from each check, warns once per certificate and threshold, and counts no downtime', async () => {
    const db = await make();
    cleanups.push(() => db.drop());
    const targets = await Promise.all([httpsTarget(5), httpsTarget(13), httpsTarget(29)]);
    const ca = targets.map((t) => t.ca);
    const monitor = await open(db, ca);
    const ids: number[] = [];
    for (const [i, t] of targets.entries()) {
      const server = await monitor.store.servers.create(serverInput({ name: `site ${i}`, protocol: 'https', port: t.port }));
      await monitor.store.notifications.create({
        server: server.id,
        notification_type: 'webhook',
        recipient: 'http://127.0.0.1:9/hook',
        enabled: true,
        notify_on_failure: true,
        notify_on_recovery: true,
      });
      ids.push(server.id);
    }
    const first = await monitor.runNow(ids);
    expect(first).toHaveLength(3);
    for (const [i, days] of [5, 13, 29].entries()) {
      const report = first.find((r) => r.server.id === ids[i])!;
      expect(report.status.status).toBe('up');
      const left = (Date.parse(report.status.cert_expires_at!) - Date.now()) / DAY;
      expect(left).toBeGreaterThan(days - 1);
      expect(left).toBeLessThanOrEqual(days);
      expect((await monitor.store.results.status(ids[i]!))!.cert_expires_at).toBe(report.status.cert_expires_at);
    }
    // Again: the TLS sessions are resumed (no certificate on the socket), the expiry is still known, nothing is sent twice.
    const second = await monitor.runNow(ids);
    for (const report of second)
      expect(report.status.cert_expires_at).toBe(first.find((r) => r.server.id === report.server.id)!.status.cert_expires_at);
    const outbox = await monitor.store.outbox.list();
    expect(outbox.map((m) => m.event)).toEqual(['server.cert_expiring', 'server.cert_expiring', 'server.cert_expiring']);
    const byServer = new Map(outbox.map((m) => [m.server, m.payload as { days_left: number; cert_expires_at: string }]));
    expect(byServer.get(ids[0]!)!.days_left).toBe(4);
    expect(byServer.get(ids[1]!)!.days_left).toBe(12);
    expect(byServer.get(ids[2]!)!.days_left).toBe(28);
    expect(await monitor.store.db('monitor_cert_warnings').orderBy('server_id').pluck('days')).toEqual([7, 14, 30]);
    // Another instance on the same database sends nothing again.
    await monitor.close();
    const other = await open(db, ca);
    await other.runNow(ids);
    expect(await other.store.outbox.list()).toHaveLength(3);
    // A warning is not a state change: no downtime.
    expect((await other.store.history.changesSince(0, ids)).map((c) => c.status).filter((s) => s !== 'pending' && s !== 'up')).toEqual([]);
  });
});
