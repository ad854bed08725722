import { assertMinorUnits, divideRoundHalfUp } from './rounding';

export interface ProrateInput {
  /** Price of the current period on the old plan (minor units, >= 0). */
  oldPrice: number;
  /** Price of a whole period on the new plan (same currency, minor units, >= 0). */
  newPrice: number;
  periodStart: Date;
  periodEnd: Date;
  /** When the change takes effect: within [periodStart, periodEnd]. */
  at: Date;
}

export interface Proration {
  /** Unused part of the old price, owed back to the customer. */
  credit: number;
  /** Remaining part of the new price, owed by the customer. */
  charge: number;
  /** `charge - credit`: > 0 an upgrade to invoice now, < 0 a downgrade credited to the balance. */
  net: number;
  /** Whole seconds from `at` to the period end. */
  remainingSeconds: number;
  /** Whole seconds in the period. */
  totalSeconds: number;
}

const SECOND = 1000;

/**
 * Proration to the second (policy in docs/billing.md): remaining = (end - at) / (end - start) in whole seconds
 * (milliseconds dropped, so a change during the first second of a period still counts the full period);
 * credit = round(oldPrice * remaining), charge = round(newPrice * remaining), each rounded half-up on its own,
 * so the customer is never credited more than they paid nor charged more than the new price.
 * @throws RangeError for negative or non-integer prices, a period that does not end after it starts, or
 * `at` outside the period.
 */
export function prorate(input: ProrateInput): Proration {
  const { oldPrice, newPrice, periodStart, periodEnd, at } = input;
  assertMinorUnits(oldPrice, 'oldPrice');
  assertMinorUnits(newPrice, 'newPrice');
  if (oldPrice < 0 || newPrice < 0) throw new RangeError('prices must not be negative');
  const start = Math.floor(periodStart.getTime() / SECOND);
  const end = Math.floor(periodEnd.getTime() / SECOND);
  const now = Math.floor(at.getTime() / SECOND);
  if (![start, end, now].every(Number.isFinite)) throw new RangeError('invalid date');
  if (end <= start) throw new RangeError('periodEnd must be at least one second after periodStart');
  if (now < start || now > end) throw new RangeError('at must be within the period');
  const totalSeconds = end - start;
  const remainingSeconds = end - now;
  const share = (price: number) =>
    divideRoundHalfUp(BigInt(price) * BigInt(remainingSeconds), BigInt(totalSeconds));
  const credit = share(oldPrice);
  const charge = share(newPrice);
  return { credit, charge, net: charge - credit, remainingSeconds, totalSeconds };
}
