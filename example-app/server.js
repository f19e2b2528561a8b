// @ts-check
// Starts the example backend: `npm start` from the repository root.
import { ConfigError, createLogger, loadConfig, redactText } from 'express-lifeline';
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
try {
  await migrate(db);
} catch (error) {
  // Start anyway: /api/health says the database is down until it comes back.
  log.error(`database migration failed: ${error instanceof Error ? error.message : String(error)}`);
}

const { app, life } = createApp({ db, logger, frontendUrl: config.frontendUrls });
const server = app.listen(config.port, config.host);
server.on('error', (error) => {
  log.error(`cannot listen on ${config.host}:${config.port}: ${error.message}`);
  process.exitCode = 1;
  void shutdown('listen error');
});
server.on('listening', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const database = config.databaseUrl ? redactText(config.databaseUrl) : DEFAULT_SQLITE_FILE;
  log.info(`listening on http://${config.host}:${port} (${config.nodeEnv}, pid ${process.pid}, database ${database})`);
});

let stopping = false;
/** @param {string} reason */
async function shutdown(reason) {
  if (stopping) return;
  stopping = true;
  log.info(`shutting down (${reason})`);
  await new Promise((resolve) => {
    server.close(resolve);
    server.closeIdleConnections();
  });
  await life.close();
  await db.destroy();
  log.info('stopped');
  await logger.closeAndFlush();
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
