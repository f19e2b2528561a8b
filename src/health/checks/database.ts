import { checkBoolean, checkInteger, checkOptionsObject, checkString } from '../../options.js';
import type { HealthCheck } from '../types.js';

/** The part of a knex instance the check uses; any knex 2 or 3 instance fits. */
export interface KnexLike {
  raw(sql: string): { timeout(ms: number, options?: { cancel?: boolean }): PromiseLike<unknown> };
  client?: { canCancelQuery?: boolean };
}

export interface KnexCheckOptions {
  /** Fail after this many ms. Default: the health() `timeout`. */
  timeout?: number;
  /** Default true: an unreachable database makes the app unhealthy. */
  critical?: boolean;
  /** Default `select 1`. */
  query?: string;
}

function isKnexLike(db: unknown): db is KnexLike {
  // A knex instance is a function with methods; a transaction or mock may be an object.
  const holder = typeof db === 'function' || (typeof db === 'object' && db !== null);
  return holder && typeof (db as { raw?: unknown }).raw === 'function';
}

/**
 * Checks a knex database with a bounded `select 1`. The query is cancelled on the
 * server at the deadline (PostgreSQL, MySQL), and while one probe is still waiting
 * for a connection no second one is started, so a dead database never piles up
 * probes in the pool. Bound connection waits too with knex's `acquireConnectionTimeout`.
 *
 * @example
 * health({ checks: { database: checks.knex(db, { timeout: 1000 }) } })
 */
export function knexCheck(db: KnexLike, options: Readonly<KnexCheckOptions> = {}): HealthCheck {
  if (!isKnexLike(db)) {
    throw new TypeError(`checks.knex: expected a knex instance (with .raw()), got ${db === null ? 'null' : typeof db}`);
  }
  checkOptionsObject('checks.knex', options, ['timeout', 'critical', 'query']);
  const timeout =
    options.timeout === undefined ? undefined : checkInteger('checks.knex', 'timeout', options.timeout, { min: 1, unit: 'ms' });
  const critical = options.critical === undefined ? true : checkBoolean('checks.knex', 'critical', options.critical);
  const query = options.query === undefined ? 'select 1' : checkString('checks.knex', 'query', options.query);

  let pending: Promise<unknown> | undefined;
  const queryTimeout = timeout ?? 2000;
  // knex refuses `cancel` on dialects that cannot cancel (SQLite): there the timeout alone bounds it.
  const cancel = db.client?.canCancelQuery === true;
  const check: HealthCheck = {
    critical,
    componentType: 'datastore',
    async check() {
      pending ??= Promise.resolve(db.raw(query).timeout(queryTimeout, { cancel })).finally(() => {
        pending = undefined;
      });
      await pending;
    },
  };
  if (timeout !== undefined) check.timeout = timeout;
  return check;
}
