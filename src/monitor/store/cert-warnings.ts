import type { Knex } from 'knex';
import { num, type Row } from './rows.js';

/** A certificate warning that was sent: for which server, certificate (its expiry) and step. */
export interface SentWarning {
  server: number;
  expiresAt: number;
  days: number;
}

/** The warnings sent for these servers' certificates. */
export async function sentWarnings(trx: Knex.Transaction, serverIds: readonly number[]): Promise<SentWarning[]> {
  const rows = (await trx('monitor_cert_warnings')
    .whereIn('server_id', [...serverIds])
    .select('server_id', 'expires_at', 'days')) as Row[];
  return rows.map((r) => ({ server: num(r.server_id), expiresAt: num(r.expires_at), days: num(r.days) }));
}

/** Claims one warning for one certificate; false when another check (or instance) already did. */
export async function claimWarning(trx: Knex.Transaction, server: number, expiresAt: number, days: number, now: number): Promise<boolean> {
  const rows = (await trx('monitor_cert_warnings')
    .insert({ server_id: server, expires_at: expiresAt, days, at: now })
    .onConflict(['server_id', 'expires_at', 'days'])
    .ignore()
    .returning('id')) as Row[];
  return rows.length > 0;
}
