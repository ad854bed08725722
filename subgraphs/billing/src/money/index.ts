export { currencyExponent, formatMoney, isCurrencyCode } from './currency';
export { addPeriod, type AddPeriodOptions, type BillingInterval } from './period';
export { prorate, type ProrateInput, type Proration } from './proration';
export { MAX_TAX_RATE_BPS, computeTax } from './tax';
export { assertMinorUnits, divideRoundHalfUp } from './rounding';
