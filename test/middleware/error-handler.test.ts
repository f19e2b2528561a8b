import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { corsSecurity, errorHandler, keepAlive, notFound, type ErrorHandlerOptions } from '../../src/index.js';
import { express } from '../helpers/express.js';
import { memoryLogger } from '../helpers/logger.js';
import { listen } from '../helpers/server.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
  delete process.env.NODE_ENV;
});

type Next = (err?: unknown) => void;
type Res = { json(b: unknown): void };

/** An app whose routes fail in the ways errorHandler has to answer. */
function appWith(options: ErrorHandlerOptions = { logger: false }) {
  const app = express();
  app.get('/status/:n', (req: { params: { n: string } }, _res: unknown, next: Next) =>
    next(Object.assign(new Error(`failed with ${req.params.n}`), { status: Number(req.params.n) })),
  );
  app.get('/status-code/:n', (req: { params: { n: string } }, _res: unknown, next: Next) =>
    next(Object.assign(new Error(`failed with ${req.params.n}`), { statusCode: Number(req.params.n) })),
  );
  app.get('/bad-status', (_req: unknown, _res: unknown, next: Next) => next(Object.assign(new Error('odd'), { status: 'teapot' })));
  app.get('/out-of-range', (_req: unknown, _res: unknown, next: Next) => next(Object.assign(new Error('odd'), { status: 302 })));
  app.get('/string', (_req: unknown, _res: unknown, next: Next) => next('a bare string'));
  app.get('/hidden-4xx', (_req: unknown, _res: unknown, next: Next) =>
    next(Object.assign(new Error('internal detail'), { status: 409, expose: false })),
  );
  app.get('/throw', () => {
    throw new Error('database password is hunter2');
  });
  app.post('/json', express.json({ limit: '10b' }), (_req: unknown, res: Res) => res.json({ ok: true }));
  const eh = errorHandler(options);
  closers.push(eh.close);
  app.use(eh);
  return app;
}

describe('errorHandler: status and JSON shape', () => {
  it('answers {"error":{status,message}} as JSON that no cache keeps', async () => {
    const res = await request(appWith()).get('/status/404');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({ error: { status: 404, message: 'failed with 404' } });
  });

  it.each([400, 401, 403, 409, 422, 429, 500, 502, 503, 599])('takes the status %i from err.status and from err.statusCode', async (n) => {
    const app = appWith();
    expect((await request(app).get(`/status/${n}`)).status).toBe(n);
    expect((await request(app).get(`/status-code/${n}`)).status).toBe(n);
  });

  it('answers 500 for a status that is not an HTTP error code, or no object at all', async () => {
    const app = appWith({ logger: false, exposeStack: false });
    for (const path of ['/bad-status', '/out-of-range', '/status/600', '/status/399', '/string', '/throw']) {
      const res = await request(app).get(path);
      expect(res.status, path).toBe(500);
      expect(res.body, path).toEqual({ error: { status: 500, message: 'Internal Server Error' } });
    }
  });

  it('answers HEAD with the headers of the error and no body', async () => {
    const app = express();
    app.head('/gone', (_req: unknown, _res: unknown, next: Next) => next(Object.assign(new Error('gone'), { status: 410 })));
    app.use(errorHandler({ logger: false }));
    const res = await request(app).head('/gone');
    expect(res.status).toBe(410);
    expect(Number(res.headers['content-length'])).toBeGreaterThan(0);
    expect(res.text).toBeUndefined();
  });
});

