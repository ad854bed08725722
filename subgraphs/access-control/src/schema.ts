import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, type DocumentNode } from 'graphql';

/**
 * Path of this subgraph's SDL. `schema.graphql` lives at the package root, one level above both `src/`
 * (tsx, Jest) and `dist/` (compiled), so the same relative path works in every mode.
 */
export const schemaPath = join(__dirname, '..', 'schema.graphql');

/** The subgraph's SDL as written (federation `@link` header included). */
export const schemaSdl: string = readFileSync(schemaPath, 'utf8');

/** Parsed SDL, ready for `buildSubgraphSchema`. */
export const typeDefs: DocumentNode = parse(schemaSdl);
