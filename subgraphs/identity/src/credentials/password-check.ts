import { randomBytes } from 'node:crypto';
import type { PasswordHasher } from '@gatehouse/crypto';

/**
 * Makes "no such user" cost the same as "wrong password": one argon2 verify against a hash made with the
 * hasher's CURRENT parameters (a hash with cheaper, older parameters would be measurably faster).
 */
export interface DummyPasswordCheck {
  /** Computes the dummy hash. Call at startup: otherwise the first unknown e-mail pays a hash plus a verify. */
  ready(): Promise<void>;
  /** Runs one verify of `password` against the dummy hash; the result is meaningless and discarded. */
  equalizeTiming(password: string): Promise<void>;
}

export function createDummyPasswordCheck(hasher: PasswordHasher): DummyPasswordCheck {
  let dummyHash: Promise<string> | undefined;
  // A random secret nobody knows, so the dummy hash can never be "guessed" into a successful sign-in.
  const hashOnce = () => (dummyHash ??= hasher.hash(randomBytes(32).toString('base64url')));

  return {
    async ready() {
      await hashOnce();
    },
    async equalizeTiming(password) {
      await hasher.verify(await hashOnce(), password);
    },
  };
}

export type PasswordVerification = { ok: false } | { ok: true; newHash?: string };

/**
 * Verifies a sign-in password in constant-ish time whether or not the account (or its password) exists, and
 * re-hashes on success when the stored hash used other parameters.
 *
 * @param user the account found by e-mail, or null; an account without a password (OAuth-only) never matches.
 * @returns `newHash` when the caller must store a re-hashed password (same password, current parameters).
 */
export async function verifyAndUpgrade(
  hasher: PasswordHasher,
  user: { passwordHash: string | null } | null | undefined,
  password: string,
  dummy: DummyPasswordCheck,
): Promise<PasswordVerification> {
  const hash = user?.passwordHash;
  if (!hash) {
    await dummy.equalizeTiming(password);
    return { ok: false };
  }
  if (!(await hasher.verify(hash, password))) return { ok: false };
  if (!hasher.needsRehash(hash)) return { ok: true };
  return { ok: true, newHash: await hasher.hash(password) };
}
