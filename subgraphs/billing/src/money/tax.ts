import { assertMinorUnits, divideRoundHalfUp } from './rounding';

/** 100 % in basis points: the highest rate accepted. */
export const MAX_TAX_RATE_BPS = 10_000;

/**
 * Tax on `subtotal` at `rateBps` basis points (1/100 of a percent: 1900 = 19 %), rounded half-up once per
 * invoice (not per line, so lines never accumulate rounding). A zero or negative subtotal owes no tax.
 * @throws RangeError unless `subtotal` is an integer and `rateBps` an integer from 0 to {@link MAX_TAX_RATE_BPS}.
 */
export function computeTax(subtotal: number, rateBps: number): number {
  assertMinorUnits(subtotal, 'subtotal');
  if (!Number.isInteger(rateBps) || rateBps < 0 || rateBps > MAX_TAX_RATE_BPS) {
    throw new RangeError(`rateBps must be an integer from 0 to ${MAX_TAX_RATE_BPS}`);
  }
  if (subtotal <= 0) return 0;
  return divideRoundHalfUp(BigInt(subtotal) * BigInt(rateBps), 10_000n);
}
