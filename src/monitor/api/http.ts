import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { LifelineLogger } from '../../logging/logger.js';
import { isDatabaseUnavailable, RETRY_AFTER_SECONDS, UNAVAILABLE_DETAIL } from '../store/unavailable.js';
import { MissingReferenceError } from '../store/errors.js';
import type { FieldErrors, User } from '../types.js';

/** An answer the API gives instead of going on: a status and a DRF-shaped body. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof body.detail === 'string' ? body.detail : `HTTP ${status}`);
  }
}

export const badRequest = (errors: FieldErrors) => new ApiError(400, errors);
export const notFound = () => new ApiError(404, { detail: 'Not found.' });

/** Wraps an async handler so a rejection reaches the error handler on Express 4 as on Express 5. */
export function handler(fn: (req: Request, res: Response) => Promise<unknown> | void): RequestHandler {
  return function apiHandler(req, res, next) {
    try {
      const result = fn(req, res);
      if (result instanceof Promise) result.catch(next);
    } catch (error) {
      next(error);
    }
  };
}

export function send(res: Response, status: number, body: unknown): void {
  res.status(status).set('Cache-Control', 'no-store');
  if (status === 204) res.end();
  else res.json(body);
}

const USER = Symbol('monitor user');

export function setUser(res: Response, user: User): void {
  (res.locals as Record<symbol, User>)[USER] = user;
}

export function userOf(res: Response): User {
  const user = (res.locals as Record<symbol, User | undefined>)[USER];
  if (!user) throw new Error('monitor API: route without authentication');
  return user;
}

export const BODY_LIMIT = '1mb';
const jsonBody = express.json({ limit: BODY_LIMIT, strict: true, type: ['application/json', 'application/*+json'] });
const formBody = express.urlencoded({ extended: false, limit: BODY_LIMIT, parameterLimit: 200 });

/**
 * Reads a request body: JSON (or a plain HTML form) up to 1 MB. Any other content type
 * with a body is 415; after it, `req.body` is an object, or `{}` for an empty body.
 */
export const readBody: RequestHandler[] = [
  function contentType(req, _res, next) {
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (hasBody && !req.is(['application/json', 'application/*+json', 'application/x-www-form-urlencoded'])) {
      const type = String(req.headers['content-type'] ?? '').slice(0, 100);
      return next(new ApiError(415, { detail: `Unsupported media type "${type}" in request.` }));
    }
    next();
  },
  jsonBody,
  formBody,
  function defaultBody(req, _res, next) {
    if (req.body === undefined || req.body === null) req.body = {};
    next();
  },
];

/** PostgreSQL refuses NUL in text: DRF refuses it in every field, and so does the API. */
export function nullCharacters(body: unknown): FieldErrors {
  const errors: FieldErrors = {};
  const has = (value: unknown, depth = 0): boolean => {
    if (typeof value === 'string') return value.includes('\0');
    if (depth > 20 || value === null || typeof value !== 'object') return false;
    return Object.entries(value).some(([k, v]) => k.includes('\0') || has(v, depth + 1));
  };
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
    for (const [field, value] of Object.entries(body)) if (has(value)) errors[field] = ['Null characters are not allowed.'];
  }
  return errors;
}

interface BodyParserError {
  type?: unknown;
  status?: unknown;
  statusCode?: unknown;
  message?: unknown;
}

/** 503 with `Retry-After`: the database is down, read-only or full; the client is not at fault and may retry. */
export function sendUnavailable(res: Response): void {
  res.set('Retry-After', String(RETRY_AFTER_SECONDS));
  send(res, 503, { detail: UNAVAILABLE_DETAIL });
}

/**
 * The API's error handler: DRF bodies for what the client did, 503 while the database
 * is unavailable (not logged per request: the results writer reports the outage once),
 * a plain 500 (logged) for the rest.
 */
export function apiErrors(logger: LifelineLogger) {
  return function monitorApiErrors(error: unknown, req: Request, res: Response, next: NextFunction): void {
    if (res.headersSent) return next(error);
    if (error instanceof ApiError) {
      res.set(error.headers);
      return send(res, error.status, error.body);
    }
    if (isDatabaseUnavailable(error)) return sendUnavailable(res);
    // A reference deleted between the route's check and the write: the same 400 as when the check saw it missing.
    if (error instanceof MissingReferenceError) return send(res, 400, { [error.field]: [error.message] });
    const e = (typeof error === 'object' && error !== null ? error : {}) as BodyParserError;
    const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : 500;
    if (e.type === 'entity.too.large') return send(res, 413, { detail: `Request body is larger than ${BODY_LIMIT.replace('mb', ' MB')}.` });
    if (e.type === 'entity.parse.failed') return send(res, 400, { detail: `JSON parse error - ${String(e.message).slice(0, 200)}` });
    if (status >= 400 && status < 500)
      return send(res, status, { detail: typeof e.message === 'string' ? e.message.slice(0, 200) : 'Bad request.' });
    logger.error(`API: ${req.method} ${req.baseUrl}${req.path} failed: ${error instanceof Error ? error.message : String(error)}`, {
      stack: error instanceof Error ? error.stack : undefined,
    });
    send(res, 500, { detail: 'A server error occurred.' });
  };
}

/** 405 with `Allow` for a path's other methods. */
export function methodNotAllowed(allowed: readonly string[]): RequestHandler {
  const allow = [...allowed, 'OPTIONS'].join(', ');
  return function monitorMethodNotAllowed(req, res) {
    res.set('Allow', allow);
    if (req.method === 'OPTIONS') return send(res, 200, {});
    send(res, 405, { detail: `Method "${req.method.slice(0, 20)}" not allowed.` });
  };
}
