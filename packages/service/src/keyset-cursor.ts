import { isUuid } from './ids';

/** Where a keyset page starts: the `(created_at, id)` of the last row of the previous page. */
export interface KeysetPosition {
  createdAt: Date;
  id: string;
}

/**
 * The one cursor format of every `(createdAt, id)` keyset connection: base64url of the JSON `[createdAt ISO, id]`.
 * Clients treat it as an opaque string.
 */
export function encodeKeysetCursor(position: KeysetPosition): string {
  return Buffer.from(JSON.stringify([position.createdAt.toISOString(), position.id]), 'utf8').toString(
    'base64url',
  );
}

/**
 * The position in a cursor made by {@link encodeKeysetCursor}, or undefined for anything else (forged, truncated,
 * not a UUID, a date that does not round-trip). Callers turn undefined into their own error code.
 */
export function decodeKeysetCursor(cursor: string): KeysetPosition | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) return undefined;
  const [at, id] = parsed as unknown[];
  if (typeof at !== 'string' || !isUuid(id)) return undefined;
  const createdAt = new Date(at);
  if (Number.isNaN(createdAt.getTime()) || createdAt.toISOString() !== at) return undefined;
  return { createdAt, id };
}

/**
 * The Prisma `where` fragment selecting the rows after `position` in `(createdAt desc, id desc)` order (nothing,
 * so every row, without a position). Spread it into a `where` beside the page's other conditions.
 */
export function keysetAfter(position: KeysetPosition | null | undefined): {
  OR?: [{ createdAt: { lt: Date } }, { createdAt: Date; id: { lt: string } }];
} {
  if (!position) return {};
  return {
    OR: [
      { createdAt: { lt: position.createdAt } },
      { createdAt: position.createdAt, id: { lt: position.id } },
    ],
  };
}
