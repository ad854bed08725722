import fc from 'fast-check';
import { addPeriod, computeTax, currencyExponent, formatMoney, prorate } from './index';

const d = (iso: string) => new Date(iso);

describe('addPeriod', () => {
  it.each([
    ['2026-01-15T10:30:00.000Z', 'MONTH', 1, '2026-02-15T10:30:00.000Z'],
    ['2026-01-31T00:00:00.000Z', 'MONTH', 1, '2026-02-28T00:00:00.000Z'],
    ['2028-01-31T00:00:00.000Z', 'MONTH', 1, '2028-02-29T00:00:00.000Z'],
    ['2026-01-31T00:00:00.000Z', 'MONTH', 2, '2026-03-31T00:00:00.000Z'],
    ['2026-03-31T12:00:00.000Z', 'MONTH', 1, '2026-04-30T12:00:00.000Z'],
    ['2026-12-31T23:59:59.999Z', 'MONTH', 1, '2027-01-31T23:59:59.999Z'],
    ['2026-11-30T00:00:00.000Z', 'MONTH', 3, '2027-02-28T00:00:00.000Z'],
    ['2026-05-10T00:00:00.000Z', 'MONTH', 25, '2028-06-10T00:00:00.000Z'],
    ['2028-02-29T08:00:00.000Z', 'YEAR', 1, '2029-02-28T08:00:00.000Z'],
    ['2028-02-29T08:00:00.000Z', 'YEAR', 4, '2032-02-29T08:00:00.000Z'],
    ['2026-07-04T00:00:00.000Z', 'YEAR', 1, '2027-07-04T00:00:00.000Z'],
    ['2026-07-04T00:00:00.000Z', 'MONTH', 0, '2026-07-04T00:00:00.000Z'],
  ] as const)('%s + %s x%d = %s', (start, interval, count, expected) => {
    expect(addPeriod(d(start), interval, count).toISOString()).toBe(expected);
  });

  it('keeps the billing anchor when stepping from a clamped date', () => {
    const anchor = d('2026-01-31T09:00:00.000Z');
    const feb = addPeriod(anchor, 'MONTH', 1);
    expect(feb.toISOString()).toBe('2026-02-28T09:00:00.000Z');
    // Without the anchor the day would drift to the 28th for good.
    expect(addPeriod(feb, 'MONTH', 1).toISOString()).toBe('2026-03-28T09:00:00.000Z');
    expect(addPeriod(feb, 'MONTH', 1, { anchor }).toISOString()).toBe('2026-03-31T09:00:00.000Z');
  });

  it('refuses negative or fractional counts', () => {
    expect(() => addPeriod(d('2026-01-01T00:00:00Z'), 'MONTH', -1)).toThrow(RangeError);
    expect(() => addPeriod(d('2026-01-01T00:00:00Z'), 'MONTH', 1.5)).toThrow(RangeError);
  });

  it('property: stepping n months from the anchor never drifts and stays within the target month', () => {
    fc.assert(
      fc.property(
        fc.date({ min: d('2000-01-01T00:00:00Z'), max: d('2100-01-01T00:00:00Z'), noInvalidDate: true }),
        fc.integer({ min: 0, max: 240 }),
        (start, n) => {
          const next = addPeriod(start, 'MONTH', n);
          const expectedMonth = start.getUTCFullYear() * 12 + start.getUTCMonth() + n;
          expect(next.getUTCFullYear() * 12 + next.getUTCMonth()).toBe(expectedMonth);
          expect(next.getUTCDate()).toBeLessThanOrEqual(start.getUTCDate());
          expect(next.getTime() % 86_400_000).toBe(start.getTime() % 86_400_000);
          // One step at a time with the anchor lands on the same date as n steps at once.
          let stepped = start;
          for (let i = 0; i < Math.min(n, 24); i++)
            stepped = addPeriod(stepped, 'MONTH', 1, { anchor: start });
          expect(stepped.getTime()).toBe(addPeriod(start, 'MONTH', Math.min(n, 24)).getTime());
        },
      ),
    );
  });
});

