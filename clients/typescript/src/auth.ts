/**
 * Where the client keeps its tokens. Two modes:
 *
 * - **token mode** (default; servers, CLIs, native apps): the access and refresh tokens live in a
 *   {@link TokenStore}, in memory unless you give another store; refresh sends the refresh token in the
 *   `refreshToken` mutation.
 * - **cookie mode** (browser apps): the refresh token lives in an httpOnly cookie set by the app's own server
 *   and never touches JavaScript; the store holds only the access token, and refresh is a `POST` to the app's
 *   refresh endpoint with the cookie ({@link cookieRefresh} in refresh.ts).
 */

/** The tokens of one signed-in session. Times are epoch milliseconds. */
export interface TokenSet {
  accessToken: string;
  accessTokenExpiresAt: number;
  /** Absent in cookie mode: the refresh token is in an httpOnly cookie the script cannot read. */
  refreshToken?: string;
  refreshTokenExpiresAt?: number;
}

/**
 * Keeps the current {@link TokenSet}. Implement it to persist tokens (the OS keychain of a desktop app, a
 * server-side session); methods may be synchronous or return promises.
 */
export interface TokenStore {
  get(): TokenSet | undefined | Promise<TokenSet | undefined>;
  set(tokens: TokenSet): void | Promise<void>;
  clear(): void | Promise<void>;
}

/** In memory, for the life of the page or process: the default, and the safest place in a browser. */
export function createMemoryTokenStore(initial?: TokenSet): TokenStore {
  let tokens: TokenSet | undefined = initial;
  return {
    get: () => tokens,
    set: (next) => {
      tokens = { ...next };
    },
    clear: () => {
      tokens = undefined;
    },
  };
}

/** The token fields of the API's `AuthPayload` (what `login`, `verifyMfa` and `refreshToken` return). */
export interface AuthPayloadTokens {
  accessToken: string;
  accessTokenExpiresAt: string | Date;
  refreshToken?: string | null;
  refreshTokenExpiresAt?: string | Date | null;
}

function epochMs(value: string | Date, field: string): number {
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  if (!Number.isFinite(ms)) throw new TypeError(`${field} is not a date: ${String(value)}`);
  return ms;
}

/**
 * A {@link TokenSet} from an `AuthPayload`. With `keepRefreshToken: false` (cookie mode) the refresh token is
 * dropped even when the response carried one, so it is never stored where scripts can read it.
 */
export function tokenSetFrom(payload: AuthPayloadTokens, keepRefreshToken = true): TokenSet {
  if (typeof payload.accessToken !== 'string' || payload.accessToken === '') {
    throw new TypeError('accessToken is missing');
  }
  const tokens: TokenSet = {
    accessToken: payload.accessToken,
    accessTokenExpiresAt: epochMs(payload.accessTokenExpiresAt, 'accessTokenExpiresAt'),
  };
  if (keepRefreshToken && typeof payload.refreshToken === 'string' && payload.refreshToken !== '') {
    tokens.refreshToken = payload.refreshToken;
    if (payload.refreshTokenExpiresAt) {
      tokens.refreshTokenExpiresAt = epochMs(payload.refreshTokenExpiresAt, 'refreshTokenExpiresAt');
    }
  }
  return tokens;
}
