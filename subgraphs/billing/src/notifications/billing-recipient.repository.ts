/**
 * A sanctioned cross-subgraph read (docs/architecture.md, "Sanctioned multi-table readers"): billing reads
 * identity's `users` (e-mail, deletion) and account's `profiles` (display name) to address its mail and invoices.
 * Read-only, an allow-list of three columns, one user at a time. Asking identity through the supergraph would put
 * a network hop and an internal permission on every payment mail for the same three values.
 */
import type { Prisma, PrismaClient } from '@gatehouse/db';
import type { BillingRecipients } from './billing-recipients';

const recipientSelect = {
  email: true,
  deletedAt: true,
  profile: { select: { displayName: true } },
} as const satisfies Prisma.UserSelect;

export function createBillingRecipientRepository(prisma: PrismaClient): BillingRecipients {
  return {
    async find(userId) {
      const user = await prisma.user.findUnique({ where: { id: userId }, select: recipientSelect });
      return user
        ? { email: user.email, name: user.profile?.displayName ?? null, deleted: user.deletedAt !== null }
        : null;
    },
  };
}
