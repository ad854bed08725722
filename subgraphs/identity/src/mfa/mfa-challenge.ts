/**
 * The sign-in challenge between a proven password and issued tokens: created, a code sent for it, verified (with
 * the per-challenge and per-account attempt limits). Challenges live in the key/value store only.
 */
import { z } from 'zod';
import { generateToken, hashToken } from '@gatehouse/crypto';
import { AuditAction } from '../audit';
import { CredentialErrorCode, reportLock } from '../credentials';
import { MfaErrorCode } from './error-codes';
import {
  challengeCodeInvalid,
  challengeInvalid,
  codeInvalid,
  methodUnavailable,
  mfaNotEnabled,
} from './errors';
import type { MfaMethod } from './mfa.types';
import { MFA_CHALLENGE_MAX_FAILURES, MFA_CHALLENGE_TTL_SECONDS, MfaEventTopic } from './mfa.constants';
import type { MfaService } from './mfa.service';
import type { BackupCodeSteps } from './mfa-backup-codes';
import { isWellFormedCode, type MfaToolkit } from './mfa-toolkit';

/** generateToken(32): 43 base64url characters; anything else is refused without a lookup. */
const MFA_TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;

/** Bounds what a caller can park in the key/value store with a challenge. */
const challengeContext = z.record(z.string().max(64), z.string().max(1024).nullable());
const MAX_CONTEXT_ENTRIES = 16;

interface StoredChallenge {
  userId: string;
  methods: MfaMethod[];
  context: Record<string, string | null>;
  /** ISO 8601, checked against the service clock. */
  expiresAt: string;
}

const challengeKey = (tokenHash: string) => `mfa:challenge:${tokenHash}`;
const challengeFailuresKey = (tokenHash: string) => `mfa:challenge-failures:${tokenHash}`;

