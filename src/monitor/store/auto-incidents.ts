import type { Knex } from 'knex';
import type { IncidentImpact } from './incidents.js';
import { num, type Row } from './rows.js';

/** The queries of the incidents the monitor opens and resolves itself, in the record hook's transaction. */

const INCIDENTS = 'monitor_incidents';
const MEMBERS = 'monitor_incident_servers';

/** Locks the pages' rows (`FOR UPDATE`, in id order), so instances failing servers of one page take turns. */
export async function lockPages(trx: Knex.Transaction, pageIds: readonly number[]): Promise<void> {
  await trx('monitor_status_pages')
    .whereIn('id', [...pageIds])
    .orderBy('id')
    .forUpdate()
    .select('id');
}

/** The names the page shows for an incident's servers, in the page's order. */
export async function memberNames(trx: Knex.Transaction, page: number, incident: number): Promise<string[]> {
  const rows = (await trx(`${MEMBERS} as i`)
    .join('monitor_status_page_servers as p', function () {
      this.on('p.server_id', '=', 'i.server_id').andOn('p.page_id', '=', trx.raw('?', [page]));
    })
    .join('monitor_servers as s', 's.id', 'i.server_id')
    .where('i.incident_id', incident)
    .orderBy('p.position')
    .select('p.display_name', 's.name')) as Row[];
  return rows.map((r) => (typeof r.display_name === 'string' && r.display_name !== '' ? r.display_name : String(r.name)));
}

/** A page's open automatic incidents, the newest first. */
export async function openAutomatic(trx: Knex.Transaction, page: number): Promise<Row[]> {
  return (await trx(INCIDENTS)
    .where({ page_id: page, automatic: true })
    .whereNull('resolved_at')
    .orderBy('started_at', 'desc')
    .select('id', 'impact', 'started_at', 'title_auto')) as Row[];
}

/** Which of these incidents `server` is in, and whether it recovered there. */
export async function membershipsOf(trx: Knex.Transaction, incidentIds: readonly number[], server: number): Promise<Row[]> {
  return (await trx(MEMBERS)
    .whereIn('incident_id', [...incidentIds])
    .where('server_id', server)
    .select('incident_id', 'recovered_at')) as Row[];
}

/** A recovered server of an incident fails again. */
export async function rejoinMember(trx: Knex.Transaction, incident: number, server: number): Promise<void> {
  await trx(MEMBERS).where({ incident_id: incident, server_id: server }).update({ recovered_at: null });
}

export async function addMember(trx: Knex.Transaction, incident: number, server: number): Promise<void> {
  await trx(MEMBERS).insert({ incident_id: incident, server_id: server, recovered_at: null });
}

export async function updateIncident(trx: Knex.Transaction, id: number, fields: Record<string, unknown>): Promise<void> {
  await trx(INCIDENTS).where({ id }).update(fields);
}

/** Opens an automatic incident on a page (titled later, once its first server is in); returns its id. */
export async function openIncident(trx: Knex.Transaction, page: number, impact: IncidentImpact, at: number): Promise<number> {
  const [row] = (await trx(INCIDENTS)
    .insert({
      title: 'Incident',
      state: 'investigating',
      impact,
      page_id: page,
      automatic: true,
      title_auto: true,
      started_at: at,
      resolved_at: null,
      created_at: at,
      updated_at: at,
    })
    .returning('id')) as Row[];
  return num(row!.id);
}

/** The open automatic incidents of a page in which `server` has not recovered. */
export async function unrecoveredIn(trx: Knex.Transaction, page: number, server: number): Promise<Row[]> {
  const open = trx(INCIDENTS).where({ page_id: page, automatic: true }).whereNull('resolved_at').select('id');
  return (await trx(MEMBERS).whereIn('incident_id', open).where('server_id', server).whereNull('recovered_at')) as Row[];
}

export async function markRecovered(trx: Knex.Transaction, incident: number, server: number, at: number): Promise<void> {
  await trx(MEMBERS).where({ incident_id: incident, server_id: server }).update({ recovered_at: at });
}

/** How many of an incident's servers have not recovered. */
export async function unrecoveredCount(trx: Knex.Transaction, incident: number): Promise<number> {
  const [left] = (await trx(MEMBERS).where({ incident_id: incident }).whereNull('recovered_at').count({ n: '*' })) as Row[];
  return num(left?.n ?? 0);
}

export async function memberIds(trx: Knex.Transaction, incident: number): Promise<number[]> {
  return ((await trx(MEMBERS).where({ incident_id: incident }).select('server_id')) as Row[]).map((r) => num(r.server_id));
}