describe('errorHandler: what the caller is told', () => {
  it('keeps the message of a 4xx, in production too', async () => {
    process.env.NODE_ENV = 'production';
    const res = await request(appWith()).get('/status/418');
    expect(res.body).toEqual({ error: { status: 418, message: 'failed with 418' } });
  });

  it('hides the message of a 4xx marked expose: false', async () => {
    const res = await request(appWith()).get('/hidden-4xx');
    expect(res.body).toEqual({ error: { status: 409, message: 'Conflict' } });
  });

  it('never shows the message of a 5xx, in development or production', async () => {
    const dev = await request(appWith({ logger: false, exposeStack: false })).get('/status/503');
    expect(dev.body).toEqual({ error: { status: 503, message: 'Service Unavailable' } });
    process.env.NODE_ENV = 'production';
    const prod = await request(appWith()).get('/throw');
    expect(prod.body).toEqual({ error: { status: 500, message: 'Internal Server Error' } });
    expect(prod.text).not.toContain('hunter2');
  });

  it('adds the stack of a 5xx outside production by default, as trimmed lines', async () => {
    const dev = await request(appWith()).get('/throw');
    expect(dev.body.error.message).toBe('Internal Server Error');
    expect(dev.body.error.stack[0]).toBe('Error: database password is hunter2');
    expect(dev.body.error.stack[1]).toMatch(/^at /);
  });

  it('leaves the stack out in production by default, and of 4xx answers always', async () => {
    process.env.NODE_ENV = 'production';
    expect((await request(appWith()).get('/throw')).body.error.stack).toBeUndefined();
    delete process.env.NODE_ENV;
    const exposed = appWith({ logger: false, exposeStack: true });
    expect((await request(exposed).get('/status/400')).body.error.stack).toBeUndefined();
  });

  it('exposeStack overrides the environment both ways', async () => {
    process.env.NODE_ENV = 'production';
    expect((await request(appWith({ logger: false, exposeStack: true })).get('/throw')).body.error.stack[0]).toBe(
      'Error: database password is hunter2',
    );
    delete process.env.NODE_ENV;
    expect((await request(appWith({ logger: false, exposeStack: false })).get('/throw')).body.error.stack).toBeUndefined();
  });
});

describe('errorHandler: body-parser errors', () => {
  it('answers malformed JSON with 400 and its message', async () => {
    const res = await request(appWith()).post('/json').set('Content-Type', 'application/json').send('{"a":');
    expect(res.status).toBe(400);
    expect(res.body.error.status).toBe(400);
    expect(res.body.error.message).toEqual(expect.any(String));
    expect(res.body.error.message).not.toBe('Bad Request');
  });

  it('answers a body over the limit with 413', async () => {
    const res = await request(appWith())
      .post('/json')
      .send({ long: 'x'.repeat(100) });
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ error: { status: 413, message: 'request entity too large' } });
  });
});

describe('errorHandler: logging', () => {
  it('logs a 5xx as an error with its stack, secrets redacted', async () => {
    const logger = memoryLogger();
    const app = express();
    app.get('/crash', () => {
      throw new Error('cannot reach postgres://app:hunter2@db/x');
    });
    const eh = errorHandler({ logger });
    closers.push(eh.close);
    app.use(eh);
    await request(app).get('/crash');
    const errors = logger.lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toBe('GET /crash failed: cannot reach postgres://app:***@db/x');
    expect(errors[0]!.meta?.component).toBe('error');
    expect(String(errors[0]!.meta?.stack)).toMatch(/^Error: cannot reach postgres:\/\/app:\*\*\*@db\/x\n\s+at /);
    expect(JSON.stringify(logger.lines)).not.toContain('hunter2');
  });

  it('logs a 4xx at debug level only, with the path without its query', async () => {
    const logger = memoryLogger();
    await request(appWith({ logger })).get('/status/404?token=abc');
    expect(logger.lines.map((l) => [l.level, l.message])).toEqual([['debug', 'GET /status/404 answered 404: failed with 404']]);
  });
});

