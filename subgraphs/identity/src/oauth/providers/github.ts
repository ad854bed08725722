import type { GitHubProviderConfig } from '../config';
import {
  ProviderError,
  expectProfileObject,
  isObject,
  parseTokenResponse,
  providerRequest,
  type ProviderHttp,
} from './provider-http';
import { normalizeDisplayName, normalizeProviderEmail } from './profile';
import type { ProviderAdapter } from './types';

/** GitHub's REST API refuses requests without a User-Agent. */
const API_HEADERS = {
  accept: 'application/vnd.github+json',
  'user-agent': 'Gatehouse',
  'x-github-api-version': '2022-11-28',
};

interface GitHubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
}

/**
 * The address we use: the primary one when GitHub verified it, else any verified one, else the (unverified)
 * primary, else the public profile address (unverified: GitHub does not say).
 */
function chooseEmail(
  emails: GitHubEmail[],
  profileEmail: unknown,
): { email: string | null; verified: boolean } {
  const choice =
    emails.find((entry) => entry.primary && entry.verified) ??
    emails.find((entry) => entry.verified) ??
    emails.find((entry) => entry.primary);
  if (choice) {
    const email = normalizeProviderEmail(choice.email);
    return { email, verified: email !== null && choice.verified };
  }
  return { email: normalizeProviderEmail(profileEmail), verified: false };
}

/**
 * GitHub OAuth apps (plain OAuth 2.0, no ID token): authorize with PKCE S256, token exchange with client
 * credentials in the body (errors arrive as HTTP 200 with `error`), then `GET /user` for the numeric id and name
 * and `GET /user/emails` for the verified flags.
 */
export function createGitHubAdapter(
  config: GitHubProviderConfig,
  options: { http: ProviderHttp },
): ProviderAdapter {
  const { http } = options;
  const api = (path: string, accessToken: string) =>
    providerRequest(http, 'profile', `${config.apiUrl}${path}`, {
      headers: { ...API_HEADERS, authorization: `Bearer ${accessToken}` },
    });

  return {
    key: config.key,
    displayName: config.displayName,

    async authorizationUrl({ state, redirectUri, codeChallenge }) {
      const url = new URL(config.authorizeUrl);
      url.searchParams.set('client_id', config.clientId);
      url.searchParams.set('redirect_uri', redirectUri);
      url.searchParams.set('scope', config.scopes.join(' '));
      url.searchParams.set('state', state);
      url.searchParams.set('code_challenge', codeChallenge);
      url.searchParams.set('code_challenge_method', 'S256');
      return { url: url.toString(), usesPkce: true, usesNonce: false };
    },

    async exchange({ code, redirectUri, codeVerifier }) {
      const form = new URLSearchParams({
        client_id: config.clientId,
        client_secret: config.clientSecret,
        code,
        redirect_uri: redirectUri,
      });
      if (codeVerifier !== null) form.set('code_verifier', codeVerifier);
      const tokens = parseTokenResponse(
        await providerRequest(http, 'token', config.tokenUrl, {
          method: 'POST',
          headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
          body: form,
        }),
      );
      const user = expectProfileObject(await api('/user', tokens.accessToken), 'GET /user');
      if (typeof user.id !== 'number' && typeof user.id !== 'string') {
        throw new ProviderError('profile', 'GET /user has no id');
      }
      const emailsResponse = await api('/user/emails', tokens.accessToken);
      if (emailsResponse.status !== 200 || !Array.isArray(emailsResponse.body)) {
        throw new ProviderError('profile', `GET /user/emails answered ${emailsResponse.status}`);
      }
      const emails = emailsResponse.body.filter(
        (entry): entry is GitHubEmail =>
          isObject(entry) &&
          typeof entry.email === 'string' &&
          typeof entry.primary === 'boolean' &&
          typeof entry.verified === 'boolean',
      );
      const { email, verified } = chooseEmail(emails, user.email);
      return {
        profile: {
          providerAccountId: String(user.id),
          email,
          emailVerified: verified,
          displayName: normalizeDisplayName(user.name) ?? normalizeDisplayName(user.login),
        },
        tokens,
      };
    },
  };
}
