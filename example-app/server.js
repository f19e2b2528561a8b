// @ts-check
// Starts the example backend: `npm start` from the repository root (one process), or
// `WORKERS=2 npm start` for a cluster of two workers behind one port.
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, runCluster, serve } from 'express-lifeline';

let config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`error: ${error.message}`);
  process.exit(1);
}

if (config.workers !== 1) {
  await runCluster({
    entry: fileURLToPath(new URL('./main.js', import.meta.url)),
    workers: config.workers,
    port: config.port,
    host: config.host,
  });
} else {
  const { default: createExampleApp, onShutdown, logger } = await import('./main.js');
  const app = await createExampleApp();
  try {
    await serve(app, { port: config.port, host: config.host, logger, onShutdown });
  } catch (error) {
    logger.error(`cannot listen on ${config.host}:${config.port}: ${error instanceof Error ? error.message : String(error)}`, {
      component: 'server',
    });
    await logger.closeAndFlush();
    process.exit(1);
  }
}
