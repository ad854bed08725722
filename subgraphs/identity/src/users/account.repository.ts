import { Prisma, type PrismaClient } from '@gatehouse/db';
import { isUuid, readEffectiveAccess } from '@gatehouse/service';
import type { UserModel } from '../models';

/** What sign-in and registration need of an account, the password hash included. Never handed to resolvers. */
export interface AccountRecord {
  id: string;
  email: string;
  passwordHash: string | null;
  status: UserModel['status'];
  emailVerified: boolean;
  displayName: string | null;
}

/** The claims an access token carries about the user's authority. */
export interface AccessClaims {
  /** Names of the roles granted to the user directly (global scope, not expired). */
  roles: string[];
  /** `resource:action` keys of those roles and every role they inherit from. */
  permissions: string[];
}

export interface NewAccount {
  email: string;
  passwordHash: string;
  displayName: string;
  /** Granted when a role of this name exists (the seeded `member`). */
  defaultRole: string;
}

export interface AccountRepository {
  /** The live (not deleted) account with this normalised email. */
  findByEmail(email: string): Promise<AccountRecord | null>;
  findById(id: string): Promise<AccountRecord | null>;
  /** Creates an unverified user with profile and default role; null when the email is already taken. */
  createPendingUser(account: NewAccount): Promise<{ id: string } | null>;
  /** Stores a re-hash of the same password (new argon2 parameters). */
  updatePasswordHash(userId: string, passwordHash: string): Promise<void>;
  /** Replaces the password (a new one, not a re-hash): sets `password_changed_at`. */
  setPassword(userId: string, passwordHash: string, at: Date): Promise<void>;
  recordSignIn(userId: string, at: Date): Promise<void>;
  /**
   * Switches the address to one the user just proved (it is verified). `taken` when another live account got it
   * meanwhile (the unique index decides, so two confirmations cannot both win).
   */
  changeEmail(userId: string, email: string, at: Date): Promise<'changed' | 'taken'>;
  /**
   * Marks the email verified and activates a PENDING_VERIFICATION account (other states are kept). When this
   * verifies an account that has a password, or `dropProviderLinks` says the proof is not the account's own
   * sign-up's, every provider link it had is dropped in the same transaction: it was made before anyone proved
   * the address, and whoever just did must not inherit it (pre-account takeover, issue #14). The user's other
   * unused links are deleted: they were mailed before the address was proved.
   */
  markEmailVerified(userId: string, at: Date, options?: { dropProviderLinks?: boolean }): Promise<void>;
  accessClaims(userId: string): Promise<AccessClaims>;
}

const accountColumns = {
  id: true,
  email: true,
  passwordHash: true,
  status: true,
  emailVerified: true,
  profile: { select: { displayName: true } },
} as const;

type AccountRow = Prisma.UserGetPayload<{ select: typeof accountColumns }>;

function toRecord(row: AccountRow | null): AccountRecord | null {
  if (!row) return null;
  const { profile, ...rest } = row;
  return { ...rest, displayName: profile?.displayName ?? null };
}

export function createAccountRepository(prisma: PrismaClient): AccountRepository {
  return {
    async findByEmail(email) {
      return toRecord(
        await prisma.user.findFirst({ where: { email, deletedAt: null }, select: accountColumns }),
      );
    },
    async findById(id) {
      if (!isUuid(id)) return null;
      return toRecord(
        await prisma.user.findFirst({ where: { id, deletedAt: null }, select: accountColumns }),
      );
    },
    async createPendingUser({ email, passwordHash, displayName, defaultRole }) {
      try {
        return await prisma.$transaction(async (tx) => {
          const user = await tx.user.create({
            data: {
              email,
              passwordHash,
              passwordChangedAt: new Date(),
              status: 'PENDING_VERIFICATION',
              profile: { create: { displayName } },
            },
            select: { id: true },
          });
          const role = await tx.role.findUnique({ where: { name: defaultRole }, select: { id: true } });
          if (role) await tx.userRole.create({ data: { userId: user.id, roleId: role.id } });
          return user;
        });
      } catch (error) {
        // A concurrent registration of the same address won the unique index.
        if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') return null;
        throw error;
      }
    },
    async updatePasswordHash(userId, passwordHash) {
      await prisma.user.update({ where: { id: userId }, data: { passwordHash } });
    },
    async setPassword(userId, passwordHash, at) {
      await prisma.user.update({ where: { id: userId }, data: { passwordHash, passwordChangedAt: at } });
    },
    async changeEmail(userId, email, at) {
      try {
        await prisma.user.update({
          where: { id: userId },
          data: { email, emailVerified: true, emailVerifiedAt: at },
        });
        return 'changed';
      } catch (err) {
        if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') return 'taken';
        throw err;
      }
    },
    async recordSignIn(userId, at) {
      await prisma.user.update({ where: { id: userId }, data: { lastLoginAt: at } });
    },
    async markEmailVerified(userId, at, options) {
      await prisma.$transaction(async (tx) => {
        // Locked, so a link cannot slip in between the check and the update.
        const [before] = await tx.$queryRaw<{ email_verified: boolean; has_password: boolean }[]>`
          SELECT email_verified, password_hash IS NOT NULL AS has_password FROM "users"
          WHERE id = ${userId}::uuid FOR UPDATE`;
        if (before && !before.email_verified && (before.has_password || options?.dropProviderLinks)) {
          await tx.oAuthAccount.deleteMany({ where: { userId } });
        }
        // The other links mailed while unverified (another purpose's) prove nothing more from now on.
        if (before && !before.email_verified) {
          await tx.verificationToken.deleteMany({ where: { userId, consumedAt: null } });
        }
        await tx.user.updateMany({
          where: { id: userId, status: 'PENDING_VERIFICATION' },
          data: { status: 'ACTIVE' },
        });
        await tx.user.update({ where: { id: userId }, data: { emailVerified: true, emailVerifiedAt: at } });
      });
    },
    async accessClaims(userId) {
      // The database's clock, as before: grants must outlive the statement's `now()`.
      const [access] = await readEffectiveAccess(prisma, [userId]);
      return { roles: access?.roles ?? [], permissions: access?.permissions ?? [] };
    },
  };
}
