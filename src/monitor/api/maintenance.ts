import express, { type RequestHandler, type Router } from 'express';
import type { MonitorStore } from '../store/index.js';
import { iso } from '../store/rows.js';
import { occurrences, type MaintenanceWindow } from '../windows/schedule.js';
import { validateWindow, type ValidateWindowOptions } from '../windows/validate.js';
import { adminOnly } from './guards.js';
import { badRequest, handler, methodNotAllowed, notFound, nullCharacters, readBody, send } from './http.js';
import { checkPageExists, idList, idParam, pageBody, pageOf } from './query.js';

const LOOK_AHEAD = 366 * 86_400_000;

/** A window as the API shows it: with whether it runs now and its current or next occurrence. */
function withSchedule(window: MaintenanceWindow, now: number) {
  const [next] = occurrences(window, now, now + LOOK_AHEAD);
  return {
    ...window,
    active: next !== undefined && next.start <= now,
    next: next ? { starts_at: iso(next.start), ends_at: iso(next.end) } : null,
  };
}

/**
 * `/maintenance/` and `/maintenance/:id/`: maintenance windows, read by every user,
 * written by admins. During a window the servers' checks go on, nothing is notified,
 * the status reads `maintenance` and the time is left out of uptime.
 */
export function maintenanceRoutes(store: MonitorStore, authenticate: RequestHandler): Router {
  const router = express.Router();

  const validated = async (body: unknown, options: ValidateWindowOptions = {}) => {
    const nulls = nullCharacters(body);
    if (Object.keys(nulls).length > 0) throw badRequest(nulls);
    const checked = validateWindow(body, options);
    if (!checked.ok) throw badRequest(checked.errors);
    const known = new Set((await store.servers.all()).map((s) => s.id));
    const missing = checked.value.servers.find((id) => !known.has(id));
    if (missing !== undefined) throw badRequest({ servers: [`Invalid pk "${missing}" - object does not exist.`] });
    return checked.value;
  };

  router
    .route('/')
    .get(
      authenticate,
      handler(async (req, res) => {
        const serverIds = idList(req, 'server_id');
        const page = pageOf(req);
        const all = await store.maintenance.list(serverIds ? { serverIds } : {});
        checkPageExists(page, all.length);
        const now = Date.now();
        const shown = all.slice(page.offset, page.offset + page.size).map((w) => withSchedule(w, now));
        send(res, 200, pageBody(req, page, all.length, shown));
      }),
    )
    .post(
      authenticate,
      adminOnly,
      readBody,
      handler(async (req, res) => {
        const window = await store.maintenance.create(await validated(req.body));
        send(res, 201, withSchedule(window, Date.now()));
      }),
    )
    .all(methodNotAllowed(['GET', 'POST']));

  const replace = (partial: boolean) =>
    handler(async (req, res) => {
      const id = idParam(req);
      const existing = await store.maintenance.get(id);
      if (!existing) throw notFound();
      const updated = await store.maintenance.update(id, await validated(req.body, { existing, partial }));
      if (!updated) throw notFound();
      send(res, 200, withSchedule(updated, Date.now()));
    });

  router
    .route('/:id')
    .get(
      authenticate,
      handler(async (req, res) => {
        const window = await store.maintenance.get(idParam(req));
        if (!window) throw notFound();
        send(res, 200, withSchedule(window, Date.now()));
      }),
    )
    .put(authenticate, adminOnly, readBody, replace(false))
    .patch(authenticate, adminOnly, readBody, replace(true))
    .delete(
      authenticate,
      adminOnly,
      handler(async (req, res) => {
        if (!(await store.maintenance.remove(idParam(req)))) throw notFound();
        send(res, 204, undefined);
      }),
    )
    .all(methodNotAllowed(['GET', 'PUT', 'PATCH', 'DELETE']));
  return router;
}
