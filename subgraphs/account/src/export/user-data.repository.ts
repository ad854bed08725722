/**
 * The Prisma implementation of the GDPR export reader port (`UserDataExportReader` in `user-data.ts`): a
 * sanctioned cross-subgraph read (`docs/architecture.md`, "Sanctioned multi-table readers"), read-only, with an
 * allow-list `select` per table. It only composes the per-table-group reads of `identity-`, `account-`,
 * `billing-` and `platform-data.repository.ts`.
 */

import type { PrismaClient } from '@gatehouse/db';
import { readAccountData } from './account-data.repository';
import { readBillingData } from './billing-data.repository';
import { findExportedUser, readIdentityData } from './identity-data.repository';
import { readPlatformData } from './platform-data.repository';
import type { UserDataExportReader } from './user-data';

export function createUserDataExportReader(prisma: PrismaClient): UserDataExportReader {
  return {
    findUser: (userId) => findExportedUser(prisma, userId),
    readIdentityData: (userId, user) => readIdentityData(prisma, userId, user),
    readAccountData: (userId) => readAccountData(prisma, userId),
    readBillingData: (userId) => readBillingData(prisma, userId),
    readPlatformData: (userId) => readPlatformData(prisma, userId),
  };
}
