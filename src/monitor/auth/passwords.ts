import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

// scrypt's recommended interactive cost (N = 2^15, r = 8, p = 1): about 50 ms and 32 MiB per hash.
const COST = { N: 32768, r: 8, p: 1 } as const;
const KEY_LENGTH = 64;
const MAX_MEMORY = 64 * 1024 * 1024;

function derive(password: string, salt: Buffer, options: ScryptOptions, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, length, { ...options, maxmem: MAX_MEMORY }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

/**
 * Hashes a password with scrypt and a random salt, as
 * `scrypt$N$r$p$<salt base64url>$<hash base64url>` (the parameters travel with
 * the hash, so a later, costlier setting still verifies old hashes).
 *
 * @example
 * await store.users.create({ username: 'ada', password_hash: await hashPassword(password), is_admin: true });
 */
export async function hashPassword(password: string): Promise<string> {
  if (typeof password !== 'string' || password === '') throw new TypeError('hashPassword: expected a non-empty password string');
  const salt = randomBytes(16);
  const key = await derive(password, salt, COST, KEY_LENGTH);
  return `scrypt$${COST.N}$${COST.r}$${COST.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

// Salt and hash in base64url (ours) or standard base64 (hashes made by other tools): Node decodes both.
const FORMAT = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/_-]+={0,2})\$([A-Za-z0-9+/_-]+={0,2})$/;

/** True when `password` matches a hash made by `hashPassword`; compared in constant time. A malformed hash is false. */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const m = FORMAT.exec(hash);
  if (!m || typeof password !== 'string') return false;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // Node reads a cost of 0 as its default: a stored 0 must not verify with other settings.
  if (N < 2 || N > 1 << 20 || (N & (N - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16) return false;
  const expected = Buffer.from(m[5]!, 'base64');
  if (expected.length < 16) return false;
  try {
    const key = await derive(password, Buffer.from(m[4]!, 'base64'), { N, r, p }, expected.length);
    return timingSafeEqual(key, expected);
  } catch {
    return false;
  }
}

let dummy: Promise<string> | undefined;

/**
 * Spends the time of one verification for a user that does not exist, so the
 * answer time does not tell which usernames exist.
 */
export async function verifyNobody(password: string): Promise<false> {
  dummy ??= hashPassword('not a password of anyone');
  await verifyPassword(password, await dummy);
  return false;
}
