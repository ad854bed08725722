import net from 'node:net';
import { migratedScratchDatabase, testUrl } from './scratch-schema.test-support';
import { createDatabase } from './client';
import { checkDatabase } from './health';

describe('createDatabase', () => {
  it('binds Prisma and raw SQL to the chosen schema', async () => {
    const db = await migratedScratchDatabase();
    try {
      await db.prisma.setting.create({ data: { key: 'signup.enabled', value: true } });
      const { rows } = await db.pool.query<{ key: string; schema: string }>(
        'SELECT key, current_schema() AS schema FROM settings',
      );
      expect(rows).toEqual([{ key: 'signup.enabled', schema: db.schema }]);
      expect(await checkDatabase(db.pool)).toEqual({ latencyMs: expect.any(Number) });
    } finally {
      await db.close();
    }
  });

  it('refuses schema names that are not plain identifiers', () => {
    expect(() => createDatabase({ url: testUrl(), schema: 'x"; DROP TABLE users; --' })).toThrow(
      /Invalid Postgres schema/,
    );
  });
});

describe('checkDatabase', () => {
  it('rejects when the server does not answer in time', async () => {
    // A TCP server that accepts connections but never speaks the Postgres protocol.
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    const db = createDatabase({ url: `postgres://postgres@127.0.0.1:${port}/postgres`, poolMax: 1 });
    try {
      await expect(checkDatabase(db.pool, { timeoutMs: 200 })).rejects.toThrow(/within 200 ms/);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
      await db.pool.end().catch(() => undefined);
    }
  });
});
