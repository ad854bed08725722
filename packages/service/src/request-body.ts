import type { IncomingMessage } from 'node:http';

/**
 * The request body, or null as soon as it exceeds `limit` bytes — at once when `Content-Length` already says so.
 * Nothing beyond the limit is kept: once it is exceeded, the remaining bytes are discarded as they arrive, and the
 * caller answers 413 with `Connection: close` so the rest of an unwanted upload is never read into memory nor
 * mistaken for the next request. The one body reader of every route (GraphQL, avatars, usage, webhooks).
 * @throws the request's error, or when the client closed the connection before the body was complete.
 */
export function readBodyUpTo(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (result: Buffer | null) => {
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        finish(null);
        // Keep the stream flowing so the socket drains until the response closes it.
        req.resume();
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish(Buffer.concat(chunks, size));
    req.on('data', onData);
    req.on('end', onEnd);
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      reject(error);
    };
    req.once('error', fail);
    req.once('close', () => fail(new Error('the request was closed before its body was complete')));
  });
}
