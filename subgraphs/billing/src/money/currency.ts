/**
 * ISO 4217 currencies whose minor unit is not the usual 1/100. Amounts are always stored in minor units;
 * the exponent only matters for showing them to people (PDFs, mail).
 */
const ZERO_DECIMAL = new Set([
  'BIF',
  'CLP',
  'DJF',
  'GNF',
  'ISK',
  'JPY',
  'KMF',
  'KRW',
  'PYG',
  'RWF',
  'UGX',
  'VND',
  'VUV',
  'XAF',
  'XOF',
  'XPF',
]);
const THREE_DECIMAL = new Set(['BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND']);

const CURRENCY = /^[A-Z]{3}$/;

/** True for an upper-case three-letter code (the shape of ISO 4217; membership is not checked). */
export function isCurrencyCode(value: string): boolean {
  return CURRENCY.test(value);
}

/** Digits after the decimal point: JPY 0, KWD 3, everything else 2. @throws RangeError for a malformed code. */
export function currencyExponent(currency: string): number {
  if (!isCurrencyCode(currency)) throw new RangeError('currency must be an upper-case ISO 4217 code');
  if (ZERO_DECIMAL.has(currency)) return 0;
  if (THREE_DECIMAL.has(currency)) return 3;
  return 2;
}

/**
 * `EUR 1,234.56`, `JPY 1,500`, `-KWD 0.250`: the code rather than a symbol so every currency prints with the
 * PDF's built-in fonts and is unambiguous ($ is several currencies). Exact: built from the integer, no floats.
 * @throws RangeError when `amount` is not a safe integer or `currency` is malformed.
 */
export function formatMoney(amount: number, currency: string): string {
  if (!Number.isSafeInteger(amount)) throw new RangeError('amount must be an integer amount in minor units');
  const exponent = currencyExponent(currency);
  const digits = Math.abs(amount)
    .toString()
    .padStart(exponent + 1, '0');
  const whole = digits.slice(0, digits.length - exponent).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const fraction = exponent === 0 ? '' : `.${digits.slice(digits.length - exponent)}`;
  return `${amount < 0 ? '-' : ''}${currency} ${whole}${fraction}`;
}
