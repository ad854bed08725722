import { randomUUID } from 'node:crypto';

/** Header carrying the request id across the gateway, subgraphs and logs. */
export const REQUEST_ID_HEADER = 'x-request-id';

/** Incoming ids are echoed into logs and responses, so only short, inert ones are trusted. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** Node's `IncomingHttpHeaders`, a plain record, or a Fetch-style `Headers`/Apollo `HeaderMap`. */
export type HeaderSource =
  | Readonly<Record<string, string | readonly string[] | undefined>>
  | { get(name: string): string | null | undefined };

function headerValue(headers: HeaderSource): string | undefined {
  if (typeof headers.get === 'function') {
    return (headers as { get(name: string): string | null | undefined }).get(REQUEST_ID_HEADER) ?? undefined;
  }
  const record = headers as Readonly<Record<string, string | readonly string[] | undefined>>;
  const value = record[REQUEST_ID_HEADER];
  return Array.isArray(value) ? value[0] : (value as string | undefined);
}

/** The caller's `x-request-id` when it is safe ([A-Za-z0-9._-]{1,128}), otherwise a new random UUID. */
export function requestIdFrom(headers: HeaderSource | undefined): string {
  const incoming = headers ? headerValue(headers) : undefined;
  return incoming !== undefined && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
}
