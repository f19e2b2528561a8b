// Part of `npm run build`: tsc compiles only TypeScript, so the dashboard's static files
// (HTML, CSS, browser ES modules) are copied next to the compiled router in dist/.
import { cpSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const from = fileURLToPath(new URL('../src/monitor/dashboard/static/', import.meta.url));
const to = fileURLToPath(new URL('../dist/monitor/dashboard/static/', import.meta.url));
rmSync(to, { recursive: true, force: true });
cpSync(from, to, { recursive: true });
