import { get } from 'node:http';
import WebSocket from 'ws';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { DATABASES } from './helpers.js';
import { startApi, type ApiHarness } from './api-helpers.js';

// The monitor app as `lifeline monitor serve` runs it: the SSE stream on the API's router,
// the WebSocket on the same server, both authenticated by the API's own tokens.
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function open(): Promise<ApiHarness> {
  const db = await DATABASES[0]![1]();
  cleanups.push(() => db.drop());
  const api = await startApi(db);
  cleanups.push(() => api.shutdown());
  return api;
}

/** The stream's text until `until` appears (or 5 s pass). */
function readStream(url: string, until: RegExp): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { headers: { Accept: 'text/event-stream' } }, (res) => {
      let text = '';
      const done = () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, text });
      };
      const timer = setTimeout(done, 5000);
      res.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        if (until.test(text)) {
          clearTimeout(timer);
          done();
        }
      });
      res.on('end', () => {
        clearTimeout(timer);
        done();
      });
    });
    req.on('error', reject);
  });
}

describe('live updates in the monitor app', () => {
  it('serves /api/events/status/ with the API token, and refuses it without one', async () => {
    const api = await open();
    const token = await api.login();
    const created = await request(api.url)
      .post('/api/servers/')
      .set('Authorization', `Bearer ${token}`)
      .send({ name: 'live', protocol: 'tcp', host: '127.0.0.1', port: 9 });
    expect(created.status).toBe(201);
    const stream = await readStream(`${api.url}/api/events/status/?token=${token}`, /event: ping/);
    expect(stream.status).toBe(200);
    expect(stream.text).toMatch(/^retry: 5000/m);
    expect(stream.text).toMatch(/event: status\nid: \d+|id: \d+\nevent: status/);
    expect(stream.text).toMatch(new RegExp(`"server":${created.body.id}[,}]`));
    expect((await request(api.url).get('/api/events/status/')).status).toBe(401);
  });

  it('serves /ws/status/ on the same server: 4001 without a token, latest with one', async () => {
    const api = await open();
    api.attachSockets(api.running.server);
    const token = await api.login();
    const wsUrl = api.url.replace('http', 'ws');
    const refused = new WebSocket(`${wsUrl}/ws/status/`);
    const code = await new Promise<number>((resolve) => refused.on('close', (c) => resolve(c)));
    expect(code).toBe(4001);
    const ws = new WebSocket(`${wsUrl}/ws/status/?token=${token}`);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    ws.send(JSON.stringify({ action: 'latest' }));
    const answer = await new Promise<{ type: string }>((resolve) => ws.once('message', (data) => resolve(JSON.parse(String(data)))));
    expect(answer.type).toBe('latest');
    ws.close();
  });
});
