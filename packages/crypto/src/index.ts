export {
  OWASP_ARGON2ID,
  createPasswordHasher,
  type Argon2idParams,
  type PasswordHasher,
} from './password-hasher';
export { constantTimeEqual, generateToken, hashToken } from './tokens';
export {
  DecryptionError,
  createEnvelopeCipher,
  deriveSecret,
  parseEncryptionKeys,
  type DecryptionFailure,
  type EncryptionKey,
  type EnvelopeCipher,
} from './envelope-cipher';
