import request from 'supertest';
import { createMonitorApp, type MonitorApp } from '../../src/monitor/app.js';
import type { MonitorWebOptions } from '../../src/monitor/service.js';
import { hashPassword } from '../../src/monitor/auth/passwords.js';
import { listen, type Running } from '../helpers/server.js';
import type { TestDatabase } from './helpers.js';

export const ADMIN = { username: 'admin', password: 'admin-password-1' };
export const READER = { username: 'reader', password: 'reader-password-1' };

export interface ApiHarness extends MonitorApp {
  url: string;
  running: Running;
  /** An access token of the user. */
  login(user?: { username: string; password: string }): Promise<string>;
  shutdown(): Promise<void>;
}

/** The whole monitor app on a real port, with an admin and a read-only user. */
export async function startApi(db: TestDatabase, options: MonitorWebOptions = {}): Promise<ApiHarness> {
  const monitorApp = await createMonitorApp({ database: db.url, logger: false, schedule: false, admin: ADMIN, ...options });
  if (!(await monitorApp.monitor.store.users.byUsername(READER.username))) {
    await monitorApp.monitor.store.users.create({ username: READER.username, password_hash: await hashPassword(READER.password) });
  }
  const running = await listen(monitorApp.app);
  return {
    ...monitorApp,
    url: running.url,
    running,
    async login(user = ADMIN) {
      const res = await request(running.url).post('/api/auth/token/').send(user);
      if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
      return (res.body as { access: string }).access;
    },
    async shutdown() {
      await running.close();
      await monitorApp.close();
    },
  };
}
