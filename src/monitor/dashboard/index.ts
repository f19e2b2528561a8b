import express, { type Router } from 'express';

/** The dashboard at /monitor/: static files served from the package (no build step, no CDN). */
export function dashboardRouter(): Router {
  const router = express.Router();
  router.get('/', (_req, res) => {
    res.type('html').send('<!doctype html><title>Monitor</title><p>The dashboard is being built.</p>');
  });
  return router;
}
