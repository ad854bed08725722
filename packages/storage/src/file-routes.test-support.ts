/**
 * Serves the file routes over real HTTP for the storage tests, as the services' HTTP server does (a route that
 * answers `false` falls through to `404 {"error":"Not found"}`, every response carries `x-request-id`). A plain
 * node:http server, so that @gatehouse/storage does not depend on @gatehouse/service, which builds storage for
 * every subgraph.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FileRouteHandler } from './file-routes';

export interface ServedRoutes {
  url: string;
  stop(): Promise<void>;
}

export async function serveRoutes(routes: FileRouteHandler): Promise<ServedRoutes> {
  let sequence = 0;
  const server = createServer((req, res) => {
    sequence += 1;
    const requestId = `test-${sequence}`;
    res.setHeader('x-request-id', requestId);
    routes(req, res, requestId).then(
      (handled) => {
        if (handled) return;
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'Not found' }));
      },
      () => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'Internal error' }));
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
