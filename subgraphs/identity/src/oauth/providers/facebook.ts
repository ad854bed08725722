import { createHmac } from 'node:crypto';
import type { FacebookProviderConfig } from '../config';
import {
  ProviderError,
  expectProfileObject,
  parseTokenResponse,
  providerRequest,
  type ProviderHttp,
} from './provider-http';
import { normalizeDisplayName, normalizeProviderEmail } from './profile';
import type { ProviderAdapter } from './types';

/**
 * Facebook Login's manual flow (OAuth 2.0 with the Graph API): the dialog with PKCE S256, the code exchanged at
 * `/oauth/access_token` (POST, so the app secret stays out of URLs), then `GET /me?fields=id,name,email` with
 * `appsecret_proof` (works whether or not the app requires it). Facebook gives no verified flag for the address:
 * it is always treated as unverified.
 */
export function createFacebookAdapter(
  config: FacebookProviderConfig,
  options: { http: ProviderHttp },
): ProviderAdapter {
  const { http } = options;
  return {
    key: config.key,
    displayName: config.displayName,

    async authorizationUrl({ state, redirectUri, codeChallenge }) {
      const url = new URL(config.authorizeUrl);
      url.searchParams.set('client_id', config.clientId);
      url.searchParams.set('redirect_uri', redirectUri);
      url.searchParams.set('response_type', 'code');
      url.searchParams.set('scope', config.scopes.join(','));
      url.searchParams.set('state', state);
      url.searchParams.set('code_challenge', codeChallenge);
      url.searchParams.set('code_challenge_method', 'S256');
      return { url: url.toString(), usesPkce: true, usesNonce: false };
    },

    async exchange({ code, redirectUri, codeVerifier }) {
      const form = new URLSearchParams({
        client_id: config.clientId,
        client_secret: config.clientSecret,
        redirect_uri: redirectUri,
        code,
      });
      if (codeVerifier !== null) form.set('code_verifier', codeVerifier);
      const tokens = parseTokenResponse(
        await providerRequest(http, 'token', config.tokenUrl, {
          method: 'POST',
          headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
          body: form,
        }),
      );
      const url = new URL(`${config.graphUrl}/me`);
      url.searchParams.set('fields', 'id,name,email');
      url.searchParams.set(
        'appsecret_proof',
        createHmac('sha256', config.clientSecret).update(tokens.accessToken).digest('hex'),
      );
      const me = expectProfileObject(
        await providerRequest(http, 'profile', url.toString(), {
          headers: { accept: 'application/json', authorization: `Bearer ${tokens.accessToken}` },
        }),
        'GET /me',
      );
      if (typeof me.id !== 'string' || me.id === '') throw new ProviderError('profile', 'GET /me has no id');
      return {
        profile: {
          providerAccountId: me.id,
          email: normalizeProviderEmail(me.email),
          emailVerified: false,
          displayName: normalizeDisplayName(me.name),
        },
        tokens,
      };
    },
  };
}
