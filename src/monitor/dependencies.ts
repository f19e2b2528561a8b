import type { Knex } from 'knex';
import { num, parseJson } from './store/rows.js';
import { dependencyRows } from './store/servers.js';
import type { Server } from './types.js';

/**
 * The path of a cycle that `depends_on` would close for server `id` (e.g. `[3, 5, 3]`),
 * or undefined. `servers` are the stored ones; `id` is undefined for a server being created
 * (a new server cannot be anyone's parent yet, so it closes no cycle).
 */
export function dependencyCycle(
  id: number | undefined,
  dependsOn: readonly number[],
  servers: ReadonlyArray<Pick<Server, 'id' | 'depends_on'>>,
): number[] | undefined {
  if (id === undefined) return undefined;
  const parents = new Map(servers.map((s) => [s.id, s.id === id ? [...dependsOn] : s.depends_on]));
  // Depth-first from the new parents: reaching `id` again is a cycle.
  const seen = new Set<number>();
  const walk = (at: number, path: number[]): number[] | undefined => {
    if (at === id) return [...path, at];
    if (seen.has(at)) return undefined;
    seen.add(at);
    for (const next of parents.get(at) ?? []) {
      const found = walk(next, [...path, at]);
      if (found) return found;
    }
    return undefined;
  };
  for (const parent of dependsOn) {
    const found = walk(parent, [id]);
    if (found) return found;
  }
  return undefined;
}

/** A server's state as the dependency rules need it. */
interface Node {
  dependsOn: number[];
  /** Down, or failing toward down (a check failed since it last succeeded). */
  failing: boolean;
}

/** The servers and their states, read in one query (inside the record hook's transaction, or on its own). */
async function nodes(db: Knex | Knex.Transaction): Promise<Map<number, Node>> {
  const rows = await dependencyRows(db);
  return new Map(
    rows.map((r) => [
      num(r.id),
      {
        dependsOn: parseJson<number[]>(r.depends_on, []),
        failing: r.status === 'down' || (r.status !== null && r.status !== undefined && num(r.consecutive_failures ?? 0) > 0),
      },
    ]),
  );
}

/**
 * The outage that server `id`'s problems belong to: the topmost ancestor (through
 * `depends_on`, any depth) that is down or failing, or undefined when none is. A server
 * whose parent is the cause has its notifications held back; the incidents of a status
 * page fold its outage into the parent's.
 */
export function rootCause(id: number, graph: ReadonlyMap<number, Node>): number | undefined {
  let cause: number | undefined;
  const seen = new Set<number>([id]);
  let frontier = [...(graph.get(id)?.dependsOn ?? [])];
  // Breadth-first up the tree; the last failing ancestor found is the topmost. Cycles (two
  // concurrent edits can make one) end at servers already seen.
  while (frontier.length > 0) {
    const next: number[] = [];
    for (const parent of frontier) {
      if (seen.has(parent)) continue;
      seen.add(parent);
      const node = graph.get(parent);
      if (!node) continue;
      if (node.failing) cause = parent;
      next.push(...node.dependsOn);
    }
    frontier = next;
  }
  return cause;
}

/**
 * `suppressedBy(serverId)`: the id of the failing ancestor whose outage this server's
 * outage folds into, or undefined. One query for the whole graph.
 *
 * @example
 * const parent = await suppressedBy(store.db, child.id);
 * if (parent !== undefined) console.log(`${child.name} is down because ${parent} is`);
 */
export async function suppressedBy(db: Knex | Knex.Transaction, serverId: number): Promise<number | undefined> {
  return rootCause(serverId, await nodes(db));
}

/** For the record hook: the graph once per batch, then `rootCause` per server. */
export async function dependencyGraph(db: Knex | Knex.Transaction): Promise<ReadonlyMap<number, Node>> {
  return nodes(db);
}
