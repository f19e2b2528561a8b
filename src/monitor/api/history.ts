import express, { type RequestHandler, type Router } from 'express';
import type { MonitorStore } from '../store/index.js';
import { handler, methodNotAllowed, notFound, send } from './http.js';
import { choiceList, idParam } from './query.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Each range and its bucket: about 90–120 points, from raw results under an hour, else rollups and raw. */
export const HISTORY_RANGES = {
  '24h': { span: DAY, bucket: 15 * MINUTE },
  '7d': { span: 7 * DAY, bucket: HOUR },
  '30d': { span: 30 * DAY, bucket: 6 * HOUR },
  '90d': { span: 90 * DAY, bucket: DAY },
} as const;
export type HistoryRange = keyof typeof HISTORY_RANGES;
const RANGES = Object.keys(HISTORY_RANGES) as HistoryRange[];

/** `GET /servers/:id/history/?range=24h|7d|30d|90d` (default 24h): buckets of checks, uptime and response times. */
export function historyRoutes(store: MonitorStore, authenticate: RequestHandler): Router {
  const router = express.Router();
  router
    .route('/:id/history')
    .get(
      authenticate,
      handler(async (req, res) => {
        const id = idParam(req);
        const [range = '24h', extra] = choiceList(req, 'range', RANGES) ?? [];
        if (extra !== undefined) return send(res, 400, { range: ['Give one range.'] });
        if (!(await store.servers.get(id))) throw notFound();
        const { span, bucket } = HISTORY_RANGES[range];
        const to = Date.now();
        const watermark = Number(await store.settings.get('rollup_watermark'));
        const buckets = await store.history.buckets(id, {
          from: to - span,
          to,
          size: bucket,
          rolledUpTo: Number.isFinite(watermark) && watermark > 0 ? watermark : undefined,
        });
        send(res, 200, { server: id, range, bucket_seconds: bucket / 1000, buckets });
      }),
    )
    .all(methodNotAllowed(['GET']));
  return router;
}