describe('errorHandler: headers already sent', () => {
  /**
   * A route that streams a first chunk, then fails once the client has read it (the client
   * says so on /fail-now): the failure comes after the headers went out, without a timing guess.
   */
  function streamingApp(logger: ReturnType<typeof memoryLogger>, after?: (err: unknown) => void) {
    const app = express();
    // Express's final handler prints the error it closes the connection for, unless env is 'test'.
    app.set('env', 'test');
    let failStream: (() => void) | undefined;
    app.get('/stream', (_req: unknown, res: ServerResponse, next: Next) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('first part;');
      failStream = () => next(new Error('the stream broke'));
    });
    app.get('/fail-now', (_req: unknown, res: Res) => {
      failStream?.();
      res.json({ failed: true });
    });
    app.get('/ok', (_req: unknown, res: Res) => res.json({ ok: true }));
    const eh = errorHandler({ logger });
    closers.push(eh.close);
    app.use(eh);
    if (after) app.use((err: unknown, _req: unknown, _res: unknown, next: Next) => (after(err), next(err)));
    return app;
  }

  /** GETs /stream; when its first chunk arrives, GETs /fail-now; resolves when the stream's response closes. */
  async function streamThenFail(url: string) {
    return new Promise<{ status: number; body: string; complete: boolean }>((resolve, reject) => {
      const req = httpRequest(`${url}/stream`, (res: IncomingMessage) => {
        let body = '';
        res.on('data', (chunk: Buffer) => {
          if (body === '') void fetch(`${url}/fail-now`).then((r) => r.arrayBuffer());
          body += chunk.toString();
        });
        res.on('error', () => undefined); // ECONNRESET/aborted is the expected end here
        res.on('close', () => resolve({ status: res.statusCode ?? 0, body, complete: res.complete }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('cuts the connection instead of writing a JSON answer, and the server keeps serving', async () => {
    const logger = memoryLogger();
    // What reaches Express's own handler after errorHandler: the route's error, not a
    // "Cannot set headers after they are sent" thrown by writing a JSON answer.
    const delegated: unknown[] = [];
    const running = await listen(streamingApp(logger, (err) => delegated.push(err)));
    try {
      const streamed = await streamThenFail(running.url);
      expect(streamed.status).toBe(200);
      expect(streamed.body).toBe('first part;');
      // Express closed the socket: the response never ended and no error JSON was appended.
      expect(streamed.complete).toBe(false);
      const next = await fetch(`${running.url}/ok`);
      expect(next.status).toBe(200);
      expect(await next.json()).toEqual({ ok: true });
    } finally {
      await running.close();
    }
    expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.message)).toEqual(['GET /stream failed: the stream broke']);
    expect(logger.text()).not.toMatch(/Cannot set headers|ERR_HTTP_HEADERS_SENT/);
    expect(delegated.map((e) => (e as Error).message)).toEqual(['the stream broke']);
  });
});

describe('errorHandler: headers of the other middlewares', () => {
  it('keeps CORS, security and X-Backend headers on error answers', async () => {
    const app = express();
    const cs = corsSecurity({ logger: false, frontendUrl: 'https://app.example.com' });
    const ka = keepAlive({ logger: false, interval: 0 });
    const eh = errorHandler({ logger: false });
    closers.push(cs.close, ka.close, eh.close);
    app.use(cs);
    app.use(ka);
    app.get('/boom', () => {
      throw Object.assign(new Error('database password is hunter2'), { status: 500 });
    });
    app.use(eh);
    const res = await request(app).get('/boom').set('Origin', 'https://app.example.com');
    expect(res.status).toBe(500);
    expect(res.body.error).toMatchObject({ status: 500, message: 'Internal Server Error' });
    expect(res.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(res.headers['access-control-allow-credentials']).toBe('true');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['x-backend-request-count']).toBe('1');
    expect(res.headers['x-backend-processing-time']).toMatch(/^\d+\.\d{3}ms$/);
  });
});

describe('notFound', () => {
  it('answers an unmatched route with the JSON 404 of the package', async () => {
    const app = express();
    app.get('/here', (_req: unknown, res: Res) => res.json({}));
    app.use(notFound());
    const res = await request(app).get('/elsewhere');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.body).toEqual({ error: { status: 404, message: 'Not Found' } });
    expect((await request(app).get('/here')).status).toBe(200);
  });
});