describe('prorate', () => {
  const periodStart = d('2026-04-01T00:00:00.000Z');
  const periodEnd = d('2026-05-01T00:00:00.000Z'); // 30 days = 2 592 000 s
  const at = (iso: string) => prorate({ oldPrice: 1000, newPrice: 3000, periodStart, periodEnd, at: d(iso) });

  it.each([
    // at, credit, charge, remaining seconds
    ['2026-04-01T00:00:00.000Z', 1000, 3000, 2_592_000],
    ['2026-04-01T00:00:00.999Z', 1000, 3000, 2_592_000],
    ['2026-04-16T00:00:00.000Z', 500, 1500, 1_296_000],
    ['2026-04-11T00:00:00.000Z', 667, 2000, 1_728_000],
    ['2026-04-21T00:00:00.000Z', 333, 1000, 864_000],
    ['2026-04-30T23:59:59.000Z', 0, 0, 1],
    ['2026-05-01T00:00:00.000Z', 0, 0, 0],
  ])('at %s: credit %d, charge %d', (when, credit, charge, remainingSeconds) => {
    expect(at(when)).toEqual({
      credit,
      charge,
      net: charge - credit,
      remainingSeconds,
      totalSeconds: 2_592_000,
    });
  });

  it('is exact for prices whose product with the period length exceeds 2^53', () => {
    const year = { periodStart: d('2026-01-01T00:00:00Z'), periodEnd: d('2027-01-01T00:00:00Z') };
    const result = prorate({
      oldPrice: 900_000_000_000,
      newPrice: 0,
      at: d('2026-07-02T12:00:00Z'),
      ...year,
    });
    // 182.5 of 365 days remain: exactly half.
    expect(result.credit).toBe(450_000_000_000);
    expect(result.net).toBe(-450_000_000_000);
  });

  it('refuses instants outside the period and bad prices', () => {
    const base = { oldPrice: 100, newPrice: 200, periodStart, periodEnd };
    expect(() => prorate({ ...base, at: d('2026-03-31T23:59:59Z') })).toThrow(RangeError);
    expect(() => prorate({ ...base, at: d('2026-05-01T00:00:01Z') })).toThrow(RangeError);
    expect(() => prorate({ ...base, oldPrice: -1, at: periodStart })).toThrow(RangeError);
    expect(() => prorate({ ...base, newPrice: 1.5, at: periodStart })).toThrow(RangeError);
    expect(() => prorate({ ...base, periodEnd: periodStart, at: periodStart })).toThrow(RangeError);
  });

  const scenario = fc
    .record({
      oldPrice: fc.integer({ min: 0, max: 10_000_000 }),
      newPrice: fc.integer({ min: 0, max: 10_000_000 }),
      start: fc.integer({ min: 1_700_000_000, max: 2_000_000_000 }),
      length: fc.integer({ min: 1, max: 366 * 86_400 }),
      t1: fc.double({ min: 0, max: 1, noNaN: true }),
      t2: fc.double({ min: 0, max: 1, noNaN: true }),
    })
    .map(({ start, length, t1, t2, ...prices }) => {
      const periodStart = new Date(start * 1000);
      const periodEnd = new Date((start + length) * 1000);
      const instant = (t: number) => new Date((start + Math.round(t * length)) * 1000);
      const [early, late] = t1 <= t2 ? [instant(t1), instant(t2)] : [instant(t2), instant(t1)];
      return { ...prices, periodStart, periodEnd, early, late };
    });

  it('property: credit and charge stay within the prices, full at the start, zero at the end', () => {
    fc.assert(
      fc.property(scenario, ({ oldPrice, newPrice, periodStart, periodEnd, early }) => {
        const p = prorate({ oldPrice, newPrice, periodStart, periodEnd, at: early });
        expect(p.credit).toBeGreaterThanOrEqual(0);
        expect(p.credit).toBeLessThanOrEqual(oldPrice);
        expect(p.charge).toBeGreaterThanOrEqual(0);
        expect(p.charge).toBeLessThanOrEqual(newPrice);
        expect(p.net).toBe(p.charge - p.credit);
        // What was used plus what is credited back is what was paid, within one rounding step.
        const used = oldPrice * ((p.totalSeconds - p.remainingSeconds) / p.totalSeconds);
        expect(Math.abs(used + p.credit - oldPrice)).toBeLessThanOrEqual(0.5 + 1e-6);
        const atStart = prorate({ oldPrice, newPrice, periodStart, periodEnd, at: periodStart });
        expect([atStart.credit, atStart.charge]).toEqual([oldPrice, newPrice]);
        const atEnd = prorate({ oldPrice, newPrice, periodStart, periodEnd, at: periodEnd });
        expect([atEnd.credit, atEnd.charge, atEnd.remainingSeconds]).toEqual([0, 0, 0]);
      }),
    );
  });

  it('property: monotone in time (a later change never credits or charges more)', () => {
    fc.assert(
      fc.property(scenario, ({ oldPrice, newPrice, periodStart, periodEnd, early, late }) => {
        const a = prorate({ oldPrice, newPrice, periodStart, periodEnd, at: early });
        const b = prorate({ oldPrice, newPrice, periodStart, periodEnd, at: late });
        expect(b.remainingSeconds).toBeLessThanOrEqual(a.remainingSeconds);
        expect(b.credit).toBeLessThanOrEqual(a.credit);
        expect(b.charge).toBeLessThanOrEqual(a.charge);
      }),
    );
  });

  it('property: same price in and out nets to zero; upgrade nets > = 0', () => {
    fc.assert(
      fc.property(scenario, ({ oldPrice, newPrice, periodStart, periodEnd, early }) => {
        expect(prorate({ oldPrice, newPrice: oldPrice, periodStart, periodEnd, at: early }).net).toBe(0);
        const [low, high] = oldPrice <= newPrice ? [oldPrice, newPrice] : [newPrice, oldPrice];
        const upgrade = prorate({ oldPrice: low, newPrice: high, periodStart, periodEnd, at: early });
        expect(upgrade.net).toBeGreaterThanOrEqual(0);
      }),
    );
  });
});

