// @ts-check
/**
 * GraphQL Code Generator plugin: writes clients/typescript/src/generated/sdk.ts, the typed SDK over the public
 * operations (clients/operations/*.graphql).
 *
 * For every operation it emits one method on `createSdk(transport)`:
 *   - queries and mutations: `<operationName in lowerCamelCase>(variables, options?)`, calling
 *     `transport.execute(<Name>Document, variables, meta, options)` and resolving with the operation's data;
 *   - subscriptions: `subscribe<OperationName>(variables?)`, calling the transport's optional
 *     `subscribe(document, variables, meta)` and returning `AsyncIterable<data>`.
 * `variables` is optional when the operation declares no required variable. It also emits `OPERATIONS`, the
 * meta of every operation by name (kind, and whether a retry is safe), and `type Sdk`.
 *
 * Retry safety: queries and subscriptions are idempotent; a mutation is only when the line directly above it in
 * its document is `# @idempotent` (gateway/src/public-operations.test.ts refuses the mark on sign-in, MFA and
 * payment mutations). The transport contract (`Transport`, `OperationOptions`) lives in the hand-written
 * runtime, clients/typescript/src/transport.ts; the documents and their types come from the `typescript`,
 * `typescript-operations` and `typed-document-node` plugins' output next to this one (`./graphql.js`).
 *
 * Config: `graphqlModule` (default './graphql.js') and `transportModule` (default '../transport.js'); relative
 * imports keep their `.js` extension because the package is ESM under `moduleResolution: nodenext`.
 */
const { existsSync, readFileSync } = require('node:fs');

const IDEMPOTENT_MARK = /^# @idempotent\r?\n(?:query|mutation|subscription)\s+(\w+)/gm;
const SUFFIX = { query: 'Query', mutation: 'Mutation', subscription: 'Subscription' };

/** @param {string} name */
function lowerCamel(name) {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/** @param {string} name */
function upperCamel(name) {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/**
 * Names of the operations marked `# @idempotent` in a document file (the comment does not survive parsing).
 * @param {{ rawSDL?: string; location?: string }} file
 */
function idempotentNames(file) {
  // The file itself: the loader's rawSDL may be a re-print without comments.
  const text =
    file.location && existsSync(file.location) ? readFileSync(file.location, 'utf8') : (file.rawSDL ?? '');
  return new Set([...text.matchAll(IDEMPOTENT_MARK)].map((match) => /** @type {string} */ (match[1])));
}

/**
 * @param {import('graphql').OperationDefinitionNode} operation
 * @returns {boolean} whether every variable may be left out (none is non-null without a default)
 */
function variablesOptional(operation) {
  return (operation.variableDefinitions ?? []).every(
    (variable) => variable.type.kind !== 'NonNullType' || variable.defaultValue !== undefined,
  );
}

/** @type {import('@graphql-codegen/plugin-helpers').PluginFunction<{ graphqlModule?: string; transportModule?: string }>} */
const plugin = (_schema, documents, config) => {
  const graphqlModule = config.graphqlModule ?? './graphql.js';
  const transportModule = config.transportModule ?? '../transport.js';

  /** @type {{ name: string; kind: 'query' | 'mutation' | 'subscription'; idempotent: boolean; optional: boolean }[]} */
  const operations = [];
  for (const file of documents) {
    const marked = idempotentNames(file);
    for (const definition of file.document?.definitions ?? []) {
      if (definition.kind !== 'OperationDefinition') continue;
      const name = definition.name?.value;
      if (!name) throw new Error(`${file.location}: every public operation needs a name`);
      if (marked.has(name) && definition.operation !== 'mutation') {
        throw new Error(`${file.location}: # @idempotent marks ${name}, which is not a mutation`);
      }
      operations.push({
        name,
        kind: definition.operation,
        idempotent: definition.operation !== 'mutation' || marked.has(name),
        optional: variablesOptional(definition),
      });
    }
  }
  operations.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const seen = new Set();
  for (const { name } of operations) {
    if (seen.has(name)) throw new Error(`Two public operations are named ${name}`);
    seen.add(name);
  }

  const typeImports = operations.flatMap(({ name, kind }) => [
    `${name}${SUFFIX[kind]}`,
    `${name}${SUFFIX[kind]}Variables`,
  ]);
  const valueImports = operations.map(({ name }) => `${name}Document`);

  const meta = ({ name, kind, idempotent }) =>
    `{ operationName: '${name}', kind: '${kind}', idempotent: ${idempotent} }`;
  const methods = operations.map((operation) => {
    const { name, kind, optional } = operation;
    const result = `${name}${SUFFIX[kind]}`;
    const variables = `variables${optional ? '?' : ''}: ${result}Variables`;
    const value = optional ? `variables ?? {}` : 'variables';
    if (kind === 'subscription') {
      return [
        `    /** \`subscription ${name}\` over the transport's WebSocket (graphql-ws); never over HTTP. */`,
        `    subscribe${upperCamel(name)}: (${variables}): AsyncIterable<${result}> => {`,
        `      if (!transport.subscribe) {`,
        `        throw new TypeError('subscribe${upperCamel(name)}: this transport has no subscribe() (subscriptions need a WebSocket transport)');`,
        `      }`,
        `      return transport.subscribe<${result}, ${result}Variables>(${name}Document, ${value}, ${meta(operation)});`,
        `    },`,
      ].join('\n');
    }
    return [
      `    /** \`${kind} ${name}\`${operation.idempotent ? '' : ' (not retried: not idempotent)'}. */`,
      `    ${lowerCamel(name)}: (${variables}, options?: OperationOptions): Promise<${result}> =>`,
      `      transport.execute<${result}, ${result}Variables>(${name}Document, ${value}, ${meta(operation)}, options),`,
    ].join('\n');
  });
  const table = operations.map(
    ({ name, kind, idempotent }) => `  ${name}: { kind: '${kind}', idempotent: ${idempotent} },`,
  );

  return [
    `import type { OperationOptions, Transport } from '${transportModule}';`,
    `import type {\n${typeImports.map((n) => `  ${n},`).join('\n')}\n} from '${graphqlModule}';`,
    `import {\n${valueImports.map((n) => `  ${n},`).join('\n')}\n} from '${graphqlModule}';`,
    '',
    '/** One typed method per public operation, over `transport` (swap it in tests: it has one required method). */',
    'export function createSdk(transport: Transport) {',
    '  return {',
    methods.join('\n'),
    '  };',
    '}',
    '',
    'export type Sdk = ReturnType<typeof createSdk>;',
    '',
    '/** Every public operation by name: its kind, and whether it is safe to retry (`# @idempotent`). */',
    'export const OPERATIONS = {',
    table.join('\n'),
    '} as const;',
    '',
    'export type OperationName = keyof typeof OPERATIONS;',
    '',
  ].join('\n');
};

module.exports = { plugin };
