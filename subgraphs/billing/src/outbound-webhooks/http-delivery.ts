import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';

/** What one POST to a receiver came to. */
export type PostOutcome =
  { kind: 'response'; status: number; body: string } | { kind: 'error'; message: string };

export interface PostWebhookInput {
  url: URL;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  /** Resolves the host (see `guardedLookup`); default Node's. */
  lookup?: LookupFunction;
  /** Bytes of the response body kept (the rest is discarded unread). */
  maxResponseBytes: number;
}

/**
 * POSTs one webhook. Never follows redirects (a 3xx is just a non-2xx answer: following one could lead a
 * signed request to an internal address), bounds the whole exchange by `timeoutMs` and keeps at most
 * `maxResponseBytes` of the answer. Never rejects: every failure is an `error` outcome.
 */
export function postWebhook(input: PostWebhookInput): Promise<PostOutcome> {
  const { url, body, timeoutMs, maxResponseBytes } = input;
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise<PostOutcome>((resolve) => {
    let settled = false;
    const finish = (outcome: PostOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const request = transport.request(url, {
      method: 'POST',
      headers: { ...input.headers, 'Content-Length': String(Buffer.byteLength(body)) },
      ...(input.lookup ? { lookup: input.lookup } : {}),
      // One-off connections: a pooled socket would skip the lookup guard on the next request to the host.
      agent: false,
    });
    const timer = setTimeout(() => {
      finish({ kind: 'error', message: `Timed out after ${timeoutMs} ms` });
      request.destroy();
    }, timeoutMs);
    request.on('error', (error) => finish({ kind: 'error', message: error.message }));
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      response.on('data', (chunk: Buffer) => {
        if (kept >= maxResponseBytes) return;
        const part = chunk.subarray(0, maxResponseBytes - kept);
        chunks.push(part);
        kept += part.length;
        // Enough kept: stop reading a possibly endless body.
        if (kept >= maxResponseBytes) {
          finish({ kind: 'response', status: response.statusCode ?? 0, body: text() });
          response.destroy();
        }
      });
      const text = () => Buffer.concat(chunks).toString('utf8');
      response.on('end', () => finish({ kind: 'response', status: response.statusCode ?? 0, body: text() }));
      response.on('error', () =>
        finish({ kind: 'response', status: response.statusCode ?? 0, body: text() }),
      );
      response.on('close', () =>
        finish({ kind: 'response', status: response.statusCode ?? 0, body: text() }),
      );
    });
    request.end(body);
  });
}
