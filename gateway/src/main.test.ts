import { createServer } from 'node:net';
import { ConfigError } from '@gatehouse/config';
import { createLogger } from '@gatehouse/logger';
import { start } from './main';

const logger = createLogger({ name: 'gateway-main-test', level: 'silent' });
/** Set in every start here: unset outside production, the development secret would be written under `.data/`. */
const SUBGRAPH_SECRET = 'main-test-subgraph-secret-0123456789abcdef';

/** GATEWAY_PORT must be 1-65535, so ask the OS for a free one. */
async function freePort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return String(port);
}

describe('start()', () => {
  const telemetry = process.env.APOLLO_TELEMETRY_DISABLED;
  afterEach(() => {
    if (telemetry === undefined) delete process.env.APOLLO_TELEMETRY_DISABLED;
    else process.env.APOLLO_TELEMETRY_DISABLED = telemetry;
  });

  it('serves the committed supergraph from configuration and turns Apollo telemetry off unless configured', async () => {
    delete process.env.APOLLO_TELEMETRY_DISABLED;
    const gateway = await start({
      env: { GATEWAY_PORT: await freePort(), NODE_ENV: 'production', SUBGRAPH_SECRET },
      logger,
    });
    try {
      const typename = await fetch(gateway.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
      const playground = await fetch(gateway.url.replace(/\/graphql$/, '/playground'));

      expect(gateway.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/graphql$/);
      expect(await typename.json()).toEqual({ data: { __typename: 'Query' } });
      expect(playground.status).toBe(404);
      expect(process.env.APOLLO_TELEMETRY_DISABLED).toBe('true');
    } finally {
      await gateway.stop();
    }
  });

  it('leaves an explicit APOLLO_TELEMETRY_DISABLED alone', async () => {
    process.env.APOLLO_TELEMETRY_DISABLED = '1';
    const gateway = await start({ env: { GATEWAY_PORT: await freePort(), SUBGRAPH_SECRET }, logger });
    await gateway.stop();

    expect(process.env.APOLLO_TELEMETRY_DISABLED).toBe('1');
  });

  it('names the supergraph file it cannot read (SUPERGRAPH_PATH)', async () => {
    await expect(
      start({
        env: {
          GATEWAY_PORT: await freePort(),
          SUPERGRAPH_PATH: '/nonexistent/supergraph.graphql',
          SUBGRAPH_SECRET,
        },
        logger,
      }),
    ).rejects.toThrow('Cannot read the supergraph at /nonexistent/supergraph.graphql; run `npm run compose`');
  });

  // Issue #14: the subgraphs answer the gateway only, so production cannot run without the shared secret.
  it('refuses to start in production without SUBGRAPH_SECRET', async () => {
    await expect(
      start({ env: { GATEWAY_PORT: await freePort(), NODE_ENV: 'production' }, logger }),
    ).rejects.toMatchObject({ issues: [expect.objectContaining({ variable: 'SUBGRAPH_SECRET' })] });
  });

  it('reports every configuration problem at once', async () => {
    const attempt = start({
      env: { GATEWAY_PORT: 'eighty', IDENTITY_URL: 'ftp://x', PLAYGROUND_ENABLED: 'sure' },
    });

    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    await expect(attempt).rejects.toMatchObject({
      issues: [
        expect.objectContaining({ variable: 'GATEWAY_PORT' }),
        expect.objectContaining({ variable: 'IDENTITY_URL' }),
        expect.objectContaining({ variable: 'PLAYGROUND_ENABLED' }),
      ],
    });
  });
});
