import { createAuditWriter, type AuditEntry } from '@gatehouse/audit';
import type { Prisma, PrismaClient } from '@gatehouse/db';
import { isPrismaKnownRequestError } from '@gatehouse/errors';

/** An API key as shown to its owner: never the secret, never its hash. */
export interface ApiKeyRecord {
  id: string;
  name: string;
  /** Public part of the key (`gh_<prefix>_…`), to recognise it in lists. */
  prefix: string;
  scopes: string[];
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

/** What verifying a presented key needs: the stored hash, its state and its owner's. */
export interface ApiKeyCredential {
  id: string;
  userId: string;
  /** Hex SHA-256 of the whole key. */
  secretHash: string;
  scopes: string[];
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  user: { status: string; deletedAt: Date | null };
}

export interface NewApiKeyRow {
  userId: string;
  name: string;
  prefix: string;
  secretHash: string;
  scopes: string[];
  expiresAt: Date | null;
  createdAt: Date;
}

/** The writes of key management, inside one transaction. */
export interface ApiKeyWriteUnit {
  /** Keys of the user neither revoked nor expired at `at`. */
  countActive(userId: string, at: Date): Promise<number>;
  insert(row: NewApiKeyRow): Promise<ApiKeyRecord>;
  /** Revokes the key if it is the user's and not revoked yet; false when nothing changed. */
  revoke(userId: string, id: string, at: Date): Promise<boolean>;
  /** The user's key (revoked or not); null for a key of another user or none. */
  findForUser(userId: string, id: string): Promise<ApiKeyRecord | null>;
  /** Records the change in the audit trail, in this transaction. */
  audit(entry: AuditEntry): Promise<void>;
}

export interface ApiKeyRepository {
  /** Runs `work` in one transaction: every write and its audit entry commit together or not at all. */
  transaction<T>(work: (unit: ApiKeyWriteUnit) => Promise<T>): Promise<T>;
  /** The user's keys, newest first; revoked ones only with `includeRevoked`. */
  listForUser(userId: string, includeRevoked: boolean): Promise<ApiKeyRecord[]>;
  findCredentialByPrefix(prefix: string): Promise<ApiKeyCredential | null>;
  /** Sets `lastUsedAt` unless another request has set it at or after `staleBefore`. */
  touchLastUsed(id: string, at: Date, staleBefore: Date): Promise<void>;
}

/** Whether `error` is the unique violation of `api_keys.prefix` (a generated prefix that exists already). */
export function isPrefixTaken(error: unknown): boolean {
  return (
    isPrismaKnownRequestError(error) &&
    error.code === 'P2002' &&
    JSON.stringify((error as { meta?: unknown }).meta ?? '').includes('prefix')
  );
}

const recordSelect = {
  id: true,
  name: true,
  prefix: true,
  scopes: true,
  createdAt: true,
  lastUsedAt: true,
  expiresAt: true,
  revokedAt: true,
} as const satisfies Prisma.ApiKeySelect;

function createWriteUnit(tx: Prisma.TransactionClient): ApiKeyWriteUnit {
  const audit = createAuditWriter(tx);
  return {
    countActive: (userId, at) =>
      tx.apiKey.count({
        where: { userId, revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: at } }] },
      }),
    insert: (row) => tx.apiKey.create({ data: row, select: recordSelect }),
    async revoke(userId, id, at) {
      const { count } = await tx.apiKey.updateMany({
        where: { id, userId, revokedAt: null },
        data: { revokedAt: at },
      });
      return count === 1;
    },
    findForUser: (userId, id) => tx.apiKey.findFirst({ where: { id, userId }, select: recordSelect }),
    audit: (entry) => audit.record(entry),
  };
}

export function createApiKeyRepository(prisma: PrismaClient): ApiKeyRepository {
  return {
    transaction: (work) => prisma.$transaction((tx) => work(createWriteUnit(tx))),
    listForUser: (userId, includeRevoked) =>
      prisma.apiKey.findMany({
        where: { userId, ...(includeRevoked ? {} : { revokedAt: null }) },
        select: recordSelect,
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      }),
    findCredentialByPrefix: (prefix) =>
      prisma.apiKey.findUnique({
        where: { prefix },
        select: {
          id: true,
          userId: true,
          secretHash: true,
          scopes: true,
          expiresAt: true,
          revokedAt: true,
          lastUsedAt: true,
          user: { select: { status: true, deletedAt: true } },
        },
      }),
    async touchLastUsed(id, at, staleBefore) {
      await prisma.apiKey.updateMany({
        where: { id, OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: staleBefore } }] },
        data: { lastUsedAt: at },
      });
    },
  };
}
