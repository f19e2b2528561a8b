import type { IncomingMessage, ServerResponse } from 'node:http';

/** Express and Connect pass these; typed on Node's own classes so no @types/express is needed. */
export type NextFunction = (error?: unknown) => void;
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: NextFunction) => void;
export type ErrorMiddleware = (error: unknown, req: IncomingMessage, res: ServerResponse, next: NextFunction) => void;

/** A middleware with a `close()` that stops its timers and releases its log file. */
export type ClosableMiddleware = Middleware & { close(): Promise<void> };

/** The request's path as the client sent it (Express's `originalUrl`), without the query string, which can carry tokens. */
export function requestPath(req: IncomingMessage): string {
  const url = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** The Express app a request belongs to (`req.app`), or undefined outside Express. */
export function appOf(req: IncomingMessage): object | undefined {
  return (req as IncomingMessage & { app?: object }).app;
}

/**
 * One part of the pipeline: returns true when it took the request (answered it, or
 * handed an error to `next`), false to let it go on. lifeline() runs its parts as
 * steps in one function, without a `next` closure per part per request.
 */
export type Step = (req: IncomingMessage, res: ServerResponse, next: NextFunction) => boolean;

export const STEP: unique symbol = Symbol('express-lifeline.step');

/** Turns a step into an Express middleware that keeps the step reachable for lifeline(). */
export function fromStep<T extends Middleware>(name: string, step: Step): T & { [STEP]: Step } {
  const middleware = {
    [name](req: IncomingMessage, res: ServerResponse, next: NextFunction): void {
      if (!step(req, res, next)) next();
    },
  }[name] as unknown as T & { [STEP]: Step };
  middleware[STEP] = step;
  return middleware;
}

/** The step behind a middleware made by fromStep(). */
export function stepOf(middleware: Middleware): Step {
  const step = (middleware as Middleware & { [STEP]?: Step })[STEP];
  if (step === undefined) throw new TypeError(`${middleware.name || 'middleware'} was not made by express-lifeline`);
  return step;
}
