import type { OAuthProviderConfig } from '../config';
import { createFacebookAdapter } from './facebook';
import { createGitHubAdapter } from './github';
import { createOidcAdapter } from './oidc';
import type { ProviderHttp } from './provider-http';
import type { ProviderAdapter } from './types';

export { ProviderError, type ProviderHttp, type ProviderStage, type TokenResponse } from './provider-http';
export type { ProviderAdapter, ProviderProfile, ProviderSignIn } from './types';

/** One adapter per configured provider, by key. */
export function createProviderAdapters(
  providers: readonly OAuthProviderConfig[],
  options: { http: ProviderHttp; now: () => Date },
): Map<string, ProviderAdapter> {
  const adapters = new Map<string, ProviderAdapter>();
  for (const provider of providers) {
    const adapter =
      provider.kind === 'oidc'
        ? createOidcAdapter(provider, options)
        : provider.kind === 'github'
          ? createGitHubAdapter(provider, options)
          : createFacebookAdapter(provider, options);
    adapters.set(provider.key, adapter);
  }
  return adapters;
}
