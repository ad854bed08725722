import { randomBytes } from 'node:crypto';

/**
 * Fresh ENCRYPTION_KEYS and STORAGE_SIGNING_SECRET for a test's environment: config load requires both and accepts
 * no value from the source (issue #14), so each test file brings its own random ones.
 */
export function testSecrets(): { ENCRYPTION_KEYS: string; STORAGE_SIGNING_SECRET: string } {
  return {
    ENCRYPTION_KEYS: `test:${randomBytes(32).toString('base64')}`,
    STORAGE_SIGNING_SECRET: randomBytes(32).toString('base64url'),
  };
}
