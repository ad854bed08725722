import { timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { AuditActorFields } from '@gatehouse/audit';
import { hashToken } from '@gatehouse/crypto';
import { ConflictError, NotFoundError, ValidationError } from '@gatehouse/errors';
import type { Logger } from '@gatehouse/logger';
import { isUuid } from '@gatehouse/service';
import { generateApiKey, parseApiKey } from './api-key-format';
import { isPrefixTaken, type ApiKeyRecord, type ApiKeyRepository } from './api-key.repository';
import { ApiKeyErrorCode } from './error-codes';

/**
 * What an API key may be used for. An allow-list: a key carries only scopes named here, so a typo can never
 * mint a key with a scope some future route would honour.
 */
export const API_KEY_SCOPES = ['usage:write'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/** Scopes of a key created without `scopes`. */
export const DEFAULT_API_KEY_SCOPES: readonly ApiKeyScope[] = ['usage:write'];

/** Keys a user may hold that are neither revoked nor expired; bounds what one account can mint. */
export const MAX_ACTIVE_API_KEYS_PER_USER = 25;

/**
 * `lastUsedAt` is written at most this often per key: a busy server presenting its key on every request must not
 * turn every usage report into an extra row update.
 */
export const LAST_USED_WRITE_INTERVAL_MS = 60_000;

export type { ApiKeyRecord } from './api-key.repository';

export interface CreatedApiKey {
  /** The whole key `gh_<prefix>_<secret>`. Returned this once; only its SHA-256 is stored. */
  key: string;
  record: ApiKeyRecord;
}

/** Who presented a valid key. */
export interface VerifiedApiKey {
  userId: string;
  keyId: string;
  scopes: string[];
}

export interface CreateApiKeyInput {
  name: string;
  /** Default {@link DEFAULT_API_KEY_SCOPES}. */
  scopes?: string[];
  /** Must be in the future; default: never expires. */
  expiresAt?: Date | null;
}

/** Request facts for the audit trail; the actor defaults to the key's owner. */
export type ApiKeyAuditContext = Partial<AuditActorFields>;

export interface ApiKeyService {
  /**
   * Mints a key for `userId`. ValidationError (BAD_USER_INPUT) on bad input; ConflictError (CONFLICT, reason
   * API_KEY_LIMIT_REACHED) when the user already holds {@link MAX_ACTIVE_API_KEYS_PER_USER} active keys.
   */
  create(userId: string, input: CreateApiKeyInput, audit?: ApiKeyAuditContext): Promise<CreatedApiKey>;
  /** The user's keys, newest first; revoked ones only with `includeRevoked`. */
  list(userId: string, options?: { includeRevoked?: boolean }): Promise<ApiKeyRecord[]>;
  /**
   * Revokes one of the user's keys (idempotent: revoking a revoked key returns it unchanged).
   * NotFoundError for a key of another user, exactly as for one that does not exist.
   */
  revoke(userId: string, id: string, audit?: ApiKeyAuditContext): Promise<ApiKeyRecord>;
  /**
   * The owner and scopes of a presented key, or null when it is malformed, unknown, wrong, revoked, expired, or
   * its owner can no longer use the platform. Never throws for a bad key (only when the database fails).
   */
  verify(presented: string): Promise<VerifiedApiKey | null>;
}

export interface ApiKeyServiceOptions {
  apiKeys: ApiKeyRepository;
  logger: Logger;
  now?: () => Date;
}

/** Users whose keys keep working: the others are blocked, closed or deleted. */
const USABLE_USER_STATUSES = new Set(['ACTIVE', 'PENDING_VERIFICATION']);

function createInputSchema(now: Date) {
  return z
    .object({
      name: z.string().trim().min(1, 'Name is required').max(100, 'Name is at most 100 characters'),
      scopes: z
        .array(z.enum(API_KEY_SCOPES, { message: `Scopes must be among: ${API_KEY_SCOPES.join(', ')}` }))
        .min(1, 'At least one scope is required')
        .max(API_KEY_SCOPES.length)
        .optional(),
      expiresAt: z
        .date()
        .refine((date) => date.getTime() > now.getTime(), 'Expiry must be in the future')
        .nullable()
        .optional(),
    })
    .strict();
}

/** Stored hash of a whole key. SHA-256 is enough: the key has 256 random bits, there is nothing to brute-force. */
function hashApiKey(key: string): Buffer {
  return Buffer.from(hashToken(key), 'hex');
}

function hashMatches(presentedHash: Buffer, storedHex: string): boolean {
  const stored = Buffer.from(storedHex, 'hex');
  // Lengths are public (always 32 bytes); timingSafeEqual throws on a mismatch, a corrupt row just fails.
  return stored.length === presentedHash.length && timingSafeEqual(presentedHash, stored);
}

/**
 * API keys for the REST API (usage reporting by a customer's servers). The key is `gh_<prefix>_<secret>`:
 * the prefix finds the row, the SHA-256 of the whole key is compared in constant time.
 */
export function createApiKeyService(options: ApiKeyServiceOptions): ApiKeyService {
  const { apiKeys, logger } = options;
  const now = options.now ?? (() => new Date());

  return {
    async create(userId, input, audit = {}) {
      const at = now();
      const parsed = createInputSchema(at).safeParse(input);
      if (!parsed.success) throw ValidationError.fromZod(parsed.error);
      const scopes = [...new Set(parsed.data.scopes ?? DEFAULT_API_KEY_SCOPES)];
      const expiresAt = parsed.data.expiresAt ?? null;

      // A prefix collision (2^-64 per pair) is retried once rather than reported to the user.
      for (let attempt = 1; ; attempt += 1) {
        const generated = generateApiKey();
        try {
          const record = await apiKeys.transaction(async (unit) => {
            const active = await unit.countActive(userId, at);
            if (active >= MAX_ACTIVE_API_KEYS_PER_USER) {
              throw new ConflictError(`At most ${MAX_ACTIVE_API_KEYS_PER_USER} active API keys per account`, {
                details: { reason: ApiKeyErrorCode.API_KEY_LIMIT_REACHED },
              });
            }
            const created = await unit.insert({
              userId,
              name: parsed.data.name,
              prefix: generated.prefix,
              secretHash: hashApiKey(generated.key).toString('hex'),
              scopes,
              expiresAt,
              createdAt: at,
            });
            await unit.audit({
              action: 'API_KEY_CREATED',
              outcome: 'SUCCESS',
              actorUserId: userId,
              ...audit,
              targetType: 'ApiKey',
              targetId: created.id,
              metadata: {
                ownerUserId: userId,
                prefix: created.prefix,
                scopes,
                expiresAt: expiresAt?.toISOString(),
              },
            });
            return created;
          });
          return { key: generated.key, record };
        } catch (error) {
          if (isPrefixTaken(error) && attempt < 2) continue;
          throw error;
        }
      }
    },

    async list(userId, { includeRevoked = false } = {}) {
      if (!isUuid(userId)) return [];
      return apiKeys.listForUser(userId, includeRevoked);
    },

    async revoke(userId, id, audit = {}) {
      if (!isUuid(userId) || !isUuid(id)) throw new NotFoundError('API key not found');
      return apiKeys.transaction(async (unit) => {
        const revoked = await unit.revoke(userId, id, now());
        const record = await unit.findForUser(userId, id);
        if (!record) throw new NotFoundError('API key not found');
        if (revoked) {
          await unit.audit({
            action: 'API_KEY_REVOKED',
            outcome: 'SUCCESS',
            actorUserId: userId,
            ...audit,
            targetType: 'ApiKey',
            targetId: id,
            metadata: { ownerUserId: userId, prefix: record.prefix },
          });
        }
        return record;
      });
    },

    async verify(presented) {
      const parts = parseApiKey(presented);
      if (!parts) return null;
      const row = await apiKeys.findCredentialByPrefix(parts.prefix);
      if (!row || !hashMatches(hashApiKey(presented), row.secretHash)) return null;
      const at = now();
      if (row.revokedAt !== null) return null;
      if (row.expiresAt !== null && row.expiresAt.getTime() <= at.getTime()) return null;
      if (row.user.deletedAt !== null || !USABLE_USER_STATUSES.has(row.user.status)) return null;

      const staleBefore = new Date(at.getTime() - LAST_USED_WRITE_INTERVAL_MS);
      if (row.lastUsedAt === null || row.lastUsedAt.getTime() < staleBefore.getTime()) {
        // Conditional, so concurrent requests write at most once per interval; a failure only loses a timestamp.
        await apiKeys
          .touchLastUsed(row.id, at, staleBefore)
          .catch((error: unknown) =>
            logger.warn({ err: error, apiKeyId: row.id }, 'api key: lastUsedAt not updated'),
          );
      }
      return { userId: row.userId, keyId: row.id, scopes: [...row.scopes] };
    },
  };
}
