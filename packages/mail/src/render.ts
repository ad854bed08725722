import { ValidationError } from '@gatehouse/errors';
import {
  mailContent,
  mailTemplateSchemas,
  type Block,
  type MailContent,
  type MailTemplateData,
  type MailTemplateName,
  type ParsedMailTemplateData,
} from './templates';

export interface RenderedMail {
  subject: string;
  html: string;
  text: string;
}

export interface RenderMailOptions {
  /** Shown in subjects and bodies. Default `Gatehouse`. */
  productName?: string;
  /**
   * A one-click unsubscribe link (http(s)) for mail the recipient may switch off: shown in the footer of both
   * parts. The worker passes it for `billing` and `product` mail; it also goes into the RFC 8058 headers.
   */
  unsubscribeUrl?: string;
  /**
   * Copy an administrator chose for this template (`email.templates.<name>` settings): `subject` replaces the
   * subject, `intro` the first paragraph after the greeting. Plain text, escaped like everything else; links,
   * codes and details still come from the template, so an override cannot drop what makes the mail work.
   */
  override?: MailTemplateOverride;
}

/** Replacement copy for one template; each part optional. */
export interface MailTemplateOverride {
  subject?: string;
  intro?: string;
}

/**
 * Where the mail worker looks up the copy an administrator chose for a template, once per mail (identity passes
 * the settings store's `email.templates.<name>`). Undefined: the template's own copy.
 */
export type MailTemplateOverrides = (template: MailTemplateName) => Promise<MailTemplateOverride | undefined>;

export const DEFAULT_PRODUCT_NAME = 'Gatehouse';

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char] ?? char);
}

/**
 * Validates `data` against the template's schema and renders subject, HTML and text. Pure: same input, same
 * output. Every interpolated value is HTML-escaped, links are http(s) only, and there are no remote images.
 * @throws ValidationError when `data` does not fit the template (the message names fields, never values).
 */
export function renderMail<T extends MailTemplateName>(
  template: T,
  data: MailTemplateData<T>,
  options: RenderMailOptions = {},
): RenderedMail {
  const parsed = parseMailData(template, data);
  const productName = (options.productName ?? DEFAULT_PRODUCT_NAME).replace(/\s+/g, ' ').trim();
  if (productName === '') throw new RangeError('renderMail: productName must not be empty');
  const build = mailContent[template] as (data: ParsedMailTemplateData<T>, product: string) => MailContent;
  const { subject, blocks } = applyOverride(build(parsed, productName), options.override);
  const unsubscribeUrl = options.unsubscribeUrl;
  if (unsubscribeUrl !== undefined && !isHttpUrl(unsubscribeUrl)) {
    throw new RangeError('renderMail: unsubscribeUrl must be an http:// or https:// URL');
  }
  return {
    subject,
    html: toHtml(subject, blocks, productName, unsubscribeUrl),
    text: toText(blocks, productName, unsubscribeUrl),
  };
}

/** One line for a subject (no header folding tricks), trimmed; an empty override part is ignored. */
function cleanOverride(value: string | undefined, singleLine: boolean): string | undefined {
  if (value === undefined) return undefined;
  const cleaned = (singleLine ? value.replace(/\s+/g, ' ') : value).trim();
  return cleaned === '' ? undefined : cleaned;
}

function applyOverride(content: MailContent, override: MailTemplateOverride | undefined): MailContent {
  if (!override) return content;
  const subject = cleanOverride(override.subject, true) ?? content.subject;
  const intro = cleanOverride(override.intro, false);
  if (intro === undefined) return { subject, blocks: content.blocks };
  const greeting = content.blocks.findIndex(
    (block) => block.kind === 'paragraph' && block.role === 'greeting',
  );
  const at = content.blocks.findIndex((block, index) => index > greeting && block.kind === 'paragraph');
  const blocks = content.blocks.map((block, index): Block =>
    index === at ? { kind: 'paragraph', text: intro } : block,
  );
  return { subject, blocks };
}

function isHttpUrl(value: string): boolean {
  try {
    const { protocol } = new URL(value);
    return protocol === 'https:' || protocol === 'http:';
  } catch {
    return false;
  }
}

