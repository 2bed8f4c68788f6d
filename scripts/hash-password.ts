/**
 * `npm run hash-password` (SPEC §8, §12): reads a library operator's password on standard input and
 * prints its `passwordHash` for LIBRARIES_FILE. Only the line end after the password is removed, so
 * spaces inside or around it count. At a terminal it reads one line (the password is echoed: run it
 * where nobody watches, or pipe it in: `printf '%s' "$PASSWORD" | npm run --silent hash-password`).
 */
import { createInterface } from 'node:readline';
import { hashPassword } from '../src/password-hash.js';
import { stopWith } from './exit-with.js';

async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) {
    process.stderr.write('Password: ');
    const lines = createInterface({ input: process.stdin, terminal: false });
    for await (const line of lines) {
      lines.close();
      return line;
    }
    return '';
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

const password = await readPassword();
if (password === '') stopWith('hash-password: the password is empty; write it on standard input, e.g. printf \'%s\' "$PASSWORD" | npm run --silent hash-password');
process.stdout.write(`${await hashPassword(password)}\n`);
