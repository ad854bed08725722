/**
 * Composes subgraphs/{identity,account,access-control,billing}/schema.graphql into gateway/supergraph.graphql.
 *
 *   npm run compose         write gateway/supergraph.graphql (only when it changes)
 *   npm run compose:check   compose in memory; exit 1 when the committed file is stale (CI)
 *
 * Exits 1 on any composition error, after printing all of them.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { composeSupergraph } from '../gateway/src/composition';
import { REPOSITORY_ROOT, SUPERGRAPH_FILE } from '../gateway/src/subgraphs';

async function main(): Promise<number> {
  const check = process.argv.includes('--check');
  const target = path.relative(REPOSITORY_ROOT, SUPERGRAPH_FILE);
  const outcome = await composeSupergraph(REPOSITORY_ROOT);

  if (!outcome.ok) {
    console.error(`Supergraph composition failed with ${outcome.errors.length} error(s):\n`);
    for (const error of outcome.errors) console.error(`${indent(error)}\n`);
    return 1;
  }
  for (const hint of outcome.hints) console.warn(`hint: ${hint}`);

  const committed = await readFile(SUPERGRAPH_FILE, 'utf8').catch(() => undefined);
  if (committed === outcome.supergraphSdl) {
    console.log(`${target} is up to date.`);
    return 0;
  }
  if (check) {
    console.error(
      committed === undefined
        ? `${target} does not exist. Run \`npm run compose\` and commit the result.`
        : `${target} is stale: it differs from the composition of subgraphs/*/schema.graphql.\n` +
            'Run `npm run compose` and commit the result.',
    );
    return 1;
  }
  await writeFile(SUPERGRAPH_FILE, outcome.supergraphSdl);
  console.log(`Wrote ${target}.`);
  return 0;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
