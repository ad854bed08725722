import { seed } from '@gatehouse/db';
import type { HttpService } from '@gatehouse/service';
import { chromium, type Browser } from 'playwright-core';
import { startSupergraph, type Supergraph } from './supergraph.test-support';

/**
 * The playground in a real browser (Debian's Chromium, `CHROMIUM_PATH` to override): the page renders GraphiQL
 * from the gateway's own assets under its CSP, never asks another origin for anything, and runs a query
 * against the four real subgraphs. Run with `npm run test:browser` (CI installs Chromium first).
 */
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let supergraph: Supergraph;
let gateway: HttpService;
let browser: Browser;

beforeAll(async () => {
  supergraph = await startSupergraph({
    seed: (prisma) => seed(prisma, { adminPassword: 'playground-test-password' }),
  });
  gateway = supergraph.gateway;
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
  await supergraph?.close();
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
