import express, { type Response, type Router } from 'express';
import { loadAssets, type Asset, type Assets } from './assets.js';

/** The dashboard's Content-Security-Policy: nothing inline, nothing from elsewhere. */
export const DASHBOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const HEADERS: Record<string, string> = {
  'Content-Security-Policy': DASHBOARD_CSP,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};
// The page is small and changes with the package: the browser revalidates it (ETag, 304) every time.
const PAGE_CACHE = 'no-cache';
// Asset URLs carry the hash of every asset, so a new version has new URLs and old ones can be kept forever.
const ASSET_CACHE = 'public, max-age=31536000, immutable';

let loaded: Assets | undefined;

function sendAsset(res: Response, asset: Asset, cacheControl: string): void {
  res.set({ 'Content-Type': asset.type, ETag: asset.etag, 'Cache-Control': cacheControl });
  // res.send answers 304 itself when If-None-Match matches the ETag, and leaves the body out for HEAD.
  res.send(asset.body);
}

/**
 * The dashboard at /monitor/: a page of plain ES modules and CSS, and uPlot for the
 * charts, all served from the package (no build step, no CDN) under a strict
 * Content-Security-Policy. The files are read once, at the first call; a request only
 * sends a buffer. The page talks to the REST API on the same origin (`../api/`).
 *
 * @example
 * app.use('/monitor', dashboardRouter());
 */
export function dashboardRouter(): Router {
  const assets = (loaded ??= loadAssets());
  const router = express.Router();

  router.use(function dashboardHeaders(_req, res, next) {
    res.set(HEADERS);
    next();
  });

  router.get('/', function dashboardPage(req, res) {
    // The page's relative links need the trailing slash: /monitor → /monitor/.
    const [path = '', query] = req.originalUrl.split('?', 2);
    if (!path.endsWith('/')) {
      res.redirect(301, `${path}/${query === undefined ? '' : `?${query}`}`);
      return;
    }
    sendAsset(res, assets.page, PAGE_CACHE);
  });

  router.use('/assets', function dashboardAsset(req, res, next) {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    // /assets/<version>/<file>: only the current version is served.
    const slash = req.path.indexOf('/', 1);
    const asset = slash > 0 && req.path.slice(1, slash) === assets.version ? assets.files.get(req.path.slice(slash + 1)) : undefined;
    if (!asset) return next();
    sendAsset(res, asset, ASSET_CACHE);
  });

  return router;
}
