import type { Server } from 'node:http';
import { checkInteger, optionError, readEnv } from '../options.js';
import { descriptorLimit } from '../system/machine.js';

export interface ServerLimitOptions {
  maxConnections?: number;
  headersTimeout?: number;
  requestTimeout?: number;
  keepAliveTimeout?: number;
}

export interface ServerLimits {
  maxConnections: number;
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
  /** How often Node looks for requests past headersTimeout/requestTimeout. */
  connectionsCheckingInterval: number;
}

/**
 * Sockets may take three quarters of the descriptor limit, leaving at least 64 for what
 * else the process opens (log file, database pool, outgoing requests, /proc reads of the
 * sampler): a flood of idle connections then gets closed at accept instead of starving
 * the process into EMFILE. Without a known limit, 1024 (the usual soft limit) is assumed.
 */
export function defaultMaxConnections(limit: number | undefined): number {
  const fds = limit ?? 1024;
  return Math.max(1, Math.min(Math.floor(fds * 0.75), fds - 64));
}

/** Options first, then MAX_CONNECTIONS, HEADERS_TIMEOUT, REQUEST_TIMEOUT, KEEP_ALIVE_TIMEOUT, then safe defaults. */
export function resolveServerLimits(component: string, options: Readonly<ServerLimitOptions>): ServerLimits {
  const maxConnections = checkInteger(
    component,
    'maxConnections',
    options.maxConnections ?? readEnv.maxConnections() ?? defaultMaxConnections(descriptorLimit()),
    {
      min: 1,
    },
  );
  const requestTimeout = checkInteger(component, 'requestTimeout', options.requestTimeout ?? readEnv.requestTimeout() ?? 30_000, {
    min: 0,
    unit: 'ms, 0 = off',
  });
  const headersGiven = options.headersTimeout ?? readEnv.headersTimeout();
  // A shorter requestTimeout also bounds the default headersTimeout: Node requires headers <= request.
  const headersTimeout = checkInteger(
    component,
    'headersTimeout',
    headersGiven ?? (requestTimeout > 0 ? Math.min(20_000, requestTimeout) : 20_000),
    { min: 1, unit: 'ms' },
  );
  if (requestTimeout > 0 && headersTimeout > requestTimeout) {
    throw optionError(component, 'headersTimeout', `at most requestTimeout (${requestTimeout} ms)`, headersTimeout);
  }
  const keepAliveTimeout = checkInteger(component, 'keepAliveTimeout', options.keepAliveTimeout ?? readEnv.keepAliveTimeout() ?? 5000, {
    min: 1,
    unit: 'ms',
  });
  // Node checks the timeouts every 30 s by default: a 1 s requestTimeout would then cut after up to 31 s.
  const shortest = requestTimeout > 0 ? Math.min(headersTimeout, requestTimeout) : headersTimeout;
  const connectionsCheckingInterval = Math.min(5000, Math.max(100, Math.floor(shortest / 4)));
  return { maxConnections, headersTimeout, requestTimeout, keepAliveTimeout, connectionsCheckingInterval };
}

/** Sets the limits createServer() does not take on Node 20. */
export function applyServerLimits(server: Server, limits: ServerLimits): void {
  server.maxConnections = limits.maxConnections;
  server.keepAliveTimeout = limits.keepAliveTimeout;
  server.headersTimeout = limits.headersTimeout;
  server.requestTimeout = limits.requestTimeout;
}
