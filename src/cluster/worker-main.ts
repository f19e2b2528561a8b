// The script each cluster worker runs.
import { ConfigError } from '../errors.js';
import { runWorker } from './worker.js';

runWorker().catch((error: unknown) => {
  // A bad variable is the operator's mistake: its one line says everything, a stack would bury it.
  const text = error instanceof ConfigError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
  console.error(`lifeline worker ${process.pid}: ${text}`);
  process.exit(1);
});
