// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import graphqlPlugin from '@graphql-eslint/eslint-plugin';
import globals from 'globals';

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      '**/coverage/**',
      '.data/**',
      '.nx/**',
      '**/src/generated/**',
      'gateway/supergraph.graphql',
      'bench/results/**',
    ],
  },
  {
    files: ['**/*.{ts,mts,cts,js,mjs,cjs}'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-console': ['error', { allow: ['warn', 'error'] }],
      eqeqeq: ['error', 'always'],
    },
  },
  {
    // The database only through repositories (docs/architecture.md): services receive repositories, so only a
    // repository, a composition root (runtime.ts) and the shared packages may hold the client as a value. Type
    // imports of the generated model types stay allowed. Tests set up their rows directly and are exempt.
    files: ['subgraphs/*/src/**/*.ts', 'gateway/src/**/*.ts'],
    ignores: ['**/*.repository.ts', '**/runtime.ts', '**/*.test.ts', '**/*.test-support.ts', '**/main.ts'],
    rules: {
      // Not even as a type: a service handed the client is a repository in disguise. (no-restricted-imports
      // merges its entries per module, so it cannot forbid PrismaClient's type and allow Prisma's at once.)
      'no-restricted-syntax': [
        'error',
        {
          selector:
            "ImportDeclaration[source.value='@gatehouse/db'] ImportSpecifier[imported.name=/^(PrismaClient|createDatabase|Database)$/]",
          message:
            'Services receive repositories: reach the database through a *.repository.ts (docs/architecture.md).',
        },
      ],
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: '@gatehouse/db',
              importNames: ['Prisma'],
              allowTypeImports: true,
              message:
                'Prisma values (sql, transactions, Decimal) belong in a *.repository.ts (docs/architecture.md).',
            },
            {
              name: 'pg',
              message:
                'Services receive repositories: reach the database through a *.repository.ts (docs/architecture.md).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.cjs', 'jest.config.js', 'jest.browser.config.js'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['scripts/**', 'bench/**', '.ci/**'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['**/schema.graphql'],
    languageOptions: { parser: graphqlPlugin.parser },
    plugins: { '@graphql-eslint': graphqlPlugin },
    rules: {
      '@graphql-eslint/require-description': [
        'error',
        { types: true, FieldDefinition: true, InputValueDefinition: true, EnumValueDefinition: true },
      ],
      '@graphql-eslint/description-style': ['error', { style: 'block' }],
      '@graphql-eslint/naming-convention': [
        'error',
        {
          types: 'PascalCase',
          FieldDefinition: 'camelCase',
          EnumValueDefinition: 'UPPER_CASE',
          InputValueDefinition: 'camelCase',
        },
      ],
      '@graphql-eslint/no-hashtag-description': 'error',
      '@graphql-eslint/no-typename-prefix': 'error',
      '@graphql-eslint/require-deprecation-reason': 'error',
      '@graphql-eslint/unique-enum-value-names': 'error',
    },
  },
);
