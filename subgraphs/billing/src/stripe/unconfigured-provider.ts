import { ServiceUnavailableError } from '@gatehouse/errors';
import type { PaymentProvider } from './payment-provider';

/** Without STRIPE_SECRET_KEY: every provider call answers SERVICE_UNAVAILABLE, nothing is charged. */
export function unconfiguredProvider(): PaymentProvider {
  const refuse = (): never => {
    throw new ServiceUnavailableError('Payments are not configured on this server', {
      details: { reason: 'PAYMENTS_NOT_CONFIGURED' },
    });
  };
  return {
    createCustomer: async () => refuse(),
    attachPaymentMethod: async () => refuse(),
    detachPaymentMethod: async () => refuse(),
    charge: async () => refuse(),
    verifyWebhook: () => refuse(),
  };
}
