import type { MailTemplateOverrides } from '@gatehouse/mail';
import { emailTemplateOverrides, type SettingsStore } from '@gatehouse/settings';
import type { LockoutLimits } from '../credentials';
import type { OAuthProviderRules } from '../oauth';

/**
 * What identity reads from the runtime settings (`@gatehouse/settings`), per use: the store caches every key
 * (locally and in the shared KV) and drops an entry when another process announces a change on the event bus,
 * or after its TTL without one. So an administrator's change applies to the next sign-in without a restart.
 *
 * A setting never stored keeps identity's own configuration (the LOGIN_* variables, the password policy's
 * minimum, every configured OAuth provider): behaviour is unchanged until an administrator sets something.
 */
export interface IdentitySettings {
  /** `security.lockout`, else the LOGIN_* variables. */
  lockout(): Promise<LockoutLimits>;
  /** `security.passwordMinLength`, else the fallback (12). */
  passwordMinLength(): Promise<number>;
  /** `security.mfaRequiredRoles`; none when never stored. */
  mfaRequiredRoles(): Promise<readonly string[]>;
  /** `oauth.providers`; undefined when never stored (every configured provider, any domain). */
  oauthProviderRules(): Promise<OAuthProviderRules | undefined>;
  /** `email.templates.<name>` for the mail worker; undefined when never stored. */
  templateOverrides: MailTemplateOverrides;
}

export interface IdentitySettingsOptions {
  store: Pick<SettingsStore, 'getStored'>;
  /** Identity's configuration, in force while a setting was never stored. */
  fallback: { lockout: LockoutLimits; passwordMinLength: number };
}

export function createIdentitySettings(options: IdentitySettingsOptions): IdentitySettings {
  const { store, fallback } = options;
  return {
    lockout: async () => (await store.getStored('security.lockout')) ?? { ...fallback.lockout },
    passwordMinLength: async () =>
      (await store.getStored('security.passwordMinLength')) ?? fallback.passwordMinLength,
    mfaRequiredRoles: async () => (await store.getStored('security.mfaRequiredRoles')) ?? [],
    oauthProviderRules: () => store.getStored('oauth.providers'),
    templateOverrides: emailTemplateOverrides(store),
  };
}
