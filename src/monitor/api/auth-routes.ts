import express, { type Request, type Router } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import type { Authenticator } from '../auth/authenticate.js';
import { TokenError } from '../auth/tokens.js';
import type { FieldErrors } from '../types.js';
import { ApiError, badRequest, handler, methodNotAllowed, nullCharacters, readBody, send } from './http.js';

export interface LoginThrottle {
  /** Failed logins per IP and username within the window before 429. Default 5. */
  attempts?: number;
  /** Failed logins per IP (any username) within the window before 429. Default 50. */
  attemptsPerIp?: number;
  /** Window, ms. Default 15 minutes. */
  windowMs?: number;
}

const INVALID = { detail: 'Token is invalid or expired', code: 'token_not_valid' };

/** Required string fields of a body, DRF-checked. */
function fields<K extends string>(body: unknown, names: readonly K[]): Record<K, string> {
  const data = (body ?? {}) as Record<string, unknown>;
  const errors: FieldErrors = nullCharacters(data);
  for (const name of names) {
    if (errors[name]) continue;
    const value = data[name];
    if (value === undefined || value === null) errors[name] = ['This field is required.'];
    else if (typeof value !== 'string') errors[name] = ['Not a valid string.'];
    else if (value === '') errors[name] = ['This field may not be blank.'];
    else if (value.length > 4096) errors[name] = ['Ensure this field has no more than 4096 characters.'];
  }
  if (Object.keys(errors).length > 0) throw badRequest(errors);
  return data as Record<K, string>;
}

function usernameOf(req: Request): string {
  const body = req.body as Record<string, unknown> | undefined;
  return typeof body?.username === 'string' ? body.username.trim().toLowerCase().slice(0, 150) : '';
}

function throttled(windowMs: number) {
  return (_req: Request, _res: unknown, next: (error: unknown) => void) => {
    const seconds = Math.ceil(windowMs / 1000);
    next(
      new ApiError(429, { detail: `Request was throttled. Expected available in ${seconds} seconds.` }, { 'Retry-After': String(seconds) }),
    );
  };
}

/**
 * `/auth/token/` (login, throttled), `/auth/token/refresh/` and `/auth/token/verify/`,
 * answering as djangorestframework-simplejwt does.
 */
export function authRoutes(auth: Authenticator, throttle: LoginThrottle | false): Router {
  const router = express.Router();
  const windowMs = (throttle && throttle.windowMs) || 15 * 60_000;
  const common = {
    windowMs,
    skipSuccessfulRequests: true,
    standardHeaders: 'draft-7' as const,
    legacyHeaders: false,
    handler: throttled(windowMs),
    // The app decides `trust proxy`; the key is the address Express reports.
    validate: { xForwardedForHeader: false, forwardedHeader: false, trustProxy: false },
  };
  const limiters = throttle
    ? [
        rateLimit({
          ...common,
          limit: throttle.attempts ?? 5,
          keyGenerator: (req) => `${ipKeyGenerator(req.ip ?? '')}|${usernameOf(req)}`,
        }),
        rateLimit({ ...common, limit: throttle.attemptsPerIp ?? 50, keyGenerator: (req) => ipKeyGenerator(req.ip ?? '') }),
      ]
    : [];

  router
    .route('/token')
    .post(
      readBody,
      limiters,
      handler(async (req, res) => {
        const { username, password } = fields(req.body, ['username', 'password']);
        const user = await auth.login(username, password);
        if (!user) throw new ApiError(401, { detail: 'No active account found with the given credentials' });
        const [refresh, access] = await Promise.all([auth.tokens.sign('refresh', user.id), auth.tokens.sign('access', user.id)]);
        send(res, 200, { refresh, access });
      }),
    )
    .all(methodNotAllowed(['POST']));

  router
    .route('/token/refresh')
    .post(
      readBody,
      handler(async (req, res) => {
        const { refresh } = fields(req.body, ['refresh']);
        try {
          const user = await auth.refreshUser(refresh);
          send(res, 200, { access: await auth.tokens.sign('access', user.id) });
        } catch (error) {
          if (error instanceof TokenError) throw new ApiError(401, INVALID);
          throw error;
        }
      }),
    )
    .all(methodNotAllowed(['POST']));

  router
    .route('/token/verify')
    .post(
      readBody,
      handler(async (req, res) => {
        const { token } = fields(req.body, ['token']);
        try {
          await auth.tokens.verify(token);
        } catch (error) {
          if (error instanceof TokenError) throw new ApiError(401, INVALID);
          throw error;
        }
        send(res, 200, {});
      }),
    )
    .all(methodNotAllowed(['POST']));

  return router;
}
