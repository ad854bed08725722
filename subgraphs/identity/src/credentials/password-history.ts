import type { PasswordHasher } from '@gatehouse/crypto';
import type { PasswordHistoryRepository } from './password-history.repository';

export interface PasswordHistoryOptions {
  repository: PasswordHistoryRepository;
  hasher: PasswordHasher;
  /** How many earlier passwords are remembered and refused (besides the current one). Default 5. */
  last?: number;
}

export interface PasswordHistory {
  /**
   * True when `newPassword` is the current password or one of the `last` before it.
   *
   * Costs one argon2 verify per stored hash (≈27 ms each with the OWASP parameters, so up to ≈160 ms for the
   * current hash + 5), run one after another on purpose: in parallel they would take 6 of libuv's 4 threads
   * and stall every concurrent sign-in. Stops at the first match.
   */
  isRecentlyUsed(userId: string, newPassword: string, options?: { last?: number }): Promise<boolean>;
  /**
   * Records a hash the user is moving away from (call it with the OLD hash when the password changes) and keeps
   * only the newest `last` entries.
   */
  remember(userId: string, passwordHash: string): Promise<void>;
}

export function createPasswordHistory(options: PasswordHistoryOptions): PasswordHistory {
  const { repository, hasher, last: defaultLast = 5 } = options;
  if (!Number.isInteger(defaultLast) || defaultLast < 0) {
    throw new RangeError(`last must be a non-negative integer, got ${defaultLast}`);
  }

  return {
    async isRecentlyUsed(userId, newPassword, { last = defaultLast } = {}) {
      const hashes = await repository.recentHashes(userId, last);
      for (const hash of new Set(hashes)) {
        // Sequential by design, see the interface doc.
        if (await hasher.verify(hash, newPassword)) return true;
      }
      return false;
    },

    remember: (userId, passwordHash) => repository.remember(userId, passwordHash, defaultLast),
  };
}
