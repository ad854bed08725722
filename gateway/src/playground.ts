import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { ApolloServerPlugin } from '@apollo/server';

/**
 * An offline GraphiQL for the gateway. Every byte the page needs — React, ReactDOM, GraphiQL and our bootstrap —
 * is served by the gateway itself, so the playground works on air-gapped installs and the page can run under a
 * CSP that allows scripts from 'self' only (no CDN, no inline script).
 */

export const PLAYGROUND_PATH = '/playground';
const ASSETS_PREFIX = `${PLAYGROUND_PATH}/assets/`;

/** Shown in the editor on first visit: one public query and one that joins all four subgraphs. */
export const PLAYGROUND_DEFAULT_QUERY = `# Welcome to the Gatehouse GraphQL playground.
#
# \`Plans\` is public. \`Me\` needs an access token: open "Headers" below and enter
#   { "Authorization": "Bearer <access token>" }
# Press the run button and pick an operation. \`SessionEvents\` is a subscription: it runs over the
# WebSocket (graphql-ws) with the same headers, and its events appear as they happen.

query Plans {
  plans {
    code
    name
    price {
      amount
      currency
    }
  }
}

query Me {
  me {
    email # identity
    profile {
      displayName # account
    }
    roles {
      name # access-control
    }
    subscription {
      status # billing
      plan {
        name
      }
    }
  }
}

subscription SessionEvents {
  sessionEvents {
    type
    sessionId
    current
    device
    at
  }
}
`;

/**
 * Scripts: 'self' only, so nothing inline and nothing remote can run. Styles need 'unsafe-inline' because
 * GraphiQL's Radix UI popovers inject <style> elements at runtime; fonts are data: URIs inside graphiql.min.css.
 */
export const PLAYGROUND_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "font-src 'self' data:",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
} as const;

/** Assets are addressed by content hash, so they can be cached for a year without ever going stale. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

const BOOTSTRAP_CSS = `html, body, #graphiql { height: 100%; margin: 0; }
#graphiql > .loading { font-family: system-ui, sans-serif; padding: 2rem; }
`;

/**
 * The page's script. Queries and mutations go over HTTP to `graphqlPath`; subscriptions over graphql-ws to the
 * WebSocket of the same path (GraphiQL bundles the graphql-ws client), with the headers editor's values as the
 * connection params. Header names are lowercased first: the realtime server reads `authorization` from the
 * params (they are JSON, not HTTP headers, so case matters there; HTTP does not care).
 */
function bootstrapScript(graphqlPath: string): string {
  return `'use strict';
(function () {
  var root = document.getElementById('graphiql');
  var url = new URL(${JSON.stringify(graphqlPath)}, window.location.href);
  var subscriptionUrl = new URL(url.href);
  subscriptionUrl.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  var base = GraphiQL.createFetcher({ url: url.href, subscriptionUrl: subscriptionUrl.href });
  var fetcher = function (params, options) {
    var headers = {};
    var given = (options && options.headers) || {};
    Object.keys(given).forEach(function (name) { headers[name.toLowerCase()] = given[name]; });
    return base(params, Object.assign({}, options, { headers: headers }));
  };
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: ${JSON.stringify(PLAYGROUND_DEFAULT_QUERY)},
      defaultEditorToolsVisibility: 'headers',
      isHeadersEditorEnabled: true,
      // Access tokens typed into the headers editor stay in this tab; they are not written to localStorage.
      shouldPersistHeaders: false,
    }),
  );
})();
`;
}

interface Asset {
  /** Hashed URL path under /playground/assets/. */
  readonly path: string;
  readonly contentType: string;
  readonly body: Buffer;
  readonly gzipped: Buffer;
  readonly etag: string;
}

