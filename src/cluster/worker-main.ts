// The script each cluster worker runs.
import { runWorker } from './worker.js';

runWorker().catch((error: unknown) => {
  console.error(`lifeline worker ${process.pid}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
});
