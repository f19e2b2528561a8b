import { knexCheck } from './database.js';
import { staticFilesCheck } from './static-files.js';

/** Ready-made health checks. */
export const checks = {
  knex: knexCheck,
  staticFiles: staticFilesCheck,
};
