/** Reasons (`extensions.details.reason`) only plan administration raises. Stable across releases. */
export const PlanErrorCode = {
  PLAN_CODE_TAKEN: 'PLAN_CODE_TAKEN',
} as const;

export type PlanErrorCode = (typeof PlanErrorCode)[keyof typeof PlanErrorCode];
