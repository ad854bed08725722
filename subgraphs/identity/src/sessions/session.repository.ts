import { Prisma, type PrismaClient } from '@gatehouse/db';
import type { DeviceSession, RefreshTokenRow, SessionClientInfo, SessionRevokeReason } from './session.types';

/** A refresh token row a revocation just ended (its family id and hash, to clear caches). */
export interface RevokedRefreshToken {
  sessionId: string;
  refreshTokenHash: string;
}

/**
 * "Live" everywhere below: not revoked, not expired, and active after `idleCutoff` (sessions idle for longer
 * expire even though their refresh token has not).
 */
export interface LivenessWindow {
  now: Date;
  idleCutoff: Date;
}

export interface CreateFamilyInput extends LivenessWindow {
  userId: string;
  refreshTokenHash: string;
  client: SessionClientInfo;
  expiresAt: Date;
  /** Live families the user may have including the new one; the least recently active beyond it are revoked. */
  maxSessions: number;
  limitReason: SessionRevokeReason;
  /** Report the devices the user signed in from since then (before this sign-in), for new-device alerts. */
  recentDevicesSince: Date;
}

/** A device and country a user signed in from. */
export type RecentDevice = Pick<
  SessionClientInfo,
  'deviceType' | 'deviceName' | 'os' | 'browser' | 'country'
>;

/** More than this many distinct recent devices is not a history worth comparing against row by row. */
export const MAX_RECENT_DEVICES = 200;

export interface RotateInput extends LivenessWindow {
  refreshTokenHash: string;
  successorHash: string;
  expiresAt: Date;
  /** Device facts of the refreshing client; null keeps the predecessor's. */
  device: Pick<SessionClientInfo, 'userAgent' | 'deviceType' | 'deviceName' | 'os' | 'browser'> | null;
  /** Network facts of the refreshing client; null keeps the predecessor's. */
  network: Pick<SessionClientInfo, 'ipAddress' | 'country' | 'city'> | null;
}

export interface RevokeFamiliesInput extends LivenessWindow {
  reason: SessionRevokeReason;
  /** Only this user's families. */
  userId?: string;
  /** Only these families. */
  sessionIds?: readonly string[];
  /** Every family but this one. */
  exceptSessionId?: string;
}

export interface SessionRepository {
  /**
   * Starts a family (its first refresh token) and, in the same transaction under a per-user lock, revokes
   * the least recently active live families beyond `maxSessions`, so concurrent sign-ins cannot overshoot.
   */
  createFamily(input: CreateFamilyInput): Promise<{
    sessionId: string;
    evicted: RevokedRefreshToken[];
    /** Distinct devices since `recentDevicesSince`, before this sign-in. */
    recentDevices: RecentDevice[];
    /** Whether the user ever had a session before this one. */
    signedInBefore: boolean;
  }>;
  /**
   * In one statement: revokes the presented token as ROTATED, provided it is live, and inserts its successor
   * in the same family. The row lock taken by the UPDATE makes a concurrent rotation of the same token wait and
   * then find it revoked, so exactly one wins. null when the token was not live (the caller classifies why).
   */
  rotate(input: RotateInput): Promise<{ sessionId: string; userId: string } | null>;
  findByRefreshTokenHash(refreshTokenHash: string): Promise<RefreshTokenRow | null>;
  /** Revokes the matching live refresh tokens; returns what it revoked. */
  revokeFamilies(input: RevokeFamiliesInput): Promise<RevokedRefreshToken[]>;
  /** The user's live families, most recently active first. */
  listLive(userId: string, window: LivenessWindow): Promise<DeviceSession[]>;
  /** The live families of several users in one query, each user's most recently active first. */
  listLiveOfUsers(userIds: readonly string[], window: LivenessWindow): Promise<DeviceSession[]>;
  /** Moves the live family's last activity forward to `now` (never backwards, never reviving an idle one). */
  touch(sessionId: string, window: LivenessWindow): Promise<void>;
  /** Whether the family has a live refresh token: the Postgres answer behind the session-status cache. */
  isActive(sessionId: string, window: LivenessWindow): Promise<boolean>;
  /**
   * Refresh tokens neither revoked nor expired by the database's clock, over all users: the `activeSessions` gauge
   * of `/metrics` (idleness is not considered).
   */
  countLive(): Promise<number>;
}

