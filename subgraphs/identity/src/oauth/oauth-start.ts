/** Starting a flow: the providers offered, and the redirect to one with its state and browser binding. */
import { createHash } from 'node:crypto';
import { generateToken, hashToken } from '@gatehouse/crypto';
import { ServiceUnavailableError } from '@gatehouse/errors';
import { OAuthErrorCode } from './error-codes';
import { STATE_TTL_SECONDS } from './oauth-state';
import { ProviderError } from './providers';
import type { OAuthProviderInfo, OAuthService } from './oauth.service';
import { badInput, cookie, type OAuthToolkit } from './oauth-toolkit';

export function createStartSteps(toolkit: OAuthToolkit): Pick<OAuthService, 'providers' | 'start'> {
  const { logger, config, store, adapters, allowlist, secureCookie, callbackUrl, ruleOf, isSwitchedOn, now } =
    toolkit;
  return {
    async providers() {
      const offered: OAuthProviderInfo[] = [];
      for (const { key, displayName } of config.providers) {
        if (isSwitchedOn(await ruleOf(key))) offered.push({ key, displayName });
      }
      return offered;
    },

    async start({ provider, redirectUri, linkUserId, binding }) {
      const adapter = adapters.get(provider);
      if (!adapter || !isSwitchedOn(await ruleOf(provider))) {
        throw badInput(OAuthErrorCode.OAUTH_PROVIDER_UNAVAILABLE, 'This sign-in provider is not available');
      }
      if (!allowlist.has(redirectUri)) {
        throw badInput(OAuthErrorCode.OAUTH_REDIRECT_URI_NOT_ALLOWED, 'This redirect URI is not allowed');
      }
      const state = generateToken(32);
      const codeVerifier = generateToken(32);
      const nonce = generateToken(32);
      let prepared;
      try {
        prepared = await adapter.authorizationUrl({
          state,
          redirectUri: callbackUrl(provider),
          codeChallenge: createHash('sha256').update(codeVerifier).digest('base64url'),
          nonce,
        });
      } catch (error) {
        if (!(error instanceof ProviderError)) throw error;
        logger?.warn({ provider, stage: error.stage, problem: error.message }, 'OAuth provider unavailable');
        throw new ServiceUnavailableError('The sign-in provider is not reachable, please try again later', {
          cause: error,
          details: { reason: OAuthErrorCode.OAUTH_PROVIDER_ERROR },
        });
      }
      const browserBinding = binding === 'cookie' ? generateToken(32) : undefined;
      await store.saveFlow(state, {
        provider,
        redirectUri,
        codeVerifier: prepared.usesPkce ? codeVerifier : null,
        nonce: prepared.usesNonce ? nonce : null,
        linkUserId: linkUserId ?? null,
        bindingHash: browserBinding === undefined ? null : hashToken(browserBinding),
        expiresAt: now().getTime() + STATE_TTL_SECONDS * 1000,
      });
      return {
        authorizationUrl: prepared.url,
        state,
        ...(browserBinding === undefined
          ? {}
          : { browserBinding, setCookie: [cookie(browserBinding, STATE_TTL_SECONDS, secureCookie)] }),
      };
    },
  };
}
