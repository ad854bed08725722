/** SMS and e-mail factors: enrolling and confirming them with a sent code, and codes for signed-in changes. */
import { randomUUID } from 'node:crypto';
import type { AccountRecord } from '../users';
import type { ClientInfo } from '../client-info';
import { normalizePhoneNumber } from './destination';
import { alreadyEnrolled, codeInvalid, enrollmentNotFound, methodUnavailable, mfaNotEnabled } from './errors';
import type { CodeDelivery, FactorConfirmation, MfaDeliveryMethod } from './mfa.types';
import type { CodePurpose } from './one-time-codes';
import { phoneNumberInvalid } from './sms-sender';
import type { MfaService } from './mfa.service';
import { sixDigitCode, type MfaToolkit } from './mfa-toolkit';

export function createSentCodeSteps(
  toolkit: MfaToolkit,
): Pick<MfaService, 'enrollSms' | 'confirmSms' | 'enrollEmail' | 'confirmEmail' | 'sendVerificationCode'> {
  const { sms, codes, repository, requireAccount, reserveCodeAttempt, sendCode, finishEnrollment } = toolkit;

  /** Stores a pending SMS/e-mail factor (replacing an unconfirmed one) and sends it a code to confirm it with. */
  async function enrollDelivered(
    account: AccountRecord,
    type: MfaDeliveryMethod,
    to: string,
    client: ClientInfo,
  ): Promise<CodeDelivery> {
    // Checked before a send is counted; the transaction below decides under concurrency.
    const { factors } = await repository.state(account.id);
    if (factors.some((factor) => factor.type === type)) throw alreadyEnrolled();
    const factorId = randomUUID();
    return sendCode({
      account,
      purpose: type === 'SMS' ? 'enroll-sms' : 'enroll-email',
      method: type,
      to,
      factorId,
      challenge: null,
      client,
      async prepare() {
        const stored = await repository.replacePendingFactor({
          id: factorId,
          userId: account.id,
          type,
          ...(type === 'SMS' ? { phoneNumber: to } : { email: to }),
        });
        if (!stored) {
          await codes.releaseSend(account.id);
          throw alreadyEnrolled();
        }
      },
    });
  }

  /** Confirms a pending SMS/e-mail factor with the code sent to it. */
  async function confirmDelivered(
    userId: string,
    type: MfaDeliveryMethod,
    code: string,
    client: ClientInfo,
  ): Promise<FactorConfirmation> {
    const account = await requireAccount(userId);
    const factor = await repository.findPendingFactor(userId, type);
    if (!factor) throw enrollmentNotFound();
    const digits = sixDigitCode.safeParse(code);
    if (!digits.success) throw codeInvalid();
    const giveBack = await reserveCodeAttempt(userId);
    const purpose: CodePurpose = type === 'SMS' ? 'enroll-sms' : 'enroll-email';
    const sent = await codes.consume(userId, purpose, digits.data, { factorId: factor.id });
    if (!sent) throw codeInvalid();
    await giveBack();
    return finishEnrollment(account, factor, null, client);
  }

  return {
    async enrollSms(userId, phoneNumber, client) {
      if (!sms) throw methodUnavailable('Text messages are not available');
      const to = typeof phoneNumber === 'string' ? normalizePhoneNumber(phoneNumber) : null;
      if (!to) throw phoneNumberInvalid();
      return enrollDelivered(await requireAccount(userId), 'SMS', to, client);
    },

    confirmSms: (userId, code, client) => confirmDelivered(userId, 'SMS', code, client),

    async enrollEmail(userId, client) {
      const account = await requireAccount(userId);
      return enrollDelivered(account, 'EMAIL', account.email, client);
    },

    confirmEmail: (userId, code, client) => confirmDelivered(userId, 'EMAIL', code, client),

    async sendVerificationCode(userId, method, client) {
      const account = await requireAccount(userId);
      const state = await repository.state(userId);
      if (!state.mfaEnabled) throw mfaNotEnabled();
      const factor = state.factors.find((candidate) => candidate.type === method);
      const to = method === 'SMS' ? factor?.phoneNumber : factor?.email;
      if (!factor || !to) throw methodUnavailable();
      return sendCode({
        account,
        purpose: 'verify',
        method,
        to,
        factorId: factor.id,
        challenge: null,
        client,
      });
    },
  };
}
