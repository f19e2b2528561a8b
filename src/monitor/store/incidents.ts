import type { Knex } from 'knex';
import { iso, num, type Row } from './rows.js';

export const INCIDENT_STATES = ['investigating', 'identified', 'monitoring', 'resolved'] as const;
export type IncidentState = (typeof INCIDENT_STATES)[number];
export const INCIDENT_IMPACTS = ['none', 'minor', 'major', 'critical'] as const;
export type IncidentImpact = (typeof INCIDENT_IMPACTS)[number];

/** An operator's (or the monitor's) words on an incident. */
export interface IncidentUpdate {
  id: number;
  state: IncidentState;
  message: string;
  created_at: string;
}

export interface Incident {
  id: number;
  title: string;
  state: IncidentState;
  impact: IncidentImpact;
  servers: number[];
  started_at: string;
  resolved_at: string | null;
  /** Opened by the monitor (and resolved by it when its servers recover). */
  automatic: boolean;
  /** The page whose servers' outage the monitor opened it for; null for an operator's incident. */
  status_page: string | null;
  /** Oldest first. */
  updates: IncidentUpdate[];
  created_at: string;
  updated_at: string;
}

export interface IncidentInput {
  title: string;
  state: IncidentState;
  impact: IncidentImpact;
  servers: number[];
  started_at: number;
  resolved_at: number | null;
}

const INCIDENTS = 'monitor_incidents';
const SERVERS = 'monitor_incident_servers';
const UPDATES = 'monitor_incident_updates';

type Db = Knex | Knex.Transaction;

/** Reads incidents with their servers, updates and page slug, in the given order. */
export async function readIncidents(db: Db, rows: Row[]): Promise<Incident[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => num(r.id));
  // One after another: inside a transaction they share one connection.
  const servers = (await db(SERVERS).whereIn('incident_id', ids).orderBy('server_id')) as Row[];
  const updates = (await db(UPDATES).whereIn('incident_id', ids).orderBy('id')) as Row[];
  const pageIds = rows.filter((r) => r.page_id !== null && r.page_id !== undefined).map((r) => num(r.page_id));
  const pages = pageIds.length ? ((await db('monitor_status_pages').whereIn('id', pageIds)) as Row[]) : [];
  const slugOf = new Map(pages.map((p) => [num(p.id), String(p.slug)]));
  const group = <T>(list: Row[], map: (r: Row) => T) => {
    const out = new Map<number, T[]>();
    for (const r of list) {
      const key = num(r.incident_id);
      const items = out.get(key) ?? [];
      items.push(map(r));
      out.set(key, items);
    }
    return out;
  };
  const serversOf = group(servers, (r) => num(r.server_id));
  const updatesOf = group(updates, (r) => ({
    id: num(r.id),
    state: r.state as IncidentState,
    message: String(r.message),
    created_at: iso(num(r.created_at)),
  }));
  return rows.map((r) => {
    const id = num(r.id);
    return {
      id,
      title: String(r.title),
      state: r.state as IncidentState,
      impact: r.impact as IncidentImpact,
      servers: serversOf.get(id) ?? [],
      started_at: iso(num(r.started_at)),
      resolved_at: r.resolved_at === null || r.resolved_at === undefined ? null : iso(num(r.resolved_at)),
      automatic: Boolean(r.automatic),
      status_page: r.page_id === null || r.page_id === undefined ? null : (slugOf.get(num(r.page_id)) ?? null),
      updates: updatesOf.get(id) ?? [],
      created_at: iso(num(r.created_at)),
      updated_at: iso(num(r.updated_at)),
    };
  });
}

/** Named queries on incidents: the admin API's, and what the status pages read. */
export class IncidentQueries {
  constructor(private readonly db: Knex) {}

