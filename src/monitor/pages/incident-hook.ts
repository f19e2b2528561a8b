import type { Knex } from 'knex';
import {
  addMember,
  lockPages,
  markRecovered,
  memberIds,
  memberNames,
  membershipsOf,
  openAutomatic,
  openIncident,
  rejoinMember,
  unrecoveredCount,
  unrecoveredIn,
  updateIncident,
} from '../store/auto-incidents.js';
import { addUpdate, type IncidentImpact } from '../store/incidents.js';
import type { MonitorStore } from '../store/index.js';
import type { RecordHook } from '../store/results.js';
import { num } from '../store/rows.js';
import type { ServerState } from '../types.js';
import { dependencyGraph, rootCause } from '../dependencies.js';
import { enqueueIncident } from './incident-notify.js';
import { maintenanceView } from './maintenance-view.js';

/** Servers of one page failing within this long of the first are one incident. */
export const FOLD_WINDOW = 60_000;

const RANK: Record<IncidentImpact, number> = { none: 0, minor: 1, major: 2, critical: 3 };
const isBad = (s: ServerState | undefined) => s === 'down' || s === 'degraded';

interface Failing {
  page: number;
  server: number;
  at: number;
  impact: IncidentImpact;
  /** The failing parent the server depends on (`depends_on`, topmost): its outage is this one's cause. */
  cause: number | undefined;
}

/** "API is down", "API, Web and 2 more are down": the title the monitor gives (until an operator renames it). */
function autoTitle(names: readonly string[], impact: IncidentImpact): string {
  const shown = names.length > 3 ? `${names.slice(0, 2).join(', ')} and ${names.length - 2} more` : names.join(', ');
  return `${shown} ${names.length === 1 ? 'is' : 'are'} ${RANK[impact] >= RANK.major ? 'down' : 'degraded'}`;
}

/**
 * The record hook that opens and resolves the monitor's incidents, in the transaction
 * storing the state changes: a server of a page going `down` or `degraded` (after its
 * thresholds: the state machine says so only then) opens an incident on that page, or
 * joins the page's incident opened within the last minute; when every server of an
 * incident is back `up`, it resolves. `incident.opened`/`incident.resolved` go to the
 * outbox in the same transaction.
 *
 * One incident per outage across instances: on PostgreSQL the page rows are locked
 * (`FOR UPDATE`, in id order) before the incidents are read, so two instances storing
 * failures of one page at once take turns and the second sees the first's incident;
 * SQLite has one writer at a time anyway.
 */
export function incidentHook(store: MonitorStore): RecordHook {
  return async (trx, stored) => {
    const changes = stored.filter(({ record }) => {
      const c = record.change;
      return c !== undefined && (isBad(c.status) || (c.status === 'up' && isBad(c.from)));
    });
    if (changes.length === 0) return;
    const memberships = await store.statusPages.pagesOf(
      trx,
      changes.map((c) => c.ping.server),
    );
    if (memberships.length === 0) return;
    const pageIds = [...new Set(memberships.map((m) => m.page))].sort((a, b) => a - b);
    if (store.dialect === 'postgres') await lockPages(trx, pageIds);
    const failingIds = changes.filter((c) => isBad(c.record.change!.status)).map((c) => c.ping.server);
    const latest = Math.max(...changes.map((c) => c.record.change!.at));
    const maintained = failingIds.length > 0 ? await maintenanceView(store).activeFor(failingIds, latest, trx) : new Set<number>();
    // A child failing while a parent is down folds into the parent's incident (one incident per cause).
    const graph = failingIds.length > 0 ? await dependencyGraph(trx) : undefined;

    for (const { record, ping } of changes) {
      const change = record.change!;
      for (const m of memberships) {
        if (m.server !== ping.server) continue;
        if (isBad(change.status)) {
          if (maintained.has(m.server)) continue;
          const impact: IncidentImpact = change.status === 'down' ? 'major' : 'minor';
          const cause = graph ? rootCause(m.server, graph) : undefined;
          await fail(trx, store, { page: m.page, server: m.server, at: change.at, impact, cause });
        } else {
          await recover(trx, store, m.page, m.server, change.at);
        }
      }
    }
  };
}

async function fail(trx: Knex.Transaction, store: MonitorStore, f: Failing): Promise<void> {
  const open = await openAutomatic(trx, f.page);
  // Already in one of the page's open incidents (another instance stored the same failure, or the
  // server came back and failed again before the others recovered): it rejoins that one.
  const mine = open.length
    ? await membershipsOf(
        trx,
        open.map((o) => num(o.id)),
        f.server,
      )
    : [];
  const rejoin = mine[0];
  const recent = open.find((o) => num(o.started_at) >= f.at - FOLD_WINDOW);
  // The parent's open incident on this page, however long ago it opened.
  const parents =
    f.cause !== undefined && open.length && !rejoin
      ? await membershipsOf(
          trx,
          open.map((o) => num(o.id)),
          f.cause,
        )
      : [];
  const caused = parents[0] ? open.find((o) => num(o.id) === num(parents[0]!.incident_id)) : undefined;
  const target = rejoin ? open.find((o) => num(o.id) === num(rejoin.incident_id)) : (caused ?? recent);

  if (target) {
    const id = num(target.id);
    const impact = RANK[f.impact] > RANK[target.impact as IncidentImpact] ? f.impact : (target.impact as IncidentImpact);
    if (rejoin) {
      if (rejoin.recovered_at === null && impact === target.impact) return; // nothing new
      await rejoinMember(trx, id, f.server);
    } else {
      await addMember(trx, id, f.server);
      await enqueueIncident(trx, store.outbox, id, 'incident.opened', [f.server], f.at);
    }
    const update: Record<string, unknown> = { impact, updated_at: f.at };
    if (target.title_auto) update.title = autoTitle(await memberNames(trx, f.page, id), impact);
    await updateIncident(trx, id, update);
    return;
  }

  const id = await openIncident(trx, f.page, f.impact, f.at);
  await addMember(trx, id, f.server);
  const title = autoTitle(await memberNames(trx, f.page, id), f.impact);
  await updateIncident(trx, id, { title });
  await addUpdate(trx, id, 'investigating', `${title}. We are looking into it.`, f.at);
  await enqueueIncident(trx, store.outbox, id, 'incident.opened', [f.server], f.at);
}

async function recover(trx: Knex.Transaction, store: MonitorStore, page: number, server: number, at: number): Promise<void> {
  const affected = await unrecoveredIn(trx, page, server);
  for (const row of affected) {
    const id = num(row.incident_id);
    await markRecovered(trx, id, server, at);
    if ((await unrecoveredCount(trx, id)) > 0) continue;
    await updateIncident(trx, id, { state: 'resolved', resolved_at: at, updated_at: at });
    await addUpdate(trx, id, 'resolved', 'Every affected service is back up.', at);
    const servers = await memberIds(trx, id);
    await enqueueIncident(trx, store.outbox, id, 'incident.resolved', servers, at);
  }
}
