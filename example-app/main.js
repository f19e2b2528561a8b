// @ts-check
// The example backend as a module: the default export builds the app, `onShutdown` closes
// what it opened. `server.js` runs it in one process; `lifeline serve` (WORKERS=2) in many.
import { createLogger, loadConfig, redactText } from 'express-lifeline';
import { createApp } from './app.js';
import { DEFAULT_SQLITE_FILE, migrate, openDatabase } from './db.js';

const config = loadConfig();
const logger = createLogger({ file: config.logFile, level: config.logLevel, format: config.logFormat });
const log = {
  info: (/** @type {string} */ m) => logger.info(m, { component: 'server' }),
  error: (/** @type {string} */ m) => logger.error(m, { component: 'server' }),
};
const db = openDatabase(config.databaseUrl);
/** @type {ReturnType<typeof createApp>['life'] | undefined} */
let life;

/**
 * Creates the schema; while the database is down, tries again in the background with
 * backoff, so the app starts degraded and heals when the database comes back.
 */
async function ensureSchema(attempt = 1) {
  try {
    await migrate(db);
    if (attempt > 1) log.info('database schema ready');
  } catch (error) {
    const wait = Math.min(30_000, 1000 * 2 ** (attempt - 1));
    log.error(`database schema not ready (${error instanceof Error ? error.message : String(error)}): retry in ${wait} ms`);
    setTimeout(() => void ensureSchema(attempt + 1), wait).unref();
  }
}

export default async function createExampleApp() {
  log.info(`database ${config.databaseUrl ? redactText(config.databaseUrl) : DEFAULT_SQLITE_FILE}`);
  await ensureSchema();
  const made = createApp({ db, logger, frontendUrl: config.frontendUrls });
  life = made.life;
  return made.app;
}

/** Last steps of a graceful shutdown: stop the timers, close the pool, flush backend.log. */
export const onShutdown = [() => life?.close(), () => db.destroy(), () => logger.closeAndFlush()];

export { logger };
