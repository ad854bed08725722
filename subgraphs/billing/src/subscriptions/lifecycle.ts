import { createCancellationStep } from './cancellation';
import { createLifecycleToolkit } from './lifecycle-toolkit';
import type { SubscriptionLifecycle, SubscriptionLifecycleOptions } from './lifecycle-types';
import { createPaymentOutcomeStep } from './payment-outcomes';
import { createPlanChangeStep } from './plan-change';
import { createRenewalStep } from './renewal';
import { createSubscribeStep } from './subscribe';

export type {
  AfterCommit,
  BillingActor,
  LifecyclePaymentEvent,
  PlanChangeResult,
  SubscriptionLifecycle,
  SubscriptionLifecycleOptions,
} from './lifecycle-types';
export type { SubscriptionAuditAction } from './subscription.repository';
export { RENEWAL_LEAD_MS } from './renewal';
export { trialFamily } from './trials';

/**
 * The subscription lifecycle, one file per step: subscribe (trials, the first invoice), plan change (proration),
 * cancellation and resumption, renewal (with the end of canceled subscriptions), and payment outcomes (activation,
 * dunning states), over one toolkit of stores, collaborators and the clock.
 */
export function createSubscriptionLifecycle(options: SubscriptionLifecycleOptions): SubscriptionLifecycle {
  const kit = createLifecycleToolkit(options);
  const { subscribe } = createSubscribeStep(kit);
  const { changePlan } = createPlanChangeStep(kit);
  const { cancel, resume } = createCancellationStep(kit);
  const { renewDue } = createRenewalStep(kit);
  const { onPaymentSucceeded, onPaymentFailed } = createPaymentOutcomeStep(kit);
  return {
    current: (userId) => options.subscriptions.findCurrent(userId),
    subscribe,
    changePlan,
    cancel,
    resume,
    renewDue,
    onPaymentSucceeded,
    onPaymentFailed,
  };
}