/** The template's validated data; throws ValidationError otherwise. */
export function parseMailData<T extends MailTemplateName>(
  template: T,
  data: unknown,
): ParsedMailTemplateData<T> {
  const schema = mailTemplateSchemas[template];
  if (!schema) throw new ValidationError(`Unknown mail template "${String(template)}"`);
  const result = schema.safeParse(data);
  if (!result.success) throw ValidationError.fromZod(result.error, `Invalid data for mail "${template}"`);
  return result.data as ParsedMailTemplateData<T>;
}

const FONT = "font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif";
const TEXT_COLOR = 'color:#1f2328';
const ACCENT = '#0b5cad';

function blockToHtml(block: Block): string {
  switch (block.kind) {
    case 'heading':
      return `<h1 style="margin:0 0 16px;font-size:22px;line-height:1.3">${escapeHtml(block.text)}</h1>`;
    case 'paragraph':
      return `<p style="margin:0 0 16px">${escapeHtml(block.text)}</p>`;
    case 'button': {
      const url = escapeHtml(block.url);
      // A real link styled as a button (no image, no table tricks), followed by the URL itself for clients
      // that strip styles and for people who prefer to copy it.
      return (
        `<p style="margin:24px 0"><a href="${url}" style="display:inline-block;padding:12px 20px;` +
        `background:${ACCENT};color:#ffffff;text-decoration:none;border-radius:6px;font-weight:600">` +
        `${escapeHtml(block.label)}</a></p>\n` +
        `<p style="margin:0 0 16px;font-size:13px;color:#59636e">If the button does not work, open this link:` +
        `<br><a href="${url}" style="color:${ACCENT};word-break:break-all">${url}</a></p>`
      );
    }
    case 'details': {
      const rows = block.rows.filter((row): row is [string, string] => Boolean(row[1]));
      if (rows.length === 0) return '';
      const items = rows
        .map(
          ([label, value]) =>
            `<dt style="font-weight:600">${escapeHtml(label)}</dt>` +
            `<dd style="margin:0 0 8px">${escapeHtml(value)}</dd>`,
        )
        .join('');
      return `<dl style="margin:0 0 16px;padding:12px 16px;background:#f6f8fa;border-radius:6px">${items}</dl>`;
    }
  }
}

/** The footer line that explains why the mail came and how to stop it. */
const UNSUBSCRIBE_TEXT =
  'You receive this email because of your notification settings. To stop emails like this one,';

function toHtml(subject: string, blocks: Block[], productName: string, unsubscribeUrl?: string): string {
  const body = blocks
    .map(blockToHtml)
    .filter((html) => html !== '')
    .join('\n');
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="color-scheme" content="light">',
    `<title>${escapeHtml(subject)}</title>`,
    '</head>',
    `<body style="margin:0;padding:24px;background:#ffffff;${FONT};${TEXT_COLOR};font-size:16px;line-height:1.5">`,
    '<div role="article" aria-label="' + escapeHtml(subject) + '" style="max-width:560px;margin:0 auto">',
    body,
    `<p style="margin:32px 0 0;font-size:13px;color:#59636e">${escapeHtml(
      `This is an automated message from ${productName}. Replies to it are not read.`,
    )}</p>`,
    ...(unsubscribeUrl === undefined
      ? []
      : [
          `<p style="margin:8px 0 0;font-size:13px;color:#59636e">${escapeHtml(UNSUBSCRIBE_TEXT)} ` +
            `<a href="${escapeHtml(unsubscribeUrl)}" style="color:${ACCENT}">unsubscribe</a>.</p>`,
        ]),
    '</div>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

function blockToText(block: Block): string {
  switch (block.kind) {
    case 'heading':
      return block.text;
    case 'paragraph':
      return block.text;
    case 'button':
      // The URL alone on its line so clients make it clickable and copying it is easy.
      return `${block.label}:\n${block.url}`;
    case 'details':
      return block.rows
        .filter((row): row is [string, string] => Boolean(row[1]))
        .map(([label, value]) => `${label}: ${value}`)
        .join('\n');
  }
}

function toText(blocks: Block[], productName: string, unsubscribeUrl?: string): string {
  const parts = blocks.map(blockToText).filter((text) => text !== '');
  parts.push(`--\nThis is an automated message from ${productName}. Replies to it are not read.`);
  if (unsubscribeUrl !== undefined) parts.push(`${UNSUBSCRIBE_TEXT} unsubscribe:\n${unsubscribeUrl}`);
  return parts.join('\n\n') + '\n';
}
