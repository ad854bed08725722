import { randomUUID } from 'node:crypto';
import { AuthenticationError } from '@gatehouse/errors';
import type { EventBus } from '@gatehouse/events';
import type { KeyValueStore } from '@gatehouse/kv';
import { CredentialErrorCode } from './error-codes';
import type { LoginGuardRepository } from './login-guard.repository';

export interface LoginGuardOptions {
  kv: KeyValueStore;
  repository: LoginGuardRepository;
  /** Failures within the window that lock the account. Default 5. */
  maxFailures?: number;
  /** Default 900 (15 minutes). */
  windowSeconds?: number;
  /** How long a lock lasts. Default 900 (15 minutes). */
  lockSeconds?: number;
  /**
   * The limits in force, read on every use (the `security.lockout` setting): a changed threshold applies to the
   * next sign-in without a restart. Without it, the three numbers above.
   */
  limits?: () => Promise<LockoutLimits>;
  /** Clock, for tests. */
  now?: () => Date;
  /** Receives KV errors; the guard carries on with Postgres alone. */
  logger?: { warn(details: object, message: string): void };
  /**
   * Where the lock is announced ({@link LoginGuardEventTopic}; the gateway relays it to the owner's open
   * `securityEvents` subscriptions). Without it, nothing is published.
   */
  events?: Pick<EventBus, 'publish'>;
}

/** Topics the login guard publishes on the event bus. */
export const LoginGuardEventTopic = {
  /** Too many failed sign-ins locked the account (once per lock); payload {@link AccountLockedEvent}. */
  ACCOUNT_LOCKED: 'security.account_locked',
} as const;

/** Who was locked out until when; never the passwords tried nor where they came from. */
export interface AccountLockedEvent {
  id: string;
  userId: string;
  /** ISO 8601. */
  lockedUntil: string;
  failures: number;
  /** ISO 8601. */
  at: string;
}

/** How many failures within which window lock an account, and for how long. */
export interface LockoutLimits {
  maxFailures: number;
  windowSeconds: number;
  lockSeconds: number;
}

/** The outcome of one failed sign-in. */
export interface FailureOutcome {
  /** True only for the failure that locked the account (exactly once per lock): mail the owner then. */
  locked: boolean;
  /** Set when the account is locked, by this failure or an earlier one. */
  lockedUntil?: Date;
  /** Failures counted in the current window; 0 when the account was already locked (those are not counted). */
  failures: number;
}

/** One password attempt, counted before the password is verified ({@link LoginGuard.reservePasswordAttempt}). */
export interface PasswordAttempt {
  readonly userId: string;
  /** Failures counted in the current window, this attempt included. */
  readonly failures: number;
}

/** One second-factor attempt, counted before its code is checked ({@link LoginGuard.reserveSecondFactorAttempt}). */
export interface SecondFactorAttempt {
  readonly userId: string;
  /** Attempts counted in the current window, this one included. */
  readonly attempts: number;
  /** Attempts still allowed after this one; when it is 0 and the code is wrong, the account locks. */
  readonly remaining: number;
}

export interface LoginGuard {
  /** @throws AccountLockedError while the account is locked. */
  assertNotLocked(userId: string): Promise<void>;
  /** When the current lock ends, or null when the account is not locked. */
  lockedUntil(userId: string): Promise<Date | null>;
  /** Failures in the current window (KV first, Postgres when the KV has no counter). */
  failureCount(userId: string): Promise<number>;
  /**
   * Counts a wrong password; with the `attempt` {@link reservePasswordAttempt} returned, that count stands (it is
   * not counted twice). The failure that reaches the limit locks the account.
   */
  recordFailure(userId: string, attempt?: PasswordAttempt): Promise<FailureOutcome>;
  /**
   * Counts a password attempt before the password is verified, atomically (in Postgres), so concurrent guesses
   * cannot have more than `maxFailures` verified per window. A correct password then clears it
   * ({@link recordSuccess}), a wrong one keeps it ({@link recordFailure} with the attempt).
   * @returns null when no attempt may be made (locked, or the limit is reached): verify nothing, answer as locked.
   */
  reservePasswordAttempt(userId: string): Promise<PasswordAttempt | null>;
  /**
   * After a correct password: clears the password's counters (KV and Postgres) and any expired lock. The
   * second-factor count is left alone: a correct password must not buy more guesses at the code.
   */
  recordSuccess(userId: string): Promise<void>;
  /**
   * Counts a second-factor attempt in Postgres before the code is compared, atomically: whatever the concurrency,
   * at most `maxFailures` codes are checked per window. Counted on its own (not in the password's count), so
   * neither a correct password nor a Redis flush clears it.
   * @returns null when no attempt may be made (the limit is reached or the account is locked): check nothing.
   */
  reserveSecondFactorAttempt(userId: string): Promise<SecondFactorAttempt | null>;
  /**
   * The reserved attempt's code was wrong: it stays counted, and the last attempt allowed locks the account
   * exactly like the password's lockout does (`locked: true` once per lock: mail the owner then).
   */
  recordSecondFactorFailure(attempt: SecondFactorAttempt): Promise<FailureOutcome>;
  /** After a passed second factor: clears the second-factor count (the only thing that does, besides a lock). */
  recordSecondFactorSuccess(userId: string): Promise<void>;
}

