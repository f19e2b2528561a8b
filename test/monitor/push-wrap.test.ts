// `lifeline monitor wrap` as a cron job runs it: the built CLI in a child process, running
// a real command and reporting to the monitor app on a real port.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import type { PingResult } from '../../src/monitor/types.js';
import { DATABASES, waitFor, type TestDatabase } from './helpers.js';
import { startApi, type ApiHarness } from './api-helpers.js';

const cli = resolve('dist/cli/main.js');
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Run {
  code: number | null;
  out: string;
  err: string;
}

function lifeline(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((done) => child.on('close', (code) => done({ code, out, err })));
}

describe.each(DATABASES)('lifeline monitor wrap on %s', (_kind, make) => {
  async function open(): Promise<{ api: ApiHarness; db: TestDatabase; id: number; token: string }> {
    const db = await make();
    cleanups.push(() => db.drop());
    const api = await startApi(db);
    cleanups.push(() => api.shutdown());
    const admin = await api.login();
    const res = await request(api.url)
      .post('/api/servers/')
      .set({ Authorization: `Bearer ${admin}` })
      .send({ name: 'nightly backup', protocol: 'push' });
    return { api, db, id: res.body.id as number, token: res.body.push_token as string };
  }
  const latest = async (api: ApiHarness, id: number): Promise<PingResult | undefined> =>
    (await api.monitor.store.results.list({ serverIds: [id], limit: 1 })).results[0];

  it('runs the command, reports its failure with the last output lines, and exits with its code', async () => {
    const { api, db, id } = await open();
    const script = "console.log('copied 3 files'); console.error('disk full'); setTimeout(() => process.exit(3), 200)";
    const run = await lifeline([
      'monitor',
      'wrap',
      'nightly backup',
      '--url',
      api.url,
      '--database',
      db.url,
      '--',
      process.execPath,
      '-e',
      script,
    ]);
    expect(run.code).toBe(3);
    expect(run.out).toContain('copied 3 files');
    expect(run.err).toContain('disk full');
    await waitFor(async () => (await latest(api, id)) !== undefined, 5000, 'the reported exit');
    const ping = (await latest(api, id))!;
    expect(ping).toMatchObject({ status: 'failure', error_message: 'exit code 3: copied 3 files\ndisk full' });
    // Its start was reported: the run's duration is the response time.
    expect(ping.response_time).toBeGreaterThanOrEqual(190);
    expect((await api.monitor.store.results.status(id))!.status).toBe('down');
  });

  it('reports success by id with MONITOR_URL, or with --token and no database; exit 127 for a missing command', async () => {
    const { api, db, id, token } = await open();
    const ok = await lifeline(['monitor', 'wrap', String(id), '--database', db.url, '--', process.execPath, '-e', "console.log('fine')"], {
      MONITOR_URL: api.url,
    });
    expect(ok.code).toBe(0);
    await waitFor(async () => (await latest(api, id))?.status === 'success', 5000, 'the success');
    expect((await latest(api, id))!.error_message).toBe('fine');
    const missing = await lifeline(['monitor', 'wrap', 'x', '--token', token, '--url', api.url, '--', 'no-such-command-here']);
    expect(missing.code).toBe(127);
    await waitFor(async () => (await latest(api, id))?.status === 'failure', 5000, 'the missing command reported');
    expect((await latest(api, id))!.error_message).toBe('exit code 127: command not found: no-such-command-here');
    const noUrl = await lifeline(['monitor', 'wrap', 'x', '--token', token, '--', 'true'], { MONITOR_URL: '' });
    expect(noUrl.code).toBe(1);
    expect(noUrl.err).toMatch(/--url or MONITOR_URL/);
    const notPush = await lifeline(['monitor', 'wrap', 'nobody', '--url', api.url, '--database', db.url, '--', 'true']);
    expect(notPush.code).toBe(1);
    expect(notPush.err).toMatch(/no server "nobody"/);
  });
});
