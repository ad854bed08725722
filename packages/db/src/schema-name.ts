/** Postgres schema names we accept: plain lower-case identifiers, so they can be interpolated safely. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Returns the name double-quoted for SQL, or throws for anything but a plain identifier. */
export function quoteSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(`Invalid Postgres schema name "${schema}": expected ${SCHEMA_NAME.source}`);
  }
  return `"${schema}"`;
}
