import { GraphQLScalarType, Kind } from 'graphql';
import { ValidationError } from '@gatehouse/errors';

function parseDate(value: unknown): Date {
  if (typeof value === 'string') {
    const date = new Date(value);
    // Only full ISO 8601 timestamps; `new Date('1')` and friends are accepted by JS but ambiguous.
    if (/^\d{4}-\d{2}-\d{2}T/.test(value) && !Number.isNaN(date.getTime())) return date;
  }
  throw new ValidationError('DateTime must be an ISO 8601 timestamp, e.g. 2026-01-31T12:00:00.000Z');
}

/**
 * `scalar DateTime`: an instant, serialised as an ISO 8601 string in UTC. Resolvers may return a `Date`
 * or an ISO string; inputs are parsed into `Date`.
 */
export const DateTimeScalar = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  description:
    'An instant in time, serialised as an ISO 8601 string in UTC, e.g. `2026-01-31T12:00:00.000Z`.',
  serialize(value) {
    const date = value instanceof Date ? value : parseDate(value);
    if (Number.isNaN(date.getTime())) throw new TypeError('DateTime cannot serialise an invalid Date');
    return date.toISOString();
  },
  parseValue: parseDate,
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) throw new ValidationError('DateTime literals must be strings');
    return parseDate(ast.value);
  },
});
