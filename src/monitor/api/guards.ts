import type { RequestHandler } from 'express';
import { AuthError, type Authenticator } from '../auth/authenticate.js';
import { ApiError, setUser, userOf } from './http.js';

/** Needs a valid access token: 401 `{"detail": …}` otherwise, with `WWW-Authenticate` as DRF sends it. */
export function authenticate(auth: Authenticator): RequestHandler {
  return function monitorAuthenticate(req, res, next) {
    auth.fromHeader(req.headers.authorization).then(
      (user) => {
        setUser(res, user);
        next();
      },
      (error: unknown) => {
        if (!(error instanceof AuthError)) return next(error);
        const body: Record<string, string> = { detail: error.message };
        if (error.code) body.code = error.code;
        next(new ApiError(401, body, { 'WWW-Authenticate': 'Bearer realm="api"' }));
      },
    );
  };
}

/** Admins only (after `authenticate`): a read-only user gets 403. */
export const adminOnly: RequestHandler = function monitorAdminOnly(_req, res, next) {
  if (!userOf(res).is_admin) return next(new ApiError(403, { detail: 'You do not have permission to perform this action.' }));
  next();
};
