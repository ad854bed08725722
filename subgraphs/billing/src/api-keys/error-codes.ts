/**
 * Reasons of API key refusals, sent as `extensions.details.reason` next to the generic `extensions.code`.
 * Stable across releases.
 */
export const ApiKeyErrorCode = {
  /** CONFLICT: the user already holds MAX_ACTIVE_API_KEYS_PER_USER keys that are neither revoked nor expired. */
  API_KEY_LIMIT_REACHED: 'API_KEY_LIMIT_REACHED',
} as const;

export type ApiKeyErrorCode = (typeof ApiKeyErrorCode)[keyof typeof ApiKeyErrorCode];
