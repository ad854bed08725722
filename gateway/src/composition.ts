import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { composeServices } from '@apollo/composition';
import { GraphQLError, parse, Source } from 'graphql';
import { REPOSITORY_ROOT, SUBGRAPHS, type SubgraphName } from './subgraphs';

export const SUPERGRAPH_HEADER = [
  '# GENERATED FILE - DO NOT EDIT.',
  '# Composed from subgraphs/*/schema.graphql by scripts/compose-supergraph.ts (`npm run compose`).',
  '# CI fails when it is stale (`npm run compose:check`). Routing URLs below are local defaults only:',
  '# the gateway overrides them at runtime from IDENTITY_URL, ACCOUNT_URL, ACCESS_CONTROL_URL, BILLING_URL.',
  '',
  '',
].join('\n');

export type CompositionOutcome =
  { ok: true; supergraphSdl: string; hints: string[] } | { ok: false; errors: string[] };

/** Path of a subgraph's SDL relative to the repository root, as shown in messages. */
export function subgraphSchemaPath(name: SubgraphName): string {
  return path.posix.join('subgraphs', name, 'schema.graphql');
}

/**
 * Composes the subgraph SDLs found under `rootDir` into a supergraph (with the generated-file header).
 * Never throws for bad input: unreadable files, SDL syntax errors and composition errors all come back as
 * readable messages naming the file or subgraph, so a caller can print every problem at once.
 */
export async function composeSupergraph(rootDir: string = REPOSITORY_ROOT): Promise<CompositionOutcome> {
  const errors: string[] = [];
  const services = [];
  for (const subgraph of SUBGRAPHS) {
    const file = subgraphSchemaPath(subgraph.name);
    let sdl: string;
    try {
      sdl = await readFile(path.join(rootDir, file), 'utf8');
    } catch (error) {
      errors.push(`${file}: cannot read (${(error as Error).message})`);
      continue;
    }
    try {
      services.push({
        name: subgraph.name,
        url: subgraph.defaultUrl,
        typeDefs: parse(new Source(sdl, file)),
      });
    } catch (error) {
      errors.push(error instanceof GraphQLError ? error.toString() : `${file}: ${String(error)}`);
    }
  }
  if (errors.length > 0) return { ok: false, errors };

  const result = composeServices(services);
  if (result.errors) {
    return { ok: false, errors: result.errors.map(describeCompositionError) };
  }
  return {
    ok: true,
    supergraphSdl: `${SUPERGRAPH_HEADER}${result.supergraphSdl.trimEnd()}\n`,
    hints: result.hints.map((hint) => `[${hint.definition.code}] ${hint.message}`),
  };
}

function describeCompositionError(error: GraphQLError): string {
  const code = typeof error.extensions.code === 'string' ? `[${error.extensions.code}] ` : '';
  // toString() appends the offending SDL lines with file:line:column when the nodes carry a source.
  return `${code}${error.toString()}`;
}
