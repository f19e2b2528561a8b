import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Password hashes as `scrypt$N$r$p$saltBase64$hashBase64`: the parameters travel with
 * each hash, so they can be raised later and old hashes still verify.
 *
 * N = 2^15, r = 8, p = 3 is one of OWASP's equivalent scrypt settings (as strong as
 * N = 2^17, p = 1) at 32 MiB of memory per hash instead of 128 MiB: a small machine
 * running the monitor can hash a few logins at once.
 */
const N = 2 ** 15;
const R = 8;
const P = 3;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
// node refuses 128 × N × r bytes above its 32 MiB default; leave room for stored hashes with N up to 2^16.
const MAX_MEMORY = 128 * 2 ** 16 * 16 + 1024 * 1024;

function derive(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keylen, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/**
 * Hashes a password with `node:crypto` scrypt and a random salt.
 *
 * @example
 * await store.users.create({ username: 'alice', password_hash: await hashPassword(password), is_admin: true });
 */
export async function hashPassword(password: string): Promise<string> {
  if (typeof password !== 'string' || password === '') throw new TypeError('hashPassword: expected a non-empty string');
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, KEY_BYTES, { N, r: R, p: P, maxmem: MAX_MEMORY });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

const FORMAT = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

/**
 * True when `password` matches a hash from `hashPassword`. A malformed hash, or one
 * with parameters outside sane bounds (a tampered row must not make a login use
 * gigabytes), is false, never an exception. Compares in constant time.
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  if (typeof password !== 'string' || typeof stored !== 'string') return false;
  const m = FORMAT.exec(stored);
  if (!m) return false;
  const [n, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const salt = Buffer.from(m[4]!, 'base64');
  const expected = Buffer.from(m[5]!, 'base64');
  const powerOfTwo = n >= 2 ** 10 && n <= 2 ** 16 && (n & (n - 1)) === 0;
  if (!powerOfTwo || r < 1 || r > 16 || p < 1 || p > 16 || salt.length < 8 || expected.length < 16 || expected.length > 64) return false;
  const key = await derive(password, salt, expected.length, { N: n, r, p, maxmem: MAX_MEMORY });
  return timingSafeEqual(key, expected);
}
