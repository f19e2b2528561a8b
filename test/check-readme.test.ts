import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// scripts/check-readme.mjs, part of `npm run lint`: the repository's own README.md and docs/ pass,
// and each kind of mistake is reported with its line, exit 1.
const script = resolve('scripts/check-readme.mjs');
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lifeline-check-readme-'));
  mkdirSync(join(dir, 'docs'));
  writeFileSync(join(dir, 'docs/other.md'), '# Other\n\n## A section\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function check(markdown: string) {
  writeFileSync(join(dir, 'README.md'), markdown);
  const run = spawnSync(process.execPath, [script], { cwd: dir, encoding: 'utf8' });
  return { code: run.status, out: run.stdout };
}

describe('check-readme', () => {
  it("passes this repository's README.md and docs/*.md", () => {
    const out = execFileSync(process.execPath, [script], { encoding: 'utf8' });
    expect(out).toMatch(/^README\.md: .*: 0 broken$/m);
    expect(out).toMatch(/^docs\/monitor\.md: .*: 0 broken$/m);
  });

  it('accepts links to headings here and in other files, and short cells', () => {
    const ok = check('# Top\n\n[a](#top) [b](docs/other.md#a-section) [c](docs/other.md)\n\n| a | b |\n| - | - |\n| x | y |\n');
    expect(ok.code, ok.out).toBe(0);
  });

  it('reports a missing heading, a missing file, a heading missing in another file, and a cell over 300 characters', () => {
    const cell = 'w'.repeat(301);
    const bad = check(`# Top\n\n[a](#nowhere) [b](docs/none.md) [c](docs/other.md#nope)\n\n| a | b |\n| - | - |\n| ${cell} | y |\n`);
    expect(bad.code).toBe(1);
    expect(bad.out).toContain('README.md:3: no heading for the link #nowhere');
    expect(bad.out).toContain('README.md:3: no file docs/none.md for the link docs/none.md');
    expect(bad.out).toContain('README.md:3: no heading for the link docs/other.md#nope');
    expect(bad.out).toContain('README.md:7: a cell of 301 characters (at most 300)');
    // docs/*.md are checked too, without being named.
    expect(bad.out).toMatch(/^docs\/other\.md: .*: 0 broken$/m);
  });
});
