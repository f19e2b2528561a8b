import express, { type RequestHandler, type Router } from 'express';
import type { MonitorStore } from '../store/index.js';
import type { NotificationConfigInput } from '../types.js';
import { validateNotificationConfig, type ValidateNotificationOptions } from '../validate.js';
import { adminOnly } from './guards.js';
import { badRequest, handler, methodNotAllowed, notFound, nullCharacters, readBody, send } from './http.js';
import { checkPageExists, idList, idParam, isId, pageBody, pageOf } from './query.js';

/**
 * `/notification-configs/` CRUD, for admins. The recipient is checked for its type
 * (email address, http(s) URL, E.164 phone number); `secret` is written, never returned.
 * One config's answer carries `last_delivery` (the last attempt, with its error), or null.
 */
export function notificationRoutes(store: MonitorStore, authenticate: RequestHandler): Router {
  const router = express.Router();
  router.use(authenticate, adminOnly);

  const validated = async (body: unknown, options: ValidateNotificationOptions = {}): Promise<NotificationConfigInput> => {
    const nulls = nullCharacters(body);
    if (Object.keys(nulls).length > 0) throw badRequest(nulls);
    const checked = validateNotificationConfig(body, options);
    if (!checked.ok) throw badRequest(checked.errors);
    const { server } = checked.value;
    if (!isId(server) || !(await store.servers.get(server)))
      throw badRequest({ server: [`Invalid pk "${server}" - object does not exist.`] });
    return checked.value;
  };

  router
    .route('/')
    .get(
      handler(async (req, res) => {
        const serverIds = idList(req, 'server_id');
        const page = pageOf(req);
        const all = await store.notifications.list(serverIds ? { serverIds } : {});
        checkPageExists(page, all.length);
        send(res, 200, pageBody(req, page, all.length, all.slice(page.offset, page.offset + page.size)));
      }),
    )
    .post(
      readBody,
      handler(async (req, res) => {
        send(res, 201, await store.notifications.create(await validated(req.body)));
      }),
    )
    .all(methodNotAllowed(['GET', 'POST']));

  const replace = (partial: boolean) =>
    handler(async (req, res) => {
      const id = idParam(req);
      const existing = await store.notifications.get(id);
      if (!existing) throw notFound();
      const updated = await store.notifications.update(id, await validated(req.body, { existing, partial }));
      if (!updated) throw notFound();
      send(res, 200, updated);
    });

  router
    .route('/:id')
    .get(
      handler(async (req, res) => {
        const id = idParam(req);
        const config = await store.notifications.get(id);
        if (!config) throw notFound();
        // The last delivery attempt and its error, so a broken webhook or mailbox shows.
        send(res, 200, { ...config, last_delivery: (await store.notifications.lastDelivery(id)) ?? null });
      }),
    )
    .put(readBody, replace(false))
    .patch(readBody, replace(true))
    .delete(
      handler(async (req, res) => {
        if (!(await store.notifications.remove(idParam(req)))) throw notFound();
        send(res, 204, undefined);
      }),
    )
    .all(methodNotAllowed(['GET', 'PUT', 'PATCH', 'DELETE']));
  return router;
}
