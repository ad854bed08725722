const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Dunning schedule: after a failed attempt n (1-based), attempt n+1 runs this many days after the failure.
 * Attempts 2, 3 and 4 come 1, 3 and 7 days after the previous failure; the 4th failure is final.
 */
export const DUNNING_RETRY_DAYS = [1, 3, 7] as const;

/** Attempts in all (the first charge plus the retries). */
export const DUNNING_MAX_ATTEMPTS = DUNNING_RETRY_DAYS.length + 1;

/** When the attempt after failed attempt `attempt` is due, or null when that failure is final. */
export function nextAttemptAfterFailure(attempt: number, failedAt: Date): Date | null {
  const days = DUNNING_RETRY_DAYS[attempt - 1];
  return days === undefined ? null : new Date(failedAt.getTime() + days * DAY_MS);
}
