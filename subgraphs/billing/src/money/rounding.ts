/**
 * `numerator / denominator` rounded half-up (away from zero for .5), in exact integer arithmetic. Money amounts
 * times seconds in a year overflow 2^53, so the product is taken as a BigInt instead of a float.
 * @throws RangeError when an argument is not a safe integer, the denominator is not positive or the result
 * does not fit a safe integer.
 */
export function divideRoundHalfUp(numerator: bigint, denominator: bigint): number {
  if (denominator <= 0n) throw new RangeError('divideRoundHalfUp: denominator must be positive');
  const negative = numerator < 0n;
  const magnitude = negative ? -numerator : numerator;
  const rounded = (2n * magnitude + denominator) / (2n * denominator);
  const result = Number(negative ? -rounded : rounded);
  if (!Number.isSafeInteger(result)) throw new RangeError('divideRoundHalfUp: result is not a safe integer');
  return result;
}

/** @throws RangeError unless `value` is a safe integer (money is always whole minor units). */
export function assertMinorUnits(value: number, name: string): void {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${name} must be an integer amount in minor units`);
}
