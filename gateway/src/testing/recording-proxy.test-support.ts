// Test-only (excluded from the build): a pass-through HTTP proxy put between the gateway and a subgraph, recording
// what the gateway sent, so tests can assert on the headers and paths a subgraph really receives.
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  /** The request target exactly as received (the raw path: dot segments and encodings untouched). */
  url: string;
  headers: IncomingHttpHeaders;
}

export interface RecordingProxy {
  url: string;
  /** Every request received, in order. */
  all: RecordedRequest[];
  /** Headers of the GraphQL requests (`/graphql`), in order. */
  requests: IncomingHttpHeaders[];
  /** Headers of every other request (the subgraph's REST routes), in order. */
  restRequests: IncomingHttpHeaders[];
  close(): Promise<void>;
}

/** Passes everything on to `target` unchanged (the raw path too) and records it. Clear a list with `length = 0`. */
export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const all: RecordedRequest[] = [];
  const requests: IncomingHttpHeaders[] = [];
  const restRequests: IncomingHttpHeaders[] = [];
  const { hostname, port } = new URL(target);
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    all.push({ url, headers: req.headers });
    (url.startsWith('/graphql') ? requests : restRequests).push(req.headers);
    const upstream = request(
      { hostname, port, path: url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    all,
    requests,
    restRequests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
