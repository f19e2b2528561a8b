import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LifelineLogger } from '../../logging/logger.js';
import type { LiveUpdates } from '../live/live.js';
import { SHUTDOWN_EVENT } from '../live/sse.js';
import type { SummaryCache } from './cache.js';
import type { PageSummary } from './summary.js';

/** What a page's stream sends, whole, whenever any of it changes: small (no history), so a client just redraws. */
export interface PageLiveState {
  status: PageSummary['status'];
  servers: Array<{ id: number; name: string; status: PageSummary['servers'][number]['status'] }>;
  incidents: PageSummary['incidents'];
  maintenance: PageSummary['maintenance'];
}

export function liveState(summary: PageSummary): PageLiveState {
  return {
    status: summary.status,
    servers: summary.servers.map(({ id, name, status }) => ({ id, name, status })),
    incidents: summary.incidents,
    maintenance: summary.maintenance,
  };
}

interface Hub {
  clients: Set<ServerResponse>;
  servers: Set<number>;
  last: string | undefined;
  timer: NodeJS.Timeout | undefined;
}

const DEBOUNCE = 100;
const REVALIDATE = 30_000;
const HEARTBEAT = 15_000;
const MAX_BUFFERED = 256 * 1024;

/**
 * The public pages' live side: every instance's status events (through the live layer)
 * drop the summaries of the pages showing that server, and each page with open streams
 * recomputes its state once and sends it to all of them when it differs from the last.
 * Incident and page changes made on this instance invalidate at once; those made on
 * another reach the streams within 30 s (the revalidation), or with the next status event.
 */
export class PageStreams {
  readonly #hubs = new Map<string, Hub>();
  readonly #off: Array<() => void> = [];
  readonly #revalidate: NodeJS.Timeout;

  constructor(
    private readonly live: LiveUpdates,
    private readonly cache: SummaryCache,
    private readonly logger: LifelineLogger,
  ) {
    this.#off.push(
      live.subscribe((event) => {
        const id = event.type === 'server' ? event.server_id : event.type === 'status' ? event.status.server : undefined;
        if (id === undefined) return;
        cache.invalidateServers([id]);
        for (const [slug, hub] of this.#hubs) if (hub.servers.has(id)) this.#schedule(slug, hub);
      }),
      cache.onChange((slugs) => {
        for (const [slug, hub] of this.#hubs) if (slugs === 'all' || slugs.includes(slug)) this.#schedule(slug, hub);
      }),
      live.onClose(() => this.close()),
    );
    this.#revalidate = setInterval(() => {
      for (const [slug, hub] of this.#hubs) this.#schedule(slug, hub);
    }, REVALIDATE);
    this.#revalidate.unref();
  }

  #schedule(slug: string, hub: Hub): void {
    hub.timer ??= setTimeout(() => {
      hub.timer = undefined;
      this.#refresh(slug, hub).catch((error: unknown) => this.logger.debug('status page: refresh failed', { slug, error: String(error) }));
    }, DEBOUNCE);
  }

  async #refresh(slug: string, hub: Hub): Promise<void> {
    if (hub.clients.size === 0) return;
    const cached = await this.cache.get(slug);
    if (!cached) {
      // The page was removed (or renamed): its streams end; a browser reconnecting gets 404.
      for (const res of hub.clients) res.end('event: gone\ndata: {}\n\n');
      return;
    }
    hub.servers = new Set(cached.page.servers);
    const text = JSON.stringify(liveState(cached.summary));
    if (text === hub.last) return;
    hub.last = text;
    const frame = `event: state\ndata: ${text}\n\n`;
    for (const res of hub.clients) write(res, frame);
  }

  /** `GET /api/status-pages/:slug/events/`: the page's state now, then each change. No login, nothing private. */
  async open(slug: string, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const cached = await this.cache.get(slug);
    if (!cached || this.live.closed) return false;
    let hub = this.#hubs.get(slug);
    if (!hub)
      this.#hubs.set(slug, (hub = { clients: new Set(), servers: new Set(cached.page.servers), last: undefined, timer: undefined }));
    const text = JSON.stringify(liveState(cached.summary));
    hub.last ??= text;
    res.statusCode = 200;
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    req.socket.setNoDelay(true);
    write(res, `retry: 5000\n\nevent: state\ndata: ${text}\n\n`);
    const joined = hub;
    joined.clients.add(res);
    const heartbeat = setInterval(() => write(res, ': heartbeat\n\n'), HEARTBEAT);
    const leave = () => {
      clearInterval(heartbeat);
      joined.clients.delete(res);
      if (joined.clients.size === 0 && this.#hubs.get(slug) === joined) {
        clearTimeout(joined.timer);
        this.#hubs.delete(slug);
      }
    };
    res.once('close', leave);
    res.once('finish', leave);
    return true;
  }

  /** Streams open now (all pages). */
  get size(): number {
    let n = 0;
    for (const hub of this.#hubs.values()) n += hub.clients.size;
    return n;
  }

  close(): void {
    clearInterval(this.#revalidate);
    for (const off of this.#off.splice(0)) off();
    for (const hub of this.#hubs.values()) {
      clearTimeout(hub.timer);
      for (const res of hub.clients) if (!res.writableEnded) res.end(SHUTDOWN_EVENT);
    }
    this.#hubs.clear();
  }
}

/** A client that leaves this much unread is dropped (its browser reconnects and gets the state anew). */
function write(res: ServerResponse, text: string): void {
  if (res.writableEnded || res.destroyed) return;
  if (res.writableLength > MAX_BUFFERED) {
    res.destroy();
    return;
  }
  res.write(text);
}
