/**
 * The plan family a free trial counts against: the plan's `code`. Plans have no family of their own, and a plan keeps
 * its code across edits (price, trial length), so editing a plan never hands out a second trial.
 */
export function trialFamily(plan: { code: string }): string {
  return plan.code;
}
