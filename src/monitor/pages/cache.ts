import type { MonitorStore } from '../store/index.js';
import type { StoredPage } from '../store/status-pages.js';
import { computeSummary, type PageSummary } from './summary.js';

/** A computed summary with its JSON, shared by every request until something on the page changes. */
export interface CachedSummary {
  page: StoredPage;
  summary: PageSummary;
  json: string;
  at: number;
  /** The rendered page by its base path (rendered once per summary). */
  html: Map<string, string>;
}

type Entry = { value: Promise<CachedSummary | undefined>; servers: ReadonlySet<number>; at: number };

/**
 * Summaries by slug. An entry lives `ttl` ms at most (uptime moves with every check), and
 * is dropped at once when a server of its page changes state, an incident or the page
 * changes: `invalidate`. Concurrent requests for a missing entry share one computation.
 */
export class SummaryCache {
  readonly #entries = new Map<string, Entry>();
  readonly #listeners = new Set<(slugs: readonly string[] | 'all') => void>();
  computations = 0;

  constructor(
    private readonly store: MonitorStore,
    private readonly ttl = 30_000,
  ) {}

  get(slug: string, now: number = Date.now()): Promise<CachedSummary | undefined> {
    const entry = this.#entries.get(slug);
    if (entry && now - entry.at < this.ttl) return entry.value;
    const value = this.#compute(slug, now);
    const fresh: Entry = { value, servers: new Set(), at: now };
    this.#entries.set(slug, fresh);
    value.then(
      (cached) => {
        if (!cached) this.#entries.delete(slug);
        else fresh.servers = new Set(cached.page.servers);
      },
      () => {
        if (this.#entries.get(slug) === fresh) this.#entries.delete(slug);
      },
    );
    return value;
  }

  async #compute(slug: string, now: number): Promise<CachedSummary | undefined> {
    this.computations++;
    const page = await this.store.statusPages.get(slug);
    if (!page) return undefined;
    const summary = await computeSummary(this.store, page, now);
    return { page, summary, json: JSON.stringify(summary), at: now, html: new Map() };
  }

  /** Drops the pages showing any of these servers. */
  invalidateServers(serverIds: readonly number[]): void {
    const slugs: string[] = [];
    for (const [slug, entry] of this.#entries) if (serverIds.some((id) => entry.servers.has(id))) slugs.push(slug);
    for (const slug of slugs) this.#entries.delete(slug);
    this.#changed(slugs);
  }

  /** Drops the given pages, or all of them. */
  invalidate(slugs?: readonly string[]): void {
    const dropped = slugs ?? [...this.#entries.keys()];
    for (const slug of dropped) this.#entries.delete(slug);
    this.#changed(slugs ?? 'all');
  }

  /** Told of every invalidation (`'all'`: any page may have changed); the live streams refresh on it. */
  onChange(listener: (slugs: readonly string[] | 'all') => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #changed(slugs: readonly string[] | 'all'): void {
    if (slugs !== 'all' && slugs.length === 0) return;
    for (const listener of this.#listeners) listener(slugs);
  }
}

const caches = new WeakMap<MonitorStore, SummaryCache>();

/** The store's one cache: the public routes read it, the admin routes and live events invalidate it. */
export function summaryCache(store: MonitorStore): SummaryCache {
  let cache = caches.get(store);
  if (!cache) caches.set(store, (cache = new SummaryCache(store)));
  return cache;
}
