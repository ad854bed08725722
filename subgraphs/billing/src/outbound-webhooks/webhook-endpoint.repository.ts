import { createAuditWriter, type AuditEntry } from '@gatehouse/audit';
import type { Prisma, PrismaClient } from '@gatehouse/db';

/** An endpoint as stored, without its encrypted secret. */
export interface EndpointRow {
  id: string;
  userId: string | null;
  url: string;
  description: string | null;
  eventTypes: string[];
  active: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** Which endpoints a lookup may see: `{}` every one, `{ userId: null }` the platform's, else one user's. */
export type EndpointScope = { userId?: string | null };

export interface NewEndpointRow {
  id: string;
  userId: string | null;
  url: string;
  description: string | null;
  eventTypes: string[];
  secretEncrypted: string;
}

export interface EndpointChanges {
  url?: string;
  eventTypes?: string[];
  description?: string | null;
  active?: boolean;
}

/** The writes of endpoint management, inside one transaction. */
export interface WebhookEndpointWriteUnit {
  /**
   * Serialises creations per owner (`null`: the platform) until the transaction ends, so two concurrent
   * requests cannot both pass the limit check.
   */
  lockOwner(userId: string | null): Promise<void>;
  countOfOwner(userId: string | null): Promise<number>;
  insert(row: NewEndpointRow): Promise<EndpointRow>;
  update(id: string, changes: EndpointChanges): Promise<EndpointRow>;
  setSecret(id: string, secretEncrypted: string): Promise<EndpointRow>;
  delete(id: string): Promise<void>;
  /** Records the change in the audit trail, in this transaction. */
  audit(entry: AuditEntry): Promise<void>;
}

export interface WebhookEndpointRepository {
  /** Runs `work` in one transaction: every write and its audit entry commit together or not at all. */
  transaction<T>(work: (unit: WebhookEndpointWriteUnit) => Promise<T>): Promise<T>;
  findInScope(id: string, scope: EndpointScope): Promise<EndpointRow | null>;
  /** Oldest first. */
  listInScope(scope: EndpointScope): Promise<EndpointRow[]>;
}

const ENDPOINT_SELECT = {
  id: true,
  userId: true,
  url: true,
  description: true,
  eventTypes: true,
  active: true,
  createdAt: true,
  updatedAt: true,
} as const satisfies Prisma.WebhookEndpointSelect;

function createWriteUnit(tx: Prisma.TransactionClient): WebhookEndpointWriteUnit {
  const audit = createAuditWriter(tx);
  return {
    async lockOwner(userId) {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`webhook-endpoints:${userId ?? 'platform'}`}))`;
    },
    countOfOwner: (userId) => tx.webhookEndpoint.count({ where: { userId } }),
    insert: (row) => tx.webhookEndpoint.create({ data: row, select: ENDPOINT_SELECT }),
    update: (id, changes) =>
      tx.webhookEndpoint.update({ where: { id }, data: changes, select: ENDPOINT_SELECT }),
    setSecret: (id, secretEncrypted) =>
      tx.webhookEndpoint.update({ where: { id }, data: { secretEncrypted }, select: ENDPOINT_SELECT }),
    async delete(id) {
      await tx.webhookEndpoint.delete({ where: { id } });
    },
    audit: (entry) => audit.record(entry),
  };
}

export function createWebhookEndpointRepository(prisma: PrismaClient): WebhookEndpointRepository {
  return {
    transaction: (work) => prisma.$transaction((tx) => work(createWriteUnit(tx))),
    findInScope: (id, scope) =>
      prisma.webhookEndpoint.findFirst({ where: { id, ...scope }, select: ENDPOINT_SELECT }),
    listInScope: (scope) =>
      prisma.webhookEndpoint.findMany({
        where: scope,
        select: ENDPOINT_SELECT,
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      }),
  };
}
