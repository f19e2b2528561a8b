import { scryptSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '../../src/monitor/auth/passwords.js';

describe('monitor password hashes', () => {
  it('hashes as scrypt$N$r$p$salt$hash with a fresh salt, and verifies only the same password', async () => {
    const [a, b] = await Promise.all([hashPassword('correct horse'), hashPassword('correct horse')]);
    expect(a).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{86}$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('correct horse', a)).toBe(true);
    expect(await verifyPassword('correct horse', b)).toBe(true);
    expect(await verifyPassword('correct hors', a)).toBe(false);
    expect(await verifyPassword('Correct horse', a)).toBe(false);
  });

  it('verifies a hash made elsewhere with other parameters (the format carries them)', async () => {
    const salt = Buffer.from('0123456789abcdef');
    const key = scryptSync('s3cret', salt, 64, { N: 1024, r: 4, p: 2 });
    const stored = `scrypt$1024$4$2$${salt.toString('base64')}$${key.toString('base64')}`;
    expect(await verifyPassword('s3cret', stored)).toBe(true);
    expect(await verifyPassword('s3cres', stored)).toBe(false);
  });

  it('treats the composed and decomposed forms of a character as the same password', async () => {
    const stored = await hashPassword('caf\u00e9 au lait');
    expect(await verifyPassword('cafe\u0301 au lait', stored)).toBe(true);
  });

  it('a malformed or tampered hash is false, never an exception or a huge allocation', async () => {
    const good = await hashPassword('password1');
    const [, , , , salt, key] = good.split('$');
    const bad = [
      '',
      'password1',
      'bcrypt$2b$10$abc',
      `scrypt$32768$8$1$${salt}`,
      `scrypt$32000$8$1$${salt}$${key}`, // N not a power of two
      `scrypt$${2 ** 30}$8$1$${salt}$${key}`, // N would need 128 GiB
      `scrypt$32768$0$1$${salt}$${key}`,
      `scrypt$32768$8$99$${salt}$${key}`,
      `scrypt$32768$8$1$${salt}$${key!.slice(0, 8)}`, // hash too short to mean anything
      `scrypt$32768$8$1$!!!$${key}`,
    ];
    for (const stored of bad) expect(await verifyPassword('password1', stored), stored).toBe(false);
    expect(await verifyPassword(undefined as unknown as string, good)).toBe(false);
    expect(await verifyPassword('password1', null as unknown as string)).toBe(false);
  });

  it('refuses to hash an empty password', async () => {
    await expect(hashPassword('')).rejects.toThrow(TypeError);
  });
});