/**
 * Too many failed sign-ins. An authentication error with `details.reason` ACCOUNT_LOCKED and `details.lockedUntil`
 * (ISO 8601). For logs, audit and the owner; a sign-in response must not show it (see createLoginGuard).
 */
export class AccountLockedError extends AuthenticationError {
  declare readonly details: { reason: typeof CredentialErrorCode.ACCOUNT_LOCKED; lockedUntil: string };
  readonly lockedUntil: Date;

  constructor(lockedUntil: Date) {
    super('Account temporarily locked after too many failed sign-in attempts', {
      details: { reason: CredentialErrorCode.ACCOUNT_LOCKED, lockedUntil: lockedUntil.toISOString() },
    });
    this.lockedUntil = lockedUntil;
  }
}

const failureKey = (userId: string) => `login-failures:${userId}`;

/**
 * Account lockout after repeated failed sign-ins.
 *
 * Postgres (users.failed_login_count / last_failed_login_at / locked_until) is the record and decides; a KV
 * counter with TTL = window is kept next to it as the cheap read path (`failureCount`). A Redis restart or flush
 * therefore gives nobody fresh attempts: when the KV counter is gone, Postgres still has the count, and the KV
 * counter is re-seeded from it. The count continues while each failure follows the previous one within the
 * window (at least as strict as a fixed window).
 *
 * For the sign-in resolver: a locked account must answer exactly like a wrong password, whatever password was
 * sent, or the lock becomes an oracle (a distinct "locked" answer to the right password would confirm it while
 * locked) and an account-existence probe. So: if locked, spend the dummy verify (DummyPasswordCheck), do not count
 * the attempt, return the generic INVALID_CREDENTIALS, audit LOGIN_FAILED with reason ACCOUNT_LOCKED. The owner
 * learns about the lock from the mail sent when `recordFailure` returns `locked: true`.
 *
 * Every guess is counted before it is checked, or a burst of parallel requests would all find the account
 * unlocked and all be checked: `reservePasswordAttempt` before a password is verified (then `recordFailure` with
 * it, or `recordSuccess`), `reserveSecondFactorAttempt` before a code is compared.
 *
 * Second-factor codes have a count of their own in Postgres (users.mfa_failed_count, same limits and window): a
 * correct password does not clear it (or "a few wrong codes, sign in again, a few more" would guess for ever), and
 * each attempt is counted before its code is compared (`reserveSecondFactorAttempt`), so parallel requests cannot
 * get more guesses than the limit. Its last allowed wrong code locks the account like the password's limit does.
 */
