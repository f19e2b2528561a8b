import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { acquireLogger, componentLogger, type LifelineLogger } from '../logging/logger.js';
import { checkBoolean, checkLogger, checkOptionsObject, readEnv } from '../options.js';
import { sendError, sendJson } from './respond.js';
import { requestPath, type ErrorMiddleware, type Middleware, type NextFunction } from './types.js';

export interface ErrorHandlerOptions {
  /** Add the stack to 5xx answers. Default: outside production only. */
  exposeStack?: boolean;
  /** Where to log; `false` for nowhere. Default: the shared `backend.log` logger. */
  logger?: LifelineLogger | false;
}

interface HttpErrorLike {
  status?: unknown;
  statusCode?: unknown;
  expose?: unknown;
  message?: unknown;
  stack?: unknown;
}

function statusOf(error: HttpErrorLike): number {
  const status = error.status ?? error.statusCode;
  return typeof status === 'number' && Number.isInteger(status) && status >= 400 && status <= 599 ? status : 500;
}

/**
 * The last middleware of an app: answers every error as JSON
 * `{"error":{"status":500,"message":"Internal Server Error"}}`, keeping the CORS and
 * security headers already set, and logs server errors with their stack.
 * Client errors (4xx from body-parser, http-errors) keep their message.
 *
 * @example
 * app.use(errorHandler());
 */
export function errorHandler(options: Readonly<ErrorHandlerOptions> = {}): ErrorMiddleware & { close(): Promise<void> } {
  checkOptionsObject('errorHandler', options, ['exposeStack', 'logger']);
  const exposeStack =
    options.exposeStack === undefined ? !readEnv.production() : checkBoolean('errorHandler', 'exposeStack', options.exposeStack);
  const handle = acquireLogger(checkLogger('errorHandler', options.logger));
  const log = componentLogger(handle.logger, 'error');

  const middleware = function errorHandlerMiddleware(error: unknown, req: IncomingMessage, res: ServerResponse, next: NextFunction): void {
    const e: HttpErrorLike = typeof error === 'object' && error !== null ? (error as HttpErrorLike) : { message: String(error) };
    const status = statusOf(e);
    const path = requestPath(req);
    if (status >= 500)
      log.error(`${req.method ?? 'GET'} ${path} failed: ${String(e.message ?? error)}`, {
        stack: typeof e.stack === 'string' ? e.stack : undefined,
      });
    else log.debug(`${req.method ?? 'GET'} ${path} answered ${status}: ${String(e.message ?? '')}`);
    if (res.headersSent) {
      // Too late for a JSON answer: let Express close the connection.
      next(error);
      return;
    }
    const expose = status < 500 ? e.expose !== false : false;
    const message = expose && typeof e.message === 'string' && e.message ? e.message : (STATUS_CODES[status] ?? 'Error');
    const body: { error: { status: number; message: string; stack?: string[] } } = { error: { status, message } };
    if (exposeStack && status >= 500 && typeof e.stack === 'string') body.error.stack = e.stack.split('\n').map((l) => l.trim());
    sendJson(req, res, status, JSON.stringify(body));
  } as ErrorMiddleware & { close(): Promise<void> };
  middleware.close = () => handle.release();
  return middleware;
}

/** Answers unmatched routes with a JSON 404 instead of Express's HTML page. */
export function notFound(): Middleware {
  return function notFoundMiddleware(req: IncomingMessage, res: ServerResponse): void {
    sendError(req, res, 404);
  };
}
