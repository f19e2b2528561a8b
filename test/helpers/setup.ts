import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Tests never write backend.log into the repository.
process.env.LOG_FILE ??= join(mkdtempSync(join(tmpdir(), 'lifeline-log-')), 'backend.log');
delete process.env.NODE_ENV;
delete process.env.FRONTEND_URL;
delete process.env.HEALTH_TOKEN;
delete process.env.KEEP_ALIVE_INTERVAL;
delete process.env.ACCESS_LOG;
