import type { IncomingMessage } from 'node:http';
import { escapeHtml, DEFAULT_PRODUCT_NAME, type MailCategory, type UnsubscribeTokens } from '@gatehouse/mail';
import { createRestRoute, RestError, type RestResult, type RouteHandler } from '@gatehouse/service';
import { PreferenceErrorCode } from './error-codes';
import type { PreferenceRepository } from './preference.repository';

/** Where the route answers; the worker's `unsubscribe.url` is the public address of this path. */
export const UNSUBSCRIBE_PATH = '/unsubscribe';

export interface UnsubscribeRoutesOptions {
  preferences: PreferenceRepository;
  /** Built from UNSUBSCRIBE_SECRET, the same secret the mail worker mints with. */
  tokens: Pick<UnsubscribeTokens, 'verify'>;
  logger: {
    info(details: object, message: string): void;
    warn(details: object, message: string): void;
    error(details: object, message: string): void;
  };
  /** Shown on the pages. Default `Gatehouse`. */
  productName?: string;
  /** Called after a preference was switched off (e.g. to drop a cached profile). */
  onChange?: (userId: string) => Promise<void>;
}

/** Bodies are `List-Unsubscribe=One-Click` or the confirmation form: tiny. */
const MAX_BODY_BYTES = 4096;

const CATEGORY_LABELS: Partial<Record<MailCategory, string>> = {
  billing: 'billing',
  product: 'product news',
};

/** Every answer: never cached, never indexed, and the token in the URL never leaks through Referer. */
const COMMON_HEADERS = {
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-robots-tag': 'noindex',
};

/** The pages need no script, no remote resource, and may only post to us. */
const HTML_SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
};

type Failure = {
  status: 400 | 410;
  code: PreferenceErrorCode;
  message: string;
};

const FAILURES = {
  INVALID: {
    status: 400,
    code: PreferenceErrorCode.UNSUBSCRIBE_LINK_INVALID,
    message: 'This unsubscribe link is not valid.',
  },
  EXPIRED: {
    status: 400,
    code: PreferenceErrorCode.UNSUBSCRIBE_LINK_EXPIRED,
    message: 'This unsubscribe link has expired.',
  },
  USED: {
    status: 410,
    code: PreferenceErrorCode.UNSUBSCRIBE_LINK_USED,
    message: 'This unsubscribe link was used already.',
  },
} as const satisfies Record<string, Failure>;

/** A rendered page; anything else sent is JSON. */
class HtmlPage {
  constructor(readonly html: string) {}
}

const BUTTON_STYLE =
  'padding:12px 20px;background:#0b5cad;color:#ffffff;border:0;border-radius:6px;font-weight:600;font-size:16px';

/**
 * One-click unsubscribe (RFC 8058), no sign-in needed: the signed token in the link is the authority.
 *
 * - `GET|HEAD /unsubscribe?token=` → 200 HTML page with a confirmation form that POSTs back; changes nothing
 *   (mail scanners and link previews fetch links). 400 `UNSUBSCRIBE_LINK_INVALID` | `UNSUBSCRIBE_LINK_EXPIRED`,
 *   410 `UNSUBSCRIBE_LINK_USED`.
 * - `POST /unsubscribe?token=` (body `List-Unsubscribe=One-Click` from a mail client, or the form) → verifies
 *   the token, records its receipt and switches the EMAIL preference off in one transaction: 200
 *   `{status:'unsubscribed', channel, category}`; 400 as above; 410 `UNSUBSCRIBE_LINK_USED` the second time;
 *   413 for a body over 4 KiB.
 * - Other methods: 405 `METHOD_NOT_ALLOWED`. Other paths: not handled (404 from the server).
 *
 * Answers are HTML when the client accepts `text/html` (a browser), JSON otherwise (mail providers' POSTs):
 * `{error: <code>, message}` on failure (405 and 413 are always JSON).
 */
