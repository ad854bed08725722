import { Prisma, type PrismaClient } from '@gatehouse/db';
import { isUuid } from '@gatehouse/service';
import type { UserModel } from '../models';

/** A provider identity with its (encrypted) tokens, as the callback writes it. */
export interface OAuthAccountData {
  provider: string;
  providerAccountId: string;
  email: string | null;
  emailVerified: boolean;
  /** @gatehouse/crypto envelopes, never plaintext. */
  accessTokenEncrypted: string | null;
  refreshTokenEncrypted: string | null;
  tokenExpiresAt: Date | null;
  scope: string | null;
}

/** A linked identity and the state of the user it belongs to. */
export interface LinkedIdentity {
  id: string;
  userId: string;
  userStatus: UserModel['status'];
  userEmailVerified: boolean;
}

/** What `listLinked` shows: never tokens. */
export interface OAuthAccountSummary {
  provider: string;
  email: string | null;
  emailVerified: boolean;
  linkedAt: Date;
}

export interface NewOAuthUser {
  email: string;
  /** True: ACTIVE with a verified address; false: PENDING_VERIFICATION until the address is verified. */
  emailVerified: boolean;
  displayName: string | null;
  /** Granted when a role of this name exists (the seeded `member`). */
  defaultRole: string;
  account: OAuthAccountData;
  at: Date;
}

export type CreateOAuthUserResult =
  | { status: 'CREATED'; userId: string }
  /** A user with this email exists (a concurrent sign-up won). */
  | { status: 'EMAIL_TAKEN' }
  /** The provider identity was linked concurrently. */
  | { status: 'IDENTITY_TAKEN' };

export type LinkResult =
  | { status: 'LINKED'; linkedAt: Date }
  | { status: 'IDENTITY_TAKEN'; byUserId: string }
  | { status: 'PROVIDER_TAKEN' }
  | { status: 'USER_NOT_FOUND' };

export type UnlinkResult = 'UNLINKED' | 'NOT_FOUND' | 'LAST_SIGN_IN_METHOD';

/** The only place the OAuth module touches Prisma. */
export interface OAuthAccountRepository {
  findIdentity(provider: string, providerAccountId: string): Promise<LinkedIdentity | null>;
  /** Creates the user (profile, default role) and links the identity, in one transaction. */
  createUserWithAccount(user: NewOAuthUser): Promise<CreateOAuthUserResult>;
  /**
   * Links the identity to the user unless it is linked to anyone already or the user has an account of this
   * provider. The user row is locked meanwhile, so two concurrent links cannot both pass the checks.
   */
  link(userId: string, account: OAuthAccountData): Promise<LinkResult>;
  /** Refreshes email and tokens of a linked identity at sign-in. */
  refresh(id: string, account: OAuthAccountData): Promise<void>;
  listForUser(userId: string): Promise<OAuthAccountSummary[]>;
  /** Removes the user's account of `provider` unless it is the last way to sign in (no password, no other). */
  unlink(userId: string, provider: string): Promise<UnlinkResult>;
}

const isUniqueViolation = (error: unknown) =>
  error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002';

function accountColumns(account: OAuthAccountData) {
  return {
    email: account.email,
    emailVerified: account.emailVerified,
    accessTokenEncrypted: account.accessTokenEncrypted,
    refreshTokenEncrypted: account.refreshTokenEncrypted,
    tokenExpiresAt: account.tokenExpiresAt,
    scope: account.scope,
  };
}

