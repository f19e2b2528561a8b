import express, { type Request, type Response, type Router } from 'express';
import { ApiError, badRequest, handler, methodNotAllowed } from '../api/http.js';
import type { Monitor } from '../monitor.js';
import { MAX_MESSAGE, type Heartbeat } from './heartbeat.js';
import { PUSH_TOKEN } from './token.js';

/** A POSTed message beyond this is refused (413): the stored one is cut at MAX_MESSAGE anyway. */
const MAX_BODY = 16 * 1024;
const NOT_FOUND = { detail: 'Not found.' } as const;
/** The answer to every heartbeat taken, made once: res.json() would stringify and hash (ETag) it per request. */
const OK_BODY = Buffer.from('{"ok":true}');

function readText(req: Request): Promise<string> {
  const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  if (!hasBody) return Promise.resolve('');
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        req.removeAllListeners('data');
        req.resume();
        return reject(new ApiError(413, { detail: `Request body is larger than ${MAX_BODY / 1024} KB.` }));
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function query(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw badRequest({ [name]: ['Give this parameter once.'] });
  return value;
}

/** The heartbeat a request describes, from its path's action and its query (`status`, `msg`, `ping`). */
async function heartbeatOf(req: Request, action: string | undefined): Promise<Heartbeat> {
  const status = query(req, 'status');
  if (status !== undefined && status !== 'up' && status !== 'down')
    throw badRequest({ status: [`"${status.slice(0, 20)}" is not a valid choice (up, down).`] });
  const ping = query(req, 'ping');
  let responseTime: number | null = null;
  if (ping !== undefined && ping !== '') {
    responseTime = Number(ping);
    if (!Number.isFinite(responseTime) || responseTime < 0 || responseTime > 86_400_000) {
      throw badRequest({ ping: ['Enter a response time in milliseconds, 0-86400000.'] });
    }
  }
  let message = query(req, 'msg') ?? null;
  if (message === null && req.method === 'POST') message = (await readText(req)).trim() || null;
  if (message !== null) message = message.replace(/\0/g, '').slice(0, MAX_MESSAGE);
  const beat: Heartbeat = { kind: 'end', status: status ?? 'up', message, responseTime };
  if (action === undefined) return beat;
  if (action === 'start') return { ...beat, kind: 'start' };
  if (action === 'fail') return { ...beat, status: 'down' };
  const code = /^\d{1,3}$/.test(action) ? Number(action) : NaN;
  if (!(code >= 0 && code <= 255)) throw new ApiError(404, NOT_FOUND);
  return { ...beat, status: code === 0 ? 'up' : 'down', exitCode: code };
}

/**
 * `/push/:token/` and `/push/:token/start|fail|:exit_code` (GET or POST, no login: the
 * token is the secret), Healthchecks.io's signals. Answers once the heartbeat is queued
 * for the batch writer; 404 for an unknown token, 429 over a token's rate.
 */
export function pushRoutes(monitor: Pick<Monitor, 'heartbeat'>): Router {
  const router = express.Router();
  const receive = handler(async (req: Request, res: Response) => {
    const token = String(req.params.token);
    if (!PUSH_TOKEN.test(token)) throw new ApiError(404, NOT_FOUND);
    const beat = await heartbeatOf(req, req.params.action === undefined ? undefined : String(req.params.action));
    const admission = monitor.heartbeat(token, beat);
    if (admission === 'unknown') throw new ApiError(404, NOT_FOUND);
    if (admission === 'limited')
      throw new ApiError(429, { detail: 'Too many heartbeats for this token; slow down.' }, { 'Retry-After': '1' });
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      'content-length': OK_BODY.length,
    });
    res.end(OK_BODY);
  });
  for (const path of ['/:token', '/:token/:action']) {
    router
      .route(path)
      .get(receive)
      .post(receive)
      .all(methodNotAllowed(['GET', 'POST']));
  }
  return router;
}
