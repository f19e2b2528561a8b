import express, { type RequestHandler, type Router } from 'express';
import type { MonitorStore } from '../store/index.js';
import { PING_STATUSES, SERVER_STATES } from '../types.js';
import { showStatuses } from '../windows/index.js';
import { handler, methodNotAllowed, send } from './http.js';
import { checkPageExists, choiceList, dateParam, idList, pageBody, pageOf, param, positiveParam } from './query.js';

/** The largest `limit` of ping results (their total, before paging). */
const MAX_LIMIT = 100_000;

/**
 * `GET /ping-results/?server_id=1,2&status=failure&since=ISO&limit=N`: newest first,
 * paginated; `limit` caps how many of the newest results the list holds in all.
 */
export function pingResultRoutes(store: MonitorStore, authenticate: RequestHandler): Router {
  const router = express.Router();
  router
    .route('/')
    .get(
      authenticate,
      handler(async (req, res) => {
        const serverIds = idList(req, 'server_id');
        const status = choiceList(req, 'status', PING_STATUSES);
        const since = dateParam(req, 'since');
        const limit = positiveParam(req, 'limit', MAX_LIMIT);
        const page = pageOf(req);
        const take = limit === undefined ? page.size : Math.max(0, Math.min(page.size, limit - page.offset));
        const filter = { ...(serverIds ? { serverIds } : {}), ...(status ? { status } : {}), ...(since !== undefined ? { since } : {}) };
        const listed = await store.results.list({ ...filter, limit: Math.max(take, 1), offset: page.offset });
        const count = limit === undefined ? listed.count : Math.min(listed.count, limit);
        checkPageExists(page, count);
        send(res, 200, pageBody(req, page, count, take === 0 ? [] : listed.results.slice(0, take)));
      }),
    )
    .all(methodNotAllowed(['GET']));
  return router;
}

/**
 * `GET /server-status/?status=up,down&server_id=1`: each server's current status, by server id;
 * all of them in one answer unless `page` or `page_size` is given.
 */
export function serverStatusRoutes(store: MonitorStore, authenticate: RequestHandler): Router {
  const router = express.Router();
  router
    .route('/')
    .get(
      authenticate,
      handler(async (req, res) => {
        const serverIds = idList(req, 'server_id');
        const status = choiceList(req, 'status', SERVER_STATES);
        // As users see them (`maintenance` during a window), filtered after: no stored state is `maintenance`.
        const { results: stored } = await store.results.statusPage(serverIds ? { serverIds } : {});
        const all = (await showStatuses(store, stored)).filter((s) => !status || status.includes(s.status));
        // Without paging parameters, every status at once: a client's overview is one request.
        if (param(req, 'page') === undefined && param(req, 'page_size') === undefined) {
          return send(res, 200, { count: all.length, next: null, previous: null, results: all });
        }
        const page = pageOf(req);
        checkPageExists(page, all.length);
        send(res, 200, pageBody(req, page, all.length, all.slice(page.offset, page.offset + page.size)));
      }),
    )
    .all(methodNotAllowed(['GET']));
  return router;
}
