import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Activity } from '../../activity.js';
import { keepAliveReport } from '../../health/report.js';
import { sendError, sendJson } from '../respond.js';

export type BodyResult = { tooLarge: true } | { tooLarge: false; clientId: string | undefined };

const CLIENT_ID = /^[\x21-\x7e]{1,128}$/;

/** `client_id` of a parsed keep-alive body when it is a short printable string. */
export function clientIdOf(body: unknown): string | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const id = (body as { client_id?: unknown }).client_id;
  return typeof id === 'string' && CLIENT_ID.test(id) ? id : undefined;
}

function isJson(req: IncomingMessage): boolean {
  const type = req.headers['content-type'];
  return type !== undefined && /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type);
}

/**
 * Reads a keep-alive body, counting bytes as they arrive, whatever the framing
 * (Content-Length or chunked). Past `limit` it stops at once and reports
 * `tooLarge`: the rest is never read nor kept. Only a JSON body is kept (it is at
 * most `limit` bytes) to find the client's `client_id`; a malformed one is not an
 * error, the client is then known by its address. `done` is not called when the
 * client goes away mid-body.
 */
export function readKeepAliveBody(req: IncomingMessage, limit: number, done: (result: BodyResult) => void): void {
  // A body parser earlier in the app (express.json()) already read it.
  if (req.readableEnded || (req as IncomingMessage & { _body?: boolean })._body === true) {
    done({ tooLarge: false, clientId: clientIdOf((req as IncomingMessage & { body?: unknown }).body) });
    return;
  }
  const declared = req.headers['content-length'];
  if (declared !== undefined && !(Number(declared) <= limit)) {
    done({ tooLarge: true });
    return;
  }
  const keep = isJson(req);
  const chunks: Buffer[] = [];
  let size = 0;
  const onData = (chunk: Buffer): void => {
    size += chunk.length;
    if (size > limit) {
      cleanup();
      req.pause();
      chunks.length = 0;
      done({ tooLarge: true });
    } else if (keep) {
      chunks.push(chunk);
    }
  };
  const onEnd = (): void => {
    cleanup();
    let clientId: string | undefined;
    if (keep && size > 0) {
      try {
        clientId = clientIdOf(JSON.parse(Buffer.concat(chunks, size).toString('utf8')));
      } catch {
        clientId = undefined;
      }
    }
    done({ tooLarge: false, clientId });
  };
  const cleanup = (): void => {
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('error', cleanup);
  };
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('error', cleanup);
}

/** The largest POST /api/keep-alive body read, in bytes. */
export const KEEP_ALIVE_BODY_LIMIT = 64 * 1024;

/** Who sent a keep-alive: its `client_id`, else its address (Express's `req.ip` honours `trust proxy`). */
function clientKey(req: IncomingMessage, clientId: string | undefined): string {
  if (clientId !== undefined) return `id:${clientId}`;
  return `ip:${(req as IncomingMessage & { ip?: string }).ip ?? req.socket.remoteAddress ?? 'unknown'}`;
}

/** POST /api/keep-alive: records the client in `activity`, then answers as GET does; 413 past the limit. */
export function postKeepAlive(req: IncomingMessage, res: ServerResponse, activity: Activity, clientWindow: number): void {
  readKeepAliveBody(req, KEEP_ALIVE_BODY_LIMIT, (result) => {
    if (result.tooLarge) {
      // The rest of the body is never read: closing the connection is the only way to stop it.
      res.setHeader('Connection', 'close');
      sendError(req, res, 413, `Payload Too Large: keep-alive accepts at most ${KEEP_ALIVE_BODY_LIMIT} bytes`);
      return;
    }
    const now = Date.now();
    activity.lastClientPing = now;
    activity.clients.record(clientKey(req, result.clientId), now);
    sendJson(req, res, 200, keepAliveReport(activity, clientWindow));
  });
}
