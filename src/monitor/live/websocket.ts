import { showStatuses } from '../windows/index.js';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { GOING_AWAY, UPGRADE_TRACKER } from '../../lifecycle/connections.js';
import { checkInteger, checkOptionsObject, checkString, optionError } from '../../options.js';
import { headerToken, offeredProtocols, protocolCredentials, queryToken } from '../auth/credentials.js';
import { RETRY_AFTER_SECONDS } from '../store/unavailable.js';
import { checkAuthenticate, tryAuthenticate } from './auth.js';
import { FilterError, parseSocketFilter, type SocketFilter } from './filters.js';
import type { LiveUpdates } from './live.js';
import { serverEventBody } from './server-events.js';
import type { Authenticate, LiveEvent, LiveUser } from './types.js';

export interface MonitorSocketsOptions {
  live: LiveUpdates;
  /** Resolves a bearer token (header, subprotocol or `?token=`) to its user; the API's JWT verification. */
  authenticate: Authenticate;
  /** Default `/ws/status/` (with or without the trailing slash). */
  path?: string;
  /** Bytes a message may have; a bigger one closes the socket with 1009. Default 64 KiB. */
  maxPayload?: number;
  /** ms between pings; a peer that has not answered the previous one is dropped. Default 30000. */
  pingInterval?: number;
  /** Bytes a slow client may leave unread before it is dropped. Default 1 MiB. */
  maxBuffered?: number;
}

export interface MonitorSockets {
  /** The clients connected now. */
  readonly clients: number;
  /** Handles one upgrade request; false when its path is not ours (another handler may take it). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Closes every socket with 1001 and stops accepting; resolves when they are closed. */
  close(): Promise<void>;
}

const KNOWN = ['live', 'authenticate', 'path', 'maxPayload', 'pingInterval', 'maxBuffered'];
const MAX_PENDING = 8;

class BadMessage extends Error {}

interface Client {
  ws: WebSocket;
  user: LiveUser;
  alive: boolean;
  /** Requests being answered: past MAX_PENDING a client gets an error instead of more database work. */
  pending: number;
  /** Subscribed servers; `all` follows every server, new ones too. */
  subscription: Set<number> | 'all' | undefined;
}

/**
 * `/ws/status/`: WebSockets of the monitor on an http.Server (PulseGuard's messages):
 * `latest` answers with statuses and pings, `subscribe` picks servers whose `update`s
 * follow. Without a valid token the socket is closed with 4001, and so it is when the
 * token expires or its user is removed or deactivated (the reason says which); the token
 * comes in `Authorization`, as `Sec-WebSocket-Protocol: bearer, <token>` (answered
 * `bearer`, never the token) or `?token=`. A malformed message gets
 * `{"type":"error"}`; a message over `maxPayload` closes it with 1009; pings drop dead
 * peers, slow readers are dropped; a drain closes every socket with 1001.
 *
 * @example
 * const sockets = attachMonitorSockets(served.server, { live, authenticate });
 */
