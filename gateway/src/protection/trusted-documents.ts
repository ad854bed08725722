import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * Trusted documents (persisted queries registered at build time) for first-party clients: a JSON manifest
 * mapping each document's sha256 (hex, as Apollo's APQ `extensions.persistedQuery.sha256Hash`) to its text.
 *
 * A client sends `{ extensions: { persistedQuery: { version: 1, sha256Hash } } }` without `query`, and the
 * gateway fills the text in from the manifest (so it never depends on the APQ cache having been primed). With
 * GRAPHQL_TRUSTED_ONLY the gateway executes nothing else: an attacker cannot send a hand-written query, only
 * replay the operations the clients were built with.
 */
export interface TrustedDocuments {
  /** The document text for this hash, when trusted. */
  get(sha256Hash: string): string | undefined;
  has(sha256Hash: string): boolean;
  readonly size: number;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * Builds the registry from a manifest object. Accepts `{ "<sha256>": "<document>" }` and the Apollo/GraphQL
 * Codegen "client persisted queries" shape `{ "format": "apollo-persisted-query-manifest", "operations":
 * [{ "id", "body" }] }`. Each key must be the sha256 of its document: a manifest that lies is refused at start,
 * since the hash is what a client (and an operator reading logs) relies on.
 * @throws Error naming the first bad entry.
 */
export function trustedDocumentsFrom(manifest: unknown): TrustedDocuments {
  const entries: [string, unknown][] = [];
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) {
    throw new Error('the trusted-documents manifest must be a JSON object');
  }
  const record = manifest as Record<string, unknown>;
  if (Array.isArray(record.operations)) {
    for (const operation of record.operations as { id?: unknown; body?: unknown }[]) {
      entries.push([String(operation?.id), operation?.body]);
    }
  } else {
    entries.push(...Object.entries(record));
  }
  const documents = new Map<string, string>();
  for (const [rawHash, document] of entries) {
    const hash = rawHash.replace(/^sha256:/, '').toLowerCase();
    if (!SHA256_HEX.test(hash)) throw new Error(`trusted documents: "${rawHash}" is not a sha256 hex digest`);
    if (typeof document !== 'string' || document.trim() === '') {
      throw new Error(`trusted documents: the document of ${hash} is not a non-empty string`);
    }
    if (createHash('sha256').update(document).digest('hex') !== hash) {
      throw new Error(`trusted documents: ${hash} is not the sha256 of its document`);
    }
    documents.set(hash, document);
  }
  return {
    get: (hash) => documents.get(hash),
    has: (hash) => documents.has(hash),
    size: documents.size,
  };
}

/** Reads GRAPHQL_TRUSTED_DOCUMENTS. @throws Error when the file cannot be read or is not a valid manifest. */
export function loadTrustedDocuments(path: string): TrustedDocuments {
  let manifest: unknown;
  try {
    manifest = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`Cannot read the trusted-documents manifest at ${path}`, { cause: error });
  }
  return trustedDocumentsFrom(manifest);
}
