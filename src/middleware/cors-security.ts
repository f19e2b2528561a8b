import type { IncomingMessage, ServerResponse } from 'node:http';
import cors, { type CorsOptions } from 'cors';
import helmet, { type HelmetOptions } from 'helmet';
import { acquireLogger, componentLogger, type LifelineLogger } from '../logging/logger.js';
import { checkBoolean, checkInteger, checkLogger, checkOptionsObject, optionError, parseOrigin, readEnv } from '../options.js';
import { sendError } from './respond.js';
import { appOf, fromStep, type ClosableMiddleware, type Middleware, type NextFunction } from './types.js';

export interface CorsSecurityOptions {
  /** Allowed frontend origins, exact match. Default `FRONTEND_URL` (comma-separated), else `http://localhost:3000` outside production, none in production. `'*'` allows any origin, without credentials. */
  frontendUrl?: string | readonly string[];
  /** Allow cookies and Authorization across origins. Default true (never with `'*'`). */
  credentials?: boolean;
  /** Methods allowed in preflight. Default GET, HEAD, PUT, PATCH, POST, DELETE. */
  methods?: readonly string[];
  /** Request headers allowed in preflight. Default: the ones the browser asks for. */
  allowedHeaders?: readonly string[];
  /** Response headers the browser may read. Default: the X-Backend-* headers and Server-Timing. */
  exposedHeaders?: readonly string[];
  /** How long browsers cache a preflight, seconds. Default 600. */
  maxAge?: number;
  /** helmet options merged over the API defaults, or `false` for no security headers. */
  helmet?: Readonly<HelmetOptions> | false;
  /** Where to log; `false` for nowhere. Default: the shared `backend.log` logger. */
  logger?: LifelineLogger | false;
}

const KNOWN = ['frontendUrl', 'credentials', 'methods', 'allowedHeaders', 'exposedHeaders', 'maxAge', 'helmet', 'logger'] as const;
const EXPOSED = ['X-Backend-Processing-Time', 'X-Backend-Request-Count', 'X-Backend-Status', 'Server-Timing'];
const METHODS = ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE'];

export type HeaderList = ReadonlyArray<readonly [string, string]>;

/**
 * On a corsSecurity() middleware (and a lifeline() with one): the headers it sets on a
 * request without Origin, recorded once, so serve()'s probes answered before Express
 * carry exactly the same ones; undefined when they change per request (a CSP nonce).
 */
export const SAME_ORIGIN_HEADERS: unique symbol = Symbol('express-lifeline.same-origin-headers');
export type SameOriginHeaders = { [SAME_ORIGIN_HEADERS]?: HeaderList | undefined };

/** Records what a middleware sets on a response, to replay it later with no per-request work. */
function recordHeaders(
  middleware: Middleware,
  reqHeaders: Record<string, string>,
  method = 'GET',
): { headers: HeaderList; removesPoweredBy: boolean } {
  const headers = new Map<string, [string, string]>();
  let removesPoweredBy = false;
  let finished = false;
  const req = { method, url: '/', headers: reqHeaders } as unknown as IncomingMessage;
  const res = {
    getHeader: (name: string) => headers.get(name.toLowerCase())?.[1],
    setHeader(name: string, value: string | number | readonly string[]) {
      headers.set(name.toLowerCase(), [name, Array.isArray(value) ? value.join(', ') : String(value)]);
      return this;
    },
    removeHeader(name: string) {
      if (name.toLowerCase() === 'x-powered-by') removesPoweredBy = true;
      headers.delete(name.toLowerCase());
    },
  } as unknown as ServerResponse;
  middleware(req, res, (error?: unknown) => {
    if (error) throw error;
    finished = true;
  });
  if (!finished) throw new Error('corsSecurity: a header middleware did not finish synchronously');
  return { headers: [...headers.values()], removesPoweredBy };
}

