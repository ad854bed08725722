/** Billing period unit (Prisma's `PlanInterval`). */
export type BillingInterval = 'MONTH' | 'YEAR';

export interface AddPeriodOptions {
  /**
   * The billing anchor: the day of month (and time of day) periods are counted from. Default `start` itself.
   * Pass the subscription's first period start when stepping from a clamped date, so a subscription started on
   * Jan 31 renews Feb 28, then Mar 31 (not Mar 28).
   */
  anchor?: Date;
}

function daysInMonth(year: number, monthIndex: number): number {
  return new Date(Date.UTC(year, monthIndex + 1, 0)).getUTCDate();
}

/**
 * `start` moved forward by `count` months or years in UTC, keeping the anchor's day of month and time of day,
 * clamped to the end of shorter months: Jan 31 + 1 month = Feb 28 (Feb 29 in leap years); Feb 29 + 1 year =
 * Feb 28. Computed from the month of `start`, never by repeated addition, so clamping does not drift.
 * @throws RangeError unless `count` is a non-negative integer and the dates are valid.
 */
export function addPeriod(
  start: Date,
  interval: BillingInterval,
  count: number,
  options: AddPeriodOptions = {},
): Date {
  if (!Number.isInteger(count) || count < 0) throw new RangeError('count must be a non-negative integer');
  if (interval !== 'MONTH' && interval !== 'YEAR') throw new RangeError('interval must be MONTH or YEAR');
  const anchor = options.anchor ?? start;
  if (Number.isNaN(start.getTime()) || Number.isNaN(anchor.getTime())) throw new RangeError('invalid date');
  const months = interval === 'YEAR' ? count * 12 : count;
  const monthIndex = start.getUTCMonth() + months;
  const year = start.getUTCFullYear() + Math.floor(monthIndex / 12);
  const month = monthIndex % 12;
  const day = Math.min(anchor.getUTCDate(), daysInMonth(year, month));
  return new Date(
    Date.UTC(
      year,
      month,
      day,
      anchor.getUTCHours(),
      anchor.getUTCMinutes(),
      anchor.getUTCSeconds(),
      anchor.getUTCMilliseconds(),
    ),
  );
}
