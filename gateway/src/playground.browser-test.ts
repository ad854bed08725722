import { readFile } from 'node:fs/promises';
import { createLogger } from '@gatehouse/logger';
import { seed } from '@gatehouse/db';
import {
  createAccessTokenVerifier,
  generateRsaKeyPair,
  startHttpService,
  type HttpService,
} from '@gatehouse/service';
import { createTestDatabase, type TestDatabase } from '@gatehouse/testing';
import { chromium, type Browser } from 'playwright-core';
import { createApp as createAccessControlApp } from '../../subgraphs/access-control/src/app';
import { createApp as createAccountApp } from '../../subgraphs/account/src/app';
import { createApp as createBillingApp } from '../../subgraphs/billing/src/app';
import { createApp as createIdentityApp } from '../../subgraphs/identity/src/app';
import type { SubgraphUrls } from './gateway';
import { startGateway } from './server';
import { SUPERGRAPH_FILE, type SubgraphName } from './subgraphs';

/**
 * The playground in a real browser (Debian's Chromium, `CHROMIUM_PATH` to override): the page renders GraphiQL
 * from the gateway's own assets under its CSP, never asks another origin for anything, and runs a query
 * against the four real subgraphs. Run with `npm run test:browser` (CI installs Chromium first).
 */
process.env.APOLLO_TELEMETRY_DISABLED ??= 'true';

const logger = createLogger({ name: 'playground-browser', level: 'silent' });
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let db: TestDatabase;
const subgraphs: HttpService[] = [];
let gateway: HttpService;
let browser: Browser;

beforeAll(async () => {
  db = await createTestDatabase();
  await seed(db.prisma, { adminPassword: 'playground-test-password' });
  const keys = generateRsaKeyPair();
  const verifier = createAccessTokenVerifier({
    publicKeyPem: keys.publicKeyPem,
    issuer: 'http://127.0.0.1:4000',
    audience: 'gatehouse',
  });
  const deps = { prisma: db.prisma, logger, verifier, production: false };
  const apps = {
    identity: createIdentityApp(deps),
    account: createAccountApp(deps),
    'access-control': createAccessControlApp(deps),
    billing: createBillingApp(deps),
  };
  const urls = {} as Record<SubgraphName, string>;
  for (const [name, app] of Object.entries(apps) as [SubgraphName, (typeof apps)[SubgraphName]][]) {
    // Each app's context type differs; startHttpService only needs the endpoint shape.
    const service = await startHttpService({
      name,
      host: '127.0.0.1',
      port: 0,
      logger,
      graphql: app as typeof apps.identity,
      readinessChecks: {},
    });
    subgraphs.push(service);
    urls[name] = `${service.url}/graphql`;
  }
  gateway = await startGateway({
    supergraphSdl: await readFile(SUPERGRAPH_FILE, 'utf8'),
    subgraphUrls: urls as SubgraphUrls,
    logger,
    production: false,
    playground: true,
    host: '127.0.0.1',
    port: 0,
  });
  browser = await chromium.launch({
    executablePath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await gateway?.stop();
  await Promise.all(subgraphs.map((service) => service.stop()));
  await db?.close();
});

it('renders GraphiQL offline and runs a federated query', async () => {
  const page = await browser.newPage();
  const origin = new URL(gateway.url).origin;
  const requested: string[] = [];
  const problems: string[] = [];
  page.on('request', (request) => requested.push(request.url()));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`);
  });

  await page.goto(`${gateway.url}/playground`);
  await page.locator('.graphiql-container').waitFor({ timeout: 15_000 });

  // The default document holds two operations; running it asks which one.
  await page.locator('.graphiql-execute-button').click();
  await page.getByRole('menuitem', { name: 'Plans' }).click();
  await page
    .locator('.graphiql-response')
    .getByText('"business"', { exact: true })
    .waitFor({ timeout: 15_000 });
  const response = await page.locator('.graphiql-response').innerText();

  expect(response).toContain('"code": "pro"');
  expect(response).toContain('"amount": 2900');
  expect(requested.length).toBeGreaterThan(3);
  expect(requested.filter((url) => !url.startsWith(origin) && !url.startsWith('data:'))).toEqual([]);
  expect(problems).toEqual([]);
  if (process.env.PLAYGROUND_SCREENSHOT) await page.screenshot({ path: process.env.PLAYGROUND_SCREENSHOT });
}, 60_000);
