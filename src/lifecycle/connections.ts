import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

const ACTIVE = Symbol('express-lifeline.active');
type TrackedSocket = Socket & { [ACTIVE]?: number };

// A WebSocket close frame, server to client (unmasked): FIN + opcode 8, length 2, code 1001 "going away".
const WS_GOING_AWAY = Buffer.from([0x88, 0x02, 0x03, 0xe9]);

/**
 * A WebSocket library that owns an upgraded socket (the monitor's live updates) sets this
 * function on it, so a drain closes the socket through the library (a 1001 it knows it
 * sent) rather than by writing the close frame under it.
 */
export const GOING_AWAY = Symbol.for('express-lifeline.goingAway');
/** Marks the tracker's own `upgrade` listener, so an upgrade handler can tell it is not another app's. */
export const UPGRADE_TRACKER = Symbol.for('express-lifeline.upgradeTracker');
type UpgradedSocket = Socket & { [GOING_AWAY]?: () => void };

/**
 * Knows every connection of a server and which ones are busy, so a drain can let
 * in-flight requests finish, close keep-alive connections between requests instead of
 * in the middle of one, and tell long-lived streams (SSE, WebSocket) to go.
 */
export class ConnectionTracker {
  private readonly sockets = new Set<TrackedSocket>();
  private readonly responses = new Set<ServerResponse>();
  private readonly upgraded = new Set<Socket>();
  private draining = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly server: Server) {
    server.on('connection', (socket: TrackedSocket) => {
      socket[ACTIVE] = 0;
      this.sockets.add(socket);
      socket.once('close', () => {
        this.sockets.delete(socket);
        this.upgraded.delete(socket);
        this.settle();
      });
    });
    // Track upgraded sockets only once the app handles upgrades: a listener of our own
    // would otherwise keep Node from refusing upgrades nobody handles.
    const trackUpgrade = Object.assign(
      (_req: IncomingMessage, socket: Socket) => {
        this.upgraded.add(socket);
      },
      { [UPGRADE_TRACKER]: true },
    );
    let tracking = false;
    server.on('newListener', (event) => {
      if (event !== 'upgrade' || tracking) return;
      tracking = true;
      server.prependListener('upgrade', trackUpgrade);
    });
  }

  /** Call for every request before the app sees it. */
  track(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket as TrackedSocket;
    socket[ACTIVE] = (socket[ACTIVE] ?? 0) + 1;
    this.responses.add(res);
    // While draining, every answer tells the client not to reuse the connection.
    if (this.draining) res.shouldKeepAlive = false;
    res.once('close', () => {
      socket[ACTIVE] = (socket[ACTIVE] ?? 1) - 1;
      this.responses.delete(res);
      if (this.draining && socket[ACTIVE] === 0 && !this.upgraded.has(socket)) socket.end();
      this.settle();
    });
  }

  get inFlight(): number {
    return this.responses.size;
  }

  get open(): number {
    return this.sockets.size;
  }

  /**
   * Starts draining: answers not yet started say `Connection: close`, event streams get a
   * `shutdown` event and end, WebSockets get a "going away" close frame, and connections
   * idle now are closed after `idleGrace` ms unless a request arrives first.
   */
  beginDrain(idleGrace: number): void {
    this.draining = true;
    for (const res of this.responses) {
      if (!res.headersSent) res.shouldKeepAlive = false;
      else if (String(res.getHeader('Content-Type') ?? '').startsWith('text/event-stream')) {
        res.end('event: shutdown\ndata: {"reason":"server shutting down"}\n\n');
      }
    }
    for (const socket of this.upgraded as Set<UpgradedSocket>) {
      const goAway = socket[GOING_AWAY];
      if (goAway) goAway();
      else socket.end(WS_GOING_AWAY);
    }
    const idleNow = [...this.sockets].filter((s) => s[ACTIVE] === 0 && !this.upgraded.has(s));
    setTimeout(() => {
      for (const socket of idleNow) if (socket[ACTIVE] === 0) socket.end();
    }, idleGrace).unref();
    this.settle();
  }

  /** Resolves when no connection is left, or after `ms`; true when all closed. */
  waitUntilClosed(ms: number): Promise<boolean> {
    if (this.sockets.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
        resolve(false);
      }, ms);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(done);
    });
  }

  /** Ends every connection at once, busy or not. */
  destroyAll(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  private settle(): void {
    if (this.sockets.size > 0 || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
