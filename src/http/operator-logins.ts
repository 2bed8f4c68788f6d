import { createHmac, randomBytes } from 'node:crypto';
import type { Libraries, Library } from '../libraries.js';
import { hashPassword, verifyPassword } from '../password-hash.js';
import { safeEqual } from './basic-auth.js';
import { GATEWAY_SCOPE, type OperatorScope } from './operator-scope.js';

/*
 * Who may log in as an operator (SPEC §12): ADMIN_USER/ADMIN_PASSWORD, the gateway's operator, and
 * each library's `operators` with scrypt hashes. A hash takes ~160 ms to check, so a right password
 * is remembered in this process for a few minutes, under the user and an HMAC of the password with
 * a key made at start (never the password itself): the dashboard's pages and their parallel
 * requests are then as quick as the gateway operator's.
 */

export interface OperatorLogins {
  /** The scope of the operator these credentials are, or undefined when they are no one's. */
  check(user: string, password: string): Promise<OperatorScope | undefined>;
  /** True when `user` is one of the libraries' operators (whatever the password). */
  isLibraryOperator(user: string): boolean;
}

export interface OperatorLoginsOptions {
  readonly admin: { readonly user: string; readonly password: string };
  readonly libraries: Pick<Libraries, 'all'>;
  /** How long a right password is remembered (5 minutes). */
  readonly rememberMs?: number;
  readonly now?: () => number;
  /** At most this many remembered logins (the oldest go first). */
  readonly maxRemembered?: number;
}

export const REMEMBER_LOGIN_MS = 5 * 60 * 1000;

export function operatorLogins(options: OperatorLoginsOptions): OperatorLogins {
  const rememberMs = options.rememberMs ?? REMEMBER_LOGIN_MS;
  const now = options.now ?? Date.now;
  const maxRemembered = options.maxRemembered ?? 1000;
  const operators = new Map<string, { library: Library; passwordHash: string }>();
  for (const library of options.libraries.all) {
    for (const operator of library.settings.operators) operators.set(operator.user, { library, passwordHash: operator.passwordHash });
  }
  const key = randomBytes(32);
  const remembered = new Map<string, number>();
  const rememberKey = (user: string, password: string) => `${user}\u0000${createHmac('sha256', key).update(password, 'utf8').digest('base64url')}`;
  // A wrong password for a user of no library costs a hash check too, so timing does not tell which user names are operators'.
  let decoy: Promise<string> | undefined;
  const decoyHash = () => (decoy ??= hashPassword(randomBytes(16).toString('base64url')));

  return {
    isLibraryOperator: (user) => operators.has(user),
    async check(user, password) {
      // Both comparisons always run, so timing does not tell whether the admin's user name was right.
      const userOk = safeEqual(user, options.admin.user);
      const passwordOk = safeEqual(password, options.admin.password);
      if (userOk && passwordOk) return GATEWAY_SCOPE;

      const operator = operators.get(user);
      if (operators.size === 0) return undefined; // no hashes configured: nothing to time
      const at = rememberKey(user, password);
      const until = remembered.get(at);
      if (operator && until !== undefined && until > now()) return { library: operator.library };
      if (until !== undefined) remembered.delete(at);

      const right = await verifyPassword(password, operator?.passwordHash ?? (await decoyHash()));
      if (!operator || !right) return undefined;
      if (remembered.size >= maxRemembered) {
        for (const [entry, expires] of remembered) if (expires <= now()) remembered.delete(entry);
        if (remembered.size >= maxRemembered) remembered.delete(remembered.keys().next().value as string);
      }
      remembered.set(at, now() + rememberMs);
      return { library: operator.library };
    },
  };
}
