import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/*
 * Library operators' passwords are kept in LIBRARIES_FILE as scrypt hashes (SPEC §12): memory-hard,
 * in Node's own crypto, so a leaked file costs an attacker real memory per guess. The form says its
 * own parameters, so they can be raised later without breaking the hashes already written:
 * `scrypt$N$r$p$SALT$HASH` (salt and hash base64url).
 */
const COST = 2 ** 15;
const BLOCK_SIZE = 8;
const PARALLEL = 1;
const KEY_LENGTH = 32;
const FORM = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9_-]{16,})\$([A-Za-z0-9_-]{32,})$/;

function derive(password: string, salt: Buffer, n: number, r: number, p: number, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // maxmem: scrypt needs 128·N·r bytes; Node's default cap (32 MiB) is exactly that for N=2^15, r=8.
    scrypt(password.normalize('NFC'), salt, length, { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 }, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** The stored form of a password, for `npm run hash-password`. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, COST, BLOCK_SIZE, PARALLEL, KEY_LENGTH);
  return `scrypt$${COST}$${BLOCK_SIZE}$${PARALLEL}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** Null when `hash` is a hash this module can check, else what is wrong with it (for configuration's line). */
export function passwordHashProblem(hash: string): string | null {
  const match = FORM.exec(hash);
  if (!match) return 'expected a hash made by npm run hash-password (scrypt$N$r$p$salt$hash)';
  const [n, r, p] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (n < 2 ** 14 || n > 2 ** 20 || (n & (n - 1)) !== 0) return 'scrypt cost N must be a power of two from 16384 to 1048576';
  if (r < 1 || r > 32 || p < 1 || p > 16) return 'scrypt r or p out of range';
  return null;
}

/** True when `password` is the one `hash` was made from; compared in constant time. */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const match = FORM.exec(hash);
  if (!match) return false;
  const expected = Buffer.from(match[5] ?? '', 'base64url');
  const key = await derive(password, Buffer.from(match[4] ?? '', 'base64url'), Number(match[1]), Number(match[2]), Number(match[3]), expected.length);
  return key.length === expected.length && timingSafeEqual(key, expected);
}
