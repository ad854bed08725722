/** LIKE escape character of {@link containsPattern} (not `\`, whose meaning in literals depends on settings). */
export const LIKE_ESCAPE = '!';

/**
 * `%term%` with the LIKE wildcards of `term` (and the escape character itself) escaped, for
 * `column ILIKE ${pattern} ESCAPE '!'`: user search text matches literally.
 */
export function containsPattern(term: string): string {
  return `%${term.replace(/[!%_]/g, (char) => `${LIKE_ESCAPE}${char}`)}%`;
}