function asset(name: string, contentType: string, content: Buffer | string): Asset {
  // The bundles end with `//# sourceMappingURL=...`; we do not serve maps, so drop the reference (no 404 noise).
  const text = Buffer.isBuffer(content) ? content.toString('utf8') : content;
  const body = Buffer.from(text.replace(/\n\/[/*]# sourceMappingURL=[^\n]*\s*$/, '\n'), 'utf8');
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 16);
  const dot = name.indexOf('.');
  const hashedName = dot === -1 ? `${name}.${hash}` : `${name.slice(0, dot)}.${hash}${name.slice(dot)}`;
  return {
    path: `${ASSETS_PREFIX}${hashedName}`,
    contentType,
    body,
    gzipped: gzipSync(body),
    etag: `"${hash}"`,
  };
}

/** Reads a file of an installed package, resolved from the gateway so the gateway's React 18 is the one used. */
function packageFile(packageName: string, file: string): Buffer {
  const packageJson = require.resolve(`${packageName}/package.json`, { paths: [__dirname] });
  return readFileSync(path.join(path.dirname(packageJson), file));
}

interface PlaygroundBundle {
  readonly html: string;
  readonly assets: ReadonlyMap<string, Asset>;
}

function buildBundle(graphqlPath: string): PlaygroundBundle {
  const JS = 'text/javascript; charset=utf-8';
  const CSS = 'text/css; charset=utf-8';
  const react = asset('react.production.min.js', JS, packageFile('react', 'umd/react.production.min.js'));
  const reactDom = asset(
    'react-dom.production.min.js',
    JS,
    packageFile('react-dom', 'umd/react-dom.production.min.js'),
  );
  const graphiqlJs = asset('graphiql.min.js', JS, packageFile('graphiql', 'graphiql.min.js'));
  const graphiqlCss = asset('graphiql.min.css', CSS, packageFile('graphiql', 'graphiql.min.css'));
  const playgroundCss = asset('playground.css', CSS, BOOTSTRAP_CSS);
  const playgroundJs = asset('playground.js', JS, bootstrapScript(graphqlPath));

  const html = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <meta name="robots" content="noindex" />
    <title>Gatehouse GraphQL playground</title>
    <!-- No favicon request: the browser would otherwise ask for /favicon.ico and log a 404. -->
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="${graphiqlCss.path}" />
    <link rel="stylesheet" href="${playgroundCss.path}" />
  </head>
  <body>
    <div id="graphiql"><div class="loading">Loading the GraphQL playground…</div></div>
    <script src="${react.path}"></script>
    <script src="${reactDom.path}"></script>
    <script src="${graphiqlJs.path}"></script>
    <script src="${playgroundJs.path}"></script>
  </body>
</html>
`;
  const assets = new Map(
    [react, reactDom, graphiqlJs, graphiqlCss, playgroundCss, playgroundJs].map((a) => [a.path, a]),
  );
  return { html, assets };
}

export interface PlaygroundOptions {
  /**
   * Path of the GraphQL endpoint the playground talks to (same origin). Default `/graphql`. Subscriptions use
   * the WebSocket upgrade of the same path (ws:// or wss://, as the page), where the gateway serves graphql-ws.
   */
  readonly graphqlPath?: string;
}

/**
 * HTTP handler for the playground, shaped like the service kit's `routes` hook: resolves `true` when it answered.
 * Serves `GET /playground` and its content-hashed assets. Bundles are read and gzipped on first use, not at
 * startup, so a gateway without visitors never pays for them.
 */
export function createPlaygroundHandler(
  options: PlaygroundOptions = {},
): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const graphqlPath = options.graphqlPath ?? '/graphql';
  let bundle: PlaygroundBundle | undefined;
  const load = (): PlaygroundBundle => (bundle ??= buildBundle(graphqlPath));

  return async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const pathname = (req.url ?? '/').split('?', 1)[0] ?? '/';

    if (pathname === PLAYGROUND_PATH || pathname === `${PLAYGROUND_PATH}/`) {
      const body = Buffer.from(load().html, 'utf8');
      res.writeHead(200, {
        'Content-Type': 'text/html; charset=utf-8',
        'Content-Length': body.length,
        'Content-Security-Policy': PLAYGROUND_CONTENT_SECURITY_POLICY,
        'Cache-Control': 'no-cache',
        'X-Frame-Options': 'DENY',
        ...SECURITY_HEADERS,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
      return true;
    }

    if (!pathname.startsWith(ASSETS_PREFIX)) return false;
    const found = load().assets.get(pathname);
    if (!found) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS });
      res.end('Not found\n');
      return true;
    }
    const headers: Record<string, string | number> = {
      'Content-Type': found.contentType,
      'Cache-Control': IMMUTABLE,
      ETag: found.etag,
      Vary: 'Accept-Encoding',
      ...SECURITY_HEADERS,
    };
    if (req.headers['if-none-match'] === found.etag) {
      res.writeHead(304, headers);
      res.end();
      return true;
    }
    const gzip = /\bgzip\b/.test(req.headers['accept-encoding'] ?? '');
    const body = gzip ? found.gzipped : found.body;
    if (gzip) headers['Content-Encoding'] = 'gzip';
    headers['Content-Length'] = body.length;
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}

/**
 * Apollo Server answers `GET /graphql` from a browser (Accept: text/html) with its landing page before any of our
 * routes see the request. This landing page only sends the browser on to the playground; it has no script, so
 * the missing CSP on Apollo's HTML response does not matter.
 */
export function playgroundLandingPagePlugin(): ApolloServerPlugin {
  const html = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta http-equiv="refresh" content="0; url=${PLAYGROUND_PATH}" />
    <title>Gatehouse GraphQL</title>
  </head>
  <body><a href="${PLAYGROUND_PATH}">Open the GraphQL playground</a></body>
</html>
`;
  return {
    async serverWillStart() {
      return {
        async renderLandingPage() {
          return { html };
        },
      };
    },
  };
}
