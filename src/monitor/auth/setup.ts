import { randomBytes } from 'node:crypto';
import { ConfigError } from '../../errors.js';
import { readEnv } from '../../options.js';
import type { MonitorStore } from '../store/index.js';
import { hashPassword } from './passwords.js';

const SECRET_SETTING = 'jwt_secret';
const MIN_SECRET = 32;

/**
 * Production for the monitor's secrets: NODE_ENV says so (see isProduction), or
 * PulseGuard's `ENVIRONMENT` is `production` or `staging` (staging is treated like production).
 */
export function monitorProduction(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  const environment = env.ENVIRONMENT?.trim().toLowerCase();
  return readEnv.production(env) || environment === 'production' || environment === 'staging';
}

/**
 * The JWT signing secret: the `secret` option, else `MONITOR_SECRET`; in production one of
 * them is required. Elsewhere a random one is generated once and kept in the database, so
 * tokens survive a restart and every instance on the database accepts them.
 */
/** The configured secret (option or `MONITOR_SECRET`), checked; throws in production when there is none. */
export function configuredSecret(given: string | undefined, production = monitorProduction()): string | undefined {
  const secret = given ?? (process.env.MONITOR_SECRET || undefined);
  if (secret !== undefined) {
    if (secret.length < MIN_SECRET) {
      throw new ConfigError('MONITOR_SECRET', `MONITOR_SECRET must be at least ${MIN_SECRET} characters (e.g. openssl rand -base64 48)`);
    }
    return secret;
  }
  if (production) {
    throw new ConfigError(
      'MONITOR_SECRET',
      'MONITOR_SECRET is required in production: set it to a random string of at least 32 characters',
    );
  }
  return undefined;
}

/**
 * The JWT signing secret: the `secret` option, else `MONITOR_SECRET`; in production one of
 * them is required. Elsewhere a random one is generated once and kept in the database, so
 * tokens survive a restart and every instance on the database accepts them.
 */
export async function resolveSecret(store: MonitorStore, given: string | undefined, production = monitorProduction()): Promise<string> {
  return configuredSecret(given, production) ?? store.settings.getOrCreate(SECRET_SETTING, () => randomBytes(48).toString('base64url'));
}

export interface AdminSeed {
  username?: string;
  password?: string;
}

/** The first admin's credentials, from `seed` or `MONITOR_ADMIN_USER` / `MONITOR_ADMIN_PASSWORD`, checked; undefined when none is set. */
export function adminSeed(seed: AdminSeed = {}): Required<AdminSeed> | undefined {
  const username = (seed.username ?? process.env.MONITOR_ADMIN_USER)?.trim() || undefined;
  const password = seed.password ?? (process.env.MONITOR_ADMIN_PASSWORD || undefined);
  if (username === undefined && password === undefined) return undefined;
  if (username === undefined) throw new ConfigError('MONITOR_ADMIN_USER', 'MONITOR_ADMIN_PASSWORD is set but MONITOR_ADMIN_USER is not');
  if (password === undefined)
    throw new ConfigError('MONITOR_ADMIN_PASSWORD', 'MONITOR_ADMIN_USER is set but MONITOR_ADMIN_PASSWORD is not');
  if (username.length > 150 || /[\s\0]/.test(username)) {
    throw new ConfigError('MONITOR_ADMIN_USER', 'MONITOR_ADMIN_USER must be 1-150 characters without spaces');
  }
  if (password.length < 8) throw new ConfigError('MONITOR_ADMIN_PASSWORD', 'MONITOR_ADMIN_PASSWORD must be at least 8 characters');
  return { username, password };
}

/**
 * Creates the first admin from `MONITOR_ADMIN_USER` / `MONITOR_ADMIN_PASSWORD` (or `seed`) when the
 * database has no user yet. Returns the username created, or undefined.
 */
export async function seedAdmin(store: MonitorStore, seed: AdminSeed = {}): Promise<string | undefined> {
  const admin = adminSeed(seed);
  if (!admin || (await store.users.count()) > 0) return undefined;
  const password_hash = await hashPassword(admin.password);
  try {
    await store.users.create({ username: admin.username, password_hash, is_admin: true });
  } catch (error) {
    // Another instance starting on the same database created it first.
    if (await store.users.byUsername(admin.username)) return undefined;
    throw error;
  }
  return admin.username;
}
