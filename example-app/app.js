// @ts-check
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { errorHandler, lifeline, notFound } from 'express-lifeline';
import { notesRouter } from './notes.js';

const publicDir = join(dirname(fileURLToPath(import.meta.url)), 'public');

/**
 * The example backend: lifeline() first, then the JSON API, the page, and JSON errors.
 * @param {{ db: import('knex').Knex, logger: import('express-lifeline').LifelineLogger, frontendUrl?: string[] }} deps
 */
export function createApp({ db, logger, frontendUrl }) {
  const app = express();
  const life = lifeline({ database: db, staticDir: publicDir, logger, cors: frontendUrl ? { frontendUrl } : true });
  app.use(life);
  app.use(express.json({ limit: '16kb' }));
  app.use('/api/notes', notesRouter(db));
  app.use('/api', notFound());
  app.use(express.static(publicDir));
  app.use(notFound());
  app.use(errorHandler({ logger }));
  return { app, life };
}
