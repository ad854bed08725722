/*
 * ACCOUNT RESOLUTION: who a provider sign-in is (the rules the callback applies, in this order)
 *
 * a. The provider identity (provider key + the provider's stable subject id, never the e-mail address) is
 *    already linked: it is that user. A SUSPENDED or DEACTIVATED user is refused (ACCOUNT_DEACTIVATED), a user
 *    whose address is still unverified is refused (ACCOUNT_NOT_VERIFIED). The row's e-mail and tokens are
 *    refreshed.
 * b. Link flow (a signed-in user started it with `linkOAuthAccount`): refused when the identity is linked to
 *    another user (OAUTH_ACCOUNT_LINKED_ELSEWHERE) or the user already has an account of this provider, this
 *    identity included (OAUTH_PROVIDER_ALREADY_LINKED); otherwise linked. The provider's e-mail address plays no
 *    part: the user proved both sides.
 * c. The provider's e-mail address belongs to an existing user: linked automatically ONLY when the provider
 *    asserts it verified the address AND the existing account's address is verified (both parties proved
 *    control of the mailbox). Otherwise refused with OAUTH_EMAIL_IN_USE: sign in with the password, then link
 *    from settings. An unverified address never links, so nobody can pre-register a victim's address at a
 *    provider (or here) to take over the other side.
 * d. Nobody matches: a new user, which needs an address (OAUTH_EMAIL_REQUIRED). A verified provider address
 *    creates an ACTIVE user with a verified address and no password (the provider's name goes to the profile).
 *    An unverified one (Facebook never says; GitHub when no address is verified) creates a PENDING_VERIFICATION
 *    user with the identity linked, asks for the usual verification mail and answers ACCOUNT_NOT_VERIFIED: the
 *    user signs in with the provider again after clicking the link.
 * A concurrent sign-in or sign-up that wins a unique index makes the callback resolve once more from (a).
 */
import { constantTimeEqual, generateToken, hashToken } from '@gatehouse/crypto';
import type { AppError } from '@gatehouse/errors';
import { AuditAction, type AuditMetadataValue } from '../audit';
import { CredentialErrorCode } from '../credentials';
import { OAuthErrorCode } from './error-codes';
import type { OAuthAccountData } from './oauth-account.repository';
import { RESULT_CODE_TTL_SECONDS, type FlowResult } from './oauth-state';
import { ProviderError, type ProviderAdapter, type ProviderSignIn } from './providers';
import type { OAuthHttpResponse, OAuthService } from './oauth.service';
import type { LinkingSteps } from './oauth-linking';
import {
  COMPLETION_COOKIE,
  COMPLETION_COOKIE_PATH,
  DEFAULT_ROLE,
  cookie,
  unauthenticated,
  type OAuthToolkit,
  TOKEN_FORMAT,
} from './oauth-toolkit';

type Resolution =
  | { ok: true; userId: string; isNewUser: boolean; linked: boolean }
  | { ok: false; reason: string; userId: string | null; signedUp?: boolean };

