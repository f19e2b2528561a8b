import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import type { Router } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARD_CSP, dashboardRouter } from '../../src/monitor/dashboard/index.js';
import { express } from '../helpers/express.js';
import { listen, type Running } from '../helpers/server.js';
import { startApi, type ApiHarness } from './api-helpers.js';
import { sqliteDatabase, type TestDatabase } from './helpers.js';

const root = resolve(import.meta.dirname, '../..');
const uplot = (file: string) => readFileSync(createRequire(import.meta.url).resolve(`uplot/dist/${file}`));

function appWith(router: Router) {
  const app = express();
  app.use('/monitor', router);
  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });
  return app;
}

/** The asset URLs the page links to (src and href), relative to /monitor/. */
function links(html: string): string[] {
  return [...html.matchAll(/\s(?:src|href)="([^"]+)"/g)].map((m) => m[1]!).filter((url) => url !== 'data:,');
}

describe('dashboard router', () => {
  let running: Running;
  let page: string;
  beforeAll(async () => {
    running = await listen(appWith(dashboardRouter()));
    page = (await request(running.url).get('/monitor/').expect(200)).text;
  });
  afterAll(() => running?.close());

  it('serves the page with the strict CSP, revalidated by ETag', async () => {
    const res = await request(running.url).get('/monitor/').expect(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toBe(DASHBOARD_CSP);
    expect(DASHBOARD_CSP).toBe(
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    );
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers.etag).toMatch(/^"/);
    await request(running.url).get('/monitor/').set('If-None-Match', res.headers.etag!).expect(304);
    const head = await request(running.url).head('/monitor/').expect(200);
    expect(head.headers['content-length']).toBe(String(Buffer.byteLength(res.text)));
  });

  it('redirects /monitor to /monitor/, keeping the query', async () => {
    const res = await request(running.url).get('/monitor').expect(301);
    expect(res.headers.location).toBe('/monitor/');
    expect((await request(running.url).get('/monitor?x=1').expect(301)).headers.location).toBe('/monitor/?x=1');
  });

  it('has nothing inline and nothing from another origin', () => {
    expect(page).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/); // every script has a src
    expect(page).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    expect(page).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);
    expect(links(page).every((url) => url.startsWith('assets/'))).toBe(true);
  });

  it('serves every linked asset, and uPlot from the package, cached for good under a versioned path', async () => {
    const urls = links(page);
    expect(urls).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^assets\/[0-9a-f]+\/vendor\/uPlot\.iife\.min\.js$/),
        expect.stringMatching(/^assets\/[0-9a-f]+\/vendor\/uPlot\.min\.css$/),
        expect.stringMatching(/^assets\/[0-9a-f]+\/app\.js$/),
        expect.stringMatching(/^assets\/[0-9a-f]+\/style\.css$/),
      ]),
    );
    for (const url of urls) {
      const res = await request(running.url).get(`/monitor/${url}`).buffer(true).expect(200);
      expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(res.headers['content-security-policy']).toBe(DASHBOARD_CSP);
      expect(res.headers['content-type']).toMatch(url.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
    }
    const js = urls.find((u) => u.endsWith('uPlot.iife.min.js'))!;
    const css = urls.find((u) => u.endsWith('uPlot.min.css'))!;
    expect(Buffer.from((await request(running.url).get(`/monitor/${js}`).buffer(true)).text)).toEqual(uplot('uPlot.iife.min.js'));
    expect(Buffer.from((await request(running.url).get(`/monitor/${css}`).buffer(true)).text)).toEqual(uplot('uPlot.min.css'));
  });

  it("serves every module the page's modules import", async () => {
    const base = links(page)
      .find((u) => u.endsWith('/app.js'))!
      .replace(/app\.js$/, '');
    const seen = new Set<string>();
    const queue = ['app.js'];
    while (queue.length > 0) {
      const file = queue.shift()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const res = await request(running.url).get(`/monitor/${base}${file}`).buffer(true).expect(200);
      for (const m of res.text.matchAll(/^import [^'"]*['"]\.\/([^'"]+)['"]/gm)) queue.push(m[1]!);
    }
    expect([...seen].sort()).toEqual([
      'api.js',
      'app.js',
      'detail.js',
      'format.js',
      'forms.js',
      'live.js',
      'pages.js',
      'scale.js',
      'sparkline.js',
    ]);
  });

  it('answers 404 for another version, an unknown file or a path outside the folder', async () => {
    const app = links(page).find((u) => u.endsWith('/app.js'))!;
    await request(running.url)
      .get(`/monitor/${app.replace(/assets\/[0-9a-f]+/, 'assets/0123456789ab')}`)
      .expect(404);
    await request(running.url)
      .get(`/monitor/${app.replace('app.js', 'nope.js')}`)
      .expect(404);
    await request(running.url)
      .get(`/monitor/${app.replace('app.js', '..%2f..%2fassets.ts')}`)
      .expect(404);
    await request(running.url)
      .get(`/monitor/${app.replace('app.js', 'index.html')}`)
      .expect(404);
    await request(running.url).post(`/monitor/${app}`).expect(404);
  });
});

describe('dashboard in the monitor app', () => {
  let db: TestDatabase;
  let api: ApiHarness;
  beforeAll(async () => {
    db = sqliteDatabase();
    api = await startApi(db);
  });
  afterAll(async () => {
    await api?.shutdown();
    await db?.drop();
  });

  it('is at /monitor/ with its own CSP in place of the API one, next to the API', async () => {
    const res = await request(api.url).get('/monitor/').expect(200);
    expect(res.headers['content-security-policy']).toBe(DASHBOARD_CSP);
    expect(res.text).toContain('<title>Monitor</title>');
    expect((await request(api.url).get('/monitor').expect(301)).headers.location).toBe('/monitor/');
    expect((await request(api.url).get('/').expect(302)).headers.location).toBe('/monitor/');
    await request(api.url).get('/api/servers/').expect(401);
  });
});

describe('dashboard in the built package', () => {
  it('has its static files in dist and in the published files', async () => {
    expect(existsSync(join(root, 'dist/monitor/dashboard/static/index.html')), 'run `npm run build` first').toBe(true);
    const built = (await import(join(root, 'dist/monitor/dashboard/index.js'))) as { dashboardRouter: () => Router };
    const running = await listen(appWith(built.dashboardRouter()));
    try {
      const html = (await request(running.url).get('/monitor/').expect(200)).text;
      for (const url of links(html)) await request(running.url).get(`/monitor/${url}`).expect(200);
    } finally {
      await running.close();
    }
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
        cwd: root,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }),
    ) as [{ files: { path: string }[] }];
    const files = packed.files.map((f) => f.path);
    for (const file of ['index.html', 'app.js', 'api.js', 'detail.js', 'forms.js', 'format.js', 'scale.js', 'sparkline.js', 'style.css']) {
      expect(files).toContain(`dist/monitor/dashboard/static/${file}`);
    }
  });
});
