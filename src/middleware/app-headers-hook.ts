import { ServerResponse, type OutgoingHttpHeaders } from 'node:http';
import onHeaders from 'on-headers';

/** Called with the status code being written; without it under on-headers (see writtenStatus). */
type Listener = (this: ServerResponse, statusCode?: number) => void;
type WriteHead = (this: ServerResponse, statusCode: number, reason?: unknown, headers?: unknown) => ServerResponse;

const listenersOf = new WeakMap<object, Listener[]>();
let lastProto: object | null | undefined;
let lastRoot: object | undefined;
let lastHooked: object | undefined;
let lastListener: Listener | undefined;

/**
 * The response prototype of the outermost Express app a response belongs to, or undefined
 * outside Express. Express gives each app its own (`app.response`, documented for
 * extension) and chains a mounted app's to its parent's, so the outermost one is on the
 * chain of every response of the app tree, wherever the response is when its headers go out.
 */
function appResponseOf(res: ServerResponse): object | undefined {
  const own = Object.getPrototypeOf(res) as object | null;
  if (own === lastProto) return lastRoot;
  let root: object | undefined;
  if (own !== null && own !== ServerResponse.prototype && Object.hasOwn(own, 'app')) {
    root = own;
    for (
      let up = Object.getPrototypeOf(own) as object | null;
      up !== null && Object.hasOwn(up, 'app');
      up = Object.getPrototypeOf(up) as object | null
    ) {
      root = up;
    }
  }
  // A process usually serves one app: the last answer is remembered.
  lastProto = own;
  lastRoot = root;
  return root;
}

/**
 * The status a listener was given, as Node's writeHead() takes it (`code | 0`, 100–999), or
 * 0 for one it refuses; `statusCode` is undefined under on-headers, where the response's
 * own is already set.
 */
export function writtenStatus(res: ServerResponse, statusCode: unknown): number {
  const n = Number(statusCode ?? res.statusCode) | 0;
  return n >= 100 && n <= 999 ? n : 0;
}

function setPassedHeaders(res: ServerResponse, headers: object): void {
  for (const [name, value] of Object.entries(headers as OutgoingHttpHeaders)) if (name && value !== undefined) res.setHeader(name, value);
}

function install(proto: object & { writeHead?: WriteHead }): Listener[] | undefined {
  const original = proto.writeHead;
  if (typeof original !== 'function') return undefined;
  const listeners: Listener[] = [];
  Object.defineProperty(proto, 'writeHead', {
    configurable: true,
    writable: true,
    value: function writeHead(this: ServerResponse, statusCode: number, reason?: unknown, headers?: unknown): ServerResponse {
      if (this.headersSent) return original.call(this, statusCode, reason, headers);
      const passed = typeof reason === 'string' ? headers : reason;
      if (typeof passed === 'object' && passed !== null && !Array.isArray(passed)) {
        // As on-headers does: headers passed here are set first, so a listener sees them
        // (a Server-Timing passed to writeHead() is extended, not replaced).
        setPassedHeaders(this, passed);
        for (const listener of listeners) listener.call(this, statusCode);
        return typeof reason === 'string' ? original.call(this, statusCode, reason) : original.call(this, statusCode);
      }
      for (const listener of listeners) listener.call(this, statusCode);
      return original.call(this, statusCode, reason, headers);
    },
  });
  listenersOf.set(proto, listeners);
  return listeners;
}

/**
 * Runs `listener` on each response of `res`'s Express app just before its headers are
 * written, from a hook put once on the app's response prototype; the listener itself
 * decides whether a response is one of its own. Returns false outside Express, or when the
 * response already has a writeHead of its own. Why not on-headers for every response: it
 * adds an own `writeHead` to each, and Express re-prototypes each response, so no two share
 * a hidden class and every property added to one builds a new one.
 */
function hookAppHeaders(res: ServerResponse, listener: Listener): boolean {
  // Something before Express (serve()'s load shedder, on-headers) gave this response a
  // writeHead of its own: it shadows the prototype's and calls Node's directly, so the
  // hook would never run; beforeHeaders() wraps that one with on-headers instead.
  if (Object.hasOwn(res, 'writeHead')) return false;
  const proto = appResponseOf(res);
  if (proto === undefined) return false;
  if (proto === lastHooked && listener === lastListener) return true;
  const listeners = listenersOf.get(proto) ?? install(proto);
  if (listeners === undefined) return false;
  if (!listeners.includes(listener)) listeners.push(listener);
  lastHooked = proto;
  lastListener = listener;
  return true;
}

/**
 * Calls `listener` on `res` just before its headers are written: from the Express app's
 * hook where it applies, else through on-headers on this response alone (a plain
 * `node:http` server, or a writeHead something put on the response before Express).
 */
export function beforeHeaders(res: ServerResponse, listener: Listener): void {
  if (!hookAppHeaders(res, listener)) onHeaders(res, listener);
}
