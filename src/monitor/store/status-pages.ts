import type { Knex } from 'knex';
import { iso, num, type Row } from './rows.js';

/** A status page as the admin API shows it: `servers` in display order, their public names by id. */
export interface StatusPage {
  slug: string;
  title: string;
  description: string;
  servers: number[];
  /** Public names by server id (as a string key); a server without one shows its own name. */
  display_names: Record<string, string>;
  created_at: string;
  updated_at: string;
}

export type StatusPageInput = Pick<StatusPage, 'slug' | 'title' | 'description' | 'servers' | 'display_names'>;

/** A page with its row id, for the summary and the incident hook (the id stays inside). */
export interface StoredPage extends StatusPage {
  id: number;
}

const PAGES = 'monitor_status_pages';
const MEMBERS = 'monitor_status_page_servers';

/** Named queries on status pages and their servers. */
export class StatusPageQueries {
  constructor(private readonly db: Knex) {}

  private async withServers(rows: Row[]): Promise<StoredPage[]> {
    if (rows.length === 0) return [];
    const members = (await this.db(MEMBERS)
      .whereIn(
        'page_id',
        rows.map((r) => num(r.id)),
      )
      .orderBy([{ column: 'page_id' }, { column: 'position' }])) as Row[];
    const byPage = new Map<number, Row[]>();
    for (const m of members) {
      const list = byPage.get(num(m.page_id)) ?? [];
      list.push(m);
      byPage.set(num(m.page_id), list);
    }
    return rows.map((r) => {
      const list = byPage.get(num(r.id)) ?? [];
      const display_names: Record<string, string> = {};
      for (const m of list)
        if (typeof m.display_name === 'string' && m.display_name !== '') display_names[String(m.server_id)] = m.display_name;
      return {
        id: num(r.id),
        slug: String(r.slug),
        title: String(r.title),
        description: String(r.description ?? ''),
        servers: list.map((m) => num(m.server_id)),
        display_names,
        created_at: iso(num(r.created_at)),
        updated_at: iso(num(r.updated_at)),
      };
    });
  }

  async list(): Promise<StoredPage[]> {
    return this.withServers((await this.db(PAGES).orderBy('slug')) as Row[]);
  }

  async get(slug: string): Promise<StoredPage | undefined> {
    const [page] = await this.withServers((await this.db(PAGES).where({ slug })) as Row[]);
    return page;
  }

  /** The pages that show any of these servers (the incident hook's question), inside the caller's transaction. */
  async pagesOf(
    trx: Knex | Knex.Transaction,
    serverIds: readonly number[],
  ): Promise<Array<{ page: number; server: number; name: string }>> {
    if (serverIds.length === 0) return [];
    const rows = (await trx(`${MEMBERS} as m`)
      .join('monitor_servers as s', 's.id', 'm.server_id')
      .whereIn('m.server_id', [...serverIds])
      .select('m.page_id', 'm.server_id', 'm.display_name', 's.name')) as Row[];
    return rows.map((r) => ({
      page: num(r.page_id),
      server: num(r.server_id),
      name: typeof r.display_name === 'string' && r.display_name !== '' ? r.display_name : String(r.name),
    }));
  }

  private async writeMembers(trx: Knex.Transaction, pageId: number, input: StatusPageInput): Promise<void> {
    await trx(MEMBERS).where({ page_id: pageId }).del();
    const rows = input.servers.map((server, position) => ({
      page_id: pageId,
      server_id: server,
      position,
      display_name: input.display_names[String(server)] ?? null,
    }));
    for (let i = 0; i < rows.length; i += 100) await trx(MEMBERS).insert(rows.slice(i, i + 100));
  }

  /** Creates a page; undefined when the slug is taken (also by a concurrent create: the unique index decides). */
  async create(input: StatusPageInput, now: number = Date.now()): Promise<StoredPage | undefined> {
    const created = await this.db.transaction(async (trx) => {
      const [row] = (await trx(PAGES)
        .insert({ slug: input.slug, title: input.title, description: input.description, created_at: now, updated_at: now })
        .onConflict('slug')
        .ignore()
        .returning('id')) as Row[];
      if (!row) return false;
      await this.writeMembers(trx, num(row.id), input);
      return true;
    });
    return created ? this.get(input.slug) : undefined;
  }

  /** Replaces a page's fields (the slug may change); 'conflict' when the new slug is another page's. */
  async update(slug: string, input: StatusPageInput, now: number = Date.now()): Promise<StoredPage | undefined | 'conflict'> {
    const outcome = await this.db.transaction(async (trx) => {
      const row = (await trx(PAGES).where({ slug }).first('id')) as Row | undefined;
      if (!row) return 'missing' as const;
      if (input.slug !== slug && (await trx(PAGES).where({ slug: input.slug }).first('id'))) return 'conflict' as const;
      await trx(PAGES)
        .where({ id: num(row.id) })
        .update({ slug: input.slug, title: input.title, description: input.description, updated_at: now });
      await this.writeMembers(trx, num(row.id), input);
      return 'ok' as const;
    });
    if (outcome === 'conflict') return 'conflict';
    return outcome === 'ok' ? this.get(input.slug) : undefined;
  }

  async remove(slug: string): Promise<boolean> {
    return (await this.db(PAGES).where({ slug }).del()) > 0;
  }
}
