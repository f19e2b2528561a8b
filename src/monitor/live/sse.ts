import { showStatuses } from '../windows/index.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkInteger, checkOptionsObject, optionError } from '../../options.js';
import { isDatabaseUnavailable, RETRY_AFTER_SECONDS, UNAVAILABLE_DETAIL } from '../store/unavailable.js';
import type { PingResult, ServerStatus } from '../types.js';
import type { AccessLoss } from './access.js';
import { checkAuthenticate, requestToken, tryAuthenticate } from './auth.js';
import { matches, parseStreamFilter, type StreamFilter } from './filters.js';
import type { LiveUpdates } from './live.js';
import { serverEventBody } from './server-events.js';
import type { Authenticate, LiveEvent } from './types.js';

export interface StatusStreamOptions {
  live: LiveUpdates;
  /** Resolves a bearer token (header or `?token=`) to its user; the API's JWT verification. */
  authenticate: Authenticate;
  /** ms between `: heartbeat` comments, which keep proxies from closing an idle stream. Default 15000. */
  heartbeatInterval?: number;
  /** ms the browser waits before reconnecting (`retry:`). Default 5000. */
  retry?: number;
  /** Bytes a slow client may leave unread before it is dropped. Default 1 MiB. */
  maxBuffered?: number;
}

const KNOWN = ['live', 'authenticate', 'heartbeatInterval', 'retry', 'maxBuffered'];
/** The same goodbye as serve()'s drain, so clients see one shape whoever ends the stream. */
export const SHUTDOWN_EVENT = 'event: shutdown\ndata: {"reason":"server shutting down"}\n\n';

/**
 * The last event of a stream whose token expired or whose user was removed or deactivated:
 * `{detail, code}` as the API's 401. No `id:`, so a client renews its token and reconnects
 * from the last event it had. Not named `error`: EventSource fires its own `error` then.
 */
export function unauthorizedEvent(loss: AccessLoss): string {
  return `event: unauthorized\ndata: ${JSON.stringify({ detail: loss.detail, code: loss.code })}\n\n`;
}

function answer(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = code;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.setHeader('Cache-Control', 'no-store');
  res.end(text);
}

