import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const HEAVY = ['express', 'helmet', 'cors', 'winston', 'negotiator', 'on-headers'];

// The subpath resolves to dist/: run `npm run build` first (as for the CLI and cluster tests).
describe("import 'express-lifeline/supervisor'", () => {
  it('loads neither Express nor helmet, cors or winston, and gives a working ServiceManager', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lifeline-subpath-'));
    const record = join(dir, 'imports.txt');
    try {
      const script = `
        import { createRequire } from 'node:module';
        import { ServiceManager, ApiError } from 'express-lifeline/supervisor';
        const m = new ServiceManager({ command: process.execPath, port: 8123 });
        const cjs = Object.keys(createRequire(process.cwd() + '/')('node:module')._cache);
        console.log(JSON.stringify({ state: m.getStatus().state, url: m.url, apiError: typeof ApiError, cjs }));
      `;
      const { stdout } = await run(
        process.execPath,
        ['--import', resolve('test/fixtures/record-imports.mjs'), '--input-type=module', '-e', script],
        { env: { ...process.env, RECORD_IMPORTS: record }, timeout: 20_000 },
      );
      const out = JSON.parse(stdout) as { state: string; url: string; apiError: string; cjs: string[] };
      expect(out).toMatchObject({ state: 'stopped', url: 'http://127.0.0.1:8123', apiError: 'function' });
      const loaded = [...(await readFile(record, 'utf8')).split('\n').filter(Boolean), ...out.cjs];
      // The import went through the package's exports, to the built subpath.
      expect(loaded.some((url) => url.endsWith('/dist/supervisor/index.js'))).toBe(true);
      const heavy = loaded.filter((url) => HEAVY.some((name) => url.includes(`/node_modules/${name}/`)));
      expect(heavy).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
