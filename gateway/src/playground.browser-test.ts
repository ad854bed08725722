import { seed } from '@gatehouse/db';
import { type HttpService } from '@gatehouse/service';
import { postGraphQL } from '@gatehouse/service/testing';
import { chromium, type Browser, type Page } from 'playwright-core';
import { SESSION_TOPICS } from './realtime';
import { startSupergraph, type Supergraph } from './supergraph.test-support';

/**
 * The playground in a real browser (Debian's Chromium, `CHROMIUM_PATH` to override): the page renders GraphiQL
 * from the gateway's own assets under its CSP, never asks another origin for anything, and runs a query
 * against the four real subgraphs. Run with `npm run test:browser` (CI installs Chromium first).
 */
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ADMIN_EMAIL = 'admin@gatehouse.local';
const ADMIN_PASSWORD = 'playground-test-password';

let supergraph: Supergraph;
let gateway: HttpService;
let browser: Browser;

beforeAll(async () => {
  supergraph = await startSupergraph({
    seed: (prisma) => seed(prisma, { adminPassword: ADMIN_PASSWORD }),
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

  // The default document holds several operations; running it asks which one.
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

/** Errors the page reports: console errors, uncaught exceptions, failed responses. */
function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`);
  });
  return problems;
}

it('shows the Subscription type in the docs and runs a subscription over graphql-ws', async () => {
  const signedIn = await postGraphQL<{ login: { accessToken: string; user: { id: string } } }>(
    `${gateway.url}/graphql`,
    'mutation($input: LoginInput!) { login(input: $input) { ... on AuthPayload { accessToken user { id } } } }',
    { variables: { input: { email: ADMIN_EMAIL, password: ADMIN_PASSWORD } } },
  );
  const { accessToken, user } = signedIn.body.data!.login;
  const page = await browser.newPage();
  const problems = watchProblems(page);
  const sockets: string[] = [];
  page.on('websocket', (socket) => sockets.push(socket.url()));

  await page.goto(`${gateway.url}/playground`);
  await page.locator('.graphiql-container').waitFor({ timeout: 15_000 });

  // Docs pane: the root types come from the gateway's introspection, Subscription included.
  await page.getByRole('button', { name: /documentation explorer/i }).click();
  const docs = page.locator('.graphiql-doc-explorer');
  await docs.getByText('subscription', { exact: true }).waitFor({ timeout: 15_000 });
  await docs.locator('a', { hasText: /^Subscription$/ }).click();
  await docs.getByText('sessionEvents', { exact: true }).waitFor({ timeout: 5_000 });
  expect(await docs.innerText()).toContain('securityEvents');

  // The headers editor's Authorization becomes the WebSocket's connection params.
  // The visible CodeMirror 5 editor of the tools pane (defaultEditorToolsVisibility: 'headers'); the script runs in
  // the page, so it is a string (this file is compiled without the DOM library).
  const headers = JSON.stringify(JSON.stringify({ Authorization: `Bearer ${accessToken}` }));
  await page.evaluate(`(() => {
    const editor = [...document.querySelectorAll('.graphiql-editor-tool .graphiql-editor')].find(
      (element) => !element.classList.contains('hidden'),
    );
    const codeMirror = editor?.querySelector('.CodeMirror')?.CodeMirror;
    if (!codeMirror) throw new Error('no visible headers editor');
    codeMirror.setValue(${headers});
  })()`);
  await page.locator('.graphiql-execute-button').click();
  await page.getByRole('menuitem', { name: 'SessionEvents' }).click();

  // Delivery is to subscribers connected at publish time: publish until the event shows (a deadline, not a sleep).
  const response = page.locator('.graphiql-response');
  const deadline = Date.now() + 15_000;
  while (!(await response.innerText()).includes('browser-probe')) {
    if (Date.now() > deadline)
      throw new Error(`no event in the response pane: ${await response.innerText()}`);
    await supergraph.events.publish(SESSION_TOPICS.CREATED, {
      id: 'browser-probe',
      userId: user.id,
      sessionId: 'browser-probe-session',
      device: 'Playground test',
      at: '2026-01-31T12:00:00.000Z',
    });
    await page.waitForTimeout(100);
  }

  expect(await response.innerText()).toContain('"type": "CREATED"');
  expect(sockets).toEqual([`${gateway.url.replace(/^http/, 'ws')}/graphql`]);
  expect(problems).toEqual([]);
}, 60_000);
