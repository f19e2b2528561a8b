import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers/load.js';
import { isRunning, runNode, type Child } from './helpers/process.js';

// The README's Quick start, run as a reader pastes it: the first js block of the section is
// written to app.mjs in an empty project whose node_modules has `express-lifeline` (this
// package, linked) and `express`, then run with `node app.mjs` and with `lifeline serve app.mjs`.
const root = resolve(import.meta.dirname, '..');
let project: string;
const children: Child[] = [];

/** The first ```js block under `## Quick start`. */
function quickStart(readme: string): string {
  const section = /^## Quick start\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1];
  const code = section && /^```js\n([\s\S]*?)^```/m.exec(section)?.[1];
  if (!code) throw new Error('README.md has no ```js block under "## Quick start"');
  return code;
}

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), 'lifeline-quickstart-'));
  mkdirSync(join(project, 'node_modules'));
  symlinkSync(root, join(project, 'node_modules/express-lifeline'));
  symlinkSync(join(root, 'node_modules/express'), join(project, 'node_modules/express'));
  writeFileSync(join(project, 'app.mjs'), quickStart(readFileSync(join(root, 'README.md'), 'utf8')));
});
afterAll(() => {
  for (const { child } of children) if (child.pid !== undefined && isRunning(child.pid)) child.kill('SIGKILL');
  rmSync(project, { recursive: true, force: true });
});

/** Polls until `url` answers, or the child exits (its output is in the error). */
async function answer(url: string, run: Child): Promise<Response> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (run.child.exitCode !== null) throw new Error(`exited with ${run.child.exitCode}:\n${run.output()}`);
    try {
      return await fetch(url);
    } catch {
      if (Date.now() > deadline) throw new Error(`${url} did not answer:\n${run.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe("README's Quick start, as pasted", () => {
  for (const [how, script, args] of [
    ['node app.mjs', 'app.mjs', []],
    ['lifeline serve app.mjs', join(root, 'dist/cli/main.js'), ['serve', 'app.mjs']],
  ] as const) {
    it(`runs with ${how}, on PORT, and stops cleanly on SIGTERM`, async () => {
      const port = await freePort();
      const run = runNode(script, { PORT: String(port), HOST: '127.0.0.1', LOG_FILE: join(project, 'backend.log') }, [...args], {
        cwd: project,
      });
      children.push(run);
      const health = await answer(`http://127.0.0.1:${port}/api/health`, run);
      expect(health.status).toBe(200);
      expect(((await health.json()) as { status: string }).status).toBe('healthy');
      const hello = await fetch(`http://127.0.0.1:${port}/api/hello`);
      expect(await hello.json()).toEqual({ hello: 'world' });
      // An unknown path: JSON, as every error the README promises.
      const missing = await fetch(`http://127.0.0.1:${port}/nope`);
      expect(missing.status).toBe(404);
      expect(missing.headers.get('content-type')).toMatch(/^application\/json/);
      run.child.kill('SIGTERM');
      expect(await run.exited()).toEqual({ code: 0, signal: null });
    });
  }
});
