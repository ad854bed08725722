import type { PrismaClient } from '@gatehouse/db';

export type EmailDeliveryStatus = 'QUEUED' | 'SENT' | 'FAILED' | 'SUPPRESSED';

export interface EmailDeliveryRecord {
  id: string;
  userId: string | null;
  template: string;
  recipient: string;
  subject: string;
  status: EmailDeliveryStatus;
  attempts: number;
  lastError: string | null;
  providerMessageId: string | null;
  idempotencyKey: string | null;
  /** Envelope of the template data (AAD = id); null once SENT, FAILED or SUPPRESSED. */
  payloadEncrypted: string | null;
  createdAt: Date;
  sentAt: Date | null;
  updatedAt: Date;
}

export interface NewEmailDelivery {
  id: string;
  userId?: string;
  template: string;
  recipient: string;
  subject: string;
  idempotencyKey?: string;
  payloadEncrypted: string;
}

/** The only place that touches the `email_deliveries` table. */
export type EmailDeliveryRepository = ReturnType<typeof createEmailDeliveryRepository>;

export function createEmailDeliveryRepository(prisma: PrismaClient) {
  const deliveries = prisma.emailDelivery;

  return {
    findById: (id: string): Promise<EmailDeliveryRecord | null> => deliveries.findUnique({ where: { id } }),

    findByIdempotencyKey: (idempotencyKey: string): Promise<EmailDeliveryRecord | null> =>
      deliveries.findUnique({ where: { idempotencyKey } }),

    /**
     * Inserts a QUEUED delivery. When `idempotencyKey` is already taken (even by a concurrent call) nothing is
     * inserted and the existing delivery is returned with `created: false`.
     */
    async insert(input: NewEmailDelivery): Promise<{ created: boolean; delivery: EmailDeliveryRecord }> {
      // ON CONFLICT DO NOTHING rather than catching a unique violation: no aborted statement, no race.
      const { count } = await deliveries.createMany({ data: [input], skipDuplicates: true });
      const delivery =
        count === 1 || input.idempotencyKey === undefined
          ? await deliveries.findUniqueOrThrow({ where: { id: input.id } })
          : await deliveries.findUniqueOrThrow({ where: { idempotencyKey: input.idempotencyKey } });
      return { created: count === 1, delivery };
    },

    /**
     * QUEUED → SENT. False when the delivery was no longer QUEUED (another worker got there first). `subject`:
     * the one that went out, when an override changed it after the delivery was queued.
     */
    async markSent(id: string, providerMessageId: string, subject?: string): Promise<boolean> {
      const { count } = await deliveries.updateMany({
        where: { id, status: 'QUEUED' },
        data: {
          status: 'SENT',
          providerMessageId,
          ...(subject === undefined ? {} : { subject }),
          sentAt: new Date(),
          attempts: { increment: 1 },
          payloadEncrypted: null,
        },
      });
      return count === 1;
    },

    /**
     * QUEUED → SUPPRESSED: the recipient switched this category off, nothing was sent. Drops the payload.
     * False when the delivery was no longer QUEUED.
     */
    async markSuppressed(id: string): Promise<boolean> {
      const { count } = await deliveries.updateMany({
        where: { id, status: 'QUEUED' },
        data: { status: 'SUPPRESSED', payloadEncrypted: null },
      });
      return count === 1;
    },

    /** Counts a failed attempt; `final` moves the delivery to FAILED and drops its payload. */
    async recordFailure(id: string, lastError: string, { final }: { final: boolean }): Promise<void> {
      await deliveries.updateMany({
        where: { id, status: 'QUEUED' },
        data: {
          attempts: { increment: 1 },
          lastError,
          ...(final ? { status: 'FAILED' as const, payloadEncrypted: null } : {}),
        },
      });
    },

    /** QUEUED deliveries untouched since `before`, oldest first. */
    async findStaleQueued(before: Date, limit: number): Promise<string[]> {
      const rows = await deliveries.findMany({
        where: { status: 'QUEUED', updatedAt: { lt: before } },
        orderBy: { createdAt: 'asc' },
        take: limit,
        select: { id: true },
      });
      return rows.map((row) => row.id);
    },
  };
}
