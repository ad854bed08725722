import { Kind } from 'graphql';
import { DateTimeScalar } from './scalars';

describe('DateTimeScalar', () => {
  it('serialises dates and ISO strings to UTC ISO strings', () => {
    expect(DateTimeScalar.serialize(new Date(Date.UTC(2026, 0, 31, 12)))).toBe('2026-01-31T12:00:00.000Z');
    expect(DateTimeScalar.serialize('2026-01-31T13:00:00+01:00')).toBe('2026-01-31T12:00:00.000Z');
  });

  it('parses ISO timestamps and rejects anything else', () => {
    expect(DateTimeScalar.parseValue('2026-01-31T12:00:00Z')).toEqual(new Date(Date.UTC(2026, 0, 31, 12)));
    expect(() => DateTimeScalar.parseValue('1')).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT' }));
    expect(() => DateTimeScalar.parseValue(0)).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT' }));
    expect(() => DateTimeScalar.parseLiteral({ kind: Kind.INT, value: '1' })).toThrow(
      expect.objectContaining({ code: 'BAD_USER_INPUT' }),
    );
  });
});