function helmetOptionsFor(production: boolean, user: Readonly<HelmetOptions> | undefined): HelmetOptions {
  const api: HelmetOptions = {
    contentSecurityPolicy: {
      directives: {
        'frame-ancestors': ["'none'"],
        // Browsers would rewrite http://localhost subresources to https in development.
        'upgrade-insecure-requests': production ? [] : null,
      },
    },
    xFrameOptions: { action: 'deny' },
    strictTransportSecurity: production ? { maxAge: 31_536_000, includeSubDomains: true } : false,
  };
  const merged: Record<string, unknown> = { ...api, ...user };
  // helmet refuses an option given under both its names: the caller's alias wins.
  for (const [alias, name] of [
    ['hsts', 'strictTransportSecurity'],
    ['frameguard', 'xFrameOptions'],
  ] as const) {
    if (user && alias in user) delete merged[name];
  }
  return merged as HelmetOptions;
}

function hasDynamicDirective(options: Readonly<HelmetOptions>): boolean {
  const csp = options.contentSecurityPolicy;
  if (!csp || csp === true || !csp.directives) return false;
  return Object.values(csp.directives).some(
    (value) => value !== null && typeof value === 'object' && [...(value as Iterable<unknown>)].some((v) => typeof v === 'function'),
  );
}

function checkStringList(name: string, value: unknown): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) {
    throw optionError('corsSecurity', name, 'an array of non-empty strings', value);
  }
  return value as string[];
}

function resolveOrigins(option: CorsSecurityOptions['frontendUrl'], production: boolean): string[] | undefined {
  if (option === undefined) return readEnv.frontendUrls() ?? (production ? undefined : ['http://localhost:3000']);
  const list = typeof option === 'string' ? option.split(',').map((s) => s.trim()) : option;
  if (!Array.isArray(list)) throw optionError('corsSecurity', 'frontendUrl', 'an origin string or an array of origins', option);
  return list.map((value: unknown) => {
    const origin = typeof value === 'string' ? parseOrigin(value) : undefined;
    if (origin === undefined)
      throw optionError('corsSecurity', 'frontendUrl', "origins like 'http://localhost:3000' (scheme, host, port; no path) or '*'", value);
    return origin;
  });
}

function appendVaryOrigin(res: ServerResponse): void {
  const vary = res.getHeader('Vary');
  if (vary === undefined) res.setHeader('Vary', 'Origin');
  else if (!/(^|,)\s*(origin|\*)\s*(,|$)/i.test(String(vary))) res.setHeader('Vary', `${String(vary)}, Origin`);
}

/**
 * CORS for the frontend (through the `cors` package) and security headers (through
 * helmet), tuned for a JSON API. Both are computed once at setup; a request only
 * replays the precomputed headers.
 *
 * @example
 * app.use(corsSecurity({ frontendUrl: ['https://app.example.com', 'http://localhost:3000'] }));
 */
