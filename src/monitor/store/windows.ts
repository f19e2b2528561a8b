import type { Knex } from 'knex';
import type { MaintenanceWindow, MaintenanceWindowInput } from '../windows/schedule.js';
import { iso, num, type Row } from './rows.js';

const WINDOWS = 'monitor_maintenance_windows';
const SERVERS = 'monitor_maintenance_servers';

const msOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : iso(num(v)));
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

function toWindow(r: Row, servers: number[]): MaintenanceWindow {
  return {
    id: num(r.id),
    title: String(r.title),
    servers,
    starts_at: msOrNull(r.starts_at),
    ends_at: msOrNull(r.ends_at),
    cron: strOrNull(r.cron),
    duration_minutes: r.duration_minutes === null || r.duration_minutes === undefined ? null : num(r.duration_minutes),
    timezone: strOrNull(r.timezone),
    created_at: iso(num(r.created_at)),
    updated_at: iso(num(r.updated_at)),
  };
}

function columns(input: MaintenanceWindowInput): Row {
  return {
    title: input.title,
    starts_at: input.starts_at === null ? null : Date.parse(input.starts_at),
    ends_at: input.ends_at === null ? null : Date.parse(input.ends_at),
    cron: input.cron,
    duration_minutes: input.duration_minutes,
    timezone: input.timezone,
  };
}

/**
 * Maintenance windows and the servers they cover. Every query takes an optional
 * transaction, so the notification hook reads them in the batch it writes.
 */
export class MaintenanceWindowQueries {
  /** Bumped on every write here, so this process's caches reload at once (other instances within their refresh). */
  version = 0;

  constructor(private readonly db: Knex) {}

  /** Windows by id (all, or those covering one of `serverIds`), oldest first. */
  async list(options: { serverIds?: readonly number[]; db?: Knex | Knex.Transaction } = {}): Promise<MaintenanceWindow[]> {
    const db = options.db ?? this.db;
    const q = db(WINDOWS).orderBy('id');
    if (options.serverIds)
      q.whereIn(
        'id',
        db(SERVERS)
          .select('window_id')
          .whereIn('server_id', [...options.serverIds]),
      );
    const rows = (await q) as Row[];
    if (rows.length === 0) return [];
    const links = (await db(SERVERS)
      .whereIn(
        'window_id',
        rows.map((r) => num(r.id)),
      )
      .orderBy(['window_id', 'server_id'])) as Row[];
    const serversOf = new Map<number, number[]>();
    for (const l of links) {
      const id = num(l.window_id);
      serversOf.set(id, [...(serversOf.get(id) ?? []), num(l.server_id)]);
    }
    return rows.map((r) => toWindow(r, serversOf.get(num(r.id)) ?? []));
  }

  async get(id: number): Promise<MaintenanceWindow | undefined> {
    const row = (await this.db(WINDOWS).where({ id }).first()) as Row | undefined;
    if (!row) return undefined;
    const links = (await this.db(SERVERS).where({ window_id: id }).orderBy('server_id')) as Row[];
    return toWindow(
      row,
      links.map((l) => num(l.server_id)),
    );
  }

  async create(input: MaintenanceWindowInput): Promise<MaintenanceWindow> {
    const now = Date.now();
    const id = await this.db.transaction(async (trx) => {
      const [row] = (await trx(WINDOWS)
        .insert({ ...columns(input), created_at: now, updated_at: now })
        .returning('id')) as Row[];
      const id = num(row!.id);
      await this.link(trx, id, input.servers);
      return id;
    });
    this.version++;
    return (await this.get(id))!;
  }

  async update(id: number, input: MaintenanceWindowInput): Promise<MaintenanceWindow | undefined> {
    const found = await this.db.transaction(async (trx) => {
      const updated = await trx(WINDOWS)
        .where({ id })
        .update({ ...columns(input), updated_at: Date.now() });
      if (updated === 0) return false;
      await trx(SERVERS).where({ window_id: id }).del();
      await this.link(trx, id, input.servers);
      return true;
    });
    this.version++;
    return found ? this.get(id) : undefined;
  }

  async remove(id: number): Promise<boolean> {
    const removed = await this.db(WINDOWS).where({ id }).del();
    this.version++;
    return removed > 0;
  }

  private async link(trx: Knex.Transaction, id: number, servers: readonly number[]): Promise<void> {
    const rows = [...new Set(servers)].map((server_id) => ({ window_id: id, server_id }));
    for (let i = 0; i < rows.length; i += 100) await trx(SERVERS).insert(rows.slice(i, i + 100));
  }
}
