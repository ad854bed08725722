import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('startEmbeddedPostgres', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-embedded-pg-'));
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('initialises a data directory once and keeps its data across stop and restart', async () => {
    const port = await freePort();
    const tsx = require.resolve('tsx/cli');
    const script = path.join(__dirname, 'embedded-postgres-cycle.test-support.ts');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [tsx, '--conditions=source', script, dataDir, String(port)],
      { timeout: 60_000 },
    );
    expect(JSON.parse(stdout)).toEqual({
      url: `postgres://postgres:postgres@127.0.0.1:${port}/gatehouse`,
      sameUrl: true,
      rows: [{ note: 'survives restarts' }],
    });
    expect(fs.existsSync(path.join(dataDir, 'PG_VERSION'))).toBe(true);
  }, 90_000);
});