  /** Newest first. */
  async list({ limit = 100, offset = 0, open }: { limit?: number; offset?: number; open?: boolean } = {}): Promise<{
    count: number;
    results: Incident[];
  }> {
    const filtered = () => {
      const q = this.db(INCIDENTS);
      if (open === true) q.whereNull('resolved_at');
      if (open === false) q.whereNotNull('resolved_at');
      return q;
    };
    const [countRow] = (await filtered().count({ n: '*' })) as Row[];
    const rows = (await filtered()
      .orderBy([
        { column: 'started_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .limit(limit)
      .offset(offset)) as Row[];
    return { count: num(countRow?.n ?? 0), results: await readIncidents(this.db, rows) };
  }

  async get(id: number, db: Db = this.db): Promise<Incident | undefined> {
    return incidentIn(db, id);
  }

  /**
   * What a status page shows: the monitor's incidents of that page and the operators'
   * incidents touching its servers, open or started or resolved since `since`; newest first.
   */
  async forPage(pageId: number, serverIds: readonly number[], since: number): Promise<Incident[]> {
    const rows = (await this.db(INCIDENTS)
      .where((q) => {
        q.where('page_id', pageId);
        if (serverIds.length > 0)
          q.orWhere((o) =>
            o.whereNull('page_id').whereIn(
              'id',
              this.db(SERVERS)
                .select('incident_id')
                .whereIn('server_id', [...serverIds]),
            ),
          );
      })
      .andWhere((q) => q.whereNull('resolved_at').orWhere('resolved_at', '>=', since).orWhere('started_at', '>=', since))
      .orderBy([
        { column: 'started_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .limit(200)) as Row[];
    return readIncidents(this.db, rows);
  }

  /** Writes an operator's incident (and its first update, when a message is given); returns its id. */
  async create(trx: Knex.Transaction, input: IncidentInput, message: string | null, now: number): Promise<number> {
    const [row] = (await trx(INCIDENTS)
      .insert({
        title: input.title,
        state: input.state,
        impact: input.impact,
        page_id: null,
        automatic: false,
        title_auto: false,
        started_at: input.started_at,
        resolved_at: input.resolved_at,
        created_at: now,
        updated_at: now,
      })
      .returning('id')) as Row[];
    const id = num(row!.id);
    await setServers(trx, id, input.servers);
    if (message) await addUpdate(trx, id, input.state, message, now);
    return id;
  }

  /** Writes the changed fields; `title` set by an operator stops the monitor renaming it. */
  async update(trx: Knex.Transaction, id: number, input: IncidentInput, titleChanged: boolean, now: number): Promise<void> {
    await trx(INCIDENTS)
      .where({ id })
      .update({
        title: input.title,
        state: input.state,
        impact: input.impact,
        started_at: input.started_at,
        resolved_at: input.resolved_at,
        updated_at: now,
        ...(titleChanged ? { title_auto: false } : {}),
      });
    await setServers(trx, id, input.servers);
  }
}

/** Sets an incident's servers, keeping the recovery marks of those that stay. */
export async function setServers(trx: Knex.Transaction, id: number, servers: readonly number[]): Promise<void> {
  const current = ((await trx(SERVERS).where({ incident_id: id }).select('server_id')) as Row[]).map((r) => num(r.server_id));
  const gone = current.filter((s) => !servers.includes(s));
  const added = servers.filter((s) => !current.includes(s));
  if (gone.length > 0) await trx(SERVERS).where({ incident_id: id }).whereIn('server_id', gone).del();
  if (added.length > 0) await trx(SERVERS).insert(added.map((server_id) => ({ incident_id: id, server_id, recovered_at: null })));
}

export async function addUpdate(trx: Db, id: number, state: IncidentState, message: string, now: number): Promise<void> {
  await trx(UPDATES).insert({ incident_id: id, state, message, created_at: now });
}

/** Moves an incident to `state` (an update does it): `resolvedAt` null reopens it. */
export async function setState(trx: Db, id: number, state: IncidentState, resolvedAt: number | null, now: number): Promise<void> {
  await trx(INCIDENTS).where({ id }).update({ state, resolved_at: resolvedAt, updated_at: now });
}

/** One incident with its servers and updates, in the caller's transaction. */
export async function incidentIn(db: Db, id: number): Promise<Incident | undefined> {
  const [incident] = await readIncidents(db, (await db(INCIDENTS).where({ id })) as Row[]);
  return incident;
}
