import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PrismaClient } from '@gatehouse/db';
import type { RouteHandler } from '@gatehouse/service';
import type {
  PaymentAuditAction,
  PaymentEvent,
  PaymentFailedEvent,
  PaymentListener,
  PaymentsLogger,
} from './types';

/** A listener that records what it was told, and writes a marker row in the caller's transaction. */
export function recordingListener() {
  const succeeded: PaymentEvent[] = [];
  const failed: PaymentFailedEvent[] = [];
  const listener: PaymentListener = {
    async onPaymentSucceeded(event, unit) {
      // Proves the call happens inside the payment's write unit: the marker commits with it.
      await unit.payments.audit({
        // A marker no production code writes; the audit writer takes any action string at run time.
        action: 'TEST_LISTENER_SUCCEEDED' as PaymentAuditAction,
        outcome: 'SUCCESS',
        targetType: 'Payment',
        targetId: event.paymentId,
        metadata: {},
      });
      succeeded.push(event);
    },
    async onPaymentFailed(event) {
      failed.push(event);
    },
  };
  return { listener, succeeded, failed };
}

export const quietLogger: PaymentsLogger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

let invoiceCounter = 0;

/** An OPEN invoice of `amount` minor units. */
export async function openInvoice(
  prisma: PrismaClient,
  userId: string,
  amount: number,
  billingReason: 'SUBSCRIPTION_CYCLE' | 'SUBSCRIPTION_CREATE' | 'MANUAL' = 'SUBSCRIPTION_CYCLE',
) {
  invoiceCounter++;
  return prisma.invoice.create({
    data: {
      number: `T-${process.pid}-${Date.now()}-${invoiceCounter}`,
      userId,
      status: 'OPEN',
      billingReason,
      currency: 'EUR',
      subtotalAmount: amount,
      totalAmount: amount,
      amountDue: amount,
    },
  });
}

/** Serves one route on a local port (what startHttpService does, minus GraphQL and probes). */
export async function serveRoute(route: RouteHandler): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    route(req, res, 'test-request').then(
      (handled) => {
        if (!handled) res.writeHead(404).end();
      },
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
