// @ts-check
/** One Jest project per workspace so `--selectProjects <package name>` runs a single package. */
const fs = require('node:fs');
const path = require('node:path');

const swc = [
  '@swc/jest',
  { jsc: { target: 'es2023', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } },
];

const workspaces = ['packages', 'subgraphs']
  .flatMap((group) => fs.readdirSync(path.join(__dirname, group)).map((d) => path.join(group, d)))
  .concat(['gateway', 'clients/typescript'])
  .filter((dir) => fs.existsSync(path.join(__dirname, dir, 'package.json')));

/** @type {import('jest').Config} */
module.exports = {
  globalSetup: '<rootDir>/jest.global-setup.ts',
  globalTeardown: '<rootDir>/jest.global-teardown.ts',
  // Two cores: leave one for PostgreSQL/Redis.
  maxWorkers: process.env.CI ? 2 : '50%',
  projects: workspaces.map((dir) => ({
    displayName: require(path.join(__dirname, dir, 'package.json')).name,
    rootDir: path.join(__dirname, dir),
    testEnvironment: 'node',
    testMatch: ['<rootDir>/src/**/*.test.ts'],
    transform: { '^.+\\.[cm]?[jt]s$': swc },
    // jose is ESM-only; let swc turn it into CommonJS (Jest requires ESM only under --experimental-vm-modules).
    transformIgnorePatterns: ['/node_modules/(?!(jose)/)'],
    // Resolve workspace packages to their TypeScript sources, as `tsx --conditions=source` does.
    testEnvironmentOptions: { customExportConditions: ['source', 'node', 'node-addons'] },
    // The client is ESM source: its relative imports end in `.js`, which name the `.ts` files under swc.
    ...(dir === 'clients/typescript' ? { moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' } } : {}),
  })),
};
