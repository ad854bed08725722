export {
  API_KEY_MARKER,
  formatApiKey,
  generateApiKey,
  looksLikeApiKey,
  parseApiKey,
  type ApiKeyParts,
} from './api-key-format';
export {
  API_KEY_SCOPES,
  DEFAULT_API_KEY_SCOPES,
  LAST_USED_WRITE_INTERVAL_MS,
  MAX_ACTIVE_API_KEYS_PER_USER,
  createApiKeyService,
  type ApiKeyAuditContext,
  type ApiKeyRecord,
  type ApiKeyScope,
  type ApiKeyService,
  type ApiKeyServiceOptions,
  type CreateApiKeyInput,
  type CreatedApiKey,
  type VerifiedApiKey,
} from './api-key.service';
export { createApiKeyRepository, type ApiKeyRepository } from './api-key.repository';
export { ApiKeyErrorCode } from './error-codes';