export function corsSecurity(options: Readonly<CorsSecurityOptions> = {}): ClosableMiddleware {
  checkOptionsObject('corsSecurity', options, KNOWN);
  const production = readEnv.production();
  const origins = resolveOrigins(options.frontendUrl, production) ?? [];
  const wildcard = origins.includes('*');
  if (wildcard && origins.length > 1)
    throw optionError('corsSecurity', 'frontendUrl', "either '*' alone or a list of origins", options.frontendUrl);
  const credentials = options.credentials === undefined ? !wildcard : checkBoolean('corsSecurity', 'credentials', options.credentials);
  if (wildcard && credentials)
    throw new TypeError("corsSecurity: `credentials` cannot be true with frontendUrl '*' (browsers refuse it); list the origins instead");
  const methods = options.methods === undefined ? METHODS : checkStringList('methods', options.methods);
  const allowedHeaders = options.allowedHeaders === undefined ? undefined : checkStringList('allowedHeaders', options.allowedHeaders);
  const exposedHeaders = options.exposedHeaders === undefined ? EXPOSED : checkStringList('exposedHeaders', options.exposedHeaders);
  const maxAge = checkInteger('corsSecurity', 'maxAge', options.maxAge ?? 600, { min: 0, max: 86_400, unit: 'seconds' });
  const helmetOption = options.helmet;
  if (helmetOption !== undefined && helmetOption !== false && (typeof helmetOption !== 'object' || helmetOption === null)) {
    throw optionError('corsSecurity', 'helmet', 'helmet options or false', helmetOption);
  }
  const handle = acquireLogger(checkLogger('corsSecurity', options.logger));
  if (production && origins.length === 0) {
    componentLogger(handle.logger, 'cors').warn('FRONTEND_URL is not set in production: no cross-origin calls are allowed');
  }

  const corsOptions: CorsOptions = {
    origin: wildcard ? '*' : origins,
    credentials,
    methods: [...methods],
    exposedHeaders: [...exposedHeaders],
    maxAge,
    optionsSuccessStatus: 204,
    preflightContinue: false,
  };
  if (allowedHeaders) corsOptions.allowedHeaders = [...allowedHeaders];
  const corsHandler = cors(corsOptions) as Middleware;
  const allowed = new Set(origins);
  const corsByOrigin = new Map<string, HeaderList>();
  for (const origin of wildcard ? ['*'] : origins) corsByOrigin.set(origin, recordHeaders(corsHandler, { origin }).headers);
  const wildcardHeaders = wildcard ? corsByOrigin.get('*') : undefined;

  let security: HeaderList = [];
  let removesPoweredBy = false;
  let dynamicHelmet: Middleware | undefined;
  if (helmetOption !== false) {
    const merged = helmetOptionsFor(production, helmetOption);
    const helmetHandler = helmet(merged) as Middleware;
    if (hasDynamicDirective(merged)) dynamicHelmet = helmetHandler;
    else ({ headers: security, removesPoweredBy } = recordHeaders(helmetHandler, {}));
  }
  const disabledPoweredBy = new WeakSet<object>();

  function corsSecurityStep(req: IncomingMessage, res: ServerResponse, next: NextFunction): boolean {
    for (const [name, value] of security) res.setHeader(name, value);
    if (removesPoweredBy) {
      const app = appOf(req) as { disable?: (setting: string) => unknown } | undefined;
      // Express sets X-Powered-By on every request until told once not to.
      if (app === undefined || !disabledPoweredBy.has(app)) {
        res.removeHeader('X-Powered-By');
        if (app && typeof app.disable === 'function') {
          app.disable('x-powered-by');
          disabledPoweredBy.add(app);
        }
      }
    }
    const origin = req.headers.origin;
    if (req.method === 'OPTIONS' && origin !== undefined && req.headers['access-control-request-method'] !== undefined) {
      if (!wildcard && !allowed.has(origin)) {
        appendVaryOrigin(res);
        sendError(req, res, 403, 'Origin not allowed');
      } else {
        corsHandler(req, res, next);
      }
      return true;
    }
    const headers = origin === undefined ? wildcardHeaders : (wildcardHeaders ?? corsByOrigin.get(origin));
    if (headers !== undefined) {
      for (const [name, value] of headers) {
        if (name === 'Vary') appendVaryOrigin(res);
        else res.setHeader(name, value);
      }
    } else if (!wildcard) {
      appendVaryOrigin(res);
    }
    if (dynamicHelmet) {
      // helmet's header middlewares finish synchronously; an error goes to next().
      let failure: unknown;
      dynamicHelmet(req, res, (error?: unknown) => {
        failure = error;
      });
      if (failure) {
        next(failure);
        return true;
      }
    }
    return false;
  }

  const middleware = fromStep<ClosableMiddleware & SameOriginHeaders>('corsSecurityMiddleware', corsSecurityStep);
  middleware[SAME_ORIGIN_HEADERS] = dynamicHelmet ? undefined : recordHeaders(middleware, {}).headers;
  middleware.close = () => handle.release();
  return middleware;
}