export function createCallbackSteps(
  toolkit: OAuthToolkit,
  linking: Pick<LinkingSteps, 'linkAtCallback'>,
): Pick<OAuthService, 'handleCallback' | 'completeSignIn'> {
  const {
    requestEmailVerification,
    logger,
    now,
    accounts,
    repository,
    linkCompletion,
    store,
    adapters,
    secureCookie,
    clearCookie,
    callbackUrl,
    ruleOf,
    isSwitchedOn,
    domainAllowed,
    record,
    accountData,
    stateError,
    redeem,
  } = toolkit;
  const { linkAtCallback } = linking;

  /** Rules a, c and d (see the top of this file). */
  async function resolveSignIn(
    signIn: ProviderSignIn,
    account: OAuthAccountData,
    retried = false,
  ): Promise<Resolution> {
    const { profile } = signIn;
    const identity = await repository.findIdentity(account.provider, profile.providerAccountId);
    if (identity) {
      await repository.refresh(identity.id, account);
      if (identity.userStatus === 'SUSPENDED' || identity.userStatus === 'DEACTIVATED') {
        return { ok: false, reason: CredentialErrorCode.ACCOUNT_DEACTIVATED, userId: identity.userId };
      }
      if (identity.userStatus === 'PENDING_VERIFICATION' || !identity.userEmailVerified) {
        return { ok: false, reason: CredentialErrorCode.ACCOUNT_NOT_VERIFIED, userId: identity.userId };
      }
      return { ok: true, userId: identity.userId, isNewUser: false, linked: false };
    }

    if (profile.email === null)
      return { ok: false, reason: OAuthErrorCode.OAUTH_EMAIL_REQUIRED, userId: null };
    const existing = await accounts.findByEmail(profile.email);
    if (existing) {
      if (!profile.emailVerified || !existing.emailVerified) {
        return { ok: false, reason: OAuthErrorCode.OAUTH_EMAIL_IN_USE, userId: existing.id };
      }
      if (existing.status === 'SUSPENDED' || existing.status === 'DEACTIVATED') {
        return { ok: false, reason: CredentialErrorCode.ACCOUNT_DEACTIVATED, userId: existing.id };
      }
      const linked = await repository.link(existing.id, account);
      if (linked.status === 'LINKED')
        return { ok: true, userId: existing.id, isNewUser: false, linked: true };
      if (linked.status === 'PROVIDER_TAKEN') {
        return { ok: false, reason: OAuthErrorCode.OAUTH_PROVIDER_ALREADY_LINKED, userId: existing.id };
      }
      if (linked.status === 'IDENTITY_TAKEN' && !retried) return resolveSignIn(signIn, account, true);
      return { ok: false, reason: OAuthErrorCode.OAUTH_EMAIL_IN_USE, userId: existing.id };
    }

    const created = await repository.createUserWithAccount({
      email: profile.email,
      emailVerified: profile.emailVerified,
      displayName: profile.displayName,
      defaultRole: DEFAULT_ROLE,
      account,
      at: now(),
    });
    if (created.status !== 'CREATED') {
      if (!retried) return resolveSignIn(signIn, account, true);
      return { ok: false, reason: OAuthErrorCode.OAUTH_EMAIL_IN_USE, userId: null };
    }
    if (!profile.emailVerified) {
      try {
        await requestEmailVerification(profile.email);
      } catch (err) {
        // The account exists either way; the user can ask for another link.
        logger?.warn(
          { err, userId: created.userId },
          'could not send the verification mail of an OAuth sign-up',
        );
      }
      return {
        ok: false,
        reason: CredentialErrorCode.ACCOUNT_NOT_VERIFIED,
        userId: created.userId,
        signedUp: true,
      };
    }
    return { ok: true, userId: created.userId, isNewUser: true, linked: false };
  }

  return {
    async handleCallback({ provider, query, browserBinding, client }) {
      const failed = (reason: string, metadata: Record<string, AuditMetadataValue | undefined> = {}) =>
        record(AuditAction.OAUTH_LOGIN_FAILED, 'FAILURE', client, {
          metadata: { provider, reason, ...metadata },
        });
      // The binding cookie is single-use like the state: cleared on every answer.
      let setCookie = browserBinding === null ? undefined : [clearCookie];

      const state = query.get('state');
      const flow = state !== null && TOKEN_FORMAT.test(state) ? await store.consumeFlow(state) : null;
      if (state === null || flow === null || flow.provider !== provider) {
        await failed(OAuthErrorCode.OAUTH_STATE_INVALID, {
          detail: flow ? 'OTHER_PROVIDER' : 'UNKNOWN_STATE',
        });
        return stateError(setCookie);
      }
      if (flow.bindingHash !== null) {
        setCookie = [clearCookie];
        if (browserBinding === null || !constantTimeEqual(hashToken(browserBinding), flow.bindingHash)) {
          await failed(OAuthErrorCode.OAUTH_STATE_INVALID, { detail: 'BROWSER_MISMATCH' });
          return stateError(setCookie);
        }
      }

      const back = (params: Record<string, string>): OAuthHttpResponse => {
        const location = new URL(flow.redirectUri);
        for (const [key, value] of Object.entries(params)) location.searchParams.set(key, value);
        location.searchParams.set('state', state);
        return { status: 302, location: location.toString(), ...(setCookie ? { setCookie } : {}) };
      };
      const linkUserId = flow.linkUserId;
      const failAction = linkUserId ? AuditAction.OAUTH_ACCOUNT_LINKED : AuditAction.OAUTH_LOGIN_FAILED;
      const providerFailed = async (
        reason: string,
        metadata: Record<string, AuditMetadataValue | undefined>,
      ) => {
        await record(failAction, 'FAILURE', client, {
          actor: linkUserId,
          target: linkUserId,
          metadata: { provider, reason, ...metadata },
        });
        return back({ error: reason });
      };

      const adapter: ProviderAdapter | undefined = adapters.get(provider);
      const providerErrorParam = query.get('error');
      if (providerErrorParam !== null || !adapter) {
        const denied = providerErrorParam === 'access_denied';
        return providerFailed(
          denied ? OAuthErrorCode.OAUTH_CONSENT_DENIED : OAuthErrorCode.OAUTH_PROVIDER_ERROR,
          {
            providerCode:
              providerErrorParam && /^[a-z_]{1,64}$/.test(providerErrorParam)
                ? providerErrorParam
                : undefined,
          },
        );
      }
      // Switched off while the browser was at the provider: the flow ends here, before any token exchange.
      const rule = await ruleOf(provider);
      if (!isSwitchedOn(rule)) return providerFailed(OAuthErrorCode.OAUTH_PROVIDER_UNAVAILABLE, {});
      const code = query.get('code');
      if (!code) return providerFailed(OAuthErrorCode.OAUTH_PROVIDER_ERROR, { stage: 'callback' });

      let signIn: ProviderSignIn;
      try {
        signIn = await adapter.exchange({
          code,
          redirectUri: callbackUrl(provider),
          codeVerifier: flow.codeVerifier,
          nonce: flow.nonce,
          callbackParams: query,
        });
      } catch (error) {
        if (!(error instanceof ProviderError)) throw error;
        logger?.warn(
          // The message only, not the error: its cause (a jose error) can carry the ID token's claims.
          { provider, stage: error.stage, providerCode: error.providerCode, problem: error.message },
          'OAuth provider sign-in failed',
        );
        return providerFailed(OAuthErrorCode.OAUTH_PROVIDER_ERROR, {
          stage: error.stage,
          providerCode: error.providerCode ?? undefined,
        });
      }
      if (!domainAllowed(rule, signIn.profile)) {
        return providerFailed(OAuthErrorCode.OAUTH_EMAIL_DOMAIN_NOT_ALLOWED, {
          emailVerified: signIn.profile.emailVerified,
        });
      }
      const account = accountData(provider, signIn);

      if (linkUserId !== null) {
        if (linkCompletion === 'app') {
          const resultCode = generateToken(32);
          await store.saveResult(resultCode, {
            kind: 'link',
            linkUserId,
            provider,
            account: JSON.stringify(account),
            stateHash: hashToken(state),
            expiresAt: now().getTime() + RESULT_CODE_TTL_SECONDS * 1000,
          });
          return back({ code: resultCode });
        }
        const reason = await linkAtCallback(flow, linkUserId, account, client);
        return back(reason ? { error: reason } : { linked: provider });
      }

      const resolution = await resolveSignIn(signIn, account);
      if (!resolution.ok) {
        if (resolution.signedUp) {
          await record(AuditAction.OAUTH_SIGN_UP, 'SUCCESS', client, {
            actor: resolution.userId,
            target: resolution.userId,
            metadata: { provider, emailVerified: false },
          });
        } else {
          await record(AuditAction.OAUTH_LOGIN_FAILED, 'FAILURE', client, {
            target: resolution.userId,
            metadata: { provider, reason: resolution.reason },
          });
        }
        return back({ error: resolution.reason });
      }
      if (resolution.isNewUser) {
        await record(AuditAction.OAUTH_SIGN_UP, 'SUCCESS', client, {
          actor: resolution.userId,
          target: resolution.userId,
          metadata: { provider, emailVerified: true },
        });
      }
      if (resolution.linked) {
        await record(AuditAction.OAUTH_ACCOUNT_LINKED, 'SUCCESS', client, {
          actor: resolution.userId,
          target: resolution.userId,
          metadata: { provider, automatic: true },
        });
      }
      await record(AuditAction.OAUTH_LOGIN_SUCCEEDED, 'SUCCESS', client, {
        actor: resolution.userId,
        target: resolution.userId,
        metadata: { provider, isNewUser: resolution.isNewUser },
      });
      const resultCode = generateToken(32);
      await store.saveResult(resultCode, {
        kind: 'sign-in',
        userId: resolution.userId,
        provider,
        isNewUser: resolution.isNewUser,
        stateHash: hashToken(state),
        bindingHash: flow.bindingHash,
        expiresAt: now().getTime() + RESULT_CODE_TTL_SECONDS * 1000,
      });
      if (flow.bindingHash !== null && browserBinding !== null) {
        // The state travels in the redirect, so it binds nothing: the completion needs this browser's cookie.
        setCookie = [
          clearCookie,
          cookie(
            browserBinding,
            RESULT_CODE_TTL_SECONDS,
            secureCookie,
            COMPLETION_COOKIE,
            COMPLETION_COOKIE_PATH,
          ),
        ];
      }
      return back({ code: resultCode });
    },

    async completeSignIn(code, state, client, browserBinding) {
      let result: FlowResult;
      try {
        result = await redeem(code, state, 'sign-in');
        const bindingHash = result.kind === 'sign-in' ? (result.bindingHash ?? null) : null;
        // The code is burnt either way (redeem consumed it): a forwarded redirect cannot be retried elsewhere.
        if (
          bindingHash !== null &&
          (!browserBinding || !constantTimeEqual(hashToken(browserBinding), bindingHash))
        ) {
          throw unauthenticated(
            OAuthErrorCode.OAUTH_STATE_INVALID,
            'The sign-in was started in another browser',
          );
        }
      } catch (error) {
        const reason = ((error as AppError).details as { reason: string }).reason;
        await record(AuditAction.OAUTH_LOGIN_FAILED, 'FAILURE', client, {
          metadata: { reason, stage: 'complete' },
        });
        throw error;
      }
      if (result.kind !== 'sign-in') throw new Error('unreachable: redeem checks the kind');
      return { userId: result.userId, provider: result.provider, isNewUser: result.isNewUser };
    },
  };
}
