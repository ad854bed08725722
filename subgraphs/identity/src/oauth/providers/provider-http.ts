/** Where a provider interaction failed; logged and audited, never shown to users beyond OAUTH_PROVIDER_ERROR. */
export type ProviderStage = 'discovery' | 'token' | 'id_token' | 'profile';

/**
 * The provider could not be reached, answered an error, or answered something we do not trust. The message may
 * name the provider's error code but never contains tokens, codes or secrets.
 */
export class ProviderError extends Error {
  readonly stage: ProviderStage;
  /** The provider's own error code (`invalid_grant`, `bad_verification_code`, ...), when it sent one. */
  readonly providerCode: string | null;

  constructor(
    stage: ProviderStage,
    message: string,
    options: { cause?: unknown; providerCode?: string } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProviderError';
    this.stage = stage;
    this.providerCode = options.providerCode ?? null;
  }
}

/** How adapters reach providers: an injectable fetch (tests, proxies) with a timeout on every call. */
export interface ProviderHttp {
  fetch: typeof fetch;
  timeoutMs: number;
}

/** Provider answers are small JSON documents; anything larger is refused rather than buffered. */
const MAX_RESPONSE_BYTES = 1024 * 1024;
const SAFE_CODE = /^[A-Za-z0-9_.:-]{1,64}$/;

/** A provider error code fit for logs and audit rows (it is attacker-influenced text). */
export function safeProviderCode(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return String(value);
  return typeof value === 'string' && SAFE_CODE.test(value) ? value : undefined;
}

export interface ProviderResponse {
  status: number;
  /** Parsed JSON, or the fields of a form-encoded body; null when the body is empty. */
  body: unknown;
  contentType: string;
}

/** One request to a provider, bounded in time and size. @throws ProviderError for network errors and timeouts. */
export async function providerRequest(
  http: ProviderHttp,
  stage: ProviderStage,
  url: string,
  init: RequestInit = {},
): Promise<ProviderResponse> {
  let response: Response;
  try {
    response = await http.fetch(url, {
      ...init,
      redirect: 'error',
      signal: AbortSignal.timeout(http.timeoutMs),
    });
  } catch (cause) {
    throw new ProviderError(stage, `${stage} request failed: ${(cause as Error).name}`, { cause });
  }
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > MAX_RESPONSE_BYTES) {
    await response.body?.cancel();
    throw new ProviderError(stage, `${stage} response too large`);
  }
  let raw: ArrayBuffer;
  try {
    raw = await response.arrayBuffer();
  } catch (cause) {
    throw new ProviderError(stage, `${stage} response could not be read`, { cause });
  }
  if (raw.byteLength > MAX_RESPONSE_BYTES) throw new ProviderError(stage, `${stage} response too large`);
  const contentType = (response.headers.get('content-type') ?? '').split(';', 1)[0]!.trim().toLowerCase();
  const text = Buffer.from(raw).toString('utf8');
  let body: unknown = null;
  if (text.trim() !== '') {
    if (contentType === 'application/x-www-form-urlencoded') {
      body = Object.fromEntries(new URLSearchParams(text));
    } else {
      try {
        body = JSON.parse(text);
      } catch {
        // Left null: callers treat a missing body as a malformed answer (with the status in the message).
      }
    }
  }
  return { status: response.status, body, contentType };
}

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** What a token endpoint returned (RFC 6749 §5.1), the ID token included for OpenID Connect. */
export interface TokenResponse {
  accessToken: string;
  refreshToken: string | null;
  /** Seconds, when the provider said. */
  expiresIn: number | null;
  scope: string | null;
  idToken: string | null;
}

/**
 * Parses a token endpoint answer. An `error` member fails it whatever the status (GitHub answers errors with
 * HTTP 200); so does a non-2xx status or a missing access token.
 */
export function parseTokenResponse(response: ProviderResponse): TokenResponse {
  const { status, body } = response;
  if (isObject(body) && body.error !== undefined) {
    const error = body.error;
    // OAuth's `error` is a string; Facebook's Graph API sends an object with a numeric `code`.
    const code = isObject(error) ? safeProviderCode(error.code) : safeProviderCode(error);
    throw new ProviderError(
      'token',
      `token endpoint answered ${status} with error ${code ?? '(unreadable)'}`,
      {
        ...(code ? { providerCode: code } : {}),
      },
    );
  }
  if (status < 200 || status >= 300 || !isObject(body)) {
    throw new ProviderError('token', `token endpoint answered ${status} without a usable body`);
  }
  if (typeof body.access_token !== 'string' || body.access_token === '') {
    throw new ProviderError('token', 'token endpoint answered without an access_token');
  }
  const expiresIn = Number(body.expires_in);
  return {
    accessToken: body.access_token,
    refreshToken: typeof body.refresh_token === 'string' && body.refresh_token ? body.refresh_token : null,
    expiresIn:
      body.expires_in !== undefined && Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : null,
    scope: typeof body.scope === 'string' ? body.scope : null,
    idToken: typeof body.id_token === 'string' && body.id_token ? body.id_token : null,
  };
}

/** A JSON object from a profile endpoint. @throws ProviderError on a non-200 answer or another body. */
export function expectProfileObject(response: ProviderResponse, what: string): Record<string, unknown> {
  if (response.status !== 200 || !isObject(response.body)) {
    throw new ProviderError('profile', `${what} answered ${response.status}`);
  }
  return response.body;
}
