const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Whether `value` is a UUID in canonical text form. Our ids are `uuid` columns: filter client-supplied ids
 * with this before querying, because Postgres rejects a malformed uuid with an error (22P02) rather than
 * finding nothing.
 */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}
