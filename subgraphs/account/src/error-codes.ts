/**
 * Reasons the account subgraph attaches to errors as `extensions.details.reason`, next to the generic
 * `extensions.code`. Stable across releases: clients may switch on them. (None yet: this subgraph only
 * reads so far; mutations add their codes here.)
 */
export const AccountErrorCode = {} as const;

export type AccountErrorCode = (typeof AccountErrorCode)[keyof typeof AccountErrorCode];
