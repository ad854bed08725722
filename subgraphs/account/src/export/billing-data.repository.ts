/**
 * Part of the GDPR export reader (`user-data.ts`): an allow-list `select` per table, as described there;
 * the sanctioned multi-table reader of `docs/architecture.md`.
 */

import type { PrismaClient } from '@gatehouse/db';
import { iso, isoOrNull } from './user-data.format';
import type { BillingDataSection } from './user-data.types';

/**
 * The billing tables (`prisma/schema/billing.prisma`, and the webhook endpoints the billing subgraph keeps in
 * `platform.prisma`): subscriptions, usage, invoices, payments, payment methods, the customer, API keys, webhooks.
 */
export async function readBillingData(prisma: PrismaClient, userId: string): Promise<BillingDataSection> {
  const byUser = { where: { userId } } as const;

  const [
    subscriptions,
    usageRecords,
    invoices,
    payments,
    paymentMethods,
    billingCustomer,
    apiKeys,
    webhookEndpoints,
  ] = await Promise.all([
    prisma.subscription.findMany({
      ...byUser,
      select: {
        id: true,
        status: true,
        trialEndsAt: true,
        currentPeriodStart: true,
        currentPeriodEnd: true,
        cancelAtPeriodEnd: true,
        canceledAt: true,
        endedAt: true,
        createdAt: true,
        plan: { select: { code: true, name: true } },
      },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.usageRecord.findMany({
      where: { subscription: { userId } },
      select: { subscriptionId: true, metric: true, quantity: true, periodStart: true, recordedAt: true },
      orderBy: [{ recordedAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.invoice.findMany({
      ...byUser,
      select: {
        id: true,
        number: true,
        subscriptionId: true,
        status: true,
        currency: true,
        subtotalAmount: true,
        taxAmount: true,
        totalAmount: true,
        amountPaid: true,
        amountDue: true,
        periodStart: true,
        periodEnd: true,
        dueAt: true,
        paidAt: true,
        createdAt: true,
        billingReason: true,
        taxRateBps: true,
        creditApplied: true,
        lineItems: {
          select: {
            kind: true,
            description: true,
            quantity: true,
            unitAmount: true,
            amount: true,
            periodStart: true,
            periodEnd: true,
          },
          orderBy: [{ position: 'asc' }, { id: 'asc' }],
        },
      },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.payment.findMany({
      ...byUser,
      select: {
        id: true,
        invoiceId: true,
        paymentMethodId: true,
        amount: true,
        currency: true,
        status: true,
        attemptCount: true,
        failureCode: true,
        failureReason: true,
        succeededAt: true,
        createdAt: true,
      },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.paymentMethod.findMany({
      ...byUser,
      select: {
        id: true,
        provider: true,
        brand: true,
        last4: true,
        expMonth: true,
        expYear: true,
        isDefault: true,
        createdAt: true,
      },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.billingCustomer.findUnique({
      where: { userId },
      select: {
        provider: true,
        providerCustomerId: true,
        creditBalance: true,
        currency: true,
        country: true,
        createdAt: true,
      },
    }),
    prisma.apiKey.findMany({
      ...byUser,
      select: {
        id: true,
        name: true,
        prefix: true,
        scopes: true,
        lastUsedAt: true,
        expiresAt: true,
        revokedAt: true,
        createdAt: true,
      },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.webhookEndpoint.findMany({
      ...byUser,
      select: { id: true, url: true, description: true, eventTypes: true, active: true, createdAt: true },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
  ]);

  return {
    subscriptions: subscriptions.map((row) => ({
      id: row.id,
      plan: row.plan,
      status: row.status,
      trialEndsAt: isoOrNull(row.trialEndsAt),
      currentPeriodStart: iso(row.currentPeriodStart),
      currentPeriodEnd: iso(row.currentPeriodEnd),
      cancelAtPeriodEnd: row.cancelAtPeriodEnd,
      canceledAt: isoOrNull(row.canceledAt),
      endedAt: isoOrNull(row.endedAt),
      createdAt: iso(row.createdAt),
    })),
    usageRecords: usageRecords.map((row) => ({
      ...row,
      quantity: row.quantity.toString(),
      periodStart: iso(row.periodStart),
      recordedAt: iso(row.recordedAt),
    })),
    invoices: invoices.map(({ lineItems, ...row }) => ({
      ...row,
      periodStart: isoOrNull(row.periodStart),
      periodEnd: isoOrNull(row.periodEnd),
      dueAt: isoOrNull(row.dueAt),
      paidAt: isoOrNull(row.paidAt),
      createdAt: iso(row.createdAt),
      lines: lineItems.map((line) => ({
        ...line,
        periodStart: isoOrNull(line.periodStart),
        periodEnd: isoOrNull(line.periodEnd),
      })),
    })),
    payments: payments.map((row) => ({
      ...row,
      succeededAt: isoOrNull(row.succeededAt),
      createdAt: iso(row.createdAt),
    })),
    paymentMethods: paymentMethods.map((row) => ({ ...row, createdAt: iso(row.createdAt) })),
    billingCustomer: billingCustomer
      ? { ...billingCustomer, createdAt: iso(billingCustomer.createdAt) }
      : null,
    apiKeys: apiKeys.map((row) => ({
      ...row,
      lastUsedAt: isoOrNull(row.lastUsedAt),
      expiresAt: isoOrNull(row.expiresAt),
      revokedAt: isoOrNull(row.revokedAt),
      createdAt: iso(row.createdAt),
    })),
    webhookEndpoints: webhookEndpoints.map(({ eventTypes, ...row }) => ({
      ...row,
      events: eventTypes,
      createdAt: iso(row.createdAt),
    })),
  };
}
