import express, { type RequestHandler, type Router } from 'express';
import type { LifelineLogger } from '../../logging/logger.js';
import type { Monitor } from '../monitor.js';
import { adminOnly } from './guards.js';
import { badRequest, handler, methodNotAllowed, readBody, send } from './http.js';
import { isId } from './query.js';

/**
 * `POST /checks/run/` `{server_ids?}`: 202 at once; the checks run now and their results
 * are stored and announced as usual. Without `server_ids`, every enabled server.
 */
export function checkRoutes(monitor: Monitor, authenticate: RequestHandler, logger: LifelineLogger): Router {
  const router = express.Router();
  router
    .route('/run')
    .post(
      authenticate,
      adminOnly,
      readBody,
      handler(async (req, res) => {
        const raw = (req.body as Record<string, unknown>).server_ids;
        let ids: number[];
        if (raw === undefined || raw === null) {
          ids = (await monitor.store.servers.all({ enabled: true })).map((s) => s.id);
        } else {
          if (!Array.isArray(raw)) throw badRequest({ server_ids: ['Expected a list of items but got type "' + typeof raw + '".'] });
          if (raw.length > 10_000) throw badRequest({ server_ids: ['Ensure this field has no more than 10000 elements.'] });
          const bad = raw.find((id) => !isId(id));
          if (bad !== undefined)
            throw badRequest({ server_ids: [`Incorrect type. Expected pk value, received ${JSON.stringify(bad)?.slice(0, 50)}.`] });
          ids = [...new Set(raw as number[])];
          const known = new Set((await monitor.store.servers.list({ ids, limit: ids.length || 1 })).results.map((s) => s.id));
          const missing = ids.find((id) => !known.has(id));
          if (missing !== undefined) throw badRequest({ server_ids: [`Invalid pk "${missing}" - object does not exist.`] });
        }
        monitor.runNow(ids).catch((error: unknown) => logger.warn('API: checks run on request failed', { error: String(error) }));
        send(res, 202, { detail: 'Checks started.', server_ids: ids });
      }),
    )
    .all(methodNotAllowed(['POST']));
  return router;
}