export function attachMonitorSockets(server: Server, options: Readonly<MonitorSocketsOptions>): MonitorSockets {
  checkOptionsObject('attachMonitorSockets', options, KNOWN);
  if (!server || typeof server.on !== 'function') throw optionError('attachMonitorSockets', 'server', 'an http.Server', server);
  const { live } = options;
  if (!live || typeof live.subscribe !== 'function')
    throw optionError('attachMonitorSockets', 'live', 'the result of createLiveUpdates()', live);
  const authenticate = checkAuthenticate('attachMonitorSockets', options.authenticate);
  const path = checkString('attachMonitorSockets', 'path', options.path ?? '/ws/status/').replace(/\/+$/, '');
  const maxPayload = checkInteger('attachMonitorSockets', 'maxPayload', options.maxPayload ?? 64 * 1024, { min: 1024, unit: 'bytes' });
  const pingInterval = checkInteger('attachMonitorSockets', 'pingInterval', options.pingInterval ?? 30_000, { min: 10, unit: 'ms' });
  const maxBuffered = checkInteger('attachMonitorSockets', 'maxBuffered', options.maxBuffered ?? 1024 * 1024, { min: 1024, unit: 'bytes' });

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload,
    // Browsers fail a handshake that does not answer one of their protocols: answer `bearer`
    // (of `bearer, <token>`), never the token itself, even when it was the only one offered.
    handleProtocols: (protocols) => protocolCredentials([...protocols]).answer ?? false,
  });
  const clients = new Set<Client>();
  let closing: Promise<void> | undefined;

  const sendText = (client: Client, text: string) => {
    const { ws } = client;
    if (ws.readyState !== ws.OPEN) return;
    // A client that does not read is dropped before its buffer grows without bound.
    if (ws.bufferedAmount > maxBuffered) return void ws.terminate();
    ws.send(text);
  };
  const send = (client: Client, message: unknown) => sendText(client, JSON.stringify(message));

  const unsubscribe = live.subscribe((event: LiveEvent) => {
    if (event.type === 'status') return; // a status change comes with its ping's update
    const serverId = event.type === 'ping' ? event.ping.server : event.server_id;
    let text: string | undefined; // serialized once, for the first subscriber
    for (const client of clients) {
      const sub = client.subscription;
      // A new server reaches the clients that follow every server (and so follow it from now on).
      if (sub !== 'all' && !sub?.has(serverId)) continue;
      text ??= JSON.stringify(
        event.type === 'ping'
          ? { type: 'update', id: event.id, ping: event.ping, status: event.status }
          : { type: 'server', id: event.id, ...serverEventBody(event) },
      );
      sendText(client, text);
    }
  });

  /** The servers a message names: its ids, narrowed by `query` on names (case-insensitive). */
  async function serversOf({ serverIds, query }: SocketFilter): Promise<number[] | undefined> {
    if (query === undefined) return serverIds;
    const page = await live.store.servers.list({ query, limit: 100_000, ...(serverIds ? { ids: serverIds } : {}) });
    return page.results.map((s) => s.id);
  }

  async function onMessage(client: Client, data: RawData, isBinary: boolean): Promise<void> {
    let message: Record<string, unknown>;
    try {
      if (isBinary) throw new BadMessage('messages are JSON text');
      const parsed = JSON.parse(String(data)) as unknown;
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new BadMessage('a message is a JSON object');
      message = parsed as Record<string, unknown>;
    } catch (error) {
      return send(client, { type: 'error', message: error instanceof BadMessage ? error.message : 'malformed JSON' });
    }
    try {
      if (message.action === 'latest') {
        const asked = parseSocketFilter(message);
        const servers = await serversOf(asked);
        if (servers?.length === 0) return send(client, { type: 'latest', statuses: [], pings: [] });
        const filter = servers ? { serverIds: servers } : {};
        const [statuses, pings] = await Promise.all([
          live.store.results.statuses(filter).then((list) => showStatuses(live.store, list)),
          live.store.results.latest({ ...filter, limit: asked.limit }),
        ]);
        return send(client, { type: 'latest', statuses, pings });
      }
      if (message.action === 'subscribe') {
        const servers = await serversOf(parseSocketFilter(message));
        client.subscription = servers ? new Set(servers) : 'all';
        const list = servers ?? (await live.store.servers.all()).map((s) => s.id);
        return send(client, { type: 'subscribed', servers: list });
      }
      if (message.action === 'unsubscribe') {
        client.subscription = undefined;
        return send(client, { type: 'unsubscribed', servers: [] });
      }
      throw new BadMessage('"action" must be "latest", "subscribe" or "unsubscribe"');
    } catch (error) {
      if (error instanceof BadMessage || error instanceof FilterError) return send(client, { type: 'error', message: error.message });
      send(client, { type: 'error', message: 'the monitor could not answer; try again' });
    }
  }

  function accept(ws: WebSocket, user: LiveUser, socket: Duplex): void {
    const client: Client = { ws, user, alive: true, pending: 0, subscription: undefined };
    clients.add(client);
    // The socket holds only as long as its credentials: 4001 with the reason, as when they were missing.
    const unwatch = live.access.watch(user, (loss) => ws.close(4001, loss.detail));
    // serve()'s drain closes upgraded sockets through this, with a proper 1001.
    (socket as Duplex & { [GOING_AWAY]?: () => void })[GOING_AWAY] = () => ws.close(1001, 'server shutting down');
    ws.on('pong', () => (client.alive = true));
    ws.on('message', (data, isBinary) => {
      if (client.pending >= MAX_PENDING) return send(client, { type: 'error', message: 'too many requests at once; wait for the answers' });
      client.pending++;
      void onMessage(client, data, isBinary).finally(() => client.pending--);
    });
    ws.on('error', () => {}); // 1009 and protocol errors: ws has already sent the close frame with the right code
    ws.on('close', () => {
      clients.delete(client);
      unwatch();
    });
  }

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname.replace(/\/+$/, '') !== path) return false;
    const offered = offeredProtocols(req.headers['sec-websocket-protocol']);
    const token = headerToken(req.headers.authorization) ?? protocolCredentials(offered).token ?? queryToken(url);
    socket.on('error', () => socket.destroy());
    void tryAuthenticate(authenticate, token).then(
      (user) => {
        wss.handleUpgrade(req, socket, head, (ws) => {
          if (!user) return ws.close(4001, 'not authenticated');
          if (closing) return ws.close(1001, 'server shutting down');
          accept(ws, user, socket);
        });
      },
      () => {
        // The database is unavailable: a plain 503 before the upgrade, so the client retries with the same token.
        if (!socket.destroyed)
          socket.end(
            `HTTP/1.1 503 Service Unavailable\r\nRetry-After: ${RETRY_AFTER_SECONDS}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
          );
      },
    );
    return true;
  }

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (handleUpgrade(req, socket, head)) return;
    // Only ours: other paths get a plain 404 rather than a socket left hanging.
    const others = server.listeners('upgrade').filter((l) => l !== onUpgrade && !(UPGRADE_TRACKER in l));
    if (others.length > 0) return;
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  };
  server.on('upgrade', onUpgrade);

  const heartbeat = setInterval(() => {
    for (const client of clients) {
      if (!client.alive) {
        client.ws.terminate();
        continue;
      }
      client.alive = false;
      client.ws.ping();
    }
  }, pingInterval);
  heartbeat.unref();

  const offClose = live.onClose(() => void sockets.close());
  const sockets: MonitorSockets = {
    get clients() {
      return clients.size;
    },
    handleUpgrade,
    close() {
      closing ??= (async () => {
        clearInterval(heartbeat);
        offClose();
        unsubscribe();
        server.off('upgrade', onUpgrade);
        const closed = [...clients].map(
          ({ ws }) =>
            new Promise<void>((resolve) => {
              if (ws.readyState === ws.CLOSED) return resolve();
              ws.once('close', () => resolve());
              ws.close(1001, 'server shutting down');
            }),
        );
        await Promise.all(closed);
        await new Promise<void>((resolve) => wss.close(() => resolve()));
      })();
      return closing;
    },
  };
  return sockets;
}
