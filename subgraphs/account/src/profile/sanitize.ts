/**
 * Stored-XSS defence for free-text profile fields (display name, bio).
 *
 * Profile text is plain text: clients must still escape it when they render it, but other people's profiles end
 * up in e-mails, admin tools and third-party integrations we do not control, so nothing that looks like markup
 * or a script URL is stored at all. Cleaning is deliberately lossy: `<b>`, `a<b` or `javascript:` typed into a
 * name are removed rather than escaped, because an escaped copy is only safe for the one output format it was
 * escaped for.
 */

/** Lone UTF-16 surrogates (from malformed JSON escapes): not text, and they break NFC and some encoders. */
const LONE_SURROGATES = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * C0/C1 control characters except tab and line feed (turned into spaces or kept as line breaks below), bidi
 * embeddings/overrides/isolates and marks (they make text display as something else: "Trojan Source"), and the
 * byte-order mark. Zero-width joiners stay: emoji sequences need them.
 */
const CONTROL_CHARACTERS =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u200E\u200F\u202A-\u202E\u2066-\u2069\uFEFF]/g;

/** Elements whose content is code, not text: removed together with everything up to their closing tag. */
const ACTIVE_ELEMENTS =
  /<\s*(script|style|iframe|object|embed|noscript|template|xmp)\b[\s\S]*?(?:<\/\s*\1\s*>|$)/gi;

/** Comments, CDATA sections, processing instructions and doctypes; an unclosed one runs to the end. */
const MARKUP_DECLARATIONS = /<!--[\s\S]*?(?:-->|$)|<[!?][^>]*(?:>|$)/g;

/**
 * Anything a browser would parse as a start or end tag: `<` directly followed by a letter (or `/` and a letter),
 * up to the next `>` or, for an unclosed tag such as `<img src=x onerror=...`, to the end. `<3` and `a < b` are
 * not tags and stay.
 */
const TAGS = /<\/?[a-z][^>]*(?:>|$)/gi;

/**
 * Script URL schemes, also spelled with whitespace between the letters (URL parsers drop tabs and newlines
 * inside a scheme, so `java\tscript:` runs).
 */
const SCRIPT_SCHEMES = new RegExp(
  ['javascript', 'vbscript', 'livescript'].map((scheme) => `${scheme.split('').join('\\s*')}\\s*:`).join('|'),
  'gi',
);

/**
 * Inline event-handler assignments (`onerror=`, `onload =`) outside a tag: harmless as text, but the payload of
 * an attribute injection wherever a consumer forgets to quote.
 */
const EVENT_HANDLERS = /(?<![\p{L}\p{N}_])on[a-z]{3,}\s*=/giu;

const NAMED_ENTITIES: Record<string, string> = {
  lt: '<',
  gt: '>',
  amp: '&',
  quot: '"',
  apos: "'",
  colon: ':',
  tab: '\t',
  newline: '\n',
  nbsp: '\u00A0',
};

/**
 * Character references a browser would decode (numeric ones also without the `;`), so `&lt;script&gt;` or
 * `&#106;avascript:` are judged as what they would become when some consumer decodes them.
 */
const ENTITIES = /&(?:#(\d{1,7});?|#x([0-9a-f]{1,6});?|(lt|gt|amp|quot|apos|colon|tab|newline|nbsp);)/gi;

function decodeEntities(text: string): string {
  return text.replace(ENTITIES, (_match, decimal?: string, hex?: string, name?: string) => {
    if (name !== undefined) return NAMED_ENTITIES[name.toLowerCase()] ?? '';
    const codePoint = decimal !== undefined ? Number.parseInt(decimal, 10) : Number.parseInt(hex ?? '', 16);
    const valid = codePoint <= 0x10ffff && !(codePoint >= 0xd800 && codePoint <= 0xdfff);
    return valid ? String.fromCodePoint(codePoint) : '';
  });
}

/** One cleaning pass; repeated until nothing changes, so removals cannot assemble new markup. */
function cleanOnce(text: string): string {
  return decodeEntities(text)
    .replace(CONTROL_CHARACTERS, '')
    .replace(ACTIVE_ELEMENTS, '')
    .replace(MARKUP_DECLARATIONS, '')
    .replace(TAGS, '')
    .replace(SCRIPT_SCHEMES, '')
    .replace(EVENT_HANDLERS, '');
}

/** More passes than any honest input needs; adversarial nesting deeper than this ends up as an empty string. */
const MAX_PASSES = 8;

function removeMarkup(input: string): string {
  let text = input.replace(LONE_SURROGATES, '').normalize('NFC').replace(/\r\n?/g, '\n');
  for (let pass = 0; pass < MAX_PASSES; pass += 1) {
    const cleaned = cleanOnce(text).normalize('NFC');
    if (cleaned === text) return text;
    text = cleaned;
  }
  // Still changing: nested deeper than any legitimate text. Refuse to guess what is left.
  return '';
}

/**
 * Cleans a one-line text field (display name): NFC, no control characters, no markup, no script URLs, every
 * run of whitespace (line breaks included) collapsed into one space, trimmed.
 */
export function sanitizeLine(input: string): string {
  return removeMarkup(input).replace(/\s+/gu, ' ').trim();
}

/**
 * Cleans a multi-line text field (bio): like {@link sanitizeLine}, but line breaks survive: spaces and tabs
 * collapse into one space, lines are trimmed, and at most one empty line separates paragraphs.
 */
export function sanitizeMultiline(input: string): string {
  return removeMarkup(input)
    .replace(/[^\S\n]+/gu, ' ')
    .split('\n')
    .map((line) => line.trim())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
