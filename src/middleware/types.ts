import type { IncomingMessage, ServerResponse } from 'node:http';

/** Express and Connect pass these; typed on Node's own classes so no @types/express is needed. */
export type NextFunction = (error?: unknown) => void;
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: NextFunction) => void;
export type ErrorMiddleware = (error: unknown, req: IncomingMessage, res: ServerResponse, next: NextFunction) => void;

/** A middleware with a `close()` that stops its timers and releases its log file. */
export type ClosableMiddleware = Middleware & { close(): Promise<void> };

/** The Express app a request belongs to (`req.app`), or undefined outside Express. */
export function appOf(req: IncomingMessage): object | undefined {
  return (req as IncomingMessage & { app?: object }).app;
}
