import { once } from 'node:events';
import { request, type IncomingHttpHeaders } from 'node:http';
import express from 'express';
import { jwtVerify, SignJWT } from 'jose';
import WebSocket from 'ws';
import { serve, type Served } from '../../src/lifecycle/serve.js';
import {
  attachMonitorSockets,
  createLiveUpdates,
  statusStream,
  type LiveUpdates,
  type LiveUpdatesOptions,
  type LiveUser,
  type MonitorSockets,
  type MonitorSocketsOptions,
  type StatusStreamOptions,
} from '../../src/monitor/live/index.js';
import { createMonitor, type Monitor } from '../../src/monitor/monitor.js';
import { validateServer } from '../../src/monitor/validate.js';
import type { Server, ServerInput } from '../../src/monitor/types.js';
import { waitFor } from './helpers.js';

/** A real JWT check (jose, HS256), as the API's verification will be. */
const SECRET = new TextEncoder().encode('live-tests-secret-live-tests-secret');

export async function tokenFor(user: LiveUser, expiresIn = '1h'): Promise<string> {
  return new SignJWT({ username: user.username, is_admin: user.is_admin })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(String(user.id))
    .setExpirationTime(expiresIn)
    .sign(SECRET);
}

export async function authenticate(token: string): Promise<LiveUser | undefined> {
  try {
    const { payload } = await jwtVerify(token, SECRET);
    return { id: Number(payload.sub), username: String(payload.username), is_admin: payload.is_admin === true };
  } catch {
    return undefined;
  }
}

export const ALICE: LiveUser = { id: 1, username: 'alice', is_admin: false };

export interface Instance {
  monitor: Monitor;
  live: LiveUpdates;
  served: Served;
  sockets: MonitorSockets;
  url: string;
  wsUrl: string;
  close(): Promise<void>;
}

/** One instance of the monitor with its API server: SSE on the app, WebSockets on the server, serve()'s drain. */
export async function startInstance(
  database: string,
  options: {
    live?: Omit<LiveUpdatesOptions, 'monitor'>;
    sse?: Partial<Omit<StatusStreamOptions, 'live'>>;
    ws?: Partial<Omit<MonitorSocketsOptions, 'live'>>;
  } = {},
): Promise<Instance> {
  const monitor = await createMonitor({ database, schedule: false, shared: false, logger: false, flushInterval: 20 });
  const live = await createLiveUpdates({ monitor, logger: false, ...options.live });
  const app = express();
  app.get('/api/events/status/', statusStream({ live, authenticate, ...options.sse }));
  const served = await serve(app, {
    port: 0,
    exit: false,
    signals: false,
    handleCrashes: false,
    idleGrace: 0,
    logger: false,
    shutdownTimeout: 5000,
  });
  const sockets = attachMonitorSockets(served.server, { live, authenticate, ...options.ws });
  let closed: Promise<void> | undefined;
  return {
    monitor,
    live,
    served,
    sockets,
    url: served.url,
    wsUrl: served.url.replace(/^http/, 'ws'),
    close() {
      closed ??= (async () => {
        await served.shutdown();
        await sockets.close();
        await live.close();
        await monitor.close();
      })();
      return closed;
    },
  };
}

export async function addServer(monitor: Monitor, name: string, port: number, fields: Partial<ServerInput> = {}): Promise<Server> {
  const checked = validateServer({ name, protocol: 'http', host: '127.0.0.1', port, path: `/${name}`, check_interval: 60, ...fields });
  if (!checked.ok) throw new Error(`invalid server: ${JSON.stringify(checked.errors)}`);
  return monitor.store.servers.create(checked.value);
}

export interface SseEvent {
  event: string;
  id: string | undefined;
  data: string;
}

/** A plain HTTP client reading an event stream as it comes. */
export class SseClient {
  status = 0;
  headers: IncomingHttpHeaders = {};
  text = '';
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  retry: number | undefined;
  ended!: Promise<void>;
  #done = false;
  #close: () => void = () => {};
  #res: import('node:http').IncomingMessage | undefined;

  /** Stops reading (TCP backpressure, as a stalled client). */
  pause(): void {
    this.#res?.pause();
  }

  resume(): void {
    this.#res?.resume();
  }

  get done(): boolean {
    return this.#done;
  }

  static open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const client = new SseClient();
    return new Promise((resolve, reject) => {
      const req = request(url, { headers: { Accept: 'text/event-stream', ...headers } }, (res) => {
        client.#res = res;
        client.status = res.statusCode ?? 0;
        client.headers = res.headers;
        res.setEncoding('utf8');
        let pending = '';
        res.on('data', (chunk: string) => {
          client.text += chunk;
          pending += chunk;
          let end: number;
          while ((end = pending.indexOf('\n\n')) >= 0) {
            client.#block(pending.slice(0, end));
            pending = pending.slice(end + 2);
          }
        });
        client.ended = new Promise((done) => {
          res.on('close', () => {
            client.#done = true;
            done();
          });
        });
        resolve(client);
      });
      client.#close = () => req.destroy();
      req.on('error', reject);
      req.end();
    });
  }

  #block(block: string): void {
    let event = 'message';
    let id: string | undefined;
    const data: string[] = [];
    let isEvent = false;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        this.comments.push(line.slice(1).trim());
        continue;
      }
      if (line.startsWith('retry: ')) {
        this.retry = Number(line.slice(7));
        continue;
      }
      isEvent = true;
      if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('id: ')) id = line.slice(4);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (isEvent) this.events.push({ event, id, data: data.join('\n') });
  }

  /** Waits until `count` events have come. */
  async waitForEvents(count: number, ms = 5000): Promise<SseEvent[]> {
    await waitFor(() => this.events.length >= count || this.#done, ms, `${count} events (have ${this.events.length}: ${this.text})`);
    if (this.events.length < count) throw new Error(`stream ended with ${this.events.length} events: ${this.text}`);
    return this.events;
  }

  close(): void {
    this.#close();
  }
}

export function json<T = unknown>(event: SseEvent | undefined): T {
  if (!event) throw new Error('no event');
  return JSON.parse(event.data) as T;
}

/** A `ws` client that records its messages and how it closed. */
export class WsClient {
  readonly messages: Array<Record<string, unknown>> = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(
    readonly ws: WebSocket,
    private seen = 0,
  ) {
    ws.on('message', (data) => this.messages.push(JSON.parse(String(data)) as Record<string, unknown>));
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
    ws.on('error', () => {});
  }

  static async open(url: string, options: { headers?: Record<string, string>; protocols?: string[] } = {}): Promise<WsClient> {
    const ws = new WebSocket(url, options.protocols ?? [], { headers: options.headers ?? {} });
    const client = new WsClient(ws);
    await Promise.race([once(ws, 'open'), client.closed]);
    return client;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The next message not yet taken, waiting for it. */
  async next(ms = 5000): Promise<Record<string, unknown>> {
    await waitFor(() => this.messages.length > this.seen, ms, `a message (have ${JSON.stringify(this.messages)})`);
    return this.messages[this.seen++]!;
  }

  /** Sends and waits for the answer. */
  async ask(message: unknown): Promise<Record<string, unknown>> {
    this.send(message);
    return this.next();
  }
}
