/**
 * Reasons the access-control subgraph attaches to errors as `extensions.details.reason`, next to the generic
 * `extensions.code`. Stable across releases: clients may switch on them. (None yet: this subgraph only
 * reads so far; role management adds its codes here.)
 */
export const AccessControlErrorCode = {} as const;

export type AccessControlErrorCode = (typeof AccessControlErrorCode)[keyof typeof AccessControlErrorCode];