export function createOAuthAccountRepository(prisma: PrismaClient): OAuthAccountRepository {
  /** Row lock on the user for the rest of the transaction; false when the user does not exist (or is deleted). */
  async function lockUser(tx: Prisma.TransactionClient, userId: string): Promise<boolean> {
    const rows = await tx.$queryRaw<{ id: string }[]>`
      SELECT id FROM "users" WHERE id = ${userId}::uuid AND deleted_at IS NULL FOR UPDATE`;
    return rows.length === 1;
  }

  return {
    async findIdentity(provider, providerAccountId) {
      const row = await prisma.oAuthAccount.findUnique({
        where: { provider_providerAccountId: { provider, providerAccountId } },
        select: {
          id: true,
          userId: true,
          user: { select: { status: true, emailVerified: true, deletedAt: true } },
        },
      });
      if (!row || row.user.deletedAt) return null;
      return {
        id: row.id,
        userId: row.userId,
        userStatus: row.user.status,
        userEmailVerified: row.user.emailVerified,
      };
    },

    async createUserWithAccount({ email, emailVerified, displayName, defaultRole, account, at }) {
      try {
        return await prisma.$transaction(async (tx) => {
          const user = await tx.user.create({
            data: {
              email,
              status: emailVerified ? 'ACTIVE' : 'PENDING_VERIFICATION',
              emailVerified,
              emailVerifiedAt: emailVerified ? at : null,
              profile: { create: { displayName } },
              oauthAccounts: {
                create: {
                  provider: account.provider,
                  providerAccountId: account.providerAccountId,
                  ...accountColumns(account),
                },
              },
            },
            select: { id: true },
          });
          const role = await tx.role.findUnique({ where: { name: defaultRole }, select: { id: true } });
          if (role) await tx.userRole.create({ data: { userId: user.id, roleId: role.id } });
          return { status: 'CREATED' as const, userId: user.id };
        });
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        // Which unique index: the identity (provider, provider_account_id) or the user's email.
        const identity = await prisma.oAuthAccount.findUnique({
          where: {
            provider_providerAccountId: {
              provider: account.provider,
              providerAccountId: account.providerAccountId,
            },
          },
          select: { id: true },
        });
        return identity ? { status: 'IDENTITY_TAKEN' } : { status: 'EMAIL_TAKEN' };
      }
    },

    async link(userId, account) {
      if (!isUuid(userId)) return { status: 'USER_NOT_FOUND' };
      try {
        return await prisma.$transaction(async (tx): Promise<LinkResult> => {
          if (!(await lockUser(tx, userId))) return { status: 'USER_NOT_FOUND' };
          const existing = await tx.oAuthAccount.findUnique({
            where: {
              provider_providerAccountId: {
                provider: account.provider,
                providerAccountId: account.providerAccountId,
              },
            },
            select: { userId: true },
          });
          if (existing && existing.userId !== userId)
            return { status: 'IDENTITY_TAKEN', byUserId: existing.userId };
          const sameProvider = await tx.oAuthAccount.findFirst({
            where: { userId, provider: account.provider },
            select: { id: true },
          });
          if (existing || sameProvider) return { status: 'PROVIDER_TAKEN' };
          const created = await tx.oAuthAccount.create({
            data: {
              userId,
              provider: account.provider,
              providerAccountId: account.providerAccountId,
              ...accountColumns(account),
            },
            select: { createdAt: true },
          });
          return { status: 'LINKED', linkedAt: created.createdAt };
        });
      } catch (error) {
        // The identity was linked to another user between our check and insert (that user's row was not locked).
        if (!isUniqueViolation(error)) throw error;
        const owner = await prisma.oAuthAccount.findUnique({
          where: {
            provider_providerAccountId: {
              provider: account.provider,
              providerAccountId: account.providerAccountId,
            },
          },
          select: { userId: true },
        });
        return owner && owner.userId !== userId
          ? { status: 'IDENTITY_TAKEN', byUserId: owner.userId }
          : { status: 'PROVIDER_TAKEN' };
      }
    },

    async refresh(id, account) {
      await prisma.oAuthAccount.update({ where: { id }, data: accountColumns(account) });
    },

    async listForUser(userId) {
      if (!isUuid(userId)) return [];
      const rows = await prisma.oAuthAccount.findMany({
        where: { userId },
        select: { provider: true, email: true, emailVerified: true, createdAt: true },
        orderBy: [{ createdAt: 'asc' }, { provider: 'asc' }],
      });
      return rows.map(({ createdAt, ...row }) => ({ ...row, linkedAt: createdAt }));
    },

    async unlink(userId, provider) {
      if (!isUuid(userId)) return 'NOT_FOUND';
      return prisma.$transaction(async (tx): Promise<UnlinkResult> => {
        // Serialises unlinks of one user: two concurrent ones must not both see "another method remains".
        if (!(await lockUser(tx, userId))) return 'NOT_FOUND';
        const user = await tx.user.findUniqueOrThrow({
          where: { id: userId },
          select: { passwordHash: true, oauthAccounts: { select: { id: true, provider: true } } },
        });
        const target = user.oauthAccounts.find((account) => account.provider === provider);
        if (!target) return 'NOT_FOUND';
        if (user.passwordHash === null && user.oauthAccounts.length === 1) return 'LAST_SIGN_IN_METHOD';
        await tx.oAuthAccount.delete({ where: { id: target.id } });
        return 'UNLINKED';
      });
    },
  };
}
