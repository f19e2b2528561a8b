import express, { type RequestHandler, type Response, type Router } from 'express';
import type { MonitorStore } from '../store/index.js';
import { dependencyCycle } from '../dependencies.js';
import { validateServer } from '../validate.js';
import { showServerStatuses } from '../windows/index.js';
import type { ServerWithStatus } from '../store/servers.js';
import { adminOnly } from './guards.js';
import { badRequest, handler, methodNotAllowed, notFound, nullCharacters, readBody, send, userOf } from './http.js';
import { booleanParam, checkPageExists, idParam, pageBody, pageOf, param } from './query.js';

/** A push token is a secret: admins read it, other users see null. */
export function forViewer<S extends ServerWithStatus | undefined>(server: S, res: Response): S {
  if (!server || server.push_token === null || userOf(res).is_admin) return server;
  return { ...server, push_token: null };
}

/** `/servers/` and `/servers/:id/`: list and read for users, create, replace, patch and delete for admins. */
export function serverRoutes(store: MonitorStore, authenticate: RequestHandler): Router {
  const router = express.Router();

  /** A body checked for NULs, then by validateServer, then its `depends_on` against the stored servers. */
  const validated = async (body: unknown, options: Parameters<typeof validateServer>[1] = {}) => {
    const nulls = nullCharacters(body);
    if (Object.keys(nulls).length > 0) throw badRequest(nulls);
    const checked = validateServer(body, options);
    if (!checked.ok) throw badRequest(checked.errors);
    const dependsOn = checked.value.depends_on ?? [];
    if (dependsOn.length > 0) {
      const all = await store.servers.all();
      const missing = dependsOn.find((id) => !all.some((s) => s.id === id));
      if (missing !== undefined) throw badRequest({ depends_on: [`Invalid pk "${missing}" - object does not exist.`] });
      const cycle = dependencyCycle(options.existing?.id, dependsOn, all);
      if (cycle) throw badRequest({ depends_on: [`This would make a cycle of dependencies: ${cycle.join(' → ')}.`] });
    }
    return checked.value;
  };

  router
    .route('/')
    .get(
      authenticate,
      handler(async (req, res) => {
        const page = pageOf(req);
        const search = param(req, 'search')?.trim().slice(0, 200) || undefined;
        const enabled = booleanParam(req, 'enabled');
        const { count, results } = await store.servers.list({
          limit: page.size,
          offset: page.offset,
          ...(search ? { query: search } : {}),
          ...(enabled === undefined ? {} : { enabled }),
        });
        checkPageExists(page, count);
        send(
          res,
          200,
          pageBody(
            req,
            page,
            count,
            (await showServerStatuses(store, results)).map((s) => forViewer(s, res)),
          ),
        );
      }),
    )
    .post(
      authenticate,
      adminOnly,
      readBody,
      handler(async (req, res) => {
        const server = await store.servers.create(await validated(req.body));
        send(res, 201, await shown(server.id, res));
      }),
    )
    .all(methodNotAllowed(['GET', 'POST']));

  /** A server as this caller sees it: its status under maintenance windows, the push token for admins only; 404 once gone. */
  async function shown(id: number, res: Response): Promise<ServerWithStatus> {
    const server = await store.servers.get(id);
    if (!server) throw notFound();
    return forViewer((await showServerStatuses(store, [server]))[0]!, res);
  }

  const replace = (partial: boolean) =>
    handler(async (req, res) => {
      const id = idParam(req);
      const existing = await store.servers.get(id);
      if (!existing) throw notFound();
      const updated = await store.servers.update(id, await validated(req.body, { existing, partial }));
      if (!updated) throw notFound();
      send(res, 200, await shown(id, res));
    });

  router
    .route('/:id')
    .get(
      authenticate,
      handler(async (req, res) => {
        send(res, 200, await shown(idParam(req), res));
      }),
    )
    .put(authenticate, adminOnly, readBody, replace(false))
    .patch(authenticate, adminOnly, readBody, replace(true))
    .delete(
      authenticate,
      adminOnly,
      handler(async (req, res) => {
        if (!(await store.servers.remove(idParam(req)))) throw notFound();
        send(res, 204, undefined);
      }),
    )
    .all(methodNotAllowed(['GET', 'PUT', 'PATCH', 'DELETE']));

  router
    .route('/:id/rotate-push-token')
    .post(
      authenticate,
      adminOnly,
      handler(async (req, res) => {
        const id = idParam(req);
        if (!(await store.servers.rotatePushToken(id))) {
          if (await store.servers.get(id)) throw badRequest({ protocol: ['Only push servers have a push token.'] });
          throw notFound();
        }
        send(res, 200, await shown(id, res));
      }),
    )
    .all(methodNotAllowed(['POST']));

  return router;
}
