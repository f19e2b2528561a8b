import express, { type Request, type Response, type Router } from 'express';
import type { LifelineLogger } from '../../logging/logger.js';
import { sendUnavailable } from '../api/http.js';
import { loadAssets, type Assets } from '../dashboard/assets.js';
import { DASHBOARD_CSP } from '../dashboard/index.js';
import { isDatabaseUnavailable } from '../store/unavailable.js';
import type { SummaryCache } from './cache.js';
import { renderPage } from './render.js';
import type { PageStreams } from './stream.js';

const SLUG = /^[a-z0-9][a-z0-9_-]{0,99}$/;
const PUBLIC_ASSETS = new Set(['status-page.js', 'status-page.css']);
const HEADERS: Record<string, string> = {
  'Content-Security-Policy': DASHBOARD_CSP,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
};

let assets: Assets | undefined;

function notFound(res: Response): void {
  res.status(404).set('Cache-Control', 'no-store').json({ detail: 'Not found.' });
}

/**
 * The public side of status pages, without a login: the page `/status/:slug` (rendered
 * on the server from the cached summary, under the dashboard's CSP), its assets, the
 * summary `/api/status-pages/:slug/summary/` and its event stream `…/events/`.
 */
export function publicPageRoutes({
  cache,
  streams,
  logger,
}: {
  cache: SummaryCache;
  streams: PageStreams;
  logger: LifelineLogger;
}): Router {
  const router = express.Router();
  const failed = (res: Response, error: unknown) => {
    if (res.headersSent) return void res.end();
    if (isDatabaseUnavailable(error)) return sendUnavailable(res);
    logger.error(`status page failed: ${error instanceof Error ? error.message : String(error)}`);
    res.status(500).set('Cache-Control', 'no-store').json({ detail: 'A server error occurred.' });
  };
  const slugOf = (req: Request) => {
    const slug = req.params.slug;
    return typeof slug === 'string' && SLUG.test(slug) ? slug : undefined;
  };

  router.get('/status/assets/:version/:file', function statusPageAsset(req, res, next) {
    assets ??= loadAssets();
    const file =
      PUBLIC_ASSETS.has(req.params.file) && req.params.version === assets.version ? assets.files.get(req.params.file) : undefined;
    if (!file) return next();
    res.set({ ...HEADERS, 'Content-Type': file.type, ETag: file.etag, 'Cache-Control': 'public, max-age=31536000, immutable' });
    res.send(file.body);
  });

  router.get('/status/:slug', function statusPage(req, res) {
    const slug = slugOf(req);
    if (!slug) return notFound(res);
    assets ??= loadAssets();
    const version = assets.version;
    cache.get(slug).then(
      (cached) => {
        if (!cached) return notFound(res);
        const base = req.baseUrl;
        const html = renderPage(cached.summary, {
          assets: `${base}/status/assets/${version}`,
          events: `${base}/api/status-pages/${slug}/events/`,
        });
        res.set({ ...HEADERS, 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-cache' }).send(html);
      },
      (error: unknown) => failed(res, error),
    );
  });

  router.get('/api/status-pages/:slug/summary', function statusPageSummary(req, res) {
    const slug = slugOf(req);
    if (!slug) return notFound(res);
    cache.get(slug).then(
      (cached) => {
        if (!cached) return notFound(res);
        res.status(200).set({ 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-cache' }).send(cached.json);
      },
      (error: unknown) => failed(res, error),
    );
  });

  router.get('/api/status-pages/:slug/events', function statusPageEvents(req, res) {
    const slug = slugOf(req);
    if (!slug) return notFound(res);
    streams.open(slug, req, res).then(
      (opened) => {
        if (!opened) notFound(res);
      },
      (error: unknown) => failed(res, error),
    );
  });

  return router;
}