export function createUnsubscribeRoutes(options: UnsubscribeRoutesOptions): RouteHandler {
  const { tokens, logger, preferences: repository } = options;
  const productName = options.productName ?? DEFAULT_PRODUCT_NAME;

  return createRestRoute({
    name: 'unsubscribe',
    path: UNSUBSCRIBE_PATH,
    methods: ['GET', 'HEAD', 'POST'],
    logger,
    headers: COMMON_HEADERS,
    // Read (within the limit) and dropped: the token in the URL decides, not the body.
    body: { maxBytes: MAX_BODY_BYTES, kind: 'discard' },
    async handle({ req, method, query, requestId }) {
      const html = wantsHtml(req);
      const token = query.get('token') ?? '';
      const check = tokens.verify(token);
      if (!check.ok) {
        const failure = FAILURES[check.reason];
        logger.info({ requestId, reason: failure.code }, 'unsubscribe: link refused');
        return refuse(failure, html, productName);
      }
      const { claims } = check;
      const label = CATEGORY_LABELS[claims.category] ?? claims.category;

      if (method !== 'POST') {
        if (await repository.isRedeemed(claims.jti)) return refuse(FAILURES.USED, html, productName);
        return answer(
          200,
          html
            ? page(
                `Unsubscribe from ${label} emails`,
                [
                  `Stop receiving ${label} emails from ${productName}? Security notices about your account are always sent.`,
                ],
                productName,
                // Relative to this page: works behind the gateway whatever prefix it serves us under.
                `<form method="post" action="?token=${escapeHtml(encodeURIComponent(token))}">` +
                  '<input type="hidden" name="List-Unsubscribe" value="One-Click">' +
                  `<button type="submit" style="${BUTTON_STYLE}">Unsubscribe</button></form>`,
              )
            : { status: 'confirm', channel: claims.channel, category: claims.category },
        );
      }

      const outcome = await repository.redeemUnsubscribe(claims);
      if (outcome === 'used') {
        logger.info({ requestId, reason: FAILURES.USED.code }, 'unsubscribe: link refused');
        return refuse(FAILURES.USED, html, productName);
      }
      if (outcome === 'unsubscribed') {
        logger.info(
          { requestId, userId: claims.userId, category: claims.category },
          'unsubscribe: category off',
        );
        await options.onChange?.(claims.userId).catch((err: unknown) => {
          logger.warn({ err, requestId }, 'unsubscribe: onChange failed');
        });
      }
      // 'unknown-user': the account is gone, so no more mail goes out either; the answer is the same.
      return answer(
        200,
        html
          ? page(
              'You are unsubscribed',
              [
                `You will no longer receive ${label} emails from ${productName}.`,
                'You can switch them back on in your account settings at any time.',
              ],
              productName,
            )
          : { status: 'unsubscribed', channel: claims.channel, category: claims.category },
      );
    },
  });
}

/** Browsers ask for HTML; mail providers' one-click POSTs do not. */
function wantsHtml(req: IncomingMessage): boolean {
  return /\btext\/html\b/i.test(req.headers.accept ?? '');
}

/** A refused link: an HTML page for a browser, the one JSON error body otherwise. */
function refuse(failure: Failure, html: boolean, productName: string): RestResult {
  if (!html) throw new RestError(failure.status, failure.code, failure.message);
  return answer(
    failure.status,
    page(
      failure.message.replace(/\.$/, ''),
      [failure.message, 'You can change which emails you receive in your account settings.'],
      productName,
      `<p style="font-size:13px;color:#59636e">Code: ${failure.code}</p>`,
    ),
  );
}

function answer(status: number, body: HtmlPage | object): RestResult {
  return body instanceof HtmlPage
    ? { status, html: body.html, headers: HTML_SECURITY_HEADERS }
    : { status, json: body };
}

/** A small self-contained page: every interpolated value escaped, no script, no remote resource. */
function page(title: string, paragraphs: string[], productName: string, extraHtml = ''): HtmlPage {
  return new HtmlPage(
    [
      '<!doctype html>',
      '<html lang="en">',
      '<head>',
      '<meta charset="utf-8">',
      '<meta name="viewport" content="width=device-width, initial-scale=1">',
      '<meta name="robots" content="noindex">',
      `<title>${escapeHtml(`${title} · ${productName}`)}</title>`,
      '</head>',
      "<body style=\"margin:0;padding:24px;font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;" +
        'color:#1f2328;line-height:1.5">',
      '<main style="max-width:560px;margin:0 auto">',
      `<h1 style="font-size:22px">${escapeHtml(title)}</h1>`,
      ...paragraphs.map((text) => `<p>${escapeHtml(text)}</p>`),
      extraHtml,
      '</main>',
      '</body>',
      '</html>',
      '',
    ].join('\n'),
  );
}
