import { randomBytes } from 'node:crypto';
import { createEnvelopeCipher, type EnvelopeCipher } from '@gatehouse/crypto';
import { AppError } from '@gatehouse/errors';
import type { KeyValueStore } from '@gatehouse/kv';
import { followOAuthRedirects, type TestDatabase } from '@gatehouse/testing';
import { createAuditLog } from '../audit';
import type { ClientInfo } from '../client-info';
import { createAccountRepository } from '../users';
import { loadOAuthConfig } from './config';
import { createOAuthAccountRepository } from './oauth-account.repository';
import {
  createOAuthService,
  type OAuthHttpResponse,
  type OAuthService,
  type OAuthServiceOptions,
} from './oauth.service';

/** The app's landing page (on the allow-list). */
export const APP_REDIRECT = 'http://app.test/oauth/done';
/** Nothing listens here: the browser dance stops at callback URLs and hands their query to the service. */
export const CALLBACK_BASE = 'http://127.0.0.1:9';
export const CLIENT: ClientInfo = {
  ip: '203.0.113.7',
  userAgent: 'Mozilla/5.0 (oauth test)',
  requestId: 'req-oauth',
};

export interface Harness {
  service: OAuthService;
  cipher: EnvelopeCipher;
  clock: { now: Date };
  advance(ms: number): void;
  /** Addresses `requestEmailVerification` was called with. */
  verificationRequests: string[];
}

/** An OAuth service on the test database with real audit log and cipher, configured from `env`. */
export function createHarness(
  db: TestDatabase,
  kv: KeyValueStore,
  env: Record<string, string>,
  options: Partial<OAuthServiceOptions> = {},
): Harness {
  const cipher = createEnvelopeCipher([{ id: 'test', key: randomBytes(32) }]);
  const clock = { now: new Date() };
  const verificationRequests: string[] = [];
  const service = createOAuthService({
    accounts: createAccountRepository(db.prisma),
    repository: createOAuthAccountRepository(db.prisma),
    kv,
    cipher,
    audit: createAuditLog(db.prisma),
    config: loadOAuthConfig({
      OAUTH_CALLBACK_BASE_URL: CALLBACK_BASE,
      OAUTH_REDIRECT_ALLOWLIST: `${APP_REDIRECT},http://app.test/other`,
      ...env,
    }),
    requestEmailVerification: async (email) => {
      verificationRequests.push(email);
    },
    now: () => clock.now,
    httpTimeoutMs: 3000,
    ...options,
  });
  return {
    service,
    cipher,
    clock,
    advance: (ms) => (clock.now = new Date(clock.now.getTime() + ms)),
    verificationRequests,
  };
}

/** The provider's redirect back to us: where the browser lands after the provider. */
export interface ProviderReturn {
  state: string;
  query: URLSearchParams;
  browserBinding: string | null;
}

/** Starts a flow and plays the browser at the provider until it is sent to our callback URL. */
export async function throughProvider(
  h: Harness,
  provider: string,
  options: { binding?: 'cookie' | 'client'; linkUserId?: string; redirectUri?: string } = {},
): Promise<ProviderReturn> {
  const started = await h.service.start({
    provider,
    redirectUri: options.redirectUri ?? APP_REDIRECT,
    binding: options.binding ?? 'client',
    ...(options.linkUserId ? { linkUserId: options.linkUserId } : {}),
    client: CLIENT,
  });
  const callback = await followOAuthRedirects(started.authorizationUrl, {
    until: (url) => url.toString().startsWith(`${CALLBACK_BASE}/auth/oauth/${provider}/callback`),
  });
  return {
    state: started.state,
    query: callback.searchParams,
    browserBinding: started.browserBinding ?? null,
  };
}

export function callback(h: Harness, provider: string, back: ProviderReturn): Promise<OAuthHttpResponse> {
  return h.service.handleCallback({
    provider,
    query: back.query,
    browserBinding: back.browserBinding,
    client: CLIENT,
  });
}

/** The query of the redirect to the app (fails unless it is one). */
export function appRedirect(response: OAuthHttpResponse, redirectUri = APP_REDIRECT): Record<string, string> {
  expect(response.status).toBe(302);
  const location = new URL(response.location ?? '');
  expect(`${location.origin}${location.pathname}`).toBe(redirectUri);
  return Object.fromEntries(location.searchParams);
}

/** Provider sign-in, callback and completion; the result code redirect is required. */
export async function signIn(h: Harness, provider: string) {
  const back = await throughProvider(h, provider);
  const params = appRedirect(await callback(h, provider, back));
  expect(params).toEqual({ code: expect.any(String), state: back.state });
  return h.service.completeSignIn(params.code!, back.state, CLIENT);
}

/** The error's code and `details.reason` (fails unless it rejects with an AppError). */
export async function failure(promise: Promise<unknown>): Promise<{ code: string; reason: unknown }> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
  if (!(error instanceof AppError)) throw error;
  return { code: error.code, reason: (error.details as { reason?: unknown } | undefined)?.reason };
}
