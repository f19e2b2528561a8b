import express, { type RequestHandler, type Router } from 'express';
import { enqueueIncident } from '../pages/incident-notify.js';
import { summaryCache } from '../pages/cache.js';
import { validateIncident, validateIncidentUpdate, type IncidentBody } from '../pages/validate.js';
import { addUpdate, setState } from '../store/incidents.js';
import type { MonitorStore } from '../store/index.js';
import { existingServerIds } from '../store/servers.js';
import { adminOnly } from './guards.js';
import { badRequest, handler, methodNotAllowed, notFound, nullCharacters, readBody, send } from './http.js';
import { booleanParam, checkPageExists, idParam, MAX_ID, pageBody, pageOf } from './query.js';

/**
 * `/incidents/`, `/incidents/:id/` and `/incidents/:id/updates/`: read for users; create,
 * patch and post updates for admins. Opening one (and resolving it, by `state` or by an
 * update) writes `incident.opened` / `incident.resolved` to the outbox in the same transaction.
 */
export function incidentRoutes(store: MonitorStore, authenticate: RequestHandler): Router {
  const router = express.Router();
  const cache = summaryCache(store);

  const checkServers = async (body: IncidentBody) => {
    const ids = body.servers.filter((id) => id <= MAX_ID);
    const found = ids.length ? await existingServerIds(store.db, ids) : new Set<number>();
    const missing = body.servers.filter((id) => !found.has(id));
    if (missing.length > 0) throw badRequest({ servers: missing.map((id) => `Invalid pk "${id}" - object does not exist.`) });
  };
  const checked = (body: unknown, existing?: Parameters<typeof validateIncident>[1]) => {
    const nulls = nullCharacters(body);
    if (Object.keys(nulls).length > 0) throw badRequest(nulls);
    const result = validateIncident(body, existing);
    if (!result.ok) throw badRequest(result.errors);
    return result.value;
  };

  router
    .route('/')
    .get(
      authenticate,
      handler(async (req, res) => {
        const page = pageOf(req);
        const open = booleanParam(req, 'open');
        const { count, results } = await store.incidents.list({
          limit: page.size,
          offset: page.offset,
          ...(open === undefined ? {} : { open }),
        });
        checkPageExists(page, count);
        send(res, 200, pageBody(req, page, count, results));
      }),
    )
    .post(
      authenticate,
      adminOnly,
      readBody,
      handler(async (req, res) => {
        const body = checked(req.body);
        await checkServers(body);
        const now = Date.now();
        const id = await store.db.transaction(async (trx) => {
          const created = await store.incidents.create(trx, body, body.message, now);
          await enqueueIncident(
            trx,
            store.outbox,
            created,
            body.resolved_at === null ? 'incident.opened' : 'incident.resolved',
            body.servers,
            now,
          );
          return created;
        });
        cache.invalidate();
        send(res, 201, await store.incidents.get(id));
      }),
    )
    .all(methodNotAllowed(['GET', 'POST']));

  router
    .route('/:id')
    .get(
      authenticate,
      handler(async (req, res) => {
        const incident = await store.incidents.get(idParam(req));
        if (!incident) throw notFound();
        send(res, 200, incident);
      }),
    )
    .patch(
      authenticate,
      adminOnly,
      readBody,
      handler(async (req, res) => {
        const id = idParam(req);
        const existing = await store.incidents.get(id);
        if (!existing) throw notFound();
        const body = checked(req.body, existing);
        await checkServers(body);
        const now = Date.now();
        await store.db.transaction(async (trx) => {
          await store.incidents.update(trx, id, body, body.title !== existing.title, now);
          if (existing.resolved_at === null && body.resolved_at !== null)
            await enqueueIncident(trx, store.outbox, id, 'incident.resolved', body.servers, now);
        });
        cache.invalidate();
        send(res, 200, await store.incidents.get(id));
      }),
    )
    .all(methodNotAllowed(['GET', 'PATCH']));

  router
    .route('/:id/updates')
    .post(
      authenticate,
      adminOnly,
      readBody,
      handler(async (req, res) => {
        const id = idParam(req);
        const existing = await store.incidents.get(id);
        if (!existing) throw notFound();
        const nulls = nullCharacters(req.body);
        if (Object.keys(nulls).length > 0) throw badRequest(nulls);
        const result = validateIncidentUpdate(req.body, existing);
        if (!result.ok) throw badRequest(result.errors);
        const { state, message } = result.value;
        const now = Date.now();
        await store.db.transaction(async (trx) => {
          await addUpdate(trx, id, state, message, now);
          // The update moves the incident: resolved sets resolved_at (once), any other state reopens it.
          const resolvedAt = state === 'resolved' ? (existing.resolved_at ? Date.parse(existing.resolved_at) : now) : null;
          await setState(trx, id, state, resolvedAt, now);
          if (existing.resolved_at === null && resolvedAt !== null)
            await enqueueIncident(trx, store.outbox, id, 'incident.resolved', existing.servers, now);
        });
        cache.invalidate();
        send(res, 201, await store.incidents.get(id));
      }),
    )
    .all(methodNotAllowed(['POST']));
  return router;
}
