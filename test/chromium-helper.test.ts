import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chromiumPath } from './helpers/chromium.js';

// How the page test finds its browser (test/helpers/chromium.ts): a missing one fails with one line.
describe('chromiumPath()', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-chromium-'));
  const fake = join(dir, 'chromium-browser');
  writeFileSync(fake, '#!/bin/sh\n');
  chmodSync(fake, 0o755);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('takes CHROMIUM_PATH first, then a chromium on the PATH', () => {
    expect(chromiumPath({ CHROMIUM_PATH: fake, PATH: '' })).toBe(fake);
    expect(chromiumPath({ PATH: `/nonexistent:${dir}` })).toBe(fake);
  });

  it('says in one line how to get one when there is none', () => {
    expect(() => chromiumPath({ PATH: '/nonexistent' })).toThrow(
      /^no Chromium found: set CHROMIUM_PATH .+, put chromium on the PATH, or run `bash scripts\/install-chromium\.sh` as root on Debian\/Ubuntu \(`npm test` runs it\)$/,
    );
    expect(() => chromiumPath({ CHROMIUM_PATH: join(dir, 'nope'), PATH: dir })).toThrow(
      /^CHROMIUM_PATH=.+\/nope is not an executable file: set CHROMIUM_PATH/,
    );
  });
});
