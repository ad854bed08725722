/**
 * Characters that make a spreadsheet treat a cell as a formula (CSV injection): `=`, `+`, `-`, `@`, and tab and
 * carriage return, which some spreadsheets skip before looking for one of those.
 */
const FORMULA_START = /^[=+\-@\t\r]/;
/** Characters that force a field to be quoted (RFC 4180 section 2). */
const NEEDS_QUOTES = /[",\r\n]/;

/**
 * One CSV field: null and undefined become empty; a value a spreadsheet would run as a formula is prefixed with
 * `'` (OWASP's defence: the cell shows the text instead of evaluating it); fields holding `"`, `,`, CR or LF are
 * quoted with inner quotes doubled (RFC 4180).
 */
export function csvField(value: string | null | undefined): string {
  if (value === null || value === undefined || value === '') return '';
  const safe = FORMULA_START.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** One CSV record with its CRLF line break (RFC 4180). */
export function csvRecord(values: ReadonlyArray<string | null | undefined>): string {
  return `${values.map(csvField).join(',')}\r\n`;
}
