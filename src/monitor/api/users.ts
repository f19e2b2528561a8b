import express, { type RequestHandler, type Router } from 'express';
import type { Authenticator } from '../auth/authenticate.js';
import { hashPassword, verifyPassword } from '../auth/passwords.js';
import { passwordError, userView, validateUser } from '../auth/user-input.js';
import type { MonitorStore } from '../store/index.js';
import type { UserChange, UserChangeResult } from '../store/admin.js';
import { adminOnly } from './guards.js';
import { badRequest, handler, methodNotAllowed, notFound, nullCharacters, readBody, send, userOf } from './http.js';
import { checkPageExists, idParam, pageBody, pageOf } from './query.js';

const LAST_ADMIN = 'The last active admin cannot be removed, deactivated or demoted: make another user an admin first.';
const TAKEN = 'A user with that username already exists.';

/** A refused change as the API says it: 404 for a user that is gone, 400 for the rest. */
function refused(result: Extract<UserChangeResult, { ok: false }>, field: string): never {
  if (result.reason === 'missing') throw notFound();
  if (result.reason === 'taken') throw badRequest({ username: [TAKEN] });
  throw badRequest({ [field]: [LAST_ADMIN] });
}

/**
 * `/users/` for admins: list, create, read, change (PATCH) and remove users.
 * `password` is write-only; `is_staff` makes an admin. The last active admin cannot
 * be removed, deactivated or demoted (400). A change reaches the user's streams
 * within the live re-check interval, and their tokens at once on this instance.
 */
export function userRoutes(store: MonitorStore, auth: Authenticator, authenticate: RequestHandler): Router {
  const router = express.Router();
  router.use(authenticate, adminOnly);

  const checked = (body: unknown, partial: boolean) => {
    const nulls = nullCharacters(body);
    if (Object.keys(nulls).length > 0) throw badRequest(nulls);
    const result = validateUser(body, { partial });
    if (!result.ok) throw badRequest(result.errors);
    return result.value;
  };

  router
    .route('/')
    .get(
      handler(async (req, res) => {
        const page = pageOf(req);
        const all = (await store.users.list()).map(userView);
        checkPageExists(page, all.length);
        send(res, 200, pageBody(req, page, all.length, all.slice(page.offset, page.offset + page.size)));
      }),
    )
    .post(
      readBody,
      handler(async (req, res) => {
        const input = checked(req.body, false);
        if (await store.users.byUsername(input.username!)) throw badRequest({ username: [TAKEN] });
        const created = await store.users
          .create({ username: input.username!, password_hash: await hashPassword(input.password!), is_admin: input.is_staff ?? false })
          .catch(async (error: unknown) => {
            // Created meanwhile by another request: the unique index said no.
            if (await store.users.byUsername(input.username!)) throw badRequest({ username: [TAKEN] });
            throw error;
          });
        let user = created;
        if (input.is_active === false) {
          const result = await store.users.change(created.id, { is_active: false });
          if (result.ok && result.user) user = result.user;
        }
        send(res, 201, userView(user));
      }),
    )
    .all(methodNotAllowed(['GET', 'POST']));

  router
    .route('/:id')
    .get(
      handler(async (req, res) => {
        const user = await store.users.get(idParam(req));
        if (!user) throw notFound();
        send(res, 200, userView(user));
      }),
    )
    .patch(
      readBody,
      handler(async (req, res) => {
        const id = idParam(req);
        const input = checked(req.body, true);
        const change: Exclude<UserChange, 'remove'> = {};
        if (input.username !== undefined) change.username = input.username;
        if (input.password !== undefined) change.password_hash = await hashPassword(input.password);
        if (input.is_staff !== undefined) change.is_admin = input.is_staff;
        if (input.is_active !== undefined) change.is_active = input.is_active;
        const result = await store.users.change(id, change);
        if (!result.ok) refused(result, input.is_active === false ? 'is_active' : 'is_staff');
        auth.forget(id);
        send(res, 200, userView(result.user!));
      }),
    )
    .delete(
      handler(async (req, res) => {
        const id = idParam(req);
        const result = await store.users.change(id, 'remove');
        if (!result.ok) refused(result, 'non_field_errors');
        auth.forget(id);
        send(res, 204, undefined);
      }),
    )
    .all(methodNotAllowed(['GET', 'PATCH', 'DELETE']));
  return router;
}

/** `POST /auth/password/` `{old_password, new_password}`: a user changes their own password. */
export function passwordRoutes(store: MonitorStore, authenticate: RequestHandler): Router {
  const router = express.Router();
  router
    .route('/')
    .post(
      authenticate,
      readBody,
      handler(async (req, res) => {
        const body = (req.body ?? {}) as Record<string, unknown>;
        const errors = nullCharacters(body);
        for (const field of ['old_password', 'new_password']) {
          if (errors[field]) continue;
          const value = body[field];
          if (value === undefined || value === null) errors[field] = ['This field is required.'];
          else if (typeof value !== 'string') errors[field] = ['Not a valid string.'];
          else if (value === '') errors[field] = ['This field may not be blank.'];
        }
        if (Object.keys(errors).length > 0) throw badRequest(errors);
        const oldPassword = body.old_password as string;
        const newPassword = body.new_password as string;
        const tooWeak = passwordError(newPassword);
        if (tooWeak) throw badRequest({ new_password: [tooWeak] });
        const me = userOf(res);
        const stored = await store.users.byUsername(me.username);
        if (!stored || !(await verifyPassword(oldPassword, stored.password_hash))) {
          throw badRequest({ old_password: ['Your old password was entered incorrectly. Please enter it again.'] });
        }
        const result = await store.users.change(me.id, { password_hash: await hashPassword(newPassword) });
        if (!result.ok) throw notFound();
        send(res, 200, { detail: 'Password changed.' });
      }),
    )
    .all(methodNotAllowed(['POST']));
  return router;
}