function frame(event: string, id: number, data: unknown): string {
  return `event: ${event}\nid: ${id}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Each event is serialized once, whatever the number of streams it goes to. */
const frames = new WeakMap<LiveEvent, string>();

function liveFrame(event: LiveEvent): string {
  let text = frames.get(event);
  if (text === undefined) {
    if (event.type === 'ping') text = frame('ping', event.id, event.ping);
    else if (event.type === 'status') text = frame('status', event.id, event.status);
    else text = frame('server', event.id, serverEventBody(event));
    frames.set(event, text);
  }
  return text;
}

/**
 * `Last-Event-ID` as the browser sends it on reconnect, else `?last_event_id=`: a new
 * EventSource (opened with a renewed token) cannot set the header. The header wins, being
 * the newer: the browser's own reconnects keep the URL they started with. Anything else
 * means "no id".
 */
function lastEventId(req: IncomingMessage, url: URL): number | undefined {
  const raw = req.headers['last-event-id'];
  const value = (Array.isArray(raw) ? raw[0] : raw) ?? url.searchParams.get('last_event_id') ?? undefined;
  const id = value !== undefined && /^\d{1,16}$/.test(value.trim()) ? Number(value.trim()) : NaN;
  return Number.isSafeInteger(id) ? id : undefined;
}

/** The first events' data: statuses (changed since `since`) and the latest pings of the servers asked for. */
async function snapshot(live: LiveUpdates, filter: StreamFilter): Promise<{ statuses: ServerStatus[]; pings: PingResult[] }> {
  // As users see them (`maintenance` during a window), then filtered: a stored state is never `maintenance`.
  let statuses = await showStatuses(live.store, await live.store.results.statuses(filter.serverIds ? { serverIds: filter.serverIds } : {}));
  if (filter.status) statuses = statuses.filter((s) => filter.status!.includes(s.status));
  // Pings have no server state: a state filter keeps the pings of the servers in those states.
  const pingServers = filter.status ? statuses.map((s) => s.server) : filter.serverIds;
  const pings =
    pingServers && pingServers.length === 0
      ? []
      : await live.store.results.latest({
          ...(pingServers ? { serverIds: pingServers } : {}),
          ...(filter.since !== undefined ? { since: filter.since } : {}),
          limit: filter.limit,
        });
  if (filter.since !== undefined) statuses = statuses.filter((s) => Date.parse(s.last_change) >= filter.since!);
  return { statuses, pings };
}

/**
 * `GET /api/events/status/`: Server-Sent Events of the monitor. First `retry:`, then
 * the current `status` and `ping` events (or, with `Last-Event-ID`, exactly the events
 * missed; `?last_event_id=` for a client that cannot send the header), then each check
 * as it completes, from every instance. Every event has an `id:`; `: heartbeat` comments
 * keep the stream open through proxies; the stream ends with an `event: shutdown` when
 * the server drains, and with an `event: unauthorized` (`{detail, code}`) when its token
 * expires or its user is removed or deactivated: renew the token and reconnect.
 *
 * @example
 * router.get('/api/events/status/', statusStream({ live, authenticate }));
 */
export function statusStream(options: Readonly<StatusStreamOptions>): (req: IncomingMessage, res: ServerResponse) => void {
  checkOptionsObject('statusStream', options, KNOWN);
  const { live } = options;
  if (!live || typeof live.subscribe !== 'function') throw optionError('statusStream', 'live', 'the result of createLiveUpdates()', live);
  const authenticate = checkAuthenticate('statusStream', options.authenticate);
  const heartbeatInterval = checkInteger('statusStream', 'heartbeatInterval', options.heartbeatInterval ?? 15_000, { min: 10, unit: 'ms' });
  const retry = checkInteger('statusStream', 'retry', options.retry ?? 5000, { min: 0, unit: 'ms' });
  const maxBuffered = checkInteger('statusStream', 'maxBuffered', options.maxBuffered ?? 1024 * 1024, { min: 1024, unit: 'bytes' });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const user = await tryAuthenticate(authenticate, requestToken(req, url));
    if (!user) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="api"');
      return answer(res, 401, { detail: 'Authentication credentials were not provided or are not valid.' });
    }
    const parsed = parseStreamFilter(url.searchParams);
    if (!parsed.ok) return answer(res, 400, parsed.errors);
    if (live.closed) return answer(res, 503, { detail: 'The server is shutting down.' });
    const filter = parsed.value;

    let ended = false;
    const write = (chunk: string) => {
      if (ended || res.writableEnded || res.destroyed) return;
      res.write(chunk);
      // A client that does not read is dropped before its buffer grows without bound.
      if (res.writableLength > maxBuffered) res.destroy();
    };
    // Subscribed before the first events are read, so nothing falls between them and the live ones.
    let buffered: LiveEvent[] | undefined = [];
    const unsubscribe = live.subscribe((event) => {
      if (!matches(filter, event)) return;
      if (buffered) buffered.push(event);
      else write(liveFrame(event));
    });
    // Read before the stream starts: a database that cannot answer is a 503, not a 200 that ends at once.
    const from = lastEventId(req, url);
    const missed = from === undefined ? undefined : live.log.since(from);
    // The snapshot carries the latest id this instance knows: a reconnect from it replays what follows.
    const upTo = missed ? (missed[missed.length - 1]?.id ?? from!) : live.log.lastId;
    let first: Awaited<ReturnType<typeof snapshot>> | undefined;
    try {
      if (!missed) first = await snapshot(live, filter);
    } catch (error) {
      unsubscribe();
      throw error;
    }
    // What happened while reading: the client left, or the server began to drain.
    if (res.closed || res.destroyed || live.closed) {
      unsubscribe();
      if (!res.closed && !res.destroyed) answer(res, 503, { detail: 'The server is shutting down.' });
      return;
    }
    const heartbeat = setInterval(() => write(': heartbeat\n\n'), heartbeatInterval);
    const offClose = live.onClose(() => {
      if (!res.writableEnded && !res.destroyed) res.end(SHUTDOWN_EVENT);
    });
    // The stream holds only as long as its credentials: then it says why and ends.
    const unwatch = live.access.watch(user, (loss) => {
      if (!res.writableEnded && !res.destroyed) res.end(unauthorizedEvent(loss));
    });
    const cleanup = () => {
      ended = true;
      unsubscribe();
      clearInterval(heartbeat);
      offClose();
      unwatch();
    };
    res.once('close', cleanup);
    res.once('finish', cleanup);

    // Set (not passed to writeHead) so serve()'s drain sees an event stream and ends it.
    res.statusCode = 200;
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    req.socket.setNoDelay(true);
    write(`retry: ${retry}\n\n`);

    if (missed) {
      for (const event of missed) if (matches(filter, event)) write(liveFrame(event));
    } else if (first) {
      write(frame('status', upTo, first.statuses));
      write(frame('ping', upTo, first.pings));
    }
    const pending = buffered;
    buffered = undefined;
    for (const event of pending) if (event.id > upTo) write(liveFrame(event));
  }

  return (req, res) => {
    handle(req, res).catch((error: unknown) => {
      // A database failure: a plain error before the stream starts, else the stream just ends (the browser retries).
      if (!res.headersSent) {
        const unavailable = isDatabaseUnavailable(error);
        if (unavailable) res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
        answer(res, 503, { detail: unavailable ? UNAVAILABLE_DETAIL : 'Live updates are unavailable right now.' });
      } else if (!res.writableEnded) res.end();
    });
  };
}