const liveRow = (alias: string, { now, idleCutoff }: LivenessWindow): Prisma.Sql =>
  Prisma.sql`${Prisma.raw(alias)}.revoked_at IS NULL
    AND ${Prisma.raw(alias)}.expires_at > ${now}::timestamptz
    AND ${Prisma.raw(alias)}.last_activity_at > ${idleCutoff}::timestamptz`;

export function createSessionRepository(prisma: PrismaClient): SessionRepository {
  async function listLiveOfUsers(
    userIds: readonly string[],
    window: LivenessWindow,
  ): Promise<DeviceSession[]> {
    if (userIds.length === 0) return [];
    return prisma.$queryRaw<DeviceSession[]>`
      SELECT s.family_id::text AS "sessionId", s.user_id::text AS "userId",
             s.device_type AS "deviceType", s.device_name AS "deviceName", s.os, s.browser,
             s.ip_address AS "ipAddress", s.country, s.city,
             (SELECT min(f.created_at) FROM "sessions" f WHERE f.family_id = s.family_id) AS "signedInAt",
             s.last_activity_at AS "lastActivityAt", s.expires_at AS "expiresAt"
        FROM "sessions" s
       WHERE s.user_id = ANY(${[...userIds]}::uuid[]) AND ${liveRow('s', window)}
       ORDER BY s.last_activity_at DESC, s.created_at DESC`;
  }

  return {
    async createFamily(input) {
      const { userId, client, now } = input;
      return prisma.$transaction(async (tx) => {
        // Serialises sign-ins of one user so the limit holds; released at commit.
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`gatehouse:sessions:${userId}`}, 0))`;
        // Every refresh token row counts, revoked ones included: a device stays known after signing out.
        const recentDevices = await tx.$queryRaw<RecentDevice[]>`
          SELECT DISTINCT s.device_type AS "deviceType", s.device_name AS "deviceName", s.os, s.browser,
                 s.country::text AS country
            FROM "sessions" s
           WHERE s.user_id = ${userId}::uuid AND s.created_at > ${input.recentDevicesSince}::timestamptz
           LIMIT ${MAX_RECENT_DEVICES}`;
        const signedInBefore =
          recentDevices.length > 0 ||
          (await tx.session.findFirst({ where: { userId }, select: { id: true } })) !== null;
        const created = await tx.session.create({
          data: {
            userId,
            refreshTokenHash: input.refreshTokenHash,
            userAgent: client.userAgent,
            deviceType: client.deviceType,
            deviceName: client.deviceName,
            os: client.os,
            browser: client.browser,
            ipAddress: client.ipAddress,
            country: client.country,
            city: client.city,
            lastActivityAt: now,
            expiresAt: input.expiresAt,
            createdAt: now,
          },
          select: { familyId: true },
        });
        const evicted = await tx.$queryRaw<RevokedRefreshToken[]>`
          UPDATE "sessions" s
             SET revoked_at = ${now}::timestamptz, revoke_reason = ${input.limitReason}::session_revoke_reason
           WHERE s.user_id = ${userId}::uuid
             AND ${liveRow('s', input)}
             AND s.family_id IN (
               SELECT o.family_id FROM "sessions" o
                WHERE o.user_id = ${userId}::uuid AND o.family_id <> ${created.familyId}::uuid
                  AND ${liveRow('o', input)}
                ORDER BY o.last_activity_at DESC, o.created_at DESC
               OFFSET ${Math.max(0, input.maxSessions - 1)})
          RETURNING s.family_id::text AS "sessionId", s.refresh_token_hash AS "refreshTokenHash"`;
        return { sessionId: created.familyId, evicted, recentDevices, signedInBefore };
      });
    },

    async rotate(input) {
      const { device, network, now } = input;
      const rows = await prisma.$queryRaw<{ sessionId: string; userId: string }[]>`
        WITH presented AS (
          UPDATE "sessions" p
             SET revoked_at = ${now}::timestamptz, revoke_reason = 'ROTATED'
           WHERE p.refresh_token_hash = ${input.refreshTokenHash} AND ${liveRow('p', input)}
          RETURNING p.*
        )
        INSERT INTO "sessions" (user_id, family_id, refresh_token_hash, user_agent, device_type, device_name, os,
                              browser, ip_address, country, city, last_activity_at, expires_at, created_at)
        SELECT user_id, family_id, ${input.successorHash},
               ${device ? Prisma.sql`${device.userAgent}::text, ${device.deviceType}::text, ${device.deviceName}::text, ${device.os}::text, ${device.browser}::text` : Prisma.sql`user_agent, device_type, device_name, os, browser`},
               ${network ? Prisma.sql`${network.ipAddress}::text, ${network.country}::char(2), ${network.city}::text` : Prisma.sql`ip_address, country, city`},
               ${now}::timestamptz, ${input.expiresAt}::timestamptz, ${now}::timestamptz
          FROM presented
        RETURNING family_id::text AS "sessionId", user_id::text AS "userId"`;
      return rows[0] ?? null;
    },

    async findByRefreshTokenHash(refreshTokenHash) {
      const row = await prisma.session.findUnique({
        where: { refreshTokenHash },
        select: {
          id: true,
          familyId: true,
          userId: true,
          revokedAt: true,
          revokeReason: true,
          expiresAt: true,
          lastActivityAt: true,
        },
      });
      if (!row) return null;
      return {
        rowId: row.id,
        sessionId: row.familyId,
        userId: row.userId,
        revokedAt: row.revokedAt,
        revokeReason: row.revokeReason,
        expiresAt: row.expiresAt,
        lastActivityAt: row.lastActivityAt,
      };
    },

    async revokeFamilies(input) {
      const { userId, sessionIds, exceptSessionId, now } = input;
      if (sessionIds?.length === 0) return [];
      const filters: Prisma.Sql[] = [liveRow('s', input)];
      if (userId !== undefined) filters.push(Prisma.sql`s.user_id = ${userId}::uuid`);
      if (sessionIds !== undefined) {
        filters.push(
          Prisma.sql`s.family_id IN (${Prisma.join(sessionIds.map((id) => Prisma.sql`${id}::uuid`))})`,
        );
      }
      if (exceptSessionId !== undefined) filters.push(Prisma.sql`s.family_id <> ${exceptSessionId}::uuid`);
      return prisma.$queryRaw<RevokedRefreshToken[]>`
        UPDATE "sessions" s
           SET revoked_at = ${now}::timestamptz, revoke_reason = ${input.reason}::session_revoke_reason
         WHERE ${Prisma.join(filters, ' AND ')}
        RETURNING s.family_id::text AS "sessionId", s.refresh_token_hash AS "refreshTokenHash"`;
    },

    async listLive(userId, window) {
      return listLiveOfUsers([userId], window);
    },

    listLiveOfUsers,

    async touch(sessionId, window) {
      await prisma.$executeRaw`
        UPDATE "sessions" s SET last_activity_at = ${window.now}::timestamptz
         WHERE s.family_id = ${sessionId}::uuid AND ${liveRow('s', window)}
           AND s.last_activity_at < ${window.now}::timestamptz`;
    },

    async isActive(sessionId, window) {
      const rows = await prisma.$queryRaw<{ active: boolean }[]>`
        SELECT EXISTS (SELECT 1 FROM "sessions" s WHERE s.family_id = ${sessionId}::uuid AND ${liveRow('s', window)})
          AS active`;
      return rows[0]?.active ?? false;
    },
    async countLive() {
      const [row] = await prisma.$queryRaw<{ count: number }[]>`
        SELECT count(*)::int AS count FROM sessions WHERE revoked_at IS NULL AND expires_at > now()`;
      return row?.count ?? 0;
    },
  };
}
