import express, { type RequestHandler, type Router } from 'express';
import { summaryCache } from '../pages/cache.js';
import { validateStatusPage } from '../pages/validate.js';
import type { MonitorStore } from '../store/index.js';
import { existingServerIds } from '../store/servers.js';
import type { StatusPage, StatusPageInput, StoredPage } from '../store/status-pages.js';
import { adminOnly } from './guards.js';
import { badRequest, handler, methodNotAllowed, notFound, nullCharacters, readBody, send } from './http.js';
import { checkPageExists, MAX_ID, pageBody, pageOf } from './query.js';

/** The admin shape: the row id stays inside. */
const shown = ({ id: _id, ...page }: StoredPage): StatusPage => page;

/** Server ids that are not servers, as DRF says it of a related field. */
async function missingServers(store: MonitorStore, ids: readonly number[]): Promise<number[]> {
  const inRange = ids.filter((id) => id <= MAX_ID);
  const found = inRange.length ? await existingServerIds(store.db, inRange) : new Set<number>();
  return ids.filter((id) => !found.has(id));
}

/**
 * `/status-pages/` and `/status-pages/:slug/`: list and read for users, create, replace,
 * patch and delete for admins. `servers` are ids in display order; `display_names` maps a
 * server id to the name the public sees.
 */
export function statusPageRoutes(store: MonitorStore, authenticate: RequestHandler): Router {
  const router = express.Router();
  const cache = summaryCache(store);

  const validated = async (body: unknown, options: Parameters<typeof validateStatusPage>[1] = {}): Promise<StatusPageInput> => {
    const nulls = nullCharacters(body);
    if (Object.keys(nulls).length > 0) throw badRequest(nulls);
    const checked = validateStatusPage(body, options);
    if (!checked.ok) throw badRequest(checked.errors);
    const missing = await missingServers(store, checked.value.servers);
    if (missing.length > 0) throw badRequest({ servers: missing.map((id) => `Invalid pk "${id}" - object does not exist.`) });
    return checked.value;
  };
  const slugTaken = () => badRequest({ slug: ['status page with this slug already exists.'] });

  router
    .route('/')
    .get(
      authenticate,
      handler(async (req, res) => {
        const page = pageOf(req);
        const all = await store.statusPages.list();
        checkPageExists(page, all.length);
        send(res, 200, pageBody(req, page, all.length, all.slice(page.offset, page.offset + page.size).map(shown)));
      }),
    )
    .post(
      authenticate,
      adminOnly,
      readBody,
      handler(async (req, res) => {
        const created = await store.statusPages.create(await validated(req.body));
        if (!created) throw slugTaken();
        cache.invalidate([created.slug]);
        send(res, 201, shown(created));
      }),
    )
    .all(methodNotAllowed(['GET', 'POST']));

  const replace = (partial: boolean) =>
    handler(async (req, res) => {
      const slug = String(req.params.slug);
      const existing = await store.statusPages.get(slug);
      if (!existing) throw notFound();
      const updated = await store.statusPages.update(slug, await validated(req.body, { existing, partial }));
      if (updated === 'conflict') throw slugTaken();
      if (!updated) throw notFound();
      cache.invalidate([slug, updated.slug]);
      send(res, 200, shown(updated));
    });

  router
    .route('/:slug')
    .get(
      authenticate,
      handler(async (req, res) => {
        const page = await store.statusPages.get(String(req.params.slug));
        if (!page) throw notFound();
        send(res, 200, shown(page));
      }),
    )
    .put(authenticate, adminOnly, readBody, replace(false))
    .patch(authenticate, adminOnly, readBody, replace(true))
    .delete(
      authenticate,
      adminOnly,
      handler(async (req, res) => {
        const slug = String(req.params.slug);
        if (!(await store.statusPages.remove(slug))) throw notFound();
        cache.invalidate([slug]);
        send(res, 204, undefined);
      }),
    )
    .all(methodNotAllowed(['GET', 'PUT', 'PATCH', 'DELETE']));
  return router;
}
