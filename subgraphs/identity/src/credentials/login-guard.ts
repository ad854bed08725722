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

export interface LoginGuard {
  /** @throws AccountLockedError while the account is locked. */
  assertNotLocked(userId: string): Promise<void>;
  /** When the current lock ends, or null when the account is not locked. */
  lockedUntil(userId: string): Promise<Date | null>;
  /** Failures in the current window (KV first, Postgres when the KV has no counter). */
  failureCount(userId: string): Promise<number>;
  recordFailure(userId: string): Promise<FailureOutcome>;
  /** After a correct password: clears the counters (KV and Postgres) and any expired lock. */
  recordSuccess(userId: string): Promise<void>;
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

    async recordFailure(userId) {
      const { maxFailures, windowSeconds, lockSeconds } = await currentLimits();
      const at = now();
      const windowStart = new Date(at.getTime() - windowSeconds * 1000);
      const durable = await repository.recordFailure(userId, { now: at, windowStart });
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

      const lockedUntil = new Date(at.getTime() + lockSeconds * 1000);
      if (await repository.lock(userId, { now: at, until: lockedUntil })) {
        await kvOrNull(() => kv.delete(key));
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
    },

    async recordSuccess(userId) {
      await repository.reset(userId);
      await kvOrNull(() => kv.delete(failureKey(userId)));
    },
  };
}
