/**
 * Writes the public API schema, clients/schema.graphql: the composed supergraph's API schema (no federation
 * internals) plus the realtime Subscription type (gateway/src/public-schema.ts). Every SDK is generated from it.
 *
 *   npm run schema:public         write clients/schema.graphql (only when it changes)
 *   npm run schema:public:check   exit 1 when the committed file is stale (CI, after compose:check)
 *
 * Also lists every type, field, argument and enum value without a description (a warning, not a failure:
 * the descriptions live in the subgraph schemas, whose own lint requires them).
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { format, resolveConfig } from 'prettier';
import { buildPublicSchema, printPublicSchema, undocumentedElements } from '../gateway/src/public-schema';
import { REPOSITORY_ROOT, SUPERGRAPH_FILE } from '../gateway/src/subgraphs';

export const PUBLIC_SCHEMA_FILE = path.join(REPOSITORY_ROOT, 'clients', 'schema.graphql');

async function main(): Promise<number> {
  const check = process.argv.includes('--check');
  const target = path.relative(REPOSITORY_ROOT, PUBLIC_SCHEMA_FILE);
  const schema = await buildPublicSchema(await readFile(SUPERGRAPH_FILE, 'utf8'));
  // In the repository's Prettier style, so `prettier --check .` agrees with the generated file.
  const printed = await format(printPublicSchema(schema), {
    ...(await resolveConfig(PUBLIC_SCHEMA_FILE)),
    filepath: PUBLIC_SCHEMA_FILE,
  });

  const undocumented = undocumentedElements(schema);
  if (undocumented.length > 0) {
    console.warn(`${undocumented.length} schema element(s) without a description:`);
    for (const element of undocumented) console.warn(`  ${element}`);
  }

  const committed = await readFile(PUBLIC_SCHEMA_FILE, 'utf8').catch(() => undefined);
  if (committed === printed) {
    console.log(`${target} is up to date.`);
    return 0;
  }
  if (check) {
    console.error(
      committed === undefined
        ? `${target} does not exist. Run \`npm run schema:public\` and commit the result.`
        : `${target} is stale: it differs from gateway/supergraph.graphql plus the realtime schema.\n` +
            'Run `npm run compose && npm run schema:public` and commit the result.',
    );
    return 1;
  }
  await writeFile(PUBLIC_SCHEMA_FILE, printed);
  console.log(`Wrote ${target}.`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