describe('computeTax', () => {
  it.each([
    [10_000, 1900, 1900],
    [999, 1900, 190], // 189.81
    [25, 2000, 5],
    [5, 1000, 1], // 0.5 rounds up
    [4, 1250, 1], // 0.5 rounds up
    [3, 1000, 0], // 0.3
    [15, 1000, 2], // 1.5 rounds up
    [12_345, 0, 0],
    [0, 2000, 0],
    [-500, 2000, 0], // never negative
    [Number.MAX_SAFE_INTEGER, 1, 900_719_925_474],
  ])('tax on %d at %d bps = %d', (subtotal, rate, tax) => {
    expect(computeTax(subtotal, rate)).toBe(tax);
  });

  it('refuses rates outside 0..100 % and fractional amounts', () => {
    expect(() => computeTax(100, -1)).toThrow(RangeError);
    expect(() => computeTax(100, 10_001)).toThrow(RangeError);
    expect(() => computeTax(100, 19.5)).toThrow(RangeError);
    expect(() => computeTax(100.5, 1900)).toThrow(RangeError);
  });

  it('property: tax of a sum is within rounding of the sum of taxes, monotone, and bounded by the rate', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000_000_000 }),
        fc.integer({ min: 0, max: 1_000_000_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        (a, b, rate) => {
          const sum = computeTax(a + b, rate);
          expect(Math.abs(sum - (computeTax(a, rate) + computeTax(b, rate)))).toBeLessThanOrEqual(1);
          expect(computeTax(Math.max(a, b), rate)).toBeGreaterThanOrEqual(computeTax(Math.min(a, b), rate));
          expect(Math.abs(computeTax(a, rate) - (a * rate) / 10_000)).toBeLessThanOrEqual(0.5);
        },
      ),
    );
  });
});

describe('formatMoney', () => {
  it.each([
    [123456, 'EUR', 'EUR 1,234.56'],
    [5, 'USD', 'USD 0.05'],
    [0, 'USD', 'USD 0.00'],
    [-2500, 'EUR', '-EUR 25.00'],
    [1500, 'JPY', 'JPY 1,500'],
    [1234567, 'KWD', 'KWD 1,234.567'],
    [250, 'KWD', 'KWD 0.250'],
    [100_000_000_00, 'GBP', 'GBP 100,000,000.00'],
  ])('%d %s = %s', (amount, currency, text) => {
    expect(formatMoney(amount, currency)).toBe(text);
  });

  it('knows the minor-unit exponent of each currency', () => {
    expect([currencyExponent('JPY'), currencyExponent('KWD'), currencyExponent('EUR')]).toEqual([0, 3, 2]);
    expect(() => formatMoney(1, 'eur')).toThrow(RangeError);
    expect(() => formatMoney(1.5, 'EUR')).toThrow(RangeError);
  });
});
