// @ts-check
/** Browser tests (`npm run test:browser`): need Chromium, so they are kept out of `npm test`. */
const base = require('./jest.config.js');

/** @type {import('jest').Config} */
module.exports = {
  globalSetup: base.globalSetup,
  globalTeardown: base.globalTeardown,
  maxWorkers: 1,
  projects: base.projects
    .filter((project) => project.displayName === '@gatehouse/gateway')
    .map((project) => ({ ...project, testMatch: ['<rootDir>/src/**/*.browser-test.ts'] })),
};
