// @ts-check
// Starts the example backend: `npm start` from the repository root.
import { ConfigError, createLogger, loadConfig, redactText, serve } from 'express-lifeline';
import { createApp } from './app.js';
import { DEFAULT_SQLITE_FILE, migrate, openDatabase } from './db.js';

let config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`error: ${error.message}`);
  process.exit(1);
}

const logger = createLogger({ file: config.logFile, level: config.logLevel, format: config.logFormat });
const log = {
  info: (/** @type {string} */ m) => logger.info(m, { component: 'server' }),
  error: (/** @type {string} */ m) => logger.error(m, { component: 'server' }),
};
const db = openDatabase(config.databaseUrl);

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
await ensureSchema();

const { app, life } = createApp({ db, logger, frontendUrl: config.frontendUrls });
try {
  await serve(app, {
    port: config.port,
    host: config.host,
    logger,
    // Last steps of a graceful shutdown: stop the timers, close the pool, flush backend.log.
    onShutdown: [() => life.close(), () => db.destroy(), () => logger.closeAndFlush()],
  });
} catch (error) {
  log.error(`cannot listen on ${config.host}:${config.port}: ${error instanceof Error ? error.message : String(error)}`);
  await logger.closeAndFlush();
  process.exit(1);
}
log.info(`database ${config.databaseUrl ? redactText(config.databaseUrl) : DEFAULT_SQLITE_FILE}`);
