/** Authenticator apps (TOTP): enrolling one and confirming it with a code from it. */
import { randomUUID } from 'node:crypto';
import { alreadyEnrolled, codeInvalid, enrollmentNotFound } from './errors';
import { generateTotpSecret, matchTotpStep, qrCodeDataUrl, totpKeyUri } from './totp';
import type { MfaService } from './mfa.service';
import { secretAad, sixDigitCode, type MfaToolkit } from './mfa-toolkit';

export function createTotpSteps(toolkit: MfaToolkit): Pick<MfaService, 'enrollTotp' | 'confirmTotp'> {
  const {
    cipher,
    issuer,
    now,
    repository,
    requireAccount,
    decryptSecret,
    reserveCodeAttempt,
    finishEnrollment,
  } = toolkit;
  return {
    async enrollTotp(userId) {
      const account = await requireAccount(userId);
      const secret = generateTotpSecret();
      const factorId = randomUUID();
      const stored = await repository.replacePendingFactor({
        id: factorId,
        userId,
        type: 'TOTP',
        secretEncrypted: cipher.encrypt(secret, secretAad(factorId)),
      });
      if (!stored) throw alreadyEnrolled();
      const otpauthUri = totpKeyUri({ issuer, account: account.email, secret });
      return { secret, otpauthUri, qrCodeDataUrl: await qrCodeDataUrl(otpauthUri) };
    },

    async confirmTotp(userId, code, client) {
      const account = await requireAccount(userId);
      const factor = await repository.findPendingFactor(userId, 'TOTP');
      if (!factor) throw enrollmentNotFound();
      const digits = sixDigitCode.safeParse(code);
      if (!digits.success) throw codeInvalid();
      const giveBack = await reserveCodeAttempt(userId);
      const step = matchTotpStep(decryptSecret(factor), digits.data, now());
      if (step === null) throw codeInvalid();
      await giveBack();
      return finishEnrollment(account, factor, step, client);
    },
  };
}