export function createChallengeSteps(
  toolkit: MfaToolkit,
  backupCodes: Pick<BackupCodeSteps, 'afterBackupCodeUsed'>,
): Pick<MfaService, 'createChallenge' | 'sendChallengeCode' | 'verifyChallenge'> {
  const {
    kv,
    accounts,
    guard,
    now,
    repository,
    codes,
    wrongCodeDependencies,
    publish,
    securityEvent,
    record,
    usableMethods,
    checkCode,
    sendCode,
  } = toolkit;
  const { afterBackupCodeUsed } = backupCodes;

  /** The challenge of a token, or null when it is malformed, unknown or expired (an expired one is removed). */
  async function loadChallenge(
    mfaToken: string,
  ): Promise<{ tokenHash: string; challenge: StoredChallenge } | null> {
    if (typeof mfaToken !== 'string' || !MFA_TOKEN_FORMAT.test(mfaToken)) return null;
    const tokenHash = hashToken(mfaToken);
    const raw = await kv.get(challengeKey(tokenHash));
    if (raw === null) return null;
    const challenge = JSON.parse(raw) as StoredChallenge;
    if (new Date(challenge.expiresAt) <= now()) {
      await destroyChallenge(tokenHash, challenge.userId);
      return null;
    }
    return { tokenHash, challenge };
  }

  /**
   * Its attempt counter stays until its TTL (no longer than the challenge's): requests that loaded the challenge
   * before it was destroyed must still find their attempts spent, not a fresh counter.
   */
  async function destroyChallenge(tokenHash: string, userId: string): Promise<void> {
    await Promise.all([kv.delete(challengeKey(tokenHash)), codes.discard(userId, 'challenge')]);
  }

  return {
    async createChallenge(userId, context) {
      const parsedContext = challengeContext.safeParse(context);
      if (!parsedContext.success || Object.keys(parsedContext.data).length > MAX_CONTEXT_ENTRIES) {
        throw new RangeError('createChallenge: context must be at most 16 short string (or null) entries');
      }
      const state = await repository.state(userId);
      if (!state.mfaEnabled || state.factors.length === 0) throw mfaNotEnabled();
      const methods = usableMethods(state);
      // Only SMS enrolled, no provider configured any more, no backup codes left: nothing could pass.
      if (methods.length === 0)
        throw methodUnavailable('No verification method of this account is available');
      const mfaToken = generateToken(32);
      const expiresAt = new Date(now().getTime() + MFA_CHALLENGE_TTL_SECONDS * 1000);
      const stored: StoredChallenge = {
        userId,
        methods,
        context: parsedContext.data,
        expiresAt: expiresAt.toISOString(),
      };
      await kv.set(challengeKey(hashToken(mfaToken)), JSON.stringify(stored), {
        ttlSeconds: MFA_CHALLENGE_TTL_SECONDS,
      });
      return { mfaToken, methods, expiresAt };
    },

    async sendChallengeCode(mfaToken, method, client) {
      const loaded = await loadChallenge(mfaToken);
      if (!loaded) throw challengeInvalid();
      const { tokenHash, challenge } = loaded;
      if (!challenge.methods.includes(method)) throw methodUnavailable();
      const [account, state] = await Promise.all([
        accounts.findById(challenge.userId),
        repository.state(challenge.userId),
      ]);
      if (!account) throw challengeInvalid();
      const factor = state.factors.find((candidate) => candidate.type === method);
      const to = method === 'SMS' ? factor?.phoneNumber : factor?.email;
      if (!factor || !to) throw methodUnavailable();
      return sendCode({
        account,
        purpose: 'challenge',
        method,
        to,
        factorId: factor.id,
        challenge: tokenHash,
        client,
      });
    },

    async verifyChallenge(mfaToken, code, client) {
      const loaded = await loadChallenge(mfaToken);
      if (!loaded) throw challengeInvalid();
      const { tokenHash, challenge } = loaded;
      const { userId } = challenge;
      const account = await accounts.findById(userId);
      if (!account || account.status === 'SUSPENDED' || account.status === 'DEACTIVATED') {
        await destroyChallenge(tokenHash, userId);
        throw challengeInvalid();
      }
      // Locked meanwhile (wrong codes, or guesses at the password elsewhere): the sign-in starts over, and the
      // answer does not tell the lock apart, as sign-in never does (the owner was mailed when it was set).
      if (await guard.lockedUntil(userId)) {
        await destroyChallenge(tokenHash, userId);
        await record(AuditAction.MFA_CHALLENGE_FAILED, 'FAILURE', userId, client, {
          reason: CredentialErrorCode.ACCOUNT_LOCKED,
        });
        throw challengeInvalid();
      }

      if (!isWellFormedCode(code, true)) throw codeInvalid();

      // Every attempt is counted before its code is compared, per challenge (KV) and per account (PostgreSQL,
      // apart from the password's count: a correct password clears nothing here), so parallel requests cannot
      // get more guesses than the limits, and neither signing in again nor a Redis flush gives fresh ones.
      const challengeAttempt = await kv.increment(challengeFailuresKey(tokenHash), {
        ttlSeconds: MFA_CHALLENGE_TTL_SECONDS,
      });
      const accountAttempt =
        challengeAttempt <= MFA_CHALLENGE_MAX_FAILURES
          ? await guard.reserveSecondFactorAttempt(userId)
          : null;
      if (!accountAttempt) {
        await destroyChallenge(tokenHash, userId);
        await record(AuditAction.MFA_CHALLENGE_FAILED, 'FAILURE', userId, client, {
          reason: MfaErrorCode.MFA_TOO_MANY_ATTEMPTS,
          challengeDestroyed: true,
        });
        throw challengeInvalid('Too many wrong codes; sign in again');
      }

      const state = await repository.state(userId);
      const outcome = await checkCode(userId, code, {
        purpose: 'challenge',
        challenge: tokenHash,
        methods: challenge.methods,
        state,
      });

      if (!outcome.ok) {
        const failures = challengeAttempt;
        const attemptsRemaining = Math.min(MFA_CHALLENGE_MAX_FAILURES - failures, accountAttempt.remaining);
        const destroyed = attemptsRemaining <= 0;
        if (destroyed) await destroyChallenge(tokenHash, userId);
        await record(AuditAction.MFA_CHALLENGE_FAILED, 'FAILURE', userId, client, {
          reason: outcome.reason,
          failures,
          accountFailures: accountAttempt.attempts,
          challengeDestroyed: destroyed,
        });
        await publish(
          MfaEventTopic.MFA_CHALLENGE_FAILED,
          securityEvent(userId, null, client, { reason: outcome.reason, failures }),
        );
        // The account's last allowed wrong code locks it, audited and mailed like the password's lockout.
        const lock = await guard.recordSecondFactorFailure(accountAttempt);
        await reportLock(wrongCodeDependencies, account, client, lock, 'WRONG_MFA_CODE');
        if (destroyed) throw challengeInvalid('Too many wrong codes; sign in again');
        throw challengeCodeInvalid(outcome.reason, attemptsRemaining);
      }

      // Single use: of concurrent successes only the one whose delete removed the challenge signs in.
      if (!(await kv.delete(challengeKey(tokenHash)))) throw challengeInvalid();
      await codes.discard(userId, 'challenge');
      await guard.recordSecondFactorSuccess(userId);
      await guard.recordSuccess(userId);
      await record(AuditAction.MFA_CHALLENGE_PASSED, 'SUCCESS', userId, client, { method: outcome.method });
      if (outcome.backupCode) await afterBackupCodeUsed(account, outcome.backupCode, client);
      return {
        userId,
        method: outcome.method,
        context: challenge.context,
        backupCodesRemaining: outcome.backupCode ? outcome.backupCode.remaining : null,
      };
    },
  };
}