export function createLoginGuard(options: LoginGuardOptions): LoginGuard {
  const { kv, repository, now = () => new Date(), logger, events } = options;
  const fixed: LockoutLimits = {
    maxFailures: options.maxFailures ?? 5,
    windowSeconds: options.windowSeconds ?? 900,
    lockSeconds: options.lockSeconds ?? 900,
  };
  const assertValid = (limits: LockoutLimits) => {
    for (const [name, value] of Object.entries(limits)) {
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
    }
    return limits;
  };
  assertValid(fixed);
  const currentLimits = options.limits
    ? async () => assertValid(await options.limits!())
    : () => Promise.resolve(fixed);

  /** KV trouble must never let an attacker through or lock a user out: Postgres alone still decides. */
  async function kvOrNull<T>(operation: () => Promise<T>): Promise<T | null> {
    try {
      return await operation();
    } catch (error) {
      logger?.warn({ err: error }, 'login guard: key-value store unavailable, using Postgres only');
      return null;
    }
  }

  /** A notification: the lock is already recorded, so a bus failure must not turn into a sign-in error. */
  async function announceLock(event: AccountLockedEvent): Promise<void> {
    try {
      await events?.publish(LoginGuardEventTopic.ACCOUNT_LOCKED, event);
    } catch (err) {
      logger?.warn({ err, userId: event.userId }, 'login guard: could not publish the lock');
    }
  }

  async function currentLock(userId: string): Promise<Date | null> {
    const until = await repository.lockedUntil(userId);
    return until && until > now() ? until : null;
  }

  /** Sets the lock (clearing both counts); only the caller that set it gets `locked: true`. */
  async function lock(
    userId: string,
    failures: number,
    at: Date,
    lockSeconds: number,
  ): Promise<FailureOutcome> {
    const lockedUntil = new Date(at.getTime() + lockSeconds * 1000);
    if (await repository.lock(userId, { now: at, until: lockedUntil })) {
      await kvOrNull(() => kv.delete(failureKey(userId)));
      await announceLock({
        id: randomUUID(),
        userId,
        lockedUntil: lockedUntil.toISOString(),
        failures,
        at: at.toISOString(),
      });
      return { locked: true, lockedUntil, failures };
    }
    // A concurrent failure set the lock first; it reports `locked: true`, this one must not.
    const until = await currentLock(userId);
    return until ? { locked: false, lockedUntil: until, failures } : { locked: false, failures };
  }

  return {
    async assertNotLocked(userId) {
      const until = await currentLock(userId);
      if (until) throw new AccountLockedError(until);
    },

    lockedUntil: currentLock,

    async failureCount(userId) {
      const cached = await kvOrNull(() => kv.get(failureKey(userId)));
      if (cached !== null) return Number(cached);
      const { windowSeconds } = await currentLimits();
      const at = now();
      return repository.failureCount(userId, new Date(at.getTime() - windowSeconds * 1000));
    },

    async reservePasswordAttempt(userId) {
      const { maxFailures, windowSeconds } = await currentLimits();
      const at = now();
      const windowStart = new Date(at.getTime() - windowSeconds * 1000);
      const failures = await repository.reserveFailure(userId, { now: at, windowStart, maxFailures });
      return failures === null ? null : { userId, failures };
    },

    async recordFailure(userId, attempt) {
      const { maxFailures, windowSeconds, lockSeconds } = await currentLimits();
      const at = now();
      const windowStart = new Date(at.getTime() - windowSeconds * 1000);
      const durable = attempt
        ? attempt.failures
        : await repository.recordFailure(userId, { now: at, windowStart });
      if (durable === null) {
        const until = await currentLock(userId);
        return until ? { locked: false, lockedUntil: until, failures: 0 } : { locked: false, failures: 0 };
      }

      const key = failureKey(userId);
      const fast = await kvOrNull(() => kv.increment(key, { ttlSeconds: windowSeconds }));
      if (fast !== null && fast < durable) {
        // The KV lost its counter (flush, restart, failover): bring it back in line with the record.
        await kvOrNull(() => kv.increment(key, { by: durable - fast, ttlSeconds: windowSeconds }));
      }
      const failures = Math.max(durable, fast ?? 0);
      if (failures < maxFailures) return { locked: false, failures };
      return lock(userId, failures, at, lockSeconds);
    },

    async recordSuccess(userId) {
      await repository.reset(userId);
      await kvOrNull(() => kv.delete(failureKey(userId)));
    },

    async reserveSecondFactorAttempt(userId) {
      const { maxFailures, windowSeconds } = await currentLimits();
      const at = now();
      const windowStart = new Date(at.getTime() - windowSeconds * 1000);
      const attempts = await repository.reserveSecondFactorAttempt(userId, {
        now: at,
        windowStart,
        maxFailures,
      });
      if (attempts === null) return null;
      return { userId, attempts, remaining: Math.max(maxFailures - attempts, 0) };
    },

    async recordSecondFactorFailure({ userId, attempts, remaining }) {
      if (remaining > 0) return { locked: false, failures: attempts };
      const { lockSeconds } = await currentLimits();
      return lock(userId, attempts, now(), lockSeconds);
    },

    async recordSecondFactorSuccess(userId) {
      await repository.resetSecondFactor(userId);
    },
  };
}
